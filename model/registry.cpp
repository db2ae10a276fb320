// model/registry.cpp — the table of recommenders (see registry.hpp) and the checks common to all.
#include "model/registry.hpp"

#include <cmath>
#include <stdexcept>

namespace tt::model {

// One function per model file in model/rec/, returning its row.
ModelEntry ttt4rec_entry();     // model/rec/ttt4rec.cpp
ModelEntry ttt4rec_fe_entry();  // model/rec/ttt4rec_fe.cpp
ModelEntry sasrec_entry();      // model/rec/sasrec.cpp
ModelEntry gru4rec_entry();     // model/rec/gru4rec.cpp
ModelEntry mamba4rec_entry();   // model/rec/mamba4rec.cpp
ModelEntry narm_entry();        // model/rec/narm.cpp
ModelEntry bert4rec_entry();    // model/rec/bert4rec.cpp
ModelEntry din_entry();         // model/rec/din.cpp
ModelEntry comirec_sa_entry();  // model/rec/comirec.cpp
ModelEntry comirec_dr_entry();  // model/rec/comirec.cpp

std::span<const ModelEntry> model_registry() {
    static const ModelEntry table[] = {
        ttt4rec_entry(),
        ttt4rec_fe_entry(),
        sasrec_entry(),
        gru4rec_entry(),
        mamba4rec_entry(),
        narm_entry(),
        bert4rec_entry(),
        din_entry(),
        comirec_sa_entry(),
        comirec_dr_entry(),
    };
    return table;
}

const ModelEntry& find_model(const std::string& name) {
    for (const ModelEntry& e : model_registry())
        if (name == e.name) return e;
    throw std::invalid_argument("unknown model '" + name + "' (" + model_names() + ")");
}

std::string model_names(const std::string& sep) {
    std::string s;
    for (const ModelEntry& e : model_registry()) s += (s.empty() ? "" : sep) + std::string(e.name);
    return s;
}

RecConfig default_config(const std::string& name) { return find_model(name).defaults(); }

void validate_config(const RecConfig& c) {
    const ModelEntry& e = find_model(c.model);
    if (!c.options) throw std::invalid_argument(c.model + ": the configuration has no model options");
    if (c.max_len <= 0) throw std::invalid_argument("--max-len must be positive, got " + std::to_string(c.max_len));
    if (c.dim <= 0) throw std::invalid_argument("--dim must be positive, got " + std::to_string(c.dim));
    if (!(c.dropout >= 0 && c.dropout < 1)) throw std::invalid_argument("--dropout must be in [0, 1)");
    if (!(c.init_range > 0) || !std::isfinite(c.init_range)) throw std::invalid_argument("--init-range must be positive and finite");
    e.validate(c);
}

std::unique_ptr<Recommender> make_recommender(const RecConfig& cfg, Rng& rng) {
    if (cfg.n_items <= 0) throw std::invalid_argument("make_recommender: the dataset has no items");
    validate_config(cfg);
    return find_model(cfg.model).make(cfg, rng);
}

}  // namespace tt::model
