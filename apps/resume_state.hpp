// apps/resume_state.hpp — everything needed to continue a run after its last finished epoch, in
// ONE safetensors file (DIR/resume.safetensors): the current weights "param.*", the optimizer
// moments "optim.*", and a JSON record in the metadata with the epoch-loop counters and the RNG
// states. One file, so that a single atomic rename keeps it consistent: a crash at any moment
// leaves either the previous epoch's state or this one's.
#pragma once

#include <string>

#include "data/data.hpp"
#include "model/module.hpp"
#include "model/optim.hpp"

namespace tt::app {

// The counters of the epoch loop.
struct TrainCounters {
    int epoch = 0;  // last finished epoch
    int64_t step = 0;
    double best = -1;  // best validation metric so far
    int best_epoch = -1, bad_epochs = 0;
    std::string metrics_log;  // metrics.jsonl as written so far
};

void save_resume_state(const std::string& dir, const model::ParamList& params, const model::Adam& optim,
                       const Rng& dropout_rng, const data::NegativeSampler& sampler, const TrainCounters& p);
// Throws model::CheckpointError naming the file for anything that does not fit the model.
void load_resume_state(const std::string& dir, const model::ParamList& params, model::Adam& optim, Rng& dropout_rng,
                       data::NegativeSampler& sampler, TrainCounters& p);

}  // namespace tt::app
