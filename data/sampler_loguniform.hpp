// data/sampler_loguniform.hpp — the log-uniform (Zipfian) candidate sampler of TensorFlow's
// tf.nn.log_uniform_candidate_sampler, as used by tf.nn.sampled_softmax_loss in ComiRec (Cen et
// al., "Controllable Multi-Interest Framework for Recommendation", KDD'20). Reimplemented from the
// documented behaviour, with tt::Rng (so the draws are ours, the distribution and the correction
// are TensorFlow's).
//
// Base distribution over the classes [0, range_max):
//     P(c) = (ln(c + 2) - ln(c + 1)) / ln(range_max + 1)
// One draw: u uniform in [0, 1), c = floor(exp(u * ln(range_max + 1))) - 1, which falls on c with
// exactly P(c) (the interval of u mapping to c has length P(c)); the value range_max, reachable
// only by rounding, is folded back to 0 as TensorFlow folds it (modulo range_max).
//
// It is a popularity prior only when class ids are in DECREASING frequency order: ComiRec's
// preprocessing numbers items that way (id 0 = padding, the most likely draw, is a legal
// negative there). tttrec's dense item ids are not frequency-ordered; items_by_frequency() gives
// the class -> item table that reproduces ComiRec's layout.
//
// Unique sampling (unique = true, what sampled_softmax_loss uses): draw with replacement until S
// distinct classes are collected, counting every draw in num_tries. The probability that class c
// is in such a set is then approximated, as TensorFlow does, by
//     Q(c) = 1 - (1 - P(c))^num_tries        (evaluated as -expm1(num_tries * log1p(-P(c))))
// except when no draw was repeated (num_tries == S), where TensorFlow uses the with-replacement
// expected count Q(c) = S * P(c). The sampled softmax subtracts ln Q(c) from the logit of the true
// class and of every sampled class (the "log-Q correction", which makes the sampled loss an
// estimate of the full softmax); removing accidental hits is the model's job.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "data/dataset.hpp"
#include "tensor/tensor.hpp"

namespace tt::data {

class LogUniformSampler {
public:
    explicit LogUniformSampler(int64_t range_max);  // range_max >= 1
    int64_t range_max() const { return range_; }

    double probability(int64_t c) const;   // P(c); 0 outside [0, range_max)
    int64_t sample(Rng& rng) const;        // one draw with replacement

    struct Draw {
        std::vector<int64_t> candidates;  // S distinct classes, in the order first drawn
        int64_t num_tries = 0;            // draws made, >= S
    };
    // S distinct classes (0 < S <= range_max). Deterministic given the Rng state.
    Draw sample_unique(int64_t num_sampled, Rng& rng) const;

    // Q(c) for a set of `num_sampled` classes that took `num_tries` draws (rule in the header).
    double expected_count(int64_t c, int64_t num_sampled, int64_t num_tries) const;
    // Q of every class in `classes` (true labels or the sampled candidates) for that draw.
    std::vector<double> expected_counts(std::span<const int64_t> classes, const Draw& draw) const;

private:
    int64_t range_;
    double log_range_;  // ln(range_max + 1)
};

// Everything one batch of a sampled softmax needs from the sampler (TensorFlow's
// sampled_softmax_loss with its defaults: one shared set of S distinct classes per batch, log-Q
// correction on the true and on the sampled logits, accidental hits removed). The model computes
//     true logit    = <u_b, e(target_b)> - target_log_q[b]
//     sampled logit = <u_b, e(items[s])> - sampled_log_q[s] + accidental[b, s] * kAccidentalHitLogit
// and the cross-entropy with the true logit in front. Class c stands for item class_to_item[c]
// (identity when no table is given); with items_by_frequency()'s table class 0 is the padding
// item, which ComiRec samples as a negative like any other.
struct SampledSoftmaxDraw {
    IntTensor items;        // (S) item ids of the sampled classes
    Tensor sampled_log_q;   // (S) ln Q of each sampled class
    Tensor target_log_q;    // (B) ln Q of each row's target's class
    Tensor accidental;      // (B, S) 1 where sampled class s is row b's target, else 0
    int64_t num_tries = 0;
};
// TensorFlow adds -FLT_MAX to an accidental hit's logit; any value that makes exp() vanish will do
// (this one stays finite when another finite term is added to it).
inline constexpr float kAccidentalHitLogit = -1e30f;
// `targets` (B) are item ids; with a table each must appear in it. Throws std::invalid_argument.
SampledSoftmaxDraw draw_sampled_softmax(const LogUniformSampler& sampler, std::span<const int32_t> class_to_item,
                                        const IntTensor& targets, int64_t num_sampled, Rng& rng);

// Class -> item table in ComiRec's id layout: entry 0 = 0 (padding), then the real items by
// decreasing number of interactions in `ds` (ties: smaller dense id first), so entry c is the item
// of class c for a LogUniformSampler with range_max = n_items + 1.
std::vector<int32_t> items_by_frequency(const Dataset& ds);

}  // namespace tt::data
