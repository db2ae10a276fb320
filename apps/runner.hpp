// apps/runner.hpp — the experiment logic behind apps/train and apps/eval: load a dataset (or the
// built-in synthetic one), split it, train a recommender with early stopping on the validation
// split, keep the best checkpoint in an output directory, and evaluate saved runs.
//
// An output directory holds everything apps/eval needs:
//   config.json        the full run configuration (model, data, training)
//   model.safetensors  the best weights (by the validation metric), parameter names as keys
//   idmap.json         dense id -> original id, for users and items
//   metrics.jsonl      one JSON object per epoch: loss, validation metrics, seconds, sequences/s
//   test.json          the test metrics of the best checkpoint (also printed on stdout by train)
//   resume.safetensors the state after the last finished epoch, for train --resume
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "data/data.hpp"
#include "model/recommender.hpp"

namespace tt::app {

using json = nlohmann::ordered_json;

struct DataOptions {
    std::string path;             // empty: the built-in synthetic dataset
    std::string format = "auto";
    std::string user_col, item_col, time_col, rating_col;  // csv / inter column names (optional)
    float rating_threshold = -1;  // < 0: off
    int min_user = 0, min_item = 0;  // k-core filter
    std::string repeats = "keep";    // keep | drop-consecutive | keep-first
    bool skip_bad_lines = false;
    bool cache = false;
    std::string split = "loo";       // loo (leave-one-out) | ratio (TTT4Rec 3:2:5)
    int synthetic_users = 2000;
    uint64_t synthetic_seed = 42;
};

struct EvalOptions {
    std::vector<int> ks = {5, 10, 20, 50};
    bool mask_history = false;
    int batch_size = 512;
    int sampled_negatives = 100;  // sampled metrics (SASRec protocol); 0 = off
};

// Failure injection, used only by the tests (tests/apps/test_crash.cpp, test_train.cpp): never
// written to config.json, never set from the command line.
struct TestHooks {
    int crash_after_epoch = 0;     // throw right after saving this epoch's state (a simulated crash)
    int64_t nan_loss_at_step = 0;  // treat the loss of this step (1-based, counted over the run) as NaN
    int64_t nan_grad_at_step = 0;  // put a NaN into one gradient at this step
};

struct TrainOptions {
    model::RecConfig model;
    DataOptions data;
    EvalOptions eval;
    int batch_size = 256;
    float lr = 1e-3f;
    std::string optimizer = "adam";  // adam | adamw
    float weight_decay = 0.0f;
    float clip_norm = 0.0f;          // 0: no clipping
    int warmup_steps = 0;
    int epochs = 30;
    int patience = 5;                // epochs without improvement before stopping
    std::string metric = "NDCG@10";  // validation metric for early stopping
    uint64_t seed = 42;
    int threads = 0;                 // 0: all cores
    std::string out_dir = "runs/default";
    int64_t max_steps_per_epoch = 0; // 0: whole epochs (tests use a few steps)
    bool quiet = false;              // no progress output
    TestHooks hooks;                 // failure injection for the tests; never set by the apps
};

json to_json(const TrainOptions& o);
TrainOptions train_options_from_json(const json& j);  // throws std::invalid_argument on bad fields

data::Dataset load_data(const DataOptions& opt);
data::Split make_split(const data::Dataset& ds, const DataOptions& opt, bool every_position);

// Trains, writes the output directory, and returns {"valid": {...}, "test": {...}, ...} for the
// best checkpoint. Progress goes to `log` (a bar when it is a terminal).
json train(const TrainOptions& opt, std::ostream& log);

// Continues an interrupted run from DIR/resume.safetensors (saved after every epoch: current
// weights, Adam moments, RNG states, counters) and ends exactly where the uninterrupted run would:
// bit-identical with one thread (and with more: no kernel's result depends on the thread count).
// A run killed before its first epoch finished (no resume file yet) starts over from its
// config.json. Temporary files left by a write that was killed midway are removed.
// epochs > 0 changes the run's total number of epochs (written into its config.json first): a run
// that stopped at its --epochs cap can be extended, and ends exactly as if it had been started with
// that many (the learning-rate schedule does not depend on the total). patience >= 0 likewise
// changes the early-stopping patience: a run that stopped early while its validation metric was
// still creeping up continues exactly as if it had been started with the larger patience.
json resume(const std::string& dir, std::ostream& log, int crash_after_epoch = 0, int epochs = 0, int patience = -1);

// Metrics of `model` on `examples` (full ranking, plus sampled metrics when eval.sampled_negatives).
json evaluate(const model::Recommender& model, const data::Dataset& ds, const std::vector<data::Example>& examples,
              const EvalOptions& eval, uint64_t seed, const std::string& per_user_path = "");
// Most-popular baseline (training-split counts) on the same examples and metrics.
json evaluate_popularity(const data::Dataset& ds, const data::Split& split, const std::vector<data::Example>& examples,
                         const EvalOptions& eval);

struct LoadedRun {
    TrainOptions options;
    std::unique_ptr<model::Recommender> model;
};
// Rebuilds the model of an output directory and loads its best weights.
LoadedRun load_run(const std::string& dir);

}  // namespace tt::app
