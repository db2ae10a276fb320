// data/significance.cpp — per-unit metric files, their pairing, and the paired cluster bootstrap
// and sign-flip test described in significance.hpp.
#include "data/significance.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "tensor/tensor.hpp"

namespace tt::data {

namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;  // keeps the fields in file order (the metrics' order)

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Fields with a fixed meaning; every other field of a row is a metric.
bool reserved(const std::string& key) { return key == "user" || key == "pos" || key == "count" || key == "history_len" || key == "rank"; }

// A non-negative integer field (JSON integers, or floats with an integral value as some writers emit).
int64_t integer_field(const ordered& j, const char* key, const std::string& path, int64_t line, const std::string& text) {
    const json& v = j[key];
    if (!v.is_number()) throw DataError(format_error(path, line, std::string("'") + key + "' is not a number", text));
    const double d = v.get<double>();
    if (!(d >= 0) || d != std::floor(d) || d > 9e15)
        throw DataError(format_error(path, line, std::string("'") + key + "' must be a non-negative integer", text));
    return static_cast<int64_t>(d);
}

std::string unit_name(const std::string& user, int64_t pos) {
    return "user '" + user + "'" + (pos >= 0 ? " pos " + std::to_string(pos) : "");
}

}  // namespace

UnitFile read_unit_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw DataError(path + ": cannot open");
    UnitFile f;
    f.path = path;
    std::map<std::pair<std::string, int64_t>, int64_t> seen;  // key -> line, to refuse repeats
    std::string text;
    int64_t line = 0;
    while (std::getline(in, text)) {
        ++line;
        if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
        ordered j;
        try {
            j = ordered::parse(text);
        } catch (const ordered::exception&) {
            throw DataError(format_error(path, line, "not a JSON object", text));
        }
        if (!j.is_object()) throw DataError(format_error(path, line, "not a JSON object", text));
        UnitRecord r;
        r.line = line;
        if (!j.contains("user")) throw DataError(format_error(path, line, "no 'user' field", text));
        if (j["user"].is_string())
            r.user = j["user"].get<std::string>();
        else if (j["user"].is_number_integer())
            r.user = std::to_string(j["user"].get<int64_t>());
        else
            throw DataError(format_error(path, line, "'user' must be a string or an integer", text));
        const bool per_sample = j.contains("pos");
        if (f.rows.empty()) {
            f.per_sample = per_sample;
            for (auto it = j.begin(); it != j.end(); ++it)
                if (!reserved(it.key())) f.metrics.push_back(it.key());
            if (f.metrics.empty()) throw DataError(format_error(path, line, "no metric field (such as NDCG@10)", text));
        } else if (per_sample != f.per_sample) {
            throw DataError(format_error(path, line,
                                         per_sample ? "a per-sample row ('pos') in a per-user file (line " + std::to_string(f.rows.front().line) + " has no 'pos')"
                                                    : "no 'pos' in a per-sample file (line " + std::to_string(f.rows.front().line) + " has one)",
                                         text));
        }
        if (per_sample) r.pos = integer_field(j, "pos", path, line, text);
        if (j.contains("history_len")) r.history_len = integer_field(j, "history_len", path, line, text);
        if (j.contains("rank") && !j["rank"].is_number()) throw DataError(format_error(path, line, "'rank' is not a number", text));
        if (j.contains("count")) {
            const int64_t c = integer_field(j, "count", path, line, text);
            if (c < 1) throw DataError(format_error(path, line, "'count' must be at least 1", text));
            if (per_sample && c != 1) throw DataError(format_error(path, line, "a per-sample row must have count 1", text));
            r.weight = static_cast<double>(c);
        }
        for (auto it = j.begin(); it != j.end(); ++it)
            if (!reserved(it.key()) && std::find(f.metrics.begin(), f.metrics.end(), it.key()) == f.metrics.end())
                throw DataError(format_error(path, line, "field '" + it.key() + "' is not on line " + std::to_string(f.rows.empty() ? line : f.rows.front().line), text));
        for (const std::string& m : f.metrics) {
            if (!j.contains(m))
                throw DataError(format_error(path, line, "no '" + m + "' field (line " + std::to_string(f.rows.empty() ? line : f.rows.front().line) + " has one)", text));
            if (!j[m].is_number()) throw DataError(format_error(path, line, "'" + m + "' is not a number", text));
            const double v = j[m].get<double>();
            if (!std::isfinite(v)) throw DataError(format_error(path, line, "'" + m + "' is not finite", text));
            r.values.push_back(v);
        }
        auto [it, fresh] = seen.emplace(std::make_pair(r.user, r.pos), line);
        if (!fresh)
            throw DataError(format_error(path, line, unit_name(r.user, r.pos) + " again (first on line " + std::to_string(it->second) + ")", text));
        f.rows.push_back(std::move(r));
    }
    if (in.bad()) throw DataError(path + ": read error");
    if (f.rows.empty()) throw DataError(path + ": no rows (expected one JSON object per line, as apps/eval --per-user writes)");
    return f;
}

std::string per_sample_jsonl(const RankingMetrics& metrics, const IdMap& ids) {
    std::ostringstream os;
    for (const SampleMetrics& s : metrics.per_sample()) {
        json row;
        row["user"] = std::string(ids.user_name(s.user));
        row["pos"] = s.history_len;
        row["history_len"] = s.history_len;
        row["rank"] = s.rank;
        for (const auto& [name, v] : metrics.sample_values(s).values) row[name] = v;
        os << row.dump() << "\n";
    }
    return os.str();
}

std::string per_group_jsonl(const std::vector<GroupRecord>& groups, const std::vector<int>& ks, const IdMap& ids) {
    std::ostringstream os;
    for (const GroupRecord& g : groups) {
        TT_CHECK(g.values.hr.size() == ks.size() && g.values.ndcg.size() == ks.size(),
                 "per_group_jsonl: a group has " + std::to_string(g.values.hr.size()) + " cut-offs, " + std::to_string(ks.size()) + " given");
        ordered row;
        row["user"] = std::string(ids.user_name(g.user));
        row["pos"] = g.end;
        row["history_len"] = g.end;
        row["rank"] = g.values.rank;
        for (std::size_t k = 0; k < ks.size(); ++k) row["HR@" + std::to_string(ks[k])] = g.values.hr[k];
        for (std::size_t k = 0; k < ks.size(); ++k) row["NDCG@" + std::to_string(ks[k])] = g.values.ndcg[k];
        row["GAUC"] = g.values.auc;
        row["logloss"] = g.values.logloss;
        os << row.dump() << "\n";
    }
    return os.str();
}

void PairedUnits::add(std::string user, double w, const std::vector<double>& va, const std::vector<double>& vb, int64_t hist,
                      int64_t position) {
    TT_CHECK(va.size() == metrics.size() && vb.size() == metrics.size(), "PairedUnits::add: one value per metric on each side");
    users.push_back(std::move(user));
    weight.push_back(w);
    history_len.push_back(hist);
    pos.push_back(position);
    line_a.push_back(0);
    a.insert(a.end(), va.begin(), va.end());
    b.insert(b.end(), vb.begin(), vb.end());
}

PairedUnits pair_unit_files(const UnitFile& fa, const UnitFile& fb, const std::vector<std::string>& wanted) {
    if (fa.per_sample != fb.per_sample)
        throw DataError(fa.path + " is " + (fa.per_sample ? "per-sample" : "per-user") + " but " + fb.path + " is " +
                        (fb.per_sample ? "per-sample" : "per-user") + ": compare files of the same kind");
    PairedUnits d;
    d.path_a = fa.path;
    d.path_b = fb.path;
    std::vector<std::size_t> ia, ib;  // metric columns in each file
    auto column = [](const UnitFile& f, const std::string& m) -> std::ptrdiff_t {
        auto it = std::find(f.metrics.begin(), f.metrics.end(), m);
        return it == f.metrics.end() ? -1 : it - f.metrics.begin();
    };
    if (wanted.empty()) {
        for (const std::string& m : fa.metrics)
            if (column(fb, m) >= 0) d.metrics.push_back(m);
        if (d.metrics.empty()) throw DataError(fa.path + " and " + fb.path + " have no metric in common");
    } else {
        for (const std::string& m : wanted)
            for (const UnitFile* f : {&fa, &fb})
                if (column(*f, m) < 0) throw DataError(f->path + ": no metric '" + m + "' (it has: " + [&] {
                    std::string s;
                    for (const std::string& x : f->metrics) s += (s.empty() ? "" : ", ") + x;
                    return s;
                }() + ")");
        d.metrics = wanted;
    }
    for (const std::string& m : d.metrics) {
        ia.push_back(static_cast<std::size_t>(column(fa, m)));
        ib.push_back(static_cast<std::size_t>(column(fb, m)));
    }
    std::map<std::pair<std::string, int64_t>, std::size_t> in_b;
    for (std::size_t r = 0; r < fb.rows.size(); ++r) in_b.emplace(std::make_pair(fb.rows[r].user, fb.rows[r].pos), r);
    const std::string same = ": the two files must cover the same evaluation samples (same data, split, part and filters)";
    std::vector<char> used(fb.rows.size(), 0);
    for (const UnitRecord& ra : fa.rows) {
        auto it = in_b.find({ra.user, ra.pos});
        if (it == in_b.end())
            throw DataError(fa.path + ":" + std::to_string(ra.line) + ": " + unit_name(ra.user, ra.pos) + " is not in " + fb.path + same);
        const UnitRecord& rb = fb.rows[it->second];
        used[it->second] = 1;
        const std::string where = fb.path + ":" + std::to_string(rb.line) + ": " + unit_name(rb.user, rb.pos);
        if (ra.weight != rb.weight)
            throw DataError(where + " has count " + std::to_string(static_cast<int64_t>(rb.weight)) + " but " + fa.path + ":" +
                            std::to_string(ra.line) + " has " + std::to_string(static_cast<int64_t>(ra.weight)) + same);
        if (ra.history_len >= 0 && rb.history_len >= 0 && ra.history_len != rb.history_len)
            throw DataError(where + " has history_len " + std::to_string(rb.history_len) + " but " + fa.path + ":" +
                            std::to_string(ra.line) + " has " + std::to_string(ra.history_len) + same);
        std::vector<double> va, vb;
        for (std::size_t k = 0; k < ia.size(); ++k) {
            va.push_back(ra.values[ia[k]]);
            vb.push_back(rb.values[ib[k]]);
        }
        d.add(ra.user, ra.weight, va, vb, ra.history_len >= 0 ? ra.history_len : rb.history_len, ra.pos);
        d.line_a.back() = ra.line;
    }
    for (std::size_t r = 0; r < fb.rows.size(); ++r)
        if (!used[r])
            throw DataError(fb.path + ":" + std::to_string(fb.rows[r].line) + ": " + unit_name(fb.rows[r].user, fb.rows[r].pos) +
                            " is not in " + fa.path + same);
    return d;
}

namespace {

// numpy's default quantile: linear interpolation between the order statistics of a sorted list.
double quantile_sorted(const std::vector<double>& x, double q) {
    if (x.empty()) return kNaN;
    const double h = (static_cast<double>(x.size()) - 1) * q;
    const auto lo = static_cast<std::size_t>(std::floor(h));
    const std::size_t hi = std::min(lo + 1, x.size() - 1);
    return x[lo] + (h - static_cast<double>(lo)) * (x[hi] - x[lo]);
}

}  // namespace

PairedReport paired_test(const PairedUnits& d, const PairedTestOptions& opt, const std::vector<std::size_t>* subset) {
    if (opt.resamples < 1) throw std::invalid_argument("paired_test: resamples must be at least 1");
    if (!(opt.alpha > 0 && opt.alpha < 1)) throw std::invalid_argument("paired_test: alpha must be in (0, 1)");
    const std::size_t M = d.metrics.size();
    std::vector<std::size_t> rows;
    if (subset) {
        rows = *subset;
    } else {
        rows.resize(d.size());
        for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
    }
    PairedReport rep;
    rep.rows = static_cast<int64_t>(rows.size());

    // Clusters: per user (or per row), the summed weight, w-weighted A and B sums, and the summed
    // weighted difference. Every statistic below is a ratio of such sums, so the resampling loops
    // only add.
    std::unordered_map<std::string, std::size_t> cluster_of;
    std::vector<double> cw, ca, cb, cd;  // (C), (C, M), (C, M), (C, M)
    for (std::size_t r : rows) {
        TT_CHECK(r < d.size(), "paired_test: row index out of range");
        std::size_t c = cw.size();
        if (opt.cluster_by_user) {
            auto [it, fresh] = cluster_of.emplace(d.users[r], c);
            c = it->second;
        }
        if (c == cw.size()) {
            cw.push_back(0);
            ca.resize(ca.size() + M, 0.0);
            cb.resize(cb.size() + M, 0.0);
            cd.resize(cd.size() + M, 0.0);
        }
        const double w = d.weight[r];
        cw[c] += w;
        for (std::size_t m = 0; m < M; ++m) {
            const double va = d.a[r * M + m], vb = d.b[r * M + m];
            ca[c * M + m] += w * va;
            cb[c * M + m] += w * vb;
            cd[c * M + m] += w * (vb - va);
        }
    }
    const std::size_t C = cw.size();
    rep.clusters = static_cast<int64_t>(C);
    double total_w = 0;
    for (double w : cw) total_w += w;
    rep.samples = total_w;
    if (C == 0) {
        for (const std::string& m : d.metrics) rep.stats.push_back({m, kNaN, kNaN, kNaN, kNaN, kNaN, kNaN});
        return rep;
    }
    std::vector<double> obs(M, 0.0);
    for (std::size_t m = 0; m < M; ++m) {
        PairedStat s;
        s.metric = d.metrics[m];
        double sa = 0, sb = 0, sd = 0;
        for (std::size_t c = 0; c < C; ++c) sa += ca[c * M + m], sb += cb[c * M + m], sd += cd[c * M + m];
        s.mean_a = sa / total_w;
        s.mean_b = sb / total_w;
        s.diff = sd / total_w;  // summed per unit, not mean_b - mean_a, so that it is what the loops resample
        obs[m] = s.diff;
        rep.stats.push_back(s);
    }

    const auto R = static_cast<std::size_t>(opt.resamples);
    // Bootstrap: C draws with replacement per resample; all metrics share the draws (one joint
    // resample of the users), which also makes the metrics' intervals mutually consistent.
    {
        Rng rng(opt.seed);
        std::vector<std::vector<double>> boot(M, std::vector<double>(R));
        std::vector<double> acc(M);
        for (std::size_t r = 0; r < R; ++r) {
            double w = 0;
            std::fill(acc.begin(), acc.end(), 0.0);
            for (std::size_t k = 0; k < C; ++k) {
                const auto c = static_cast<std::size_t>(rng.below(C));
                w += cw[c];
                const double* row = &cd[c * M];
                for (std::size_t m = 0; m < M; ++m) acc[m] += row[m];
            }
            for (std::size_t m = 0; m < M; ++m) boot[m][r] = acc[m] / w;
        }
        for (std::size_t m = 0; m < M; ++m) {
            std::sort(boot[m].begin(), boot[m].end());
            rep.stats[m].ci_low = quantile_sorted(boot[m], opt.alpha / 2);
            rep.stats[m].ci_high = quantile_sorted(boot[m], 1 - opt.alpha / 2);
        }
    }
    // Sign flips: its own stream (derived from the seed) so that changing one part does not move
    // the other. One random bit per cluster and round.
    {
        Rng rng(opt.seed ^ 0x9E3779B97F4A7C15ull);
        std::vector<int64_t> extreme(M, 0);
        std::vector<double> acc(M), bar(M);
        // "At least as extreme" up to rounding: a flip that reproduces the observed sum may differ
        // from it in the last bits, and must count (identical runs: every round is 0 = observed).
        for (std::size_t m = 0; m < M; ++m) bar[m] = std::fabs(obs[m]) * (1 - 1e-9) - 1e-15;
        for (std::size_t r = 0; r < R; ++r) {
            std::fill(acc.begin(), acc.end(), 0.0);
            uint64_t bits = 0;
            for (std::size_t k = 0; k < C; ++k) {
                if (k % 64 == 0) bits = rng.next_u64();
                const double sign = (bits >> (k % 64)) & 1u ? 1.0 : -1.0;
                const double* row = &cd[k * M];
                for (std::size_t m = 0; m < M; ++m) acc[m] += sign * row[m];
            }
            for (std::size_t m = 0; m < M; ++m)
                if (std::fabs(acc[m] / total_w) >= bar[m]) ++extreme[m];
        }
        for (std::size_t m = 0; m < M; ++m)
            rep.stats[m].p_value = static_cast<double>(1 + extreme[m]) / static_cast<double>(1 + R);
    }
    return rep;
}

}  // namespace tt::data
