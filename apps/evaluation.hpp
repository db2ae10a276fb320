// apps/evaluation.hpp — the metrics of a model (or of the most-popular baseline) on a list of
// examples, as the JSON that metrics.jsonl, test.json and apps/eval print.
#pragma once

#include <string>
#include <vector>

#include "apps/run_config.hpp"
#include "data/data.hpp"
#include "model/recommender.hpp"

namespace tt::app {

// Metrics of `model` on `examples` (full ranking, plus sampled metrics when eval.sampled_negatives).
// per_user_path: also write one JSON line of metrics per user there.
json evaluate(const model::Recommender& model, const data::Dataset& ds, const std::vector<data::Example>& examples,
              const EvalOptions& eval, uint64_t seed, const std::string& per_user_path = "");
// Most-popular baseline (training-split counts) on the same examples and metrics.
json evaluate_popularity(const data::Dataset& ds, const data::Split& split, const std::vector<data::Example>& examples,
                         const EvalOptions& eval);

}  // namespace tt::app
