// apps/trainer.cpp — the epoch loop (see trainer.hpp).
//
// One training step, top to bottom: BatchIterator::next (data/batch.cpp) gives right-padded item
// ids (B, T) -> Recommender::loss (the model's file in model/rec/, default in model/recommender.cpp)
// records the forward pass on the tape -> ad::backward (autodiff/grad.cpp) walks it in reverse,
// running each op's rule (autodiff/ops.cpp) whose kernels are in tensor/ -> clip, Adam step
// (model/optim.cpp). run_training below is that step in a loop, with validation, checkpoints and
// early stopping around it.
#include "apps/trainer.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>

#include "apps/data_setup.hpp"
#include "apps/evaluation.hpp"
#include "apps/progress.hpp"
#include "apps/resume_state.hpp"
#include "data/candidates.hpp"
#include "model/checkpoint.hpp"
#include "model/optim.hpp"
#include "model/registry.hpp"
#include "tensor/parallel.hpp"

namespace tt::app {

namespace fs = std::filesystem;
using model::Recommender;
using clock_type = std::chrono::steady_clock;

namespace {

void write_text(const std::string& path, const std::string& text) { model::atomic_write_file(path, text); }

double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

json idmap_json(const data::Dataset& ds) {
    json users = json::array(), items = json::array();
    for (int32_t u = 0; u < ds.n_users; ++u) users.push_back(std::string(ds.ids.user_name(u)));
    for (int32_t i = 1; i <= ds.n_items; ++i) items.push_back(std::string(ds.ids.item_name(i)));
    return json{{"users", users}, {"items", items}};
}

// A NaN/Inf anywhere in a gradient: the parameter's name and the first bad element, or "".
std::string first_bad_gradient(const model::ParamList& params) {
    for (const auto& [name, v] : params) {
        const Tensor& g = v.grad();
        if (!g.defined()) continue;
        // Largest exponent field: all ones only for Inf/NaN (an integer max, so it vectorizes).
        uint32_t worst = 0;
        const float* gp = g.data();
        for (int64_t i = 0, n = g.numel(); i < n; ++i) worst = std::max(worst, std::bit_cast<uint32_t>(gp[i]) & 0x7F800000u);
        if (worst == 0x7F800000u) {
            int64_t i = 0;
            while (std::isfinite(gp[i])) ++i;
            return "the gradient of " + name + " has " + std::to_string(gp[i]) + " at element " + std::to_string(i);
        }
    }
    return "";
}

// Everything one run holds while it trains.
struct Session {
    TrainOptions opt;
    data::Dataset ds;
    data::Split split;
    std::unique_ptr<Recommender> rec;
    model::ParamList params;
    std::unique_ptr<model::Adam> optim;
    model::LrSchedule schedule;
    std::unique_ptr<data::NegativeSampler> sampler;
    std::unique_ptr<data::BatchIterator> batches;
    Rng dropout_rng{0};
    TrainCounters p;
};

// Data, split, model, optimizer and batches of a run; a fresh run also writes its config.json,
// idmap.json and an empty metrics.jsonl, a resumed one restores its state.
void set_up(Session& s, std::ostream& log, const std::string& resume_dir) {
    TrainOptions& opt = s.opt;
    TT_CHECK(opt.batch_size > 0 && opt.epochs >= 0 && opt.patience >= 0 && opt.lr > 0,
             "train: batch size, epochs, patience and lr must be positive");
    set_num_threads(opt.threads);

    TT_CHECK(opt.data.window_stride == 0 || opt.model.every_position,
             "--window-stride needs every-position training (--positions every)");
    TT_CHECK(opt.data.window_stride <= opt.model.max_len, "--window-stride " + std::to_string(opt.data.window_stride) +
                                                              " is longer than --max-len " + std::to_string(opt.model.max_len));
    s.ds = load_data(opt.data);
    if (!opt.quiet) log << "data: " << s.ds.name << ": " << s.ds.report.summary() << "\n";
    s.split = make_split(s.ds, opt.data, opt.model.every_position, opt.model.max_len);
    if (!opt.quiet) log << "split: " << s.split.describe() << "\n";
    TT_CHECK(!s.split.train.empty() && !s.split.valid.empty() && !s.split.test.empty(),
             "train: the split has an empty part (" + s.split.describe() + ")");
    for (int k : opt.eval.ks)
        TT_CHECK(k >= 1 && k <= s.ds.n_items, "--ks: K=" + std::to_string(k) + " outside [1, " + std::to_string(s.ds.n_items) + "]");
    opt.model.n_items = s.ds.n_items;

    Rng init_rng(opt.seed);
    s.rec = model::make_recommender(opt.model, init_rng);
    s.rec->parameters(s.params);
    int64_t n_params = 0;
    for (auto& [n, v] : s.params) n_params += v.numel();
    if (!opt.quiet) log << "model: " << opt.model.describe() << " (" << n_params << " parameters)\n";

    model::AdamConfig ac;
    ac.lr = opt.lr;
    ac.weight_decay = opt.weight_decay;
    TT_CHECK(opt.optimizer == "adam" || opt.optimizer == "adamw", "--optimizer: '" + opt.optimizer + "' is not adam or adamw");
    s.optim = opt.optimizer == "adamw" ? std::make_unique<model::AdamW>(s.params, ac) : std::make_unique<model::Adam>(s.params, ac);
    s.schedule.base_lr = opt.lr;
    s.schedule.warmup_steps = opt.warmup_steps;

    fs::create_directories(opt.out_dir);
    const std::string& dir = opt.out_dir;
    if (resume_dir.empty()) {
        write_text(dir + "/config.json", to_json(opt).dump(2) + "\n");
        write_text(dir + "/idmap.json", idmap_json(s.ds).dump() + "\n");
        write_text(dir + "/metrics.jsonl", "");
        if (opt.eval.candidates > 0)  // for the record: the lists every model of this protocol is scored on
            data::save_candidates(data::make_split_candidates(s.ds, s.split, opt.eval.candidates, opt.eval.candidates_seed),
                                  dir + "/candidates.txt");
    }

    s.sampler = std::make_unique<data::NegativeSampler>(s.ds, opt.seed + 1);
    data::BatchOptions bo;
    bo.batch_size = opt.batch_size;
    bo.max_len = opt.model.max_len;
    bo.shuffle = true;
    bo.seed = opt.seed + 2;
    bo.every_position = opt.model.every_position;
    bo.negatives = s.rec->train_negatives();
    s.batches = std::make_unique<data::BatchIterator>(s.ds, s.split.train, bo, s.sampler.get());

    s.dropout_rng = Rng(opt.seed + 3);
    if (!resume_dir.empty()) {
        load_resume_state(dir, s.params, *s.optim, s.dropout_rng, *s.sampler, s.p);
        write_text(dir + "/metrics.jsonl", s.p.metrics_log);  // drop a line written after the saved state
        if (!opt.quiet) log << "resuming after epoch " << s.p.epoch << " (step " << s.p.step << ")\n";
    }
}

struct EpochStats {
    double loss_sum = 0;
    int64_t seqs = 0, done = 0;
    double train_secs = 0;
};

// One pass over the training batches (at most --max-steps of them). A NaN/Inf in the loss or a
// gradient stops the run before the optimizer uses it; the files on disk (written only at the end
// of an epoch) are still those of the last good epoch.
EpochStats train_epoch(Session& s, int epoch, Progress& progress) {
    const TrainOptions& opt = s.opt;
    auto t0 = clock_type::now();
    s.batches->start_epoch(epoch);
    int64_t steps = s.batches->num_batches();
    if (opt.max_steps_per_epoch > 0) steps = std::min(steps, opt.max_steps_per_epoch);
    EpochStats st;
    auto diverged = [&](const std::string& what) {
        const std::string& dir = opt.out_dir;
        std::string kept = s.p.best_epoch > 0 ? "the last good checkpoints are kept: " + dir + "/model.safetensors (best, epoch " +
                                                    std::to_string(s.p.best_epoch) + ") and " + dir + "/resume.safetensors (after epoch " +
                                                    std::to_string(epoch - 1) + ")"
                                              : "no epoch had finished, so no checkpoint was written";
        return std::runtime_error("training diverged at epoch " + std::to_string(epoch) + ", batch " + std::to_string(st.done + 1) +
                                  " of " + std::to_string(steps) + " (step " + std::to_string(s.p.step + 1) + " of the run): " +
                                  what + "; " + kept + "; try a lower --lr or --clip-norm");
    };
    model::Ctx train_ctx{.training = true, .rng = &s.dropout_rng};
    data::Batch b;
    while (st.done < steps && s.batches->next(b)) {
        s.optim->set_lr(s.schedule.at(s.p.step));
        ad::Var loss = s.rec->loss({b.items, b.lengths, b.targets, b.position_targets, b.negatives}, train_ctx);
        float lv = s.p.step + 1 == opt.hooks.nan_loss_at_step ? NAN : loss.item();
        if (!std::isfinite(lv)) throw diverged("the loss is " + std::to_string(lv));
        s.optim->zero_grad();
        // retain_graph = false frees each node's inputs right after its rule ran: peak memory is
        // that of the forward pass, not forward + backward.
        ad::backward(loss, ad::Var(), {.retain_graph = false});
        if (s.p.step + 1 == opt.hooks.nan_grad_at_step)  // test hook: the first gradient that exists gets a NaN
            for (auto& [name, v] : s.params)
                if (v.grad().defined() && v.grad().numel() > 0) {
                    v.grad().data()[0] = NAN;
                    break;
                }
        if (std::string bad = first_bad_gradient(s.params); !bad.empty()) throw diverged(bad);
        if (opt.clip_norm > 0) model::clip_grad_norm(s.params, opt.clip_norm);
        s.optim->step();
        st.loss_sum += lv;
        st.seqs += b.size();
        ++st.done;
        ++s.p.step;
        double secs = seconds_since(t0);
        progress.update(epoch, st.done, steps, st.loss_sum / static_cast<double>(st.done), static_cast<double>(st.seqs) / secs,
                        secs / static_cast<double>(st.done) * static_cast<double>(steps - st.done));
    }
    progress.end_line();
    st.train_secs = seconds_since(t0);
    return st;
}

// After an epoch: validate, log the epoch, keep the checkpoint if it is the best so far, save the
// resume state. Returns true when early stopping ends the run.
bool end_epoch(Session& s, int epoch, const EpochStats& st, clock_type::time_point t0, std::ostream& log) {
    const TrainOptions& opt = s.opt;
    const std::string& dir = opt.out_dir;
    EvalOptions ve = opt.eval;
    // Validation computes only what early stopping watches: full ranking, or the candidate protocol
    // for a "candidates/<name>" metric.
    const auto [on_candidates, metric_name] = parse_metric_name(opt.metric);
    ve.sampled_negatives = 0;
    if (!on_candidates) ve.candidates = 0;
    if (on_candidates) ve.full_ranking = false;
    json valid = evaluate(*s.rec, s.ds, s.split.valid, ve, opt.seed);
    double value = valid[on_candidates ? "candidates" : "full"].value(metric_name, -1.0);
    TT_CHECK(value >= 0, "--metric: '" + opt.metric + "' is not one of the computed metrics");
    double secs = seconds_since(t0);
    json line = {{"epoch", epoch}, {"loss", st.loss_sum / static_cast<double>(std::max<int64_t>(st.done, 1))},
                 {"valid", on_candidates ? valid["candidates"] : valid["full"]}, {"seconds", secs}, {"train_seconds", st.train_secs},
                 {"seq_per_s", static_cast<double>(st.seqs) / st.train_secs}};
    s.p.metrics_log += line.dump() + "\n";
    write_text(dir + "/metrics.jsonl", s.p.metrics_log);
    if (!opt.quiet)
        log << "epoch " << epoch << " loss " << line["loss"].get<double>() << " valid " << opt.metric << " " << value
            << " (" << std::setprecision(3) << secs << " s)\n";
    // An improvement saves the new best checkpoint atomically. RecBole counts a tie as one (and
    // keeps the newer weights); the default asks for strictly better.
    const bool improved = opt.stopping == "recbole" ? value >= s.p.best : value > s.p.best;
    if (improved) {
        s.p.best = value, s.p.best_epoch = epoch, s.p.bad_epochs = 0;
        model::save_safetensors(dir + "/model.safetensors", model::parameter_values(s.params),
                                {{"format", "pt"}, {"tttrec_model", opt.model.model}});
    } else {
        ++s.p.bad_epochs;
    }
    s.p.epoch = epoch;
    save_resume_state(dir, s.params, *s.optim, s.dropout_rng, *s.sampler, s.p);
    if (epoch == opt.hooks.crash_after_epoch) throw std::runtime_error("simulated crash after epoch " + std::to_string(epoch));
    if (s.p.bad_epochs > opt.patience) {
        if (!opt.quiet) log << "early stop: no improvement of valid " << opt.metric << " for " << s.p.bad_epochs << " epochs\n";
        return true;
    }
    return false;
}

// The shared loop of train() (fresh) and resume() (resume_dir set).
json run_training(TrainOptions opt, std::ostream& log, const std::string& resume_dir) {
    Session s;
    s.opt = std::move(opt);
    set_up(s, log, resume_dir);
    Progress progress(log, s.opt.quiet);
    const bool finished = s.p.bad_epochs > s.opt.patience;  // an early stop already happened before the save
    for (int epoch = s.p.epoch + 1; epoch <= s.opt.epochs && !finished; ++epoch) {
        auto t0 = clock_type::now();
        EpochStats st = train_epoch(s, epoch, progress);
        if (end_epoch(s, epoch, st, t0, log)) break;
    }
    TT_CHECK(s.p.best_epoch > 0, "train: no epoch completed (epochs = " + std::to_string(s.opt.epochs) + ")");

    // The best checkpoint, evaluated on both splits with the run's full protocol.
    LoadedRun run = load_run(s.opt.out_dir);
    json result;
    result["model"] = s.opt.model.model;
    result["best_epoch"] = s.p.best_epoch;
    result["valid"] = evaluate(*run.model, s.ds, s.split.valid, s.opt.eval, s.opt.seed);
    result["test"] = evaluate(*run.model, s.ds, s.split.test, s.opt.eval, s.opt.seed);
    result["popularity_test"] = evaluate_popularity(s.ds, s.split, s.split.test, s.opt.eval)["full"];
    write_text(s.opt.out_dir + "/test.json", result.dump(2) + "\n");
    return result;
}

}  // namespace

json train(const TrainOptions& opt, std::ostream& log) { return run_training(opt, log, ""); }

json resume(const std::string& dir, std::ostream& log, int crash_after_epoch, int epochs, int patience) {
    TrainOptions opt = read_run_config(dir);
    bool changed = false;
    if (epochs > 0 && epochs != opt.epochs) {
        log << "the run's epochs: " << opt.epochs << " -> " << epochs << " (config.json updated)\n";
        opt.epochs = epochs, changed = true;
    }
    if (patience >= 0 && patience != opt.patience) {
        log << "the run's patience: " << opt.patience << " -> " << patience << " (config.json updated)\n";
        opt.patience = patience, changed = true;
    }
    if (changed) write_text(dir + "/config.json", to_json(opt).dump(2) + "\n");
    opt.out_dir = dir;
    opt.hooks.crash_after_epoch = crash_after_epoch;
    // "<file>.tmp.<pid>" of a run-directory file: a write that a kill interrupted (never read).
    for (const auto& entry : fs::directory_iterator(dir)) {
        std::string name = entry.path().filename().string();
        std::size_t at = name.find(".tmp.");
        if (at == std::string::npos || name.find_first_not_of("0123456789", at + 5) != std::string::npos) continue;
        std::string base = name.substr(0, at);
        for (const char* own : {"config.json", "idmap.json", "metrics.jsonl", "model.safetensors", "resume.safetensors", "test.json"})
            if (base == own) {
                std::error_code ec;  // not fatal: it is never read, and a later write reports an unwritable directory
                fs::remove(entry.path(), ec);
                log << "removed " << name << " (a partial write of an interrupted run)" << (ec ? ": failed, " + ec.message() : "") << "\n";
            }
    }
    if (!fs::exists(dir + "/resume.safetensors")) {  // killed during the first epoch: nothing to continue from
        log << "no finished epoch in " << dir << ": starting the run over from its config.json\n";
        return run_training(opt, log, "");
    }
    return run_training(opt, log, dir);
}

LoadedRun load_run(const std::string& dir) {
    LoadedRun run;
    run.options = read_run_config(dir);
    Rng rng(0);
    run.model = model::make_recommender(run.options.model, rng);
    model::ParamList params;
    run.model->parameters(params);
    std::string path = dir + "/model.safetensors";
    model::load_parameters(params, model::load_safetensors(path), path);
    return run;
}

}  // namespace tt::app
