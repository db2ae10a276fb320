// data/throughput.cpp — see throughput.hpp.
#include "data/throughput.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace tt::data {

namespace fs = std::filesystem;

std::string largest_interaction_file(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw DataError(dir + ": not a directory");
    std::string best;
    std::uintmax_t best_size = 0;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (!it->is_regular_file(ec)) continue;
        std::string name = it->path().filename().string();
        std::string ext = it->path().extension().string();
        if (name.starts_with("SOURCE") || name.starts_with("README")) continue;
        if (ext != ".txt" && ext != ".csv" && ext != ".tsv" && ext != ".inter" && ext != ".dat" && ext != ".data") continue;
        std::uintmax_t size = it->file_size(ec);
        if (!ec && size > best_size) best_size = size, best = it->path().string();
    }
    if (best.empty()) throw DataError(dir + ": no interaction file found (.txt .csv .tsv .inter .dat .data)");
    return best;
}

LoadThroughput measure_load_throughput(const std::string& path, double min_seconds) {
    LoadThroughput r;
    r.path = path;
    std::error_code ec;
    r.bytes = static_cast<int64_t>(fs::file_size(path, ec));
    fs::path cache = fs::temp_directory_path() / ("tttrec-bench-cache-" + std::to_string(::getpid()));
    LoadOptions o;
    o.path = path;
    auto best_of = [&](bool use_cache) {
        o.use_cache = use_cache;
        double best = 1e30, total = 0;
        int n = 0;
        while (total < min_seconds || n < 3) {
            auto t0 = std::chrono::steady_clock::now();
            Dataset ds = load_dataset(o);
            double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (use_cache && !ds.report.from_cache) throw DataError(path + ": the cache was not used: " + ds.report.cache_note);
            r.format = ds.report.format;
            r.lines = ds.report.lines;
            r.interactions = ds.n_interactions();
            best = std::min(best, dt);
            total += dt;
            ++n;
        }
        r.runs = std::max(r.runs, n);
        return best;
    };
    o.cache_dir = cache.string();
    try {
        r.cold_s = best_of(false);
        o.use_cache = true;
        load_dataset(o);  // writes the cache
        r.cache_s = best_of(true);
    } catch (...) {
        fs::remove_all(cache, ec);
        throw;
    }
    fs::remove_all(cache, ec);
    return r;
}

}  // namespace tt::data
