// data/metrics.cpp — rank computation (ties against the target) and metric accumulation.
#include "data/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace tt::data {

int64_t full_rank(const float* scores, int32_t n_items, int32_t target, std::span<const int32_t> masked) {
    TT_CHECK(target >= 1 && target <= n_items, "full_rank: target " + std::to_string(target) + " outside 1.." + std::to_string(n_items));
    const float st = scores[target];
    if (std::isnan(st)) return n_items;  // an undefined score earns nothing
    // Count every candidate with score >= the target's (the target counts itself: rank = 1 + others).
    // A plain counting loop: the compiler vectorises the compare-and-add.
    int64_t rank = 0;
    for (int32_t j = 1; j <= n_items; ++j) rank += scores[j] >= st ? 1 : 0;
    if (!masked.empty()) {
        // Masked items are not candidates: remove those that were counted, each distinct item once.
        std::vector<int32_t> m(masked.begin(), masked.end());
        std::sort(m.begin(), m.end());
        m.erase(std::unique(m.begin(), m.end()), m.end());
        for (int32_t h : m)
            if (h != target && h >= 1 && h <= n_items && scores[h] >= st) --rank;
    }
    return rank;
}

int64_t sampled_rank(const float* scores, int32_t target, std::span<const int32_t> negatives) {
    const float st = scores[target];
    if (std::isnan(st)) return static_cast<int64_t>(negatives.size()) + 1;
    int64_t rank = 1;
    for (int32_t j : negatives)
        if (j != target && scores[j] >= st) ++rank;
    return rank;
}

double MetricValues::get(std::string_view name) const {
    for (const auto& [k, v] : values)
        if (k == name) return v;
    throw std::invalid_argument("no metric named '" + std::string(name) + "'");
}

std::string MetricValues::str() const {
    std::string s;
    char buf[64];
    for (const auto& [k, v] : values) {
        std::snprintf(buf, sizeof buf, "%s=%.4f ", k.c_str(), v);
        s += buf;
    }
    return s + "(n=" + std::to_string(count) + ")";
}

RankingMetrics::RankingMetrics(MetricOptions opt) : opt_(std::move(opt)) {
    for (int k : opt_.ks) TT_CHECK(k > 0, "RankingMetrics: every K must be positive");
    reset();
}

void RankingMetrics::reset() {
    total_ = Sums{};
    total_.hr.assign(opt_.ks.size(), 0.0);
    total_.ndcg.assign(opt_.ks.size(), 0.0);
    users_.clear();
    samples_.clear();
}

void RankingMetrics::accumulate(Sums& s, int64_t rank, int64_t history_len) const {
    if (s.hr.empty()) {
        s.hr.assign(opt_.ks.size(), 0.0);
        s.ndcg.assign(opt_.ks.size(), 0.0);
    }
    ++s.count;
    if (history_len >= 0 && (s.min_history < 0 || history_len < s.min_history)) s.min_history = history_len;
    s.mrr += 1.0 / static_cast<double>(rank);
    const double gain = 1.0 / std::log2(static_cast<double>(rank) + 1.0);
    for (std::size_t i = 0; i < opt_.ks.size(); ++i)
        if (rank <= opt_.ks[i]) {
            s.hr[i] += 1.0;
            s.ndcg[i] += gain;
        }
}

void RankingMetrics::add_rank(int32_t user, int64_t rank, int64_t history_len) {
    TT_CHECK(rank >= 1, "RankingMetrics: rank must be >= 1");
    accumulate(total_, rank, history_len);
    if (opt_.per_user) {
        TT_CHECK(user >= 0, "RankingMetrics: negative user id");
        if (static_cast<std::size_t>(user) >= users_.size()) users_.resize(static_cast<std::size_t>(user) + 1);
        accumulate(users_[static_cast<std::size_t>(user)], rank, history_len);
    }
    if (opt_.per_sample) samples_.push_back({user, history_len, rank});
}

int64_t RankingMetrics::add(int32_t user, const float* scores, int32_t n_items, int32_t target, std::span<const int32_t> history) {
    int64_t r = full_rank(scores, n_items, target, opt_.mask_history ? history : std::span<const int32_t>{});
    // An evaluated history is never empty (the first item has no sample), so empty = not given.
    add_rank(user, r, history.empty() ? -1 : static_cast<int64_t>(history.size()));
    return r;
}

int64_t RankingMetrics::add_sampled(int32_t user, const float* scores, int32_t target, std::span<const int32_t> negatives) {
    int64_t r = sampled_rank(scores, target, negatives);
    add_rank(user, r);
    return r;
}

void RankingMetrics::add_batch(const Tensor& scores, const Batch& batch, const Dataset& ds) {
    TT_CHECK(scores.rank() == 2 && scores.dim(0) == batch.size() && scores.dim(1) == ds.n_items + 1,
             "RankingMetrics::add_batch: scores " + scores.shape().str() + " must be (B, n_items+1) = (" +
                 std::to_string(batch.size()) + ", " + std::to_string(ds.n_items + 1) + ")");
    const float* p = scores.data();
    for (int64_t r = 0; r < batch.size(); ++r) {
        const Example& ex = batch.examples[static_cast<std::size_t>(r)];
        auto hist = ds.sequence(ex.user).subspan(0, static_cast<std::size_t>(ex.end));
        add(ex.user, p + r * (ds.n_items + 1), ds.n_items, ex.target, hist);
    }
}

void RankingMetrics::add_batch_sampled(const Tensor& scores, const Batch& batch) {
    TT_CHECK(batch.negatives.defined() && batch.negatives.shape().rank() == 2,
             "RankingMetrics::add_batch_sampled: the batch needs (B, K) negatives (negatives > 0, every_position off)");
    TT_CHECK(scores.rank() == 2 && scores.dim(0) == batch.size(), "RankingMetrics::add_batch_sampled: scores must be (B, n_items+1)");
    const int64_t K = batch.negatives.shape()[1];
    const int64_t cols = scores.dim(1);
    for (int64_t r = 0; r < batch.size(); ++r) {
        std::span<const int32_t> negs(batch.negatives.data() + r * K, static_cast<std::size_t>(K));
        for (int32_t j : negs) TT_CHECK(j >= 0 && j < cols, "add_batch_sampled: negative item outside the score row");
        add_sampled(batch.examples[static_cast<std::size_t>(r)].user, scores.data() + r * cols,
                    batch.examples[static_cast<std::size_t>(r)].target, negs);
    }
}

MetricValues RankingMetrics::values_of(const Sums& s) const {
    MetricValues v;
    v.count = s.count;
    const double n = s.count > 0 ? static_cast<double>(s.count) : 1.0;
    for (std::size_t i = 0; i < opt_.ks.size(); ++i)
        v.values.emplace_back("HR@" + std::to_string(opt_.ks[i]), s.hr.empty() ? 0.0 : s.hr[i] / n);
    for (std::size_t i = 0; i < opt_.ks.size(); ++i)
        v.values.emplace_back("NDCG@" + std::to_string(opt_.ks[i]), s.ndcg.empty() ? 0.0 : s.ndcg[i] / n);
    v.values.emplace_back("MRR", s.mrr / n);
    return v;
}

MetricValues RankingMetrics::result() const { return values_of(total_); }

std::vector<UserMetrics> RankingMetrics::per_user() const {
    TT_CHECK(opt_.per_user, "RankingMetrics::per_user: construct with per_user = true");
    std::vector<UserMetrics> out;
    for (std::size_t u = 0; u < users_.size(); ++u)
        if (users_[u].count > 0) out.push_back({static_cast<int32_t>(u), values_of(users_[u]), users_[u].min_history});
    return out;
}

std::vector<SampleMetrics> RankingMetrics::per_sample() const {
    TT_CHECK(opt_.per_sample, "RankingMetrics::per_sample: construct with per_sample = true");
    std::vector<SampleMetrics> out = samples_;
    std::stable_sort(out.begin(), out.end(), [](const SampleMetrics& a, const SampleMetrics& b) {
        return a.user != b.user ? a.user < b.user : a.history_len < b.history_len;
    });
    return out;
}

MetricValues RankingMetrics::sample_values(const SampleMetrics& s) const {
    Sums one;
    accumulate(one, s.rank, s.history_len);
    return values_of(one);
}

MetricValues RankingMetrics::user_averaged() const {
    auto users = per_user();
    MetricValues avg = values_of(Sums{});
    avg.count = static_cast<int64_t>(users.size());
    for (const auto& um : users)
        for (std::size_t i = 0; i < avg.values.size(); ++i) avg.values[i].second += um.values.values[i].second;
    if (!users.empty())
        for (auto& kv : avg.values) kv.second /= static_cast<double>(users.size());
    return avg;
}

void RankingMetrics::merge(const RankingMetrics& o) {
    TT_CHECK(o.opt_.ks == opt_.ks && o.opt_.per_user == opt_.per_user && o.opt_.per_sample == opt_.per_sample,
             "RankingMetrics::merge: options differ");
    auto add_sums = [&](Sums& a, const Sums& b) {
        if (b.count == 0) return;
        if (a.hr.empty()) {
            a.hr.assign(opt_.ks.size(), 0.0);
            a.ndcg.assign(opt_.ks.size(), 0.0);
        }
        a.count += b.count;
        if (b.min_history >= 0 && (a.min_history < 0 || b.min_history < a.min_history)) a.min_history = b.min_history;
        a.mrr += b.mrr;
        for (std::size_t i = 0; i < a.hr.size(); ++i) {
            a.hr[i] += b.hr[i];
            a.ndcg[i] += b.ndcg[i];
        }
    };
    add_sums(total_, o.total_);
    if (o.users_.size() > users_.size()) users_.resize(o.users_.size());
    for (std::size_t u = 0; u < o.users_.size(); ++u) add_sums(users_[u], o.users_[u]);
    samples_.insert(samples_.end(), o.samples_.begin(), o.samples_.end());
}

}  // namespace tt::data
