// apps/serving.cpp — see serving.hpp.
#include "apps/serving.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/checkpoint.hpp"

namespace tt::app {

namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

bool is_number(std::string_view s) {
    std::string t(s);
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    return !t.empty() && end == t.c_str() + t.size() && std::isfinite(v);
}

}  // namespace

data::IdMap read_idmap(const std::string& path) {
    std::string text = model::read_file_bytes(path);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw data::DataError(path + ": not valid JSON: " + e.what());
    }
    auto names = [&](const char* key) {
        if (!j.is_object() || !j.contains(key) || !j[key].is_array())
            throw data::DataError(path + ": needs an array '" + key + "' (written by apps/train)");
        std::vector<std::string> v;
        for (const auto& x : j[key]) {
            if (!x.is_string()) throw data::DataError(path + ": '" + key + "' holds a non-string id " + x.dump());
            v.push_back(x.get<std::string>());
        }
        return v;
    };
    std::vector<std::string> users = names("users"), items = names("items");
    try {
        return data::IdMap::from_names(users, items);
    } catch (const data::DataError& e) {
        throw data::DataError(path + ": " + e.what());
    }
}

Service::Service(const model::Recommender& model, data::IdMap ids, ServeOptions opt)
    : online_(model), ids_(std::move(ids)), opt_(std::move(opt)) {
    if (ids_.n_items() != model.config().n_items)
        throw std::runtime_error("idmap.json lists " + std::to_string(ids_.n_items()) + " items but the model has " +
                                 std::to_string(model.config().n_items) + ": not the same run");
}

std::string Service::add_histories(const data::Dataset& ds) {
    int64_t users = 0, kept = 0, dropped = 0;
    for (int32_t u = 0; u < ds.n_users; ++u) {
        std::string id(ds.ids.user_name(u));
        if (users_.count(id)) continue;  // a loaded state already holds this history
        std::vector<int32_t> items;
        for (int32_t i : ds.sequence(u)) {
            if (auto mine = ids_.item_id(ds.ids.item_name(i)))
                items.push_back(*mine);
            else
                ++dropped;
        }
        if (items.empty()) continue;
        kept += static_cast<int64_t>(items.size());
        ++users;
        histories_[id] = std::move(items);
    }
    std::ostringstream os;
    os << "histories of " << users << " users (" << kept << " interactions) ready to seed their states";
    if (dropped) os << "; " << dropped << " interactions with items the run does not know were dropped";
    return os.str();
}

void Service::load_states(const std::string& path) { users_ = model::load_user_states(path, online_); }

void Service::save_states(const std::string& path) const { model::save_user_states(path, online_, users_); }

model::UserState* Service::user(const std::string& id, bool create) {
    auto it = users_.find(id);
    if (it != users_.end()) return &it->second;
    auto h = histories_.find(id);
    if (h == histories_.end() && !create) return nullptr;
    model::UserState& u = users_[id] = online_.new_user();
    if (h != histories_.end()) {
        online_.observe(u, h->second);  // the whole stored history in one piece
        histories_.erase(h);
        ++counts_.seeded_users;
    } else {
        ++counts_.new_users;
    }
    return &u;
}

void Service::print(const std::string& id, const model::UserState* u, std::ostream& out, bool flush) const {
    std::vector<model::Scored> top;
    if (u && u->events() > 0) top = online_.top_k(*u, opt_.top_k, opt_.include_seen);
    if (opt_.json) {
        nlohmann::json items = nlohmann::json::array(), scores = nlohmann::json::array();
        for (const model::Scored& s : top) {
            items.push_back(std::string(ids_.item_name(s.item)));
            scores.push_back(s.score);
        }
        out << nlohmann::ordered_json{{"user", id}, {"events", u ? u->events() : 0}, {"items", items}, {"scores", scores}}.dump()
            << "\n";
    } else {
        out << id << "\t";
        for (std::size_t i = 0; i < top.size(); ++i)
            out << (i ? " " : "") << ids_.item_name(top[i].item) << ":" << std::fixed << std::setprecision(4) << top[i].score;
        out << "\n";
    }
    if (flush) out.flush();
}

void Service::run(std::istream& in, const std::string& source, std::ostream& out, std::ostream& log, bool flush) {
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        ++counts_.lines;
        std::vector<std::string_view> f = split_fields(line);
        if (f.empty() || f[0][0] == '#') continue;
        if (f[0] == "?") {
            if (f.size() != 2) throw data::DataError(data::format_error(source, line_no, "a query is '? user'", line));
            const std::string id(f[1]);
            ++counts_.queries;
            print(id, user(id, false), out, flush);
            continue;
        }
        if (f.size() < 2 || f.size() > 3)
            throw data::DataError(data::format_error(
                source, line_no, "expected 'user item [timestamp]' or '? user', got " + std::to_string(f.size()) + " fields", line));
        if (f.size() == 3 && !is_number(f[2]))
            throw data::DataError(data::format_error(source, line_no, "the timestamp '" + std::string(f[2]) + "' is not a number", line));
        std::optional<int32_t> item = ids_.item_id(f[1]);
        if (!item) {
            std::string what = "unknown item '" + std::string(f[1]) + "' (not in the run's idmap.json)";
            if (opt_.unknown_stop) throw data::DataError(data::format_error(source, line_no, what, line));
            log << data::format_error(source, line_no, what + ": event skipped", line) << "\n";
            ++counts_.skipped;
            continue;
        }
        const std::string id(f[0]);
        model::UserState* u = user(id, true);
        online_.observe(*u, *item);
        ++counts_.events;
        if (opt_.print_each) print(id, u, out, flush);
        if (opt_.save_every > 0 && !opt_.save_path.empty() && counts_.events % opt_.save_every == 0) save_states(opt_.save_path);
    }
    if (in.bad()) throw data::DataError(source + ": read error");
}

// ------------------------------------------------------------------------------------------------
// benchmark

namespace {

struct Latencies {
    std::vector<double> us;
    double percentile(double q) const {  // nearest rank
        std::vector<double> v = us;
        std::sort(v.begin(), v.end());
        std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
        return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
    }
    double total_s() const {
        double s = 0;
        for (double x : us) s += x;
        return s * 1e-6;
    }
};

double micros_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void bench_online(const model::Recommender& model, const std::string& label, const OnlineBenchOptions& opt, std::ostream& out) {
    model::OnlineModel online(model);
    const int32_t n_items = static_cast<int32_t>(model.config().n_items);
    Rng rng(opt.seed);
    auto random_item = [&] { return static_cast<int32_t>(1 + rng.next_u64() % static_cast<uint64_t>(n_items)); };
    for (int64_t L : opt.lengths) {
        std::vector<int32_t> history(static_cast<std::size_t>(L));
        for (int32_t& i : history) i = random_item();
        model::UserState u = online.new_user();
        online.observe(u, history);
        Latencies inc, inc_update, full;
        volatile float sink = 0;  // keeps the results alive
        for (int64_t e = 0; e < opt.events; ++e) {
            const int32_t item = random_item();
            history.push_back(item);
            auto t0 = std::chrono::steady_clock::now();
            online.observe(u, item);
            inc_update.us.push_back(micros_since(t0));
            auto top = online.top_k(u, opt.top_k, false);
            inc.us.push_back(micros_since(t0));
            sink = sink + top.front().score;

            t0 = std::chrono::steady_clock::now();
            Tensor s = online.recompute_scores(history);
            auto top_full = model::OnlineModel::top_k(s, opt.top_k, u.seen);
            full.us.push_back(micros_since(t0));
            sink = sink + top_full.front().score;
        }
        auto line = [&](const char* mode, const Latencies& l) {
            nlohmann::ordered_json j = {{"bench", "recommend"}, {"model", label}, {"mode", mode}, {"history", L},
                                        {"events", opt.events}, {"events_per_s", static_cast<double>(opt.events) / l.total_s()},
                                        {"p50_us", l.percentile(0.50)}, {"p99_us", l.percentile(0.99)}};
            if (&l == &inc) {
                j["update_p50_us"] = inc_update.percentile(0.50);
                j["update_p99_us"] = inc_update.percentile(0.99);
            }
            out << j.dump() << std::endl;
        };
        line("incremental", inc);
        line("recompute", full);
        nlohmann::ordered_json r = {{"bench", "recommend"}, {"model", label}, {"history", L},
                                    {"speedup_events_per_s", inc.total_s() > 0 ? full.total_s() / inc.total_s() : 0.0},
                                    {"speedup_p50", full.percentile(0.50) / inc.percentile(0.50)},
                                    {"speedup_p99", full.percentile(0.99) / inc.percentile(0.99)}};
        out << r.dump() << std::endl;
    }
}

}  // namespace tt::app
