// data/batch.hpp — examples -> right-padded (B, L) IntTensor batches, and negative sampling.
//
// Legend: B = rows in the batch, L = max_len (or the longest row when pad_to_longest), K = negatives.
// Each row holds the most recent <= L items of the example's history, left-aligned and followed by
// padding 0s ("right-padded"): the TTT inner state is updated token by token from position 0, so
// padding must come after the real items. The model reads its output at position length-1.
//
// All randomness (shuffling, negatives) comes from tt::Rng, so a seed means the same everywhere.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "data/dataset.hpp"
#include "data/split.hpp"
#include "tensor/tensor.hpp"

namespace tt::data {

// Uniform negative items for a user: 1..n_items minus every item in the user's whole sequence
// (so a held-out valid/test item is never drawn as a negative), with replacement (as SASRec).
class NegativeSampler {
public:
    NegativeSampler(const Dataset& ds, uint64_t seed);
    int32_t sample(int32_t user);                             // advances the sampler's own Rng
    void sample(int32_t user, std::span<int32_t> out);
    // Deterministic in (seed, user, key), independent of call order: evaluation uses key = the
    // example's history end, so every run and every model sees the same negatives.
    void sample_fixed(int32_t user, uint64_t key, std::span<int32_t> out) const;
    bool is_users(int32_t user, int32_t item) const;          // true if the user has the item
    uint64_t seed() const { return seed_; }
    // The running generator's state, saved by checkpoints so that a resumed run draws the same negatives.
    Rng::State rng_state() const { return rng_.state(); }
    void set_rng_state(const Rng::State& s) { rng_.set_state(s); }

private:
    int32_t draw(int32_t user, Rng& rng) const;
    int32_t n_items_;
    uint64_t seed_;
    Rng rng_;
    std::vector<int64_t> off_;   // (n_users+1) CSR into sorted_
    std::vector<int32_t> sorted_;  // each user's distinct items, sorted
};

struct BatchOptions {
    int64_t batch_size = 256;
    int64_t max_len = 50;          // keep the most recent max_len history items
    bool pad_to_longest = false;   // L = longest row in the batch instead of max_len
    bool shuffle = true;           // seeded; epoch e's order depends only on (seed, e)
    uint64_t seed = 0;
    bool drop_last = false;
    bool every_position = false;   // also fill position_targets: each position predicts the next item
    int negatives = 0;             // K negatives per target (needs a sampler)
    bool fixed_negatives = false;  // sample_fixed (evaluation) instead of the running sampler (training)
};

struct Batch {
    IntTensor items;             // (B, L) history item ids, right-padded with 0
    IntTensor lengths;           // (B) real items per row (0 when the history is empty)
    IntTensor targets;           // (B) the item to predict after the last real position
    IntTensor users;             // (B) dense user ids
    IntTensor position_targets;  // (B, L) every_position only: next item at each real position, 0 at pads
    IntTensor negatives;         // (B, K), or (B, L, K) with every_position; 0 at pads
    std::vector<Example> examples;  // (B) the rows' examples, for history masking and per-user metrics
    int64_t size() const { return static_cast<int64_t>(examples.size()); }
    int64_t seq_len() const { return items.defined() ? items.shape()[1] : 0; }
};

// One batch from the given rows (no shuffling). `sampler` is needed only when opt.negatives > 0.
Batch make_batch(const Dataset& ds, std::span<const Example> rows, const BatchOptions& opt,
                 NegativeSampler* sampler = nullptr);

// Iterates over an example list in batches. Holds references: the dataset, the examples and the
// sampler must outlive it.
//   BatchIterator it(ds, split.train, opt);
//   for (int e = 0; e < epochs; ++e) { it.start_epoch(e); Batch b; while (it.next(b)) {...} }
class BatchIterator {
public:
    BatchIterator(const Dataset& ds, std::span<const Example> examples, BatchOptions opt,
                  NegativeSampler* sampler = nullptr);
    void start_epoch(int64_t epoch);   // rewinds; reshuffles with (seed, epoch) when shuffle
    bool next(Batch& out);             // false when the epoch is exhausted
    int64_t num_batches() const;
    int64_t epoch() const { return epoch_; }

private:
    const Dataset& ds_;
    std::span<const Example> examples_;
    BatchOptions opt_;
    NegativeSampler* sampler_;
    std::vector<int64_t> order_;
    std::vector<Example> rows_;  // scratch: the current batch's examples in order
    int64_t pos_ = 0, epoch_ = 0;
};

}  // namespace tt::data
