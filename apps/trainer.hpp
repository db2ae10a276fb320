// apps/trainer.hpp — training a recommender into a run directory, continuing an interrupted run,
// and loading a finished one. The epoch loop early-stops on the validation split and keeps the
// best checkpoint; the run directory holds everything apps/eval and apps/recommend need:
//   config.json        the full run configuration (model, data, evaluation, training)
//   model.safetensors  the best weights (by the validation metric), parameter names as keys
//   idmap.json         dense id -> original id, for users and items
//   metrics.jsonl      one JSON object per epoch: loss, validation metrics, seconds, sequences/s
//   test.json          the test metrics of the best checkpoint (also printed on stdout by train)
//   resume.safetensors the state after the last finished epoch, for train --resume (resume_state.hpp)
// Every file is written to a temporary name, flushed and renamed into place.
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "apps/run_config.hpp"
#include "model/recommender.hpp"

namespace tt::app {

// Trains, writes the output directory, and returns {"valid": {...}, "test": {...}, ...} for the
// best checkpoint. Progress goes to `log` (a bar when it is a terminal).
json train(const TrainOptions& opt, std::ostream& log);

// Continues an interrupted run from DIR/resume.safetensors and ends exactly where the
// uninterrupted run would: bit-identical with one thread (and with more: no kernel's result
// depends on the thread count). A run killed before its first epoch finished (no resume file yet)
// starts over from its config.json. Temporary files left by a write that a kill interrupted are
// removed. epochs > 0 changes the run's total number of epochs (written into its config.json
// first): a run that stopped at its --epochs cap can be extended, and ends exactly as if it had
// been started with that many (the learning-rate schedule does not depend on the total).
// patience >= 0 likewise changes the early-stopping patience.
json resume(const std::string& dir, std::ostream& log, int crash_after_epoch = 0, int epochs = 0, int patience = -1);

struct LoadedRun {
    TrainOptions options;
    std::unique_ptr<model::Recommender> model;
};
// Rebuilds the model of an output directory and loads its best weights.
LoadedRun load_run(const std::string& dir);

}  // namespace tt::app
