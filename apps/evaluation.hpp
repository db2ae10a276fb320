// apps/evaluation.hpp — the metrics of a model (or of the most-popular baseline) on a list of
// examples, as the JSON that metrics.jsonl, test.json and apps/eval print.
#pragma once

#include <string>
#include <vector>

#include "apps/run_config.hpp"
#include "data/data.hpp"
#include "model/recommender.hpp"

namespace tt::app {

// Metrics of `model` on `examples`: "full" ranking, plus "sampled_N" when eval.sampled_negatives
// and "candidates" (the candidate protocol) when eval.candidates.
// Files to write beside the summary (empty path: not written), for apps/compare_runs. Full
// ranking: one JSON line per user, or one per evaluated sample (its history length and the
// target's rank), which --by-length buckets exactly under a ratio split. Candidate protocol: one
// line per candidate group (data::per_group_jsonl).
struct EvalFiles {
    std::string per_user, per_sample, per_group;
};
json evaluate(const model::Recommender& model, const data::Dataset& ds, const std::vector<data::Example>& examples,
              const EvalOptions& eval, uint64_t seed, const EvalFiles& files = {});
// Most-popular baseline (training-split counts) on the same examples and metrics.
json evaluate_popularity(const data::Dataset& ds, const data::Split& split, const std::vector<data::Example>& examples,
                         const EvalOptions& eval);

}  // namespace tt::app
