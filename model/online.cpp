// model/online.cpp — see online.hpp. The per-user incremental state, its scoring, and the states file.
#include "model/online.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "model/checkpoint.hpp"
#include "tensor/kernels.hpp"
#include "tensor/ops.hpp"

namespace tt::model {

using json = nlohmann::json;
using ad::constant;
using ad::NoGradGuard;

namespace {

constexpr const char* kFormat = "tttrec-online-states";
constexpr const char* kVersion = "2";  // 2: the model's own named fields (1 had one field per model kind)

// FNV-1a, 64 bit: a cheap checksum of the weights (not cryptographic; it tells models apart).
uint64_t fnv1a(uint64_t h, const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

[[noreturn]] void bad(const std::string& src, const std::string& what) { throw CheckpointError(src + ": " + what); }

int64_t numel_of(const Shape& s) { return s.rank() == 0 ? 0 : s.numel(); }

}  // namespace

// ------------------------------------------------------------------------------------------------
// OnlineModel

OnlineModel::OnlineModel(const Recommender& model) : model_(model) {
    NoGradGuard no_grad;
    table_ = model_.item_table(Ctx{}).value();  // (V, C): TTT4Rec-FE's target MLP runs once here, not per event
    ParamList params;
    model_.parameters(params);
    uint64_t h = 1469598103934665603ull;
    for (const auto& [name, v] : params) {
        h = fnv1a(h, name.data(), name.size());
        h = fnv1a(h, v.value().data(), static_cast<std::size_t>(v.value().numel()) * sizeof(float));
    }
    std::ostringstream os;
    os << model_.config().describe() << " weights=fnv1a:" << std::hex << h;
    fingerprint_ = os.str();
}

UserState OnlineModel::new_user() const {
    UserState u;
    u.stream = model_.start_stream(1);
    return u;
}

void OnlineModel::observe(UserState& u, std::span<const int32_t> items) const {
    if (items.empty()) return;
    IntTensor piece(Shape{1, static_cast<int64_t>(items.size())}, std::vector<int32_t>(items.begin(), items.end()));
    model_.advance(piece, u.stream);  // sets u.stream.user (1, Q)
    for (int32_t i : items) {
        auto it = std::lower_bound(u.seen.begin(), u.seen.end(), i);
        if (it == u.seen.end() || *it != i) u.seen.insert(it, i);
    }
}

Tensor OnlineModel::scores(const UserState& u) const {
    TT_CHECK(u.stream.user.defined(), "OnlineModel::scores: the user has no history yet");
    Tensor s = model_.score_stream(u.stream, table_);  // (1, V)
    return s.reshape(Shape{s.numel()});                  // (V)
}

std::vector<Scored> OnlineModel::top_k(const Tensor& scores, int64_t k, std::span<const int32_t> exclude) {
    const float* s = scores.data();
    const int64_t V = scores.numel();
    // worse(a, b): a ranks below b. A min-heap on "worse" keeps the k best seen so far: O(V log k).
    auto worse = [](const Scored& a, const Scored& b) { return a.score < b.score || (a.score == b.score && a.item > b.item); };
    auto heap_cmp = [&](const Scored& a, const Scored& b) { return worse(b, a); };  // top of heap = the worst kept
    std::vector<Scored> heap;
    if (k <= 0) return heap;
    heap.reserve(static_cast<std::size_t>(k) + 1);
    std::size_t e = 0;  // exclude is sorted: walk it alongside the ids
    for (int64_t i = 1; i < V; ++i) {
        while (e < exclude.size() && exclude[e] < i) ++e;
        if (e < exclude.size() && exclude[e] == i) continue;
        if (!std::isfinite(s[i])) continue;  // -inf: masked; NaN never ranks
        Scored c{static_cast<int32_t>(i), s[i]};
        if (static_cast<int64_t>(heap.size()) < k) {
            heap.push_back(c);
            std::push_heap(heap.begin(), heap.end(), heap_cmp);
        } else if (worse(heap.front(), c)) {
            std::pop_heap(heap.begin(), heap.end(), heap_cmp);
            heap.back() = c;
            std::push_heap(heap.begin(), heap.end(), heap_cmp);
        }
    }
    std::sort(heap.begin(), heap.end(), [&](const Scored& a, const Scored& b) { return worse(b, a); });  // best first
    return heap;
}

std::vector<Scored> OnlineModel::top_k(const UserState& u, int64_t k, bool include_seen) const {
    std::span<const int32_t> none;
    return top_k(scores(u), k, include_seen ? none : std::span<const int32_t>(u.seen));
}

Tensor OnlineModel::recompute_scores(std::span<const int32_t> history) const {
    TT_CHECK(!history.empty(), "OnlineModel::recompute_scores: empty history");
    const int64_t W = model_.stream_window();
    if (W > 0 && static_cast<int64_t>(history.size()) > W) history = history.subspan(history.size() - static_cast<std::size_t>(W));
    const int64_t T = static_cast<int64_t>(history.size());
    IntTensor items(Shape{1, T}, std::vector<int32_t>(history.begin(), history.end()));
    Tensor s = model_.score_next(items, IntTensor(Shape{1}, {static_cast<int32_t>(T)}));  // (1, V)
    s = s.reshape(Shape{s.numel()});
    s.data()[0] = -std::numeric_limits<float>::infinity();  // as scores(): padding is never recommended
    return s;
}

// ------------------------------------------------------------------------------------------------
// the states file

std::string encode_user_states(const OnlineModel& model, const UserStates& users) {
    const Recommender& m = model.model();
    const std::vector<std::pair<std::string, Shape>> fields = m.stream_layout(0);
    std::vector<std::vector<float>> data(fields.size());
    std::vector<float> user_data;
    json list = json::array();
    for (const auto& [id, u] : users) {
        const auto layout = m.stream_layout(u.events());
        TT_CHECK(layout.size() == fields.size() && u.stream.fields.size() == fields.size(),
                 "encode_user_states: user '" + id + "' has a state of another model");
        for (std::size_t j = 0; j < fields.size(); ++j) {
            const auto& [name, want] = layout[j];
            const Tensor& v = u.stream.fields[j].second;
            const int64_t n = numel_of(want);
            const bool ok = u.stream.fields[j].first == name && (n == 0 ? !v.defined() || v.numel() == 0 : v.defined() && v.shape() == want);
            TT_CHECK(ok, "encode_user_states: user '" + id + "': field " + name + " does not fit the model");
            if (n > 0) data[j].insert(data[j].end(), v.data(), v.data() + n);
        }
        if (u.stream.user.defined()) user_data.insert(user_data.end(), u.stream.user.data(), u.stream.user.data() + u.stream.user.numel());
        list.push_back(json{{"id", id}, {"t", u.events()}, {"seen", u.seen}});
    }
    NamedTensors tensors;
    auto add = [&](const std::string& name, const std::vector<float>& v) {
        if (!v.empty()) tensors.emplace_back(name, Tensor::from(Shape{static_cast<int64_t>(v.size())}, v));
    };
    add("user", user_data);
    for (std::size_t j = 0; j < fields.size(); ++j) add(fields[j].first, data[j]);
    return encode_safetensors(tensors, {{"format", kFormat}, {"version", kVersion}, {"model", model.fingerprint()},
                                        {"users", list.dump()}});
}

UserStates decode_user_states(const OnlineModel& model, const std::string& bytes, const std::string& src) {
    const Recommender& m = model.model();
    const RecConfig& cfg = m.config();
    std::map<std::string, std::string> meta;
    NamedTensors tensors = decode_safetensors(bytes, src, &meta);
    if (meta["format"] != kFormat) bad(src, "not an online states file (metadata format '" + meta["format"] + "', want '" + kFormat + "')");
    if (meta["version"] != kVersion)
        bad(src, "states format version '" + meta["version"] + "', this build reads " + kVersion +
                     " (re-create the states from the histories, e.g. recommend --data run)");
    if (meta["model"] != model.fingerprint())
        bad(src, "the states were made by another model (or other weights):\n  file:  " + meta["model"] + "\n  model: " + model.fingerprint());
    json list;
    try {
        list = json::parse(meta["users"]);
    } catch (const json::exception& e) {
        bad(src, std::string("metadata 'users' is not valid JSON: ") + e.what());
    }
    if (!list.is_array()) bad(src, "metadata 'users' is not a JSON array");

    const std::vector<std::pair<std::string, Shape>> fields = m.stream_layout(0);
    std::map<std::string, const Tensor*> by_name;
    for (const auto& [name, t] : tensors) by_name[name] = &t;
    std::set<std::string> known = {"user"};
    for (const auto& f : fields) known.insert(f.first);
    for (const auto& [name, t] : tensors) {
        if (!known.count(name)) bad(src, "unexpected tensor '" + name + "' (not a state field of " + cfg.model + ")");
        const float* p = t.data();
        for (int64_t i = 0; i < t.numel(); ++i)
            if (!std::isfinite(p[i])) bad(src, "tensor '" + name + "' holds a non-finite value at " + std::to_string(i));
    }

    // Pass 1: the users' records, and how many floats each field must hold in total.
    struct Record {
        std::string id;
        int64_t t;
        std::vector<int32_t> seen;
    };
    std::vector<Record> records;
    std::set<std::string> ids;
    for (std::size_t n = 0; n < list.size(); ++n) {
        const json& e = list[n];
        const std::string where = "user #" + std::to_string(n);
        if (!e.is_object() || !e.contains("id") || !e["id"].is_string() || !e.contains("t") || !e["t"].is_number_integer())
            bad(src, where + ": needs a string 'id' and an integer 't'");
        Record r;
        r.id = e["id"].get<std::string>();
        r.t = e["t"].get<int64_t>();
        const std::string who = where + " ('" + r.id + "')";
        if (r.id.empty()) bad(src, where + ": empty id");
        if (!ids.insert(r.id).second) bad(src, who + ": the id appears twice");
        if (r.t < 0) bad(src, who + ": negative t");
        if (e.contains("seen")) {
            if (!e["seen"].is_array()) bad(src, who + ": 'seen' is not an array");
            for (const json& x : e["seen"]) {
                if (!x.is_number_integer() || x.get<int64_t>() < 1 || x.get<int64_t>() > cfg.n_items)
                    bad(src, who + ": 'seen' has " + x.dump() + ", not an item id 1.." + std::to_string(cfg.n_items));
                r.seen.push_back(x.get<int32_t>());
            }
        }
        if (!std::is_sorted(r.seen.begin(), r.seen.end()) || std::adjacent_find(r.seen.begin(), r.seen.end()) != r.seen.end())
            bad(src, who + ": 'seen' is not sorted and distinct");
        if (static_cast<int64_t>(r.seen.size()) > r.t || (r.t > 0 && r.seen.empty()))
            bad(src, who + ": " + std::to_string(r.seen.size()) + " seen items for t = " + std::to_string(r.t));
        records.push_back(std::move(r));
    }
    // The width of state.user: what one advance gives (the same for every user after >= 1 item).
    int64_t user_width = 0;
    if (!records.empty()) {
        StreamState probe = m.start_stream(1);
        m.advance(IntTensor(Shape{1, 1}, {1}), probe);
        user_width = probe.user.numel();
    }
    std::vector<int64_t> total(fields.size(), 0);
    int64_t user_total = 0;
    for (const Record& r : records) {
        if (r.t > 0) user_total += user_width;
        const auto layout = m.stream_layout(r.t);
        for (std::size_t j = 0; j < fields.size(); ++j) total[j] += numel_of(layout[j].second);
    }
    auto check_total = [&](const std::string& name, int64_t want) -> const float* {
        auto it = by_name.find(name);
        const int64_t got = it == by_name.end() ? 0 : it->second->numel();
        if (got != want)
            bad(src, "tensor '" + name + "' holds " + std::to_string(got) + " values, the users' records need " + std::to_string(want));
        return it == by_name.end() ? nullptr : it->second->data();
    };
    std::vector<const float*> cursor(fields.size());
    for (std::size_t j = 0; j < fields.size(); ++j) cursor[j] = check_total(fields[j].first, total[j]);
    const float* user_cursor = check_total("user", user_total);

    // Pass 2: everything is consistent; cut the fields into per-user states.
    UserStates out;
    for (const Record& r : records) {
        UserState u;
        u.stream.t = r.t;
        for (const auto& [name, want] : m.stream_layout(r.t)) {
            const std::size_t j = u.stream.fields.size();
            const int64_t n = numel_of(want);
            Tensor v;
            if (n > 0) {
                v = Tensor::from(want, std::span<const float>(cursor[j], static_cast<std::size_t>(n)));
                cursor[j] += n;
            }
            u.stream.fields.emplace_back(name, v);
        }
        if (r.t > 0) {
            u.stream.user = Tensor::from(Shape{1, user_width}, std::span<const float>(user_cursor, static_cast<std::size_t>(user_width)));
            user_cursor += user_width;
        }
        try {
            m.check_stream(u.stream);
        } catch (const std::invalid_argument& e) {
            bad(src, "user '" + r.id + "': " + e.what());
        }
        u.seen = r.seen;
        out.emplace(r.id, std::move(u));
    }
    return out;
}

void save_user_states(const std::string& path, const OnlineModel& model, const UserStates& users) {
    atomic_write_file(path, encode_user_states(model, users));
}

UserStates load_user_states(const std::string& path, const OnlineModel& model) {
    return decode_user_states(model, read_file_bytes(path), path);
}

}  // namespace tt::model
