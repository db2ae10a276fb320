// data/synthetic.hpp — a seeded synthetic dataset where recent history matters.
//
// Items are grouped into topics (contiguous id blocks). Each user has a current topic that drifts
// over time (with probability p_drift per step it moves to a neighbouring topic). The next item is
//   - with probability p_in_topic, from the current topic: the successor of the previous item in
//     that topic's order with probability p_successor, otherwise a topic item by Zipf popularity;
//   - otherwise a globally popular item (Zipf over all items: the "noise" popularity captures).
// So the last few items predict the next one far better than global popularity does: a sequential
// model that adapts to the recent items beats the popularity baseline by a wide margin (checked in
// tests/data/test_synthetic.cpp with a first-order transition baseline).
#pragma once

#include <cstdint>

#include "data/dataset.hpp"

namespace tt::data {

struct SyntheticOptions {
    int32_t n_users = 2000;
    int32_t n_items = 500;
    int32_t n_topics = 20;
    int32_t min_len = 20;       // per-user sequence length, uniform in [min_len, max_len]
    int32_t max_len = 40;
    double p_drift = 0.1;       // per step: move to topic +-1
    double p_in_topic = 0.9;
    double p_successor = 0.5;
    double zipf = 1.0;          // popularity exponent (weight of the r-th item = 1/(r+1)^zipf)
    uint64_t seed = 42;
};

// Users are named "1".."n_users", items "1".."n_items" (dense id == name); timestamps are the
// step index of each interaction (seconds from 0), so the data also exercises time ordering.
Dataset generate_synthetic(const SyntheticOptions& opt = {});

}  // namespace tt::data
