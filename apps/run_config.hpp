// apps/run_config.hpp — a run's configuration: the data, evaluation and training options of
// apps/train (the model's own are model::RecConfig, listed by the registry), and config.json, the
// file that records them in a run directory so that apps/eval, apps/recommend and train --resume
// rebuild exactly the same run.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/config.hpp"

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
    // Every-position training only: windows of max_len every `window_stride` targets, so that no
    // training target is lost in long training parts (data::window_rows); 0 = off, each user's
    // training part is one row of its most recent max_len items (as the SASRec/S3Rec code).
    int window_stride = 0;
    int synthetic_users = 2000;
    uint64_t synthetic_seed = 42;
};

struct EvalOptions {
    std::vector<int> ks = {5, 10, 20, 50};
    bool mask_history = false;
    int batch_size = 512;
    int sampled_negatives = 100;  // sampled metrics (SASRec protocol); 0 = off
    // The candidate protocol (Zhan et al.'s setting, data/candidates.hpp): each example's target
    // ranked among `candidates` negatives fixed per (seed, user, example), scored by the model's
    // score_candidates; HR/NDCG@K, AUC, GAUC, logloss. 0 = off. Early stopping reads these metrics
    // when --metric is "candidates/<name>" (e.g. candidates/NDCG@10).
    int candidates = 0;
    uint64_t candidates_seed = 0;
    // Full ranking over all items ("full" metrics). Off (--no-full-ranking) for models where it is
    // unaffordable: DIN runs its network once per (history, candidate), i.e. n_items times per
    // example. Validation skips it anyway when early stopping watches a candidates/ metric.
    bool full_ranking = true;
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
    std::string stopping = "strict"; // strict: value > best improves | recbole: value >= best (RecBole's rule)
    std::string metric = "NDCG@10";  // validation metric for early stopping
    uint64_t seed = 42;
    int threads = 0;                 // 0: all cores
    std::string out_dir = "runs/default";
    int64_t max_steps_per_epoch = 0; // 0: whole epochs (tests use a few steps)
    bool quiet = false;              // no progress output
    TestHooks hooks;                 // failure injection for the tests; never set by the apps
};

// config.json in both directions. The model section holds the fields RecConfig::visit lists for
// that model (each field written once, in the model's file).
// The early-stopping metric as --metric spells it: "NDCG@10" (full ranking) or "candidates/NDCG@10"
// (the candidate protocol). Validation records either under its bare name (metrics.jsonl "valid").
struct MetricName {
    bool on_candidates = false;
    std::string name;  // without the "candidates/" prefix
};
MetricName parse_metric_name(const std::string& metric);

json to_json(const TrainOptions& o);
TrainOptions train_options_from_json(const json& j);  // throws std::invalid_argument on bad fields
// The options a run directory was trained with (DIR/config.json).
TrainOptions read_run_config(const std::string& dir);

}  // namespace tt::app
