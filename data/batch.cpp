// data/batch.cpp — batching, seeded shuffling and uniform negative sampling.
#include "data/batch.hpp"

#include <algorithm>

namespace tt::data {

namespace {
// Mixes a seed with extra words so that nearby (seed, key) pairs give unrelated Rng streams.
uint64_t mix(uint64_t seed, uint64_t a, uint64_t b = 0) {
    uint64_t z = seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// NegativeSampler

NegativeSampler::NegativeSampler(const Dataset& ds, uint64_t seed) : n_items_(ds.n_items), seed_(seed), rng_(seed) {
    off_.reserve(static_cast<std::size_t>(ds.n_users) + 1);
    off_.push_back(0);
    sorted_.reserve(static_cast<std::size_t>(ds.n_interactions()));
    for (int32_t u = 0; u < ds.n_users; ++u) {
        auto seq = ds.sequence(u);
        auto b = sorted_.size();
        sorted_.insert(sorted_.end(), seq.begin(), seq.end());
        std::sort(sorted_.begin() + static_cast<std::ptrdiff_t>(b), sorted_.end());
        sorted_.erase(std::unique(sorted_.begin() + static_cast<std::ptrdiff_t>(b), sorted_.end()), sorted_.end());
        off_.push_back(static_cast<int64_t>(sorted_.size()));
    }
}

bool NegativeSampler::is_users(int32_t user, int32_t item) const {
    auto b = sorted_.begin() + off_[static_cast<std::size_t>(user)];
    auto e = sorted_.begin() + off_[static_cast<std::size_t>(user) + 1];
    return std::binary_search(b, e, item);
}

int32_t NegativeSampler::draw(int32_t user, Rng& rng) const {
    int64_t owned = off_[static_cast<std::size_t>(user) + 1] - off_[static_cast<std::size_t>(user)];
    if (owned >= n_items_)
        throw DataError("negative sampling: user " + std::to_string(user) + " has interacted with every item");
    // Rejection sampling: expected tries n_items / (n_items - owned), small for real data.
    for (;;) {
        auto it = static_cast<int32_t>(1 + rng.below(static_cast<uint64_t>(n_items_)));
        if (!is_users(user, it)) return it;
    }
}

int32_t NegativeSampler::sample(int32_t user) { return draw(user, rng_); }

void NegativeSampler::sample(int32_t user, std::span<int32_t> out) {
    for (int32_t& x : out) x = draw(user, rng_);
}

void NegativeSampler::sample_fixed(int32_t user, uint64_t key, std::span<int32_t> out) const {
    Rng rng(mix(seed_, static_cast<uint64_t>(user) + 1, key));
    for (int32_t& x : out) x = draw(user, rng);
}

// ---------------------------------------------------------------------------------------------
// Batches

Batch make_batch(const Dataset& ds, std::span<const Example> rows, const BatchOptions& opt, NegativeSampler* sampler) {
    TT_CHECK(opt.max_len > 0, "make_batch: max_len must be positive");
    TT_CHECK(opt.negatives >= 0, "make_batch: negatives must be >= 0");
    TT_CHECK(opt.negatives == 0 || sampler != nullptr, "make_batch: negatives requested but no NegativeSampler given");
    const auto B = static_cast<int64_t>(rows.size());
    auto window = [&](const Example& ex) {  // the most recent <= max_len items of the history
        int32_t b = std::max<int32_t>(ex.begin, static_cast<int32_t>(ex.end - std::min<int64_t>(opt.max_len, ex.end - ex.begin)));
        return std::pair<int32_t, int32_t>{b, ex.end};
    };
    int64_t L = opt.max_len;
    if (opt.pad_to_longest) {
        L = 1;
        for (const auto& ex : rows) {
            auto [b, e] = window(ex);
            L = std::max<int64_t>(L, e - b);
        }
    }
    const auto K = static_cast<int64_t>(opt.negatives);
    std::vector<int32_t> items(static_cast<std::size_t>(B * L), 0), lengths(static_cast<std::size_t>(B)),
        targets(static_cast<std::size_t>(B)), users(static_cast<std::size_t>(B)), pos_targets, negs;
    if (opt.every_position) pos_targets.assign(static_cast<std::size_t>(B * L), 0);
    if (K > 0) negs.assign(static_cast<std::size_t>(B * (opt.every_position ? L : 1) * K), 0);

    for (int64_t r = 0; r < B; ++r) {
        const Example& ex = rows[static_cast<std::size_t>(r)];
        TT_CHECK(ex.user >= 0 && ex.user < ds.n_users && ex.begin >= 0 && ex.begin <= ex.end && ex.end <= ds.length(ex.user),
                 "make_batch: example out of range for user " + std::to_string(ex.user));
        auto seq = ds.sequence(ex.user);
        auto [b, e] = window(ex);
        const int64_t len = e - b;
        int32_t* row = items.data() + r * L;
        for (int64_t t = 0; t < len; ++t) row[t] = seq[static_cast<std::size_t>(b + t)];
        lengths[static_cast<std::size_t>(r)] = static_cast<int32_t>(len);
        targets[static_cast<std::size_t>(r)] = ex.target;
        users[static_cast<std::size_t>(r)] = ex.user;
        if (opt.every_position) {
            // position t (input item b+t) predicts item b+t+1; the last real position predicts the target
            int32_t* pt = pos_targets.data() + r * L;
            for (int64_t t = 0; t + 1 < len; ++t) pt[t] = seq[static_cast<std::size_t>(b + t + 1)];
            if (len > 0) pt[len - 1] = ex.target;
            // a window's targets before first_scored belong to a later window (data::window_rows)
            for (int64_t t = 0; t < len && b + t + 1 < ex.first_scored; ++t) pt[t] = 0;
        }
        if (K > 0) {
            const int64_t slots = opt.every_position ? len : 1;
            int32_t* nr = negs.data() + r * (opt.every_position ? L : 1) * K;
            std::span<int32_t> out(nr, static_cast<std::size_t>(slots * K));
            if (opt.fixed_negatives)
                sampler->sample_fixed(ex.user, static_cast<uint64_t>(ex.end), out);
            else
                sampler->sample(ex.user, out);
        }
    }
    Batch batch;
    batch.items = IntTensor(Shape{B, L}, std::move(items));
    batch.lengths = IntTensor(Shape{B}, std::move(lengths));
    batch.targets = IntTensor(Shape{B}, std::move(targets));
    batch.users = IntTensor(Shape{B}, std::move(users));
    if (opt.every_position) batch.position_targets = IntTensor(Shape{B, L}, std::move(pos_targets));
    if (K > 0)
        batch.negatives = opt.every_position ? IntTensor(Shape{B, L, K}, std::move(negs)) : IntTensor(Shape{B, K}, std::move(negs));
    batch.examples.assign(rows.begin(), rows.end());
    return batch;
}

BatchIterator::BatchIterator(const Dataset& ds, std::span<const Example> examples, BatchOptions opt, NegativeSampler* sampler)
    : ds_(ds), examples_(examples), opt_(opt), sampler_(sampler) {
    TT_CHECK(opt_.batch_size > 0, "BatchIterator: batch_size must be positive");
    start_epoch(0);
}

void BatchIterator::start_epoch(int64_t epoch) {
    epoch_ = epoch;
    pos_ = 0;
    order_.resize(examples_.size());
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<int64_t>(i);
    if (opt_.shuffle) {  // Fisher-Yates with an Rng derived from (seed, epoch)
        Rng rng(mix(opt_.seed, static_cast<uint64_t>(epoch) + 0x51ED));
        for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.below(i)]);
    }
}

int64_t BatchIterator::num_batches() const {
    auto n = static_cast<int64_t>(examples_.size());
    return opt_.drop_last ? n / opt_.batch_size : (n + opt_.batch_size - 1) / opt_.batch_size;
}

bool BatchIterator::next(Batch& out) {
    auto n = static_cast<int64_t>(examples_.size());
    int64_t take = std::min(opt_.batch_size, n - pos_);
    if (take <= 0 || (opt_.drop_last && take < opt_.batch_size)) return false;
    rows_.clear();
    for (int64_t k = 0; k < take; ++k) rows_.push_back(examples_[static_cast<std::size_t>(order_[static_cast<std::size_t>(pos_ + k)])]);
    pos_ += take;
    out = make_batch(ds_, rows_, opt_, sampler_);
    return true;
}

}  // namespace tt::data
