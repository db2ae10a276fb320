// apps/runner.cpp — training loop, evaluation and run directories (see runner.hpp).
//
// One training step, top to bottom: BatchIterator::next (data/batch.cpp) gives right-padded item
// ids (B, T) -> Recommender::loss (model/recommender.cpp) records the forward pass on the tape ->
// ad::backward (autodiff/grad.cpp) walks it in reverse, running each op's rule (autodiff/ops.cpp)
// whose kernels are in tensor/ -> clip, Adam step (model/optim.cpp).
#include "apps/runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "model/checkpoint.hpp"
#include "model/optim.hpp"
#include "model/registry.hpp"
#include "tensor/parallel.hpp"

namespace tt::app {

namespace fs = std::filesystem;
using model::Recommender;

// ------------------------------------------------------------------------------------------------
// configuration <-> JSON

namespace {

// The model's fields to JSON (each field as its key: what RecConfig::visit lists).
class JsonWriter final : public model::FieldVisitor {
public:
    json j;
    void field(std::string_view k, int64_t& v, std::string_view, std::string_view) override { j[std::string(k)] = v; }
    void field(std::string_view k, float& v, std::string_view, std::string_view) override { j[std::string(k)] = v; }
    void field(std::string_view k, std::string& v, std::string_view, std::string_view) override { j[std::string(k)] = v; }
    void field(std::string_view k, bool& v, std::string_view, std::string_view) override { j[std::string(k)] = v; }
};

// ...and back: every field of the model must be present, with its type.
class JsonReader final : public model::FieldVisitor {
public:
    explicit JsonReader(const json& j) : j_(j) {}
    void field(std::string_view k, int64_t& v, std::string_view, std::string_view) override { v = at(k).get<int64_t>(); }
    void field(std::string_view k, float& v, std::string_view, std::string_view) override { v = at(k).get<float>(); }
    void field(std::string_view k, std::string& v, std::string_view, std::string_view) override { v = at(k).get<std::string>(); }
    void field(std::string_view k, bool& v, std::string_view, std::string_view) override { v = at(k).get<bool>(); }

private:
    const json& at(std::string_view k) const {
        auto it = j_.find(std::string(k));
        if (it == j_.end()) throw std::invalid_argument("model." + std::string(k) + " is missing");
        return *it;
    }
    const json& j_;
};

// Every key some model of the registry has: a config.json written before the model zoo listed
// every model's fields for every model, so another model's key is not an error.
bool known_model_key(const std::string& key) {
    if (key == "model") return true;
    for (const model::ModelEntry& e : model::model_registry())
        if (e.defaults().has(key)) return true;
    return false;
}

}  // namespace

json to_json(const TrainOptions& o) {
    json j;
    JsonWriter w;
    w.j["model"] = o.model.model;
    o.model.visit(w);
    j["model"] = w.j;
    const DataOptions& d = o.data;
    j["data"] = {{"path", d.path},       {"format", d.format},         {"user_col", d.user_col},
                 {"item_col", d.item_col}, {"time_col", d.time_col},   {"rating_col", d.rating_col},
                 {"rating_threshold", d.rating_threshold}, {"min_user", d.min_user}, {"min_item", d.min_item},
                 {"repeats", d.repeats}, {"skip_bad_lines", d.skip_bad_lines}, {"cache", d.cache},
                 {"split", d.split},     {"synthetic_users", d.synthetic_users}, {"synthetic_seed", d.synthetic_seed}};
    j["eval"] = {{"ks", o.eval.ks}, {"mask_history", o.eval.mask_history}, {"batch_size", o.eval.batch_size},
                 {"sampled_negatives", o.eval.sampled_negatives}};
    j["train"] = {{"batch_size", o.batch_size}, {"lr", o.lr}, {"optimizer", o.optimizer},
                  {"weight_decay", o.weight_decay}, {"clip_norm", o.clip_norm}, {"warmup_steps", o.warmup_steps},
                  {"epochs", o.epochs}, {"patience", o.patience}, {"metric", o.metric}, {"seed", o.seed},
                  {"threads", o.threads}, {"max_steps_per_epoch", o.max_steps_per_epoch}};
    return j;
}

TrainOptions train_options_from_json(const json& j) {
    TrainOptions o;
    try {
        const json& m = j.at("model");
        o.model = model::default_config(m.at("model").get<std::string>());
        JsonReader r(m);
        o.model.visit(r);
        for (const auto& [key, value] : m.items())
            if (!known_model_key(key)) throw std::invalid_argument("model." + key + " is not an option of any model");
        const json& d = j.at("data");
        DataOptions& dd = o.data;
        dd.path = d.at("path"), dd.format = d.at("format"), dd.user_col = d.at("user_col"), dd.item_col = d.at("item_col");
        dd.time_col = d.at("time_col"), dd.rating_col = d.at("rating_col"), dd.rating_threshold = d.at("rating_threshold");
        dd.min_user = d.at("min_user"), dd.min_item = d.at("min_item"), dd.repeats = d.at("repeats");
        dd.skip_bad_lines = d.at("skip_bad_lines"), dd.cache = d.at("cache"), dd.split = d.at("split");
        dd.synthetic_users = d.at("synthetic_users"), dd.synthetic_seed = d.at("synthetic_seed");
        const json& e = j.at("eval");
        o.eval.ks = e.at("ks").get<std::vector<int>>(), o.eval.mask_history = e.at("mask_history");
        o.eval.batch_size = e.at("batch_size"), o.eval.sampled_negatives = e.at("sampled_negatives");
        const json& t = j.at("train");
        o.batch_size = t.at("batch_size"), o.lr = t.at("lr"), o.optimizer = t.at("optimizer");
        o.weight_decay = t.at("weight_decay"), o.clip_norm = t.at("clip_norm"), o.warmup_steps = t.at("warmup_steps");
        o.epochs = t.at("epochs"), o.patience = t.at("patience"), o.metric = t.at("metric"), o.seed = t.at("seed");
        o.threads = t.at("threads"), o.max_steps_per_epoch = t.at("max_steps_per_epoch");
    } catch (const json::exception& e) {
        throw std::invalid_argument(std::string("config.json: ") + e.what());
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("config.json: ") + e.what());
    }
    return o;
}

// ------------------------------------------------------------------------------------------------
// data

data::Dataset load_data(const DataOptions& opt) {
    if (opt.path.empty()) {
        data::SyntheticOptions s;
        s.n_users = opt.synthetic_users;
        s.seed = opt.synthetic_seed;
        return data::generate_synthetic(s);
    }
    data::LoadOptions lo;
    lo.path = opt.path;
    lo.format = data::parse_format(opt.format);
    lo.columns = {opt.user_col, opt.item_col, opt.time_col, opt.rating_col};
    if (opt.rating_threshold >= 0) lo.rating_threshold = opt.rating_threshold;
    lo.min_user_interactions = opt.min_user;
    lo.min_item_interactions = opt.min_item;
    if (opt.repeats == "keep") lo.repeats = data::Repeats::Keep;
    else if (opt.repeats == "drop-consecutive") lo.repeats = data::Repeats::DropConsecutive;
    else if (opt.repeats == "keep-first") lo.repeats = data::Repeats::KeepFirst;
    else throw std::invalid_argument("--repeats: '" + opt.repeats + "' is not keep, drop-consecutive or keep-first");
    lo.skip_bad_lines = opt.skip_bad_lines;
    lo.use_cache = opt.cache;
    return data::load_dataset(lo);
}

data::Split make_split(const data::Dataset& ds, const DataOptions& opt, bool every_position) {
    auto mode = every_position ? data::TrainExamples::LongestPerUser : data::TrainExamples::EveryPrefix;
    if (opt.split == "loo") return data::make_leave_one_out(ds, mode);
    if (opt.split == "ratio") return data::make_ratio_split(ds, {0.3, 0.2, 0.5}, mode);
    throw std::invalid_argument("--split: '" + opt.split + "' is not loo or ratio");
}

// ------------------------------------------------------------------------------------------------
// evaluation

namespace {

data::MetricOptions metric_options(const EvalOptions& e) {
    data::MetricOptions m;
    m.ks = e.ks;
    m.mask_history = e.mask_history;
    return m;
}

json metrics_json(const data::MetricValues& v) {
    json j;
    for (const auto& [name, value] : v.values) j[name] = value;
    j["count"] = v.count;
    return j;
}

}  // namespace

json evaluate(const Recommender& model, const data::Dataset& ds, const std::vector<data::Example>& examples,
              const EvalOptions& eval, uint64_t seed, const std::string& per_user_path) {
    data::MetricOptions mo = metric_options(eval);
    mo.per_user = !per_user_path.empty();
    data::RankingMetrics full(mo), sampled(mo);
    data::NegativeSampler sampler(ds, seed ^ 0x5A5A5A5Aull);
    data::BatchOptions bo;
    bo.batch_size = eval.batch_size;
    bo.max_len = model.config().max_len;
    bo.shuffle = false;
    bo.negatives = eval.sampled_negatives;
    bo.fixed_negatives = true;
    data::BatchIterator it(ds, examples, bo, eval.sampled_negatives > 0 ? &sampler : nullptr);
    it.start_epoch(0);
    data::Batch batch;
    while (it.next(batch)) {
        Tensor scores = model.score_next(batch.items, batch.lengths);  // (B, V)
        full.add_batch(scores, batch, ds);
        if (eval.sampled_negatives > 0) sampled.add_batch_sampled(scores, batch);
    }
    json j;
    j["full"] = metrics_json(full.result());
    if (eval.sampled_negatives > 0) j["sampled_" + std::to_string(eval.sampled_negatives)] = metrics_json(sampled.result());
    if (!per_user_path.empty()) {
        std::ostringstream os;
        for (const data::UserMetrics& u : full.per_user()) {
            json row = metrics_json(u.values);
            row["user"] = std::string(ds.ids.user_name(u.user));
            os << row.dump() << "\n";
        }
        model::atomic_write_file(per_user_path, os.str());
    }
    return j;
}

json evaluate_popularity(const data::Dataset& ds, const data::Split& split, const std::vector<data::Example>& examples,
                         const EvalOptions& eval) {
    // Scores = how often each item occurs in the training interactions. Each interaction counts
    // once: with one example per prefix (last-position training) the same early items appear in
    // many examples, so each user's training part is taken as the longest range its examples
    // cover, [0, max end] with the target at `end`, not as the sum over examples.
    std::vector<int32_t> covered(static_cast<std::size_t>(ds.n_users), 0);
    for (const data::Example& e : split.train)
        covered[static_cast<std::size_t>(e.user)] = std::max(covered[static_cast<std::size_t>(e.user)], e.end + 1);
    Tensor pop = Tensor::zeros(Shape{1, ds.n_items + 1});
    for (int32_t u = 0; u < ds.n_users; ++u) {
        auto seq = ds.sequence(u);
        int32_t n = std::min<int32_t>(covered[static_cast<std::size_t>(u)], static_cast<int32_t>(seq.size()));
        for (int32_t i = 0; i < n; ++i) pop.data()[seq[static_cast<std::size_t>(i)]] += 1.0f;
    }
    pop.data()[0] = -1e30f;
    data::RankingMetrics m(metric_options(eval));
    for (const data::Example& e : examples) {
        auto seq = ds.sequence(e.user);
        m.add(e.user, pop.data(), ds.n_items, e.target, seq.subspan(0, static_cast<std::size_t>(e.end)));
    }
    return json{{"full", metrics_json(m.result())}};
}

// ------------------------------------------------------------------------------------------------
// training

namespace {

void write_text(const std::string& path, const std::string& text) { model::atomic_write_file(path, text); }

json idmap_json(const data::Dataset& ds) {
    json users = json::array(), items = json::array();
    for (int32_t u = 0; u < ds.n_users; ++u) users.push_back(std::string(ds.ids.user_name(u)));
    for (int32_t i = 1; i <= ds.n_items; ++i) items.push_back(std::string(ds.ids.item_name(i)));
    return json{{"users", users}, {"items", items}};
}

// A progress line: a bar when `log` is a terminal (stderr), a plain line every few seconds otherwise.
class Progress {
public:
    Progress(std::ostream& log, bool quiet) : log_(log), quiet_(quiet), tty_(::isatty(2) && &log == &std::cerr) {}
    void update(int epoch, int64_t step, int64_t steps, double loss, double seq_per_s, double eta_s) {
        if (quiet_) return;
        auto now = std::chrono::steady_clock::now();
        double since = std::chrono::duration<double>(now - last_).count();
        if (!tty_ && since < 5.0 && step != steps) return;
        if (tty_ && since < 0.1 && step != steps) return;
        last_ = now;
        std::ostringstream os;
        os << "epoch " << epoch << " ";
        if (tty_) {
            int width = 24, fill = steps ? static_cast<int>(width * step / steps) : width;
            os << "[" << std::string(static_cast<std::size_t>(fill), '#') << std::string(static_cast<std::size_t>(width - fill), '.') << "] ";
        }
        os << step << "/" << steps << " loss " << std::fixed << std::setprecision(4) << loss << " " << std::setprecision(0)
           << seq_per_s << " seq/s ETA " << eta_s << "s";
        if (tty_)
            log_ << "\r" << os.str() << "\033[K" << std::flush;
        else
            log_ << os.str() << "\n";
    }
    void end_line() {
        if (tty_ && !quiet_) log_ << "\n";
    }

private:
    std::ostream& log_;
    bool quiet_, tty_;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace

// ------------------------------------------------------------------------------------------------
// resume state: everything needed to continue after the last finished epoch, in ONE safetensors
// file (current weights "param.*", Adam moments "optim.*", and a JSON record in the metadata with
// the counters and the RNG states), so that a single atomic rename keeps it consistent: a crash
// at any moment leaves either the previous epoch's state or this one's.

namespace {

struct Progress0 {  // counters of the epoch loop
    int epoch = 0;  // last finished epoch
    int64_t step = 0;
    double best = -1;
    int best_epoch = -1, bad_epochs = 0;
    std::string metrics_log;
};

json rng_json(const Rng::State& st) {
    uint32_t spare_bits;
    std::memcpy(&spare_bits, &st.spare, 4);  // exact, whatever the float
    return json{{"s", {st.s[0], st.s[1], st.s[2], st.s[3]}}, {"has_spare", st.has_spare}, {"spare_bits", spare_bits}};
}

Rng::State rng_from_json(const json& j) {
    Rng::State st{};
    for (int i = 0; i < 4; ++i) st.s[i] = j.at("s").at(static_cast<std::size_t>(i)).get<uint64_t>();
    st.has_spare = j.at("has_spare").get<bool>();
    uint32_t bits = j.at("spare_bits").get<uint32_t>();
    std::memcpy(&st.spare, &bits, 4);
    return st;
}

void save_resume_state(const std::string& dir, const model::ParamList& params, const model::Adam& optim,
                       const Rng& dropout_rng, const data::NegativeSampler& sampler, const Progress0& p) {
    model::NamedTensors all;
    for (const auto& [name, v] : params) all.emplace_back("param." + name, v.value());
    for (const auto& [name, t] : optim.state()) all.emplace_back("optim." + name, t);
    json rec = {{"epoch", p.epoch}, {"step", p.step}, {"best", p.best}, {"best_epoch", p.best_epoch},
                {"bad_epochs", p.bad_epochs}, {"metrics_log", p.metrics_log},
                {"dropout_rng", rng_json(dropout_rng.state())}, {"sampler_rng", rng_json(sampler.rng_state())}};
    model::save_safetensors(dir + "/resume.safetensors", all, {{"tttrec_resume", rec.dump()}});
}

void load_resume_state(const std::string& dir, const model::ParamList& params, model::Adam& optim, Rng& dropout_rng,
                       data::NegativeSampler& sampler, Progress0& p) {
    const std::string path = dir + "/resume.safetensors";
    std::map<std::string, std::string> meta;
    model::NamedTensors all = model::load_safetensors(path, &meta);
    model::NamedTensors weights, moments;
    for (auto& [name, t] : all) {
        if (name.rfind("param.", 0) == 0) weights.emplace_back(name.substr(6), t);
        else if (name.rfind("optim.", 0) == 0) moments.emplace_back(name.substr(6), t);
        else throw model::CheckpointError(path + ": unexpected tensor '" + name + "'");
    }
    if (!meta.count("tttrec_resume")) throw model::CheckpointError(path + ": no resume record in the metadata");
    json rec;
    try {
        rec = json::parse(meta["tttrec_resume"]);
        p.epoch = rec.at("epoch"), p.step = rec.at("step"), p.best = rec.at("best"), p.best_epoch = rec.at("best_epoch");
        p.bad_epochs = rec.at("bad_epochs"), p.metrics_log = rec.at("metrics_log");
        dropout_rng.set_state(rng_from_json(rec.at("dropout_rng")));
        sampler.set_rng_state(rng_from_json(rec.at("sampler_rng")));
    } catch (const json::exception& e) {
        throw model::CheckpointError(path + ": bad resume record: " + e.what());
    }
    model::load_parameters(params, weights, path);
    try {
        optim.load_state(moments);
    } catch (const std::exception& e) {
        throw model::CheckpointError(path + ": optimizer state does not match the model: " + e.what());
    }
}

// The training loop shared by train() (fresh) and resume() (resume_dir set).
json run_training(TrainOptions opt, std::ostream& log, const std::string& resume_dir);

// The options a run directory was trained with (its config.json).
TrainOptions read_run_config(const std::string& dir) {
    std::string text = model::read_file_bytes(dir + "/config.json");
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw std::invalid_argument(dir + "/config.json: not valid JSON: " + e.what());
    }
    return train_options_from_json(j);
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

namespace {

json run_training(TrainOptions opt, std::ostream& log, const std::string& resume_dir) {
    TT_CHECK(opt.batch_size > 0 && opt.epochs >= 0 && opt.patience >= 0 && opt.lr > 0,
             "train: batch size, epochs, patience and lr must be positive");
    set_num_threads(opt.threads);

    data::Dataset ds = load_data(opt.data);
    if (!opt.quiet) log << "data: " << ds.name << ": " << ds.report.summary() << "\n";
    data::Split split = make_split(ds, opt.data, opt.model.every_position);
    if (!opt.quiet) log << "split: " << split.describe() << "\n";
    TT_CHECK(!split.train.empty() && !split.valid.empty() && !split.test.empty(),
             "train: the split has an empty part (" + split.describe() + ")");
    for (int k : opt.eval.ks)
        TT_CHECK(k >= 1 && k <= ds.n_items, "--ks: K=" + std::to_string(k) + " outside [1, " + std::to_string(ds.n_items) + "]");
    opt.model.n_items = ds.n_items;

    Rng init_rng(opt.seed);
    std::unique_ptr<Recommender> rec = model::make_recommender(opt.model, init_rng);
    model::ParamList params;
    rec->parameters(params);
    int64_t n_params = 0;
    for (auto& [n, v] : params) n_params += v.numel();
    if (!opt.quiet) log << "model: " << opt.model.describe() << " (" << n_params << " parameters)\n";

    model::AdamConfig ac;
    ac.lr = opt.lr;
    ac.weight_decay = opt.weight_decay;
    TT_CHECK(opt.optimizer == "adam" || opt.optimizer == "adamw", "--optimizer: '" + opt.optimizer + "' is not adam or adamw");
    std::unique_ptr<model::Adam> optim = opt.optimizer == "adamw" ? std::make_unique<model::AdamW>(params, ac)
                                                                   : std::make_unique<model::Adam>(params, ac);
    model::LrSchedule schedule;
    schedule.base_lr = opt.lr;
    schedule.warmup_steps = opt.warmup_steps;

    fs::create_directories(opt.out_dir);
    const std::string dir = opt.out_dir;
    if (resume_dir.empty()) {
        write_text(dir + "/config.json", to_json(opt).dump(2) + "\n");
        write_text(dir + "/idmap.json", idmap_json(ds).dump() + "\n");
        write_text(dir + "/metrics.jsonl", "");
    }

    data::NegativeSampler sampler(ds, opt.seed + 1);
    data::BatchOptions bo;
    bo.batch_size = opt.batch_size;
    bo.max_len = opt.model.max_len;
    bo.shuffle = true;
    bo.seed = opt.seed + 2;
    bo.every_position = opt.model.every_position;
    bo.negatives = rec->train_negatives();
    data::BatchIterator batches(ds, split.train, bo, &sampler);

    Rng dropout_rng(opt.seed + 3);
    model::Ctx train_ctx{.training = true, .rng = &dropout_rng};
    Progress0 p;  // epoch counters, restored on resume
    if (!resume_dir.empty()) {
        load_resume_state(dir, params, *optim, dropout_rng, sampler, p);
        write_text(dir + "/metrics.jsonl", p.metrics_log);  // drop a line written after the saved state
        if (!opt.quiet) log << "resuming after epoch " << p.epoch << " (step " << p.step << ")\n";
    }
    double& best = p.best;
    int& best_epoch = p.best_epoch;
    int& bad_epochs = p.bad_epochs;
    int64_t& step = p.step;
    std::string& metrics_log = p.metrics_log;
    Progress progress(log, opt.quiet);
    const bool finished = bad_epochs > opt.patience;  // an early stop already happened before the save
    for (int epoch = p.epoch + 1; epoch <= opt.epochs && !finished; ++epoch) {
        auto t0 = std::chrono::steady_clock::now();
        batches.start_epoch(epoch);
        int64_t steps = batches.num_batches();
        if (opt.max_steps_per_epoch > 0) steps = std::min(steps, opt.max_steps_per_epoch);
        double loss_sum = 0;
        int64_t seqs = 0, done = 0;
        data::Batch b;
        // A NaN/Inf in the loss or a gradient stops the run before the optimizer uses it; the files
        // on disk (written only at the end of an epoch) are still those of the last good epoch.
        auto diverged = [&](const std::string& what) {
            std::string kept = best_epoch > 0 ? "the last good checkpoints are kept: " + dir + "/model.safetensors (best, epoch " +
                                                    std::to_string(best_epoch) + ") and " + dir + "/resume.safetensors (after epoch " +
                                                    std::to_string(epoch - 1) + ")"
                                              : "no epoch had finished, so no checkpoint was written";
            return std::runtime_error("training diverged at epoch " + std::to_string(epoch) + ", batch " + std::to_string(done + 1) +
                                      " of " + std::to_string(steps) + " (step " + std::to_string(step + 1) + " of the run): " +
                                      what + "; " + kept + "; try a lower --lr or --clip-norm");
        };
        while (done < steps && batches.next(b)) {
            optim->set_lr(schedule.at(step));
            ad::Var loss = rec->loss({b.items, b.lengths, b.targets, b.position_targets, b.negatives}, train_ctx);
            float lv = step + 1 == opt.hooks.nan_loss_at_step ? NAN : loss.item();
            if (!std::isfinite(lv)) throw diverged("the loss is " + std::to_string(lv));
            optim->zero_grad();
            // retain_graph = false frees each node's inputs right after its rule ran: peak memory is
            // that of the forward pass, not forward + backward.
            ad::backward(loss, ad::Var(), {.retain_graph = false});
            if (step + 1 == opt.hooks.nan_grad_at_step)  // test hook: the first gradient that exists gets a NaN
                for (auto& [name, v] : params)
                    if (v.grad().defined() && v.grad().numel() > 0) {
                        v.grad().data()[0] = NAN;
                        break;
                    }
            for (const auto& [name, v] : params) {
                const Tensor& g = v.grad();
                if (!g.defined()) continue;
                // Largest exponent field: all ones only for Inf/NaN (an integer max, so it vectorizes).
                uint32_t worst = 0;
                const float* gp = g.data();
                for (int64_t i = 0, n = g.numel(); i < n; ++i) worst = std::max(worst, std::bit_cast<uint32_t>(gp[i]) & 0x7F800000u);
                if (worst == 0x7F800000u) {
                    int64_t i = 0;
                    while (std::isfinite(g.data()[i])) ++i;
                    throw diverged("the gradient of " + name + " has " + std::to_string(g.data()[i]) + " at element " + std::to_string(i));
                }
            }
            if (opt.clip_norm > 0) model::clip_grad_norm(params, opt.clip_norm);
            optim->step();
            loss_sum += lv;
            seqs += b.size();
            ++done;
            ++step;
            double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            progress.update(epoch, done, steps, loss_sum / static_cast<double>(done), static_cast<double>(seqs) / secs,
                            secs / static_cast<double>(done) * static_cast<double>(steps - done));
        }
        progress.end_line();
        double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        EvalOptions ve = opt.eval;
        ve.sampled_negatives = 0;  // validation: full ranking only (what early stopping watches)
        json valid = evaluate(*rec, ds, split.valid, ve, opt.seed);
        double value = valid["full"].value(opt.metric, -1.0);
        TT_CHECK(value >= 0, "--metric: '" + opt.metric + "' is not one of the computed metrics");
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        json line = {{"epoch", epoch}, {"loss", loss_sum / static_cast<double>(std::max<int64_t>(done, 1))},
                     {"valid", valid["full"]}, {"seconds", secs}, {"train_seconds", train_secs},
                     {"seq_per_s", static_cast<double>(seqs) / train_secs}};
        metrics_log += line.dump() + "\n";
        write_text(dir + "/metrics.jsonl", metrics_log);
        if (!opt.quiet)
            log << "epoch " << epoch << " loss " << line["loss"].get<double>() << " valid " << opt.metric << " " << value
                << " (" << std::setprecision(3) << secs << " s)\n";
        if (value > best) {  // strictly better: save the new best checkpoint atomically
            best = value, best_epoch = epoch, bad_epochs = 0;
            model::save_safetensors(dir + "/model.safetensors", model::parameter_values(params),
                                    {{"format", "pt"}, {"tttrec_model", opt.model.model}});
        } else {
            ++bad_epochs;
        }
        p.epoch = epoch;
        save_resume_state(dir, params, *optim, dropout_rng, sampler, p);
        if (epoch == opt.hooks.crash_after_epoch) throw std::runtime_error("simulated crash after epoch " + std::to_string(epoch));
        if (bad_epochs > opt.patience) {
            if (!opt.quiet) log << "early stop: no improvement of valid " << opt.metric << " for " << bad_epochs << " epochs\n";
            break;
        }
    }
    TT_CHECK(best_epoch > 0, "train: no epoch completed (epochs = " + std::to_string(opt.epochs) + ")");

    LoadedRun run = load_run(dir);
    json result;
    result["model"] = opt.model.model;
    result["best_epoch"] = best_epoch;
    result["valid"] = evaluate(*run.model, ds, split.valid, opt.eval, opt.seed);
    result["test"] = evaluate(*run.model, ds, split.test, opt.eval, opt.seed);
    result["popularity_test"] = evaluate_popularity(ds, split, split.test, opt.eval)["full"];
    write_text(dir + "/test.json", result.dump(2) + "\n");
    return result;
}

}  // namespace

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
