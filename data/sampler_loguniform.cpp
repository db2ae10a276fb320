// data/sampler_loguniform.cpp — log-uniform (Zipfian) draws, unique sets with num_tries, and the
// expected counts of the log-Q correction. The rules are in the header.
#include "data/sampler_loguniform.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace tt::data {

namespace {
// A double in [0, 1) with 53 random bits: Rng::uniform() is a float, whose 24 bits would leave
// visible gaps between the largest classes of a big range.
double uniform53(Rng& rng) { return static_cast<double>(rng.next_u64() >> 11) * 0x1.0p-53; }
}  // namespace

LogUniformSampler::LogUniformSampler(int64_t range_max) : range_(range_max) {
    TT_CHECK(range_max >= 1, "LogUniformSampler: range_max must be >= 1, got " + std::to_string(range_max));
    log_range_ = std::log1p(static_cast<double>(range_max));
}

double LogUniformSampler::probability(int64_t c) const {
    if (c < 0 || c >= range_) return 0.0;
    // ln(c+2) - ln(c+1) = ln(1 + 1/(c+1)), which keeps its precision for large c.
    return std::log1p(1.0 / (static_cast<double>(c) + 1.0)) / log_range_;
}

int64_t LogUniformSampler::sample(Rng& rng) const {
    const auto v = static_cast<int64_t>(std::exp(uniform53(rng) * log_range_)) - 1;
    return v % range_;  // v is in [0, range_max]; range_max itself (rounding only) folds to 0
}

LogUniformSampler::Draw LogUniformSampler::sample_unique(int64_t num_sampled, Rng& rng) const {
    TT_CHECK(num_sampled >= 1 && num_sampled <= range_,
             "LogUniformSampler::sample_unique: need 1 <= num_sampled <= range_max (" + std::to_string(range_) + "), got " +
                 std::to_string(num_sampled));
    Draw d;
    d.candidates.reserve(static_cast<std::size_t>(num_sampled));
    std::vector<uint8_t> seen(static_cast<std::size_t>(range_), 0);
    while (static_cast<int64_t>(d.candidates.size()) < num_sampled) {
        const int64_t c = sample(rng);
        ++d.num_tries;
        if (!seen[static_cast<std::size_t>(c)]) {
            seen[static_cast<std::size_t>(c)] = 1;
            d.candidates.push_back(c);
        }
    }
    return d;
}

double LogUniformSampler::expected_count(int64_t c, int64_t num_sampled, int64_t num_tries) const {
    TT_CHECK(num_tries >= num_sampled && num_sampled >= 1, "LogUniformSampler::expected_count: need num_tries >= num_sampled >= 1");
    const double p = probability(c);
    if (num_tries == num_sampled) return p * static_cast<double>(num_sampled);  // nothing was rejected
    return -std::expm1(static_cast<double>(num_tries) * std::log1p(-p));
}

std::vector<double> LogUniformSampler::expected_counts(std::span<const int64_t> classes, const Draw& draw) const {
    std::vector<double> q(classes.size());
    const auto S = static_cast<int64_t>(draw.candidates.size());
    for (std::size_t i = 0; i < classes.size(); ++i) q[i] = expected_count(classes[i], S, draw.num_tries);
    return q;
}

std::vector<int32_t> items_by_frequency(const Dataset& ds) {
    std::vector<int64_t> freq(static_cast<std::size_t>(ds.n_items) + 1, 0);
    for (int32_t it : ds.items) ++freq[static_cast<std::size_t>(it)];
    std::vector<int32_t> order(static_cast<std::size_t>(ds.n_items));
    std::iota(order.begin(), order.end(), 1);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return freq[static_cast<std::size_t>(a)] > freq[static_cast<std::size_t>(b)];
    });
    order.insert(order.begin(), 0);
    return order;
}

}  // namespace tt::data
