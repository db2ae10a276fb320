// apps/run_config.cpp — config.json <-> TrainOptions (see run_config.hpp).
#include "apps/run_config.hpp"

#include <stdexcept>

#include "model/checkpoint.hpp"
#include "model/registry.hpp"

namespace tt::app {

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

MetricName parse_metric_name(const std::string& metric) {
    static constexpr std::string_view prefix = "candidates/";
    if (metric.rfind(prefix, 0) == 0) return {true, metric.substr(prefix.size())};
    return {false, metric};
}

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
                 {"split", d.split},     {"window_stride", d.window_stride}, {"synthetic_users", d.synthetic_users}, {"synthetic_seed", d.synthetic_seed}};
    j["eval"] = {{"ks", o.eval.ks}, {"mask_history", o.eval.mask_history}, {"batch_size", o.eval.batch_size},
                 {"sampled_negatives", o.eval.sampled_negatives}, {"candidates", o.eval.candidates},
                 {"candidates_seed", o.eval.candidates_seed}, {"full_ranking", o.eval.full_ranking}};
    j["train"] = {{"batch_size", o.batch_size}, {"lr", o.lr}, {"optimizer", o.optimizer},
                  {"weight_decay", o.weight_decay}, {"clip_norm", o.clip_norm}, {"warmup_steps", o.warmup_steps},
                  {"epochs", o.epochs}, {"patience", o.patience}, {"stopping", o.stopping}, {"metric", o.metric}, {"seed", o.seed},
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
        dd.window_stride = d.value("window_stride", 0);  // absent in runs written before it existed
        const json& e = j.at("eval");
        o.eval.ks = e.at("ks").get<std::vector<int>>(), o.eval.mask_history = e.at("mask_history");
        o.eval.batch_size = e.at("batch_size"), o.eval.sampled_negatives = e.at("sampled_negatives");
        // Absent from runs made before the candidate protocol: off.
        o.eval.candidates = e.value("candidates", 0), o.eval.candidates_seed = e.value("candidates_seed", uint64_t{0});
        o.eval.full_ranking = e.value("full_ranking", true);
        const json& t = j.at("train");
        o.batch_size = t.at("batch_size"), o.lr = t.at("lr"), o.optimizer = t.at("optimizer");
        o.weight_decay = t.at("weight_decay"), o.clip_norm = t.at("clip_norm"), o.warmup_steps = t.at("warmup_steps");
        o.epochs = t.at("epochs"), o.patience = t.at("patience"), o.stopping = t.value("stopping", std::string("strict")), o.metric = t.at("metric"), o.seed = t.at("seed");
        o.threads = t.at("threads"), o.max_steps_per_epoch = t.at("max_steps_per_epoch");
    } catch (const json::exception& e) {
        throw std::invalid_argument(std::string("config.json: ") + e.what());
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("config.json: ") + e.what());
    }
    return o;
}


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


}  // namespace tt::app
