// apps/resume_state.cpp — see resume_state.hpp.
#include "apps/resume_state.hpp"

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "model/checkpoint.hpp"

namespace tt::app {

using json = nlohmann::ordered_json;

namespace {

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

}  // namespace

void save_resume_state(const std::string& dir, const model::ParamList& params, const model::Adam& optim,
                       const Rng& dropout_rng, const data::NegativeSampler& sampler, const TrainCounters& p) {
    model::NamedTensors all;
    for (const auto& [name, v] : params) all.emplace_back("param." + name, v.value());
    for (const auto& [name, t] : optim.state()) all.emplace_back("optim." + name, t);
    json rec = {{"epoch", p.epoch}, {"step", p.step}, {"best", p.best}, {"best_epoch", p.best_epoch},
                {"bad_epochs", p.bad_epochs}, {"metrics_log", p.metrics_log},
                {"dropout_rng", rng_json(dropout_rng.state())}, {"sampler_rng", rng_json(sampler.rng_state())}};
    model::save_safetensors(dir + "/resume.safetensors", all, {{"tttrec_resume", rec.dump()}});
}

void load_resume_state(const std::string& dir, const model::ParamList& params, model::Adam& optim, Rng& dropout_rng,
                       data::NegativeSampler& sampler, TrainCounters& p) {
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

}  // namespace tt::app
