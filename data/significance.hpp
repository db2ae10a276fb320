// data/significance.hpp — is model B really better than model A on the same evaluation samples?
//
// Input: two files of per-unit metrics for the same data, split and part, one JSON object a line:
//   per-user   {"user": "u1", "count": 3, "history_len": 17, "NDCG@10": 0.21, "HR@10": 0.33, ...}
//              (what apps/eval --per-user writes: each user's metrics averaged over its samples,
//              "count" = how many samples; "history_len" optional, see UserMetrics)
//   per-sample {"user": "u1", "pos": 17, "history_len": 17, "rank": 4, "NDCG@10": 0.43, ...}
//              (per_sample_jsonl below: one row per evaluated sample; "pos" = the target's
//              position in the user's sequence, so (user, pos) names the sample in any run)
//   per-group  {"user": "u1", "pos": 17, "history_len": 17, "rank": 2, "NDCG@10": 0.63, "GAUC": 0.99, ...}
//              (per_group_jsonl below: one row per candidate group of the candidate protocol;
//              read exactly like per-sample rows)
// Every field other than "user" must be a number; every metric of the first row must be on every
// row. Rows are matched across the two files by (user) or (user, pos).
//
// The statistic is the one the papers report: the mean over SAMPLES of each metric, i.e. for
// per-user rows the count-weighted mean of the user means. Its paired difference B - A gets
//
//   a 95% CI from a paired CLUSTER bootstrap: resample users with replacement (all of a user's
//     samples go together), recompute the weighted mean difference; percentile interval with
//     linear interpolation between order statistics (numpy's default quantile). Users, not
//     samples, are resampled because under a ratio split one user's several test samples share
//     a history and a model state: they are not independent, and resampling them one by one
//     would make the interval too narrow. Under leave-one-out (one sample per user) the two
//     coincide. (Option: cluster_by_user = false resamples rows.)
//
//   a two-sided p-value from a paired SIGN-FLIP (randomization) test: under the null hypothesis
//     that A and B are interchangeable, each user's difference is as likely to have either sign;
//     flip each user's summed difference with probability 1/2, R times, and count how often the
//     |mean difference| is at least the observed one: p = (1 + count) / (1 + R). Chosen over a
//     bootstrap p-value because it needs no re-centring of the bootstrap distribution to impose
//     the null, its size is exact whatever the metric's skew, and it is what IR evaluation
//     studies recommend for paired system comparisons. Identical runs give p = 1 exactly. With
//     n users whose difference is not zero, no p below about 2^(1-n) is possible (one user: p = 1).
//
// Both use tt::Rng from one seed, so a report is reproducible bit for bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/candidates.hpp"  // GroupRecord
#include "data/dataset.hpp"
#include "data/metrics.hpp"

namespace tt::data {

// One row of a per-user or per-sample metrics file.
struct UnitRecord {
    std::string user;            // the original user id
    int64_t pos = -1;            // per-sample rows: the target's position; per-user rows: -1
    double weight = 1;           // samples behind the row: "count" (per-user), 1 (per-sample)
    int64_t history_len = -1;    // "history_len", or -1 when the file does not carry it
    std::vector<double> values;  // in UnitFile::metrics order
    int64_t line = 0;            // 1-based line in the file, for messages
};

struct UnitFile {
    std::string path;
    bool per_sample = false;
    std::vector<std::string> metrics;  // the first row's metric fields, in file order
    std::vector<UnitRecord> rows;
};

// Reads and checks a file; throws DataError "path:line: what is wrong: the line" (or "path: ...").
UnitFile read_unit_file(const std::string& path);

// Per-sample rows of an evaluation (metrics built with per_sample = true) in the format above,
// users in original ids. For writing next to apps/eval's per-user file.
std::string per_sample_jsonl(const RankingMetrics& metrics, const IdMap& ids);

// The same for the candidate protocol (data/candidates.hpp): one row per candidate group, keyed
// by (user, pos = the example's end), with the group's rank, HR@K and NDCG@K for `ks`, "GAUC"
// (the group's own AUC: its mean over rows is GAUC, every group having 1 + N candidates) and
// "logloss" (its mean over rows is the logloss). What apps/eval --per-group writes.
std::string per_group_jsonl(const std::vector<GroupRecord>& groups, const std::vector<int>& ks, const IdMap& ids);

// Two files' rows matched unit by unit. a and b are row-major (row, metric).
struct PairedUnits {
    std::string path_a, path_b;
    std::vector<std::string> metrics;
    std::vector<std::string> users;
    std::vector<int64_t> pos, history_len;
    std::vector<int64_t> line_a;  // each row's line in path_a (0 for rows added by hand)
    std::vector<double> weight;
    std::vector<double> a, b;
    std::size_t size() const { return users.size(); }
    // A row (for building PairedUnits by hand, as the tests do).
    void add(std::string user, double w, const std::vector<double>& va, const std::vector<double>& vb, int64_t hist = -1,
             int64_t position = -1);
};

// Matches the rows. Throws DataError naming file:line when a unit is in one file only, when the
// two files disagree on a unit's count or history_len (not the same evaluation), when one is
// per-user and the other per-sample, or when a requested metric is absent. `metrics` empty = every
// metric of A that B also has, in A's order.
PairedUnits pair_unit_files(const UnitFile& a, const UnitFile& b, const std::vector<std::string>& metrics = {});

struct PairedTestOptions {
    int64_t resamples = 10000;    // bootstrap resamples, and sign-flip rounds
    uint64_t seed = 1;
    double alpha = 0.05;          // (1 - alpha) CI
    bool cluster_by_user = true;  // resample users (see the header); false: resample rows
};

struct PairedStat {
    std::string metric;
    double mean_a = 0, mean_b = 0;  // sample-weighted means
    double diff = 0;                // mean_b - mean_a
    double ci_low = 0, ci_high = 0; // percentile bootstrap interval of diff
    double p_value = 1;             // two-sided sign-flip test
};

struct PairedReport {
    int64_t rows = 0;      // matched rows used
    int64_t clusters = 0;  // resampled units (users, or rows)
    double samples = 0;    // sum of the weights = evaluation samples
    std::vector<PairedStat> stats;  // one per metric; NaN everywhere when there are no rows
};

// The test over the rows listed in `subset` (nullptr = all rows; an empty list gives a report of
// zero rows and NaN statistics). Throws std::invalid_argument on bad options (resamples < 1,
// alpha outside (0, 1)).
PairedReport paired_test(const PairedUnits& d, const PairedTestOptions& opt, const std::vector<std::size_t>* subset = nullptr);

}  // namespace tt::data
