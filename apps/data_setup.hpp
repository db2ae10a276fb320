// apps/data_setup.hpp — from DataOptions to a dataset and its train/valid/test split: the
// built-in synthetic data or a log read from a file, filtered; leave-one-out or a ratio split.
#pragma once

#include "apps/run_config.hpp"
#include "data/data.hpp"

namespace tt::app {

data::Dataset load_data(const DataOptions& opt);
// every_position: one example per user (its whole training part) for every-position training, cut
// into windows of max_len when opt.window_stride > 0; else one example per training target.
data::Split make_split(const data::Dataset& ds, const DataOptions& opt, bool every_position, int64_t max_len);

}  // namespace tt::app
