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

SampledSoftmaxDraw draw_sampled_softmax(const LogUniformSampler& sampler, std::span<const int32_t> class_to_item,
                                        const IntTensor& targets, int64_t num_sampled, Rng& rng) {
    const int64_t R = sampler.range_max();
    TT_CHECK(class_to_item.empty() || static_cast<int64_t>(class_to_item.size()) == R,
             "draw_sampled_softmax: the class table has " + std::to_string(class_to_item.size()) + " entries, the sampler " +
                 std::to_string(R) + " classes");
    TT_CHECK(targets.defined() && targets.shape().rank() == 1, "draw_sampled_softmax: targets must be (B)");
    // item -> class, to find each target's class (its Q)
    std::vector<int64_t> item_class;
    if (!class_to_item.empty()) {
        int32_t max_item = *std::max_element(class_to_item.begin(), class_to_item.end());
        TT_CHECK(max_item >= 0, "draw_sampled_softmax: negative item in the class table");
        item_class.assign(static_cast<std::size_t>(max_item) + 1, -1);
        for (int64_t c = 0; c < R; ++c) {
            const int32_t it = class_to_item[static_cast<std::size_t>(c)];
            TT_CHECK(it >= 0 && item_class[static_cast<std::size_t>(it)] < 0, "draw_sampled_softmax: the class table repeats item " + std::to_string(it));
            item_class[static_cast<std::size_t>(it)] = c;
        }
    }
    auto class_of = [&](int32_t item) -> int64_t {
        int64_t c = class_to_item.empty() ? item
                    : (item >= 0 && static_cast<std::size_t>(item) < item_class.size() ? item_class[static_cast<std::size_t>(item)] : -1);
        TT_CHECK(c >= 0 && c < R, "draw_sampled_softmax: target item " + std::to_string(item) + " has no class below " + std::to_string(R));
        return c;
    };

    const LogUniformSampler::Draw d = sampler.sample_unique(num_sampled, rng);
    const int64_t B = targets.numel(), S = num_sampled;
    SampledSoftmaxDraw out;
    out.num_tries = d.num_tries;
    std::vector<int32_t> items(static_cast<std::size_t>(S));
    out.sampled_log_q = Tensor::empty(Shape{S});
    for (int64_t s = 0; s < S; ++s) {
        const int64_t c = d.candidates[static_cast<std::size_t>(s)];
        items[static_cast<std::size_t>(s)] = class_to_item.empty() ? static_cast<int32_t>(c) : class_to_item[static_cast<std::size_t>(c)];
        out.sampled_log_q.data()[s] = static_cast<float>(std::log(sampler.expected_count(c, S, d.num_tries)));
    }
    out.target_log_q = Tensor::empty(Shape{B});
    out.accidental = Tensor::zeros(Shape{B, S});
    for (int64_t b = 0; b < B; ++b) {
        const int32_t t = targets[b];
        out.target_log_q.data()[b] = static_cast<float>(std::log(sampler.expected_count(class_of(t), S, d.num_tries)));
        for (int64_t s = 0; s < S; ++s)
            if (items[static_cast<std::size_t>(s)] == t) out.accidental.data()[b * S + s] = 1.0f;
    }
    out.items = IntTensor(Shape{S}, std::move(items));
    return out;
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
