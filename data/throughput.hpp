// data/throughput.hpp — load-throughput measurement (for apps/bench and for checking that parsing
// stays at millions of lines per second).
//
// "cold" = load_dataset without the binary cache (read + parse + preprocess; the OS page cache is
// warm after the first run, so this measures our code, not the disk). "cache" = load_dataset from
// a valid binary cache. Both report the best of several runs.
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset.hpp"

namespace tt::data {

struct LoadThroughput {
    std::string path;
    Format format = Format::Auto;
    int64_t bytes = 0, lines = 0, interactions = 0;
    int runs = 0;                   // timed runs of each kind
    double cold_s = 0, cache_s = 0; // best wall time per load
    double cold_lines_per_s() const { return cold_s > 0 ? static_cast<double>(lines) / cold_s : 0; }
    double cache_lines_per_s() const { return cache_s > 0 ? static_cast<double>(lines) / cache_s : 0; }
};

// The largest interaction file under `dir` (recursive; .txt .csv .tsv .inter .dat .data, not
// README/SOURCE files). Throws DataError when there is none.
std::string largest_interaction_file(const std::string& dir);

// Loads `path` (auto format) repeatedly until min_seconds per kind (>= 3 runs each). The cache is
// written to a private temporary directory that is removed afterwards.
LoadThroughput measure_load_throughput(const std::string& path, double min_seconds = 0.3);

}  // namespace tt::data
