// data/dataset.cpp — preprocessing (implicit feedback, chronological sort, repeats, k-core,
// dense renumbering), IdMap, stats, reports and load_dataset() itself.
#include "data/dataset.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <sstream>
#include <tuple>

#include "data/cache.hpp"
#include "data/reader.hpp"

namespace tt::data {

std::string format_error(std::string_view path, int64_t line, std::string_view what, std::string_view text) {
    constexpr std::size_t kMaxShown = 160;
    std::string s;
    s.reserve(path.size() + what.size() + std::min(text.size(), kMaxShown) + 32);
    s.append(path).append(":").append(std::to_string(line)).append(": ").append(what).append(": ");
    if (text.size() > kMaxShown) {
        s.append(text.substr(0, kMaxShown)).append("... (").append(std::to_string(text.size())).append(" chars)");
    } else {
        s.append(text);
    }
    for (char& c : s)  // keep the message one printable line
        if (c == '\t') c = ' ';
    return s;
}

namespace {
constexpr std::pair<Format, std::string_view> kFormatNames[] = {
    {Format::Auto, "auto"},  {Format::Pairs, "pairs"}, {Format::Sequences, "sequences"}, {Format::MLData, "ml-100k"},
    {Format::MLDat, "ml-dat"}, {Format::Csv, "csv"},   {Format::Inter, "inter"}};
}

std::string_view format_name(Format f) {
    for (auto& [k, n] : kFormatNames)
        if (k == f) return n;
    return "?";
}

Format parse_format(std::string_view name) {
    for (auto& [k, n] : kFormatNames)
        if (n == name) return k;
    if (name == "tsv") return Format::Csv;
    std::string all;
    for (auto& kn : kFormatNames) all += (all.empty() ? "" : ", ") + std::string(kn.second);
    throw DataError("unknown format '" + std::string(name) + "' (valid: " + all + ")");
}

// ---------------------------------------------------------------------------------------------
// IdMap, stats, report

IdMap IdMap::from_names(const std::vector<std::string>& users, const std::vector<std::string>& items) {
    Interner u, it;
    for (const auto& n : users)
        if (u.intern(n) + 1 != u.size()) throw DataError("IdMap: user id '" + n + "' appears twice");
    for (const auto& n : items)
        if (it.intern(n) + 1 != it.size()) throw DataError("IdMap: item id '" + n + "' appears twice");
    return IdMap(std::move(u), std::move(it));
}

std::optional<int32_t> IdMap::user_id(std::string_view name) const {
    if (auto i = users_.find(name)) return static_cast<int32_t>(*i);
    return std::nullopt;
}

std::optional<int32_t> IdMap::item_id(std::string_view name) const {
    if (auto i = items_.find(name)) return static_cast<int32_t>(*i) + 1;
    return std::nullopt;
}

bool IdMap::operator==(const IdMap& o) const {
    if (users_.size() != o.users_.size() || items_.size() != o.items_.size()) return false;
    for (uint32_t i = 0; i < users_.size(); ++i)
        if (users_.name(i) != o.users_.name(i)) return false;
    for (uint32_t i = 0; i < items_.size(); ++i)
        if (items_.name(i) != o.items_.name(i)) return false;
    return true;
}

std::span<const double> Dataset::times(int32_t u) const {
    if (timestamps.empty()) return {};
    return {timestamps.data() + offsets[static_cast<std::size_t>(u)], static_cast<std::size_t>(length(u))};
}

DatasetStats Dataset::stats() const {
    DatasetStats s;
    s.n_users = n_users;
    s.n_items = n_items;
    s.n_interactions = n_interactions();
    s.has_timestamps = has_timestamps();
    if (n_users > 0) {
        std::vector<int64_t> len(static_cast<std::size_t>(n_users));
        for (int32_t u = 0; u < n_users; ++u) len[static_cast<std::size_t>(u)] = length(u);
        std::sort(len.begin(), len.end());
        s.min_len = len.front();
        s.max_len = len.back();
        s.median_len = len[len.size() / 2];
        s.avg_per_user = static_cast<double>(s.n_interactions) / static_cast<double>(n_users);
    }
    if (n_items > 0) s.avg_per_item = static_cast<double>(s.n_interactions) / static_cast<double>(n_items);
    if (n_users > 0 && n_items > 0)
        s.density = static_cast<double>(s.n_interactions) / (static_cast<double>(n_users) * static_cast<double>(n_items));
    return s;
}

std::string DatasetStats::str() const {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%lld users, %lld items, %lld interactions; per user min/median/max %lld/%lld/%lld, avg %.2f; "
                  "avg %.2f per item; density %.5f; timestamps: %s",
                  static_cast<long long>(n_users), static_cast<long long>(n_items), static_cast<long long>(n_interactions),
                  static_cast<long long>(min_len), static_cast<long long>(median_len), static_cast<long long>(max_len),
                  avg_per_user, avg_per_item, density, has_timestamps ? "yes" : "no");
    return buf;
}

std::string LoadReport::summary() const {
    std::ostringstream os;
    os << "loaded " << path << " as " << format_name(format) << " (" << format_reason << ")";
    if (from_cache) os << " from cache " << cache_path;
    os << " in " << seconds << " s\n";
    os << "  lines read: " << lines;
    if (skipped_lines) os << ", skipped as malformed: " << skipped_lines;
    os << "\n";
    for (const auto& e : skipped_examples) os << "    skipped " << e << "\n";
    if (below_threshold) os << "  below the rating threshold: " << below_threshold << " interactions dropped\n";
    if (duplicate_lines) os << "  duplicate lines (same user, item, timestamp): " << duplicate_lines << "\n";
    if (repeats_removed) os << "  repeated (user, item) interactions removed: " << repeats_removed << "\n";
    if (kcore_rounds) os << "  k-core filter: " << kcore_removed << " interactions removed in " << kcore_rounds << " rounds\n";
    if (single_interaction_users)
        os << "  note: " << single_interaction_users
           << " users have a single interaction and give no training sample (min_user_interactions=2 drops them)\n";
    if (!cache_note.empty()) os << "  cache: " << cache_note << "\n";
    return os.str();
}

void Dataset::validate() const {
    auto fail = [&](const std::string& what) { throw DataError(name + ": invalid dataset: " + what); };
    if (n_users < 0 || n_items < 0) fail("negative counts");
    if (offsets.size() != static_cast<std::size_t>(n_users) + 1) fail("offsets size");
    if (offsets.front() != 0 || offsets.back() != n_interactions()) fail("offsets range");
    for (std::size_t u = 0; u + 1 < offsets.size(); ++u)
        if (offsets[u] > offsets[u + 1]) fail("offsets not monotonic");
    for (int32_t it : items)
        if (it < 1 || it > n_items) fail("item id " + std::to_string(it) + " outside 1.." + std::to_string(n_items));
    if (!timestamps.empty() && timestamps.size() != items.size()) fail("timestamps size");
    if (ids.n_users() != n_users || ids.n_items() != n_items) fail("id map size");
}

// ---------------------------------------------------------------------------------------------
// Preprocessing

namespace {

// If every name is a canonical non-negative decimal (no sign, no leading zero), returns the order
// that sorts them numerically, so files with ids 1..N keep dense id == original id. Otherwise
// returns first-appearance order. order[rank] = interned index.
std::vector<uint32_t> id_order(const Interner& in) {
    std::size_t n = in.size();
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::vector<uint64_t> value(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::string_view s = in.name(static_cast<uint32_t>(i));
        if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return order;
        uint64_t v = 0;
        for (char c : s) {
            if (c < '0' || c > '9') return order;
            v = v * 10 + static_cast<uint64_t>(c - '0');
        }
        value[i] = v;
    }
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return value[a] < value[b]; });
    return order;
}

Dataset build_dataset(RawLog& log, const LoadOptions& opt, LoadReport& rep) {
    const std::size_t n = log.size();
    const bool has_ts = log.has_timestamp;
    const std::size_t n_raw_users = log.users.size(), n_raw_items = log.items.size();

    // 1. Implicit feedback: keep rating >= threshold.
    std::vector<uint8_t> keep(n, 1);
    if (opt.rating_threshold) {
        float th = *opt.rating_threshold;
        for (std::size_t k = 0; k < n; ++k)
            if (!(log.rating[k] >= th)) {
                keep[k] = 0;
                ++rep.below_threshold;
            }
    }

    // 2. Group by user (counting sort: stable, so file order survives), users in id order.
    std::vector<uint32_t> user_order = id_order(log.users);
    std::vector<uint32_t> user_rank(n_raw_users);
    for (uint32_t r = 0; r < n_raw_users; ++r) user_rank[user_order[r]] = r;
    std::vector<int64_t> off(n_raw_users + 1, 0);
    for (std::size_t k = 0; k < n; ++k)
        if (keep[k]) ++off[user_rank[log.user[k]] + 1];
    std::partial_sum(off.begin(), off.end(), off.begin());
    const std::size_t m = static_cast<std::size_t>(off.back());
    std::vector<uint32_t> item(m);
    std::vector<double> ts(has_ts ? m : 0);
    {
        std::vector<int64_t> pos(off.begin(), off.end() - 1);
        for (std::size_t k = 0; k < n; ++k) {
            if (!keep[k]) continue;
            std::size_t p = static_cast<std::size_t>(pos[user_rank[log.user[k]]]++);
            item[p] = log.item[k];
            if (has_ts) ts[p] = log.timestamp[k];
        }
    }
    // ... then a stable sort by timestamp within each user (ties keep file order, as RecBole's sort).
    if (has_ts) {
        std::vector<std::pair<double, uint32_t>> tmp;
        for (std::size_t u = 0; u < n_raw_users; ++u) {
            auto b = static_cast<std::size_t>(off[u]), e = static_cast<std::size_t>(off[u + 1]);
            if (std::is_sorted(ts.begin() + static_cast<std::ptrdiff_t>(b), ts.begin() + static_cast<std::ptrdiff_t>(e))) continue;
            tmp.clear();
            for (std::size_t p = b; p < e; ++p) tmp.emplace_back(ts[p], item[p]);
            std::stable_sort(tmp.begin(), tmp.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
            for (std::size_t p = b; p < e; ++p) std::tie(ts[p], item[p]) = tmp[p - b];
        }
    }

    // 3. Count identical records, then apply the repeats policy (compacting in place).
    std::vector<uint32_t> seen(n_raw_items, 0);  // seen[item] == u+1 when user u already has it
    {
        std::vector<std::pair<uint32_t, double>> tmp;
        for (std::size_t u = 0; u < n_raw_users; ++u) {
            auto b = static_cast<std::size_t>(off[u]), e = static_cast<std::size_t>(off[u + 1]);
            bool repeat = false;
            for (std::size_t p = b; p < e; ++p) {
                if (seen[item[p]] == u + 1) repeat = true;
                seen[item[p]] = static_cast<uint32_t>(u + 1);
            }
            if (!repeat) continue;
            tmp.clear();
            for (std::size_t p = b; p < e; ++p) tmp.emplace_back(item[p], has_ts ? ts[p] : 0.0);
            std::sort(tmp.begin(), tmp.end());
            for (std::size_t q = 1; q < tmp.size(); ++q)
                if (tmp[q] == tmp[q - 1]) ++rep.duplicate_lines;
        }
    }
    auto compact = [&](auto&& drop) {  // drop(u, p) -> bool; rewrites item/ts/off; returns #dropped
        std::size_t w = 0;
        int64_t dropped = 0;
        int64_t start = 0;
        for (std::size_t u = 0; u < n_raw_users; ++u) {
            auto b = static_cast<std::size_t>(start), e = static_cast<std::size_t>(off[u + 1]);
            start = off[u + 1];
            off[u] = static_cast<int64_t>(w);
            for (std::size_t p = b; p < e; ++p) {
                if (drop(u, p)) {
                    ++dropped;
                    continue;
                }
                item[w] = item[p];
                if (has_ts) ts[w] = ts[p];
                ++w;
            }
        }
        off[n_raw_users] = static_cast<int64_t>(w);
        item.resize(w);
        if (has_ts) ts.resize(w);
        return dropped;
    };
    if (opt.repeats == Repeats::DropConsecutive) {
        uint32_t prev_user = UINT32_MAX, prev_item = UINT32_MAX;
        rep.repeats_removed = compact([&](std::size_t u, std::size_t p) {
            bool d = prev_user == u && prev_item == item[p];
            if (!d) prev_user = static_cast<uint32_t>(u), prev_item = item[p];
            return d;
        });
    } else if (opt.repeats == Repeats::KeepFirst) {
        std::fill(seen.begin(), seen.end(), 0u);
        rep.repeats_removed = compact([&](std::size_t u, std::size_t p) {
            if (seen[item[p]] == u + 1) return true;
            seen[item[p]] = static_cast<uint32_t>(u + 1);
            return false;
        });
    }

    // 4. Iterative k-core: drop interactions of users/items under their minimum until stable.
    if (opt.min_user_interactions > 1 || opt.min_item_interactions > 1) {
        std::vector<int64_t> item_count(n_raw_items);
        std::vector<int64_t> user_len(n_raw_users);
        for (;;) {
            std::fill(item_count.begin(), item_count.end(), 0);
            for (uint32_t it : item) ++item_count[it];
            for (std::size_t u = 0; u < n_raw_users; ++u) user_len[u] = off[u + 1] - off[u];
            int64_t removed = compact([&](std::size_t u, std::size_t p) {
                return user_len[u] < opt.min_user_interactions || item_count[item[p]] < opt.min_item_interactions;
            });
            if (removed == 0) break;
            rep.kcore_removed += removed;
            ++rep.kcore_rounds;
        }
    }

    // 5. Dense renumbering: users with no interaction left disappear; items in id order.
    Dataset ds;
    Interner user_names, item_names;
    ds.offsets.push_back(0);
    for (std::size_t u = 0; u < n_raw_users; ++u) {
        int64_t len = off[u + 1] - off[u];
        if (len == 0) continue;
        user_names.intern(log.users.name(user_order[u]));
        ds.offsets.push_back(ds.offsets.back() + len);
        if (len == 1) ++rep.single_interaction_users;
    }
    std::vector<uint8_t> present(n_raw_items, 0);
    for (uint32_t it : item) present[it] = 1;
    std::vector<uint32_t> item_order = id_order(log.items);
    std::vector<int32_t> dense(n_raw_items, 0);
    for (uint32_t raw : item_order)
        if (present[raw]) dense[raw] = static_cast<int32_t>(item_names.intern(log.items.name(raw))) + 1;
    if (item_names.size() > static_cast<std::size_t>(INT32_MAX - 1) || user_names.size() > static_cast<std::size_t>(INT32_MAX))
        throw DataError(opt.path + ": too many distinct ids for 32-bit dense ids");
    ds.items.resize(item.size());
    for (std::size_t p = 0; p < item.size(); ++p) ds.items[p] = dense[item[p]];
    ds.timestamps = std::move(ts);
    ds.n_users = static_cast<int32_t>(user_names.size());
    ds.n_items = static_cast<int32_t>(item_names.size());
    ds.ids = IdMap(std::move(user_names), std::move(item_names));
    ds.name = opt.path;
    if (ds.n_interactions() == 0)
        throw DataError(opt.path + ": no interactions left after preprocessing (threshold/k-core removed everything)");
    return ds;
}

}  // namespace

Dataset load_dataset(const LoadOptions& opt) {
    auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    if (opt.path.empty()) throw DataError("no input file given");
    if (opt.min_user_interactions < 0 || opt.min_item_interactions < 0)
        throw DataError(opt.path + ": k-core minimums must be >= 0");

    std::string cache_note;
    if (opt.use_cache) {
        std::string why;
        if (auto cached = read_cache(opt, &why)) {
            cached->report.from_cache = true;
            cached->report.cache_path = cache_path_for(opt);
            cached->report.cache_note = "hit";
            cached->report.seconds = elapsed();
            return std::move(*cached);
        }
        cache_note = why;
    }

    LoadReport rep;
    rep.path = opt.path;
    rep.format = opt.format;
    rep.format_reason = "given";
    if (opt.format == Format::Auto) rep.format = detect_format(opt.path, &rep.format_reason);
    RawLog log = read_raw(opt.path, rep.format, opt);
    rep.lines = log.lines;
    rep.skipped_lines = log.skipped;
    rep.skipped_examples = log.skipped_examples;
    Dataset ds = build_dataset(log, opt, rep);

    if (opt.use_cache) {
        rep.cache_path = cache_path_for(opt);
        ds.report = rep;
        std::string why;
        if (write_cache(opt, ds, &why))
            rep.cache_note = cache_note + "; written to " + rep.cache_path;
        else
            rep.cache_note = cache_note + "; not written: " + why;
    }
    rep.seconds = elapsed();
    ds.report = std::move(rep);
    return ds;
}

Dataset dataset_from_sequences(const std::vector<std::pair<std::string, std::vector<std::string>>>& seqs, std::string name) {
    RawLog log;
    for (const auto& [user, items] : seqs)
        for (const auto& it : items) {
            log.user.push_back(log.users.intern(user));
            log.item.push_back(log.items.intern(it));
        }
    log.lines = static_cast<int64_t>(seqs.size());
    LoadOptions opt;
    opt.path = name;
    LoadReport rep;
    rep.path = name;
    rep.format_reason = "in memory";
    Dataset ds = build_dataset(log, opt, rep);
    ds.report = std::move(rep);
    return ds;
}

void write_sequences(const Dataset& ds, const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) throw DataError(path + ": cannot write");
    std::string line;
    for (int32_t u = 0; u < ds.n_users; ++u) {
        line = ds.ids.user_name(u);
        for (int32_t it : ds.sequence(u)) line.append(" ").append(ds.ids.item_name(it));
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), f);
    }
    if (std::fclose(f) != 0) throw DataError(path + ": write failed");
}

}  // namespace tt::data
