// model/registry.hpp — the table of recommenders: what apps/train's --model accepts, the defaults
// of each published model, how to build it, and what the registry-driven tests loop over.
//
// The table is one explicit array in registry.cpp (no self-registering statics: the order and the
// set of models are visible in one place). Adding a model: write model/rec/<name>.cpp with its
// options struct, defaults, validation and class, and a function returning its ModelEntry; add the
// file to model/meson.build and one row (+ its declaration) to the table in registry.cpp.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "model/recommender.hpp"

namespace tt::model {

struct ModelEntry {
    const char* name;     // --model value, config.json "model"
    const char* summary;  // one line for --help: the paper and what the model is
    RecConfig (*defaults)();                 // the published defaults (options set)
    // Checks a configuration of this model (after flags); throws std::invalid_argument with a
    // message that names the flag. The common fields are checked before it is called.
    void (*validate)(const RecConfig&);
    std::unique_ptr<Recommender> (*make)(const RecConfig&, Rng&);
    // A small configuration for the registry-driven tests (fast to train and check).
    RecConfig (*tiny)(int64_t n_items);
};

std::span<const ModelEntry> model_registry();
// Throws std::invalid_argument naming the known models.
const ModelEntry& find_model(const std::string& name);
std::string model_names(const std::string& sep = ", ");  // "ttt4rec, ttt4rec-fe, sasrec, ..."

// The defaults of `name` (find_model(name).defaults()).
RecConfig default_config(const std::string& name);
// Common checks + the model's validate(); throws std::invalid_argument.
void validate_config(const RecConfig& cfg);
// validate_config, then the model. n_items must be set.
std::unique_ptr<Recommender> make_recommender(const RecConfig& cfg, Rng& rng);

}  // namespace tt::model
