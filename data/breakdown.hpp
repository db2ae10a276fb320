// data/breakdown.hpp — where does B beat A? The paired comparison of data/significance.hpp, cut
// into buckets of history length (how many items the user had before the evaluated target).
//
// Short histories are where test-time training has least to adapt to and long ones where a
// fixed-window model (max_len) loses the oldest items, so a single overall difference can hide
// opposite effects; each bucket gets its own counts, means, difference, bootstrap CI and p-value.
// Rows need "history_len" (per-sample files always have it; per-user files when evaluate writes
// it). A per-user row is bucketed by its own history_len, which for a ratio split is the length
// before the user's FIRST evaluated target: per-sample files bucket each sample exactly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/significance.hpp"

namespace tt::data {

struct LengthBucket {
    int64_t lo = 1;
    int64_t hi = -1;            // inclusive; -1: no upper end ("51-")
    std::string label() const;  // "1-5", "51-", "7" (lo == hi)
    bool contains(int64_t len) const { return len >= lo && (hi < 0 || len <= hi); }
};

// "1-5,6-10,11-20,21-50,51-": comma-separated ranges "LO-HI", "LO-" (open) or "N", in increasing
// order without overlap (gaps are allowed: rows in a gap are counted as unbucketed). Throws
// std::invalid_argument naming the bad range.
std::vector<LengthBucket> parse_buckets(std::string_view text);

struct BucketReport {
    LengthBucket bucket;
    PairedReport report;  // rows = 0 and NaN statistics for an empty bucket
};

struct LengthBreakdown {
    std::vector<BucketReport> buckets;
    int64_t unbucketed = 0;  // rows whose history length falls in no bucket
};

// Throws DataError naming the first row (of d.path_a) without a history length. Each bucket's
// resampling uses its own seed derived from opt.seed and the bucket index.
LengthBreakdown breakdown_by_length(const PairedUnits& d, const std::vector<LengthBucket>& buckets, const PairedTestOptions& opt);

}  // namespace tt::data
