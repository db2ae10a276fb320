// data/metrics.hpp — ranking metrics for next-item prediction with one target per sample.
//
// Full ranking: the target competes with every real item 1..n_items (column 0 = padding is never a
// candidate). Rank is 1-based and ties count AGAINST the target:
//     rank = 1 + #{ j != target : score[j] >= score[target] }
// so a model that scores every item equally gets rank n_items and no credit (a NaN target score
// is also ranked last). Then, per sample:
//     HR@K   = 1[rank <= K]                 (= Recall@K with one target)
//     NDCG@K = 1/log2(rank + 1) if rank <= K else 0   (binary gain, IDCG = 1)
//     MRR    = 1/rank                       (not cut at any K)
// averaged over samples (RecBole / S3Rec), or per user when asked.
//
// History masking (mask_history): the user's earlier items are removed from the candidates, as
// the S3Rec-family code does (it sets their scores to 0; we drop them from the count). The target
// itself is never masked, even when the user saw it before. DEFAULT: false, because RecBole's
// sequential setting (TTT4Rec, data/README.md §P2–§P3) does not mask. Turn it on to compare with S3Rec,
// ICLRec, CoSeRec, FMLP-Rec, BSARec numbers.
//
// Sampled metrics (data/README.md §P4): the target is ranked against N negatives only (SASRec: N = 100 uniform,
// excluding the user's items, fixed seed; see NegativeSampler::sample_fixed), same tie rule.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/batch.hpp"
#include "data/dataset.hpp"
#include "tensor/tensor.hpp"

namespace tt::data {

struct MetricOptions {
    std::vector<int> ks = {5, 10, 20, 50};
    bool mask_history = false;  // see the header comment for the default
    bool per_user = false;      // also keep per-user sums (for per_user() / user_averaged())
};

// Named metric values ("HR@10", "NDCG@10", "MRR") over `count` samples.
struct MetricValues {
    int64_t count = 0;
    std::vector<std::pair<std::string, double>> values;
    double get(std::string_view name) const;  // throws std::invalid_argument for an unknown name
    std::string str() const;                   // "HR@10=0.1234 NDCG@10=0.0567 ... (n=22363)"
};

struct UserMetrics {
    int32_t user = 0;
    MetricValues values;  // averaged over this user's samples
};

// Rank of `target` among items 1..n_items of `scores` (n_items+1 floats; column 0 ignored), ties
// against the target; items in `masked` (other than the target) are not candidates.
int64_t full_rank(const float* scores, int32_t n_items, int32_t target, std::span<const int32_t> masked = {});
// Rank of `target` against the listed negatives only (entries equal to the target are ignored).
int64_t sampled_rank(const float* scores, int32_t target, std::span<const int32_t> negatives);

class RankingMetrics {
public:
    explicit RankingMetrics(MetricOptions opt = {});

    // One sample with a full score row (n_items+1 floats). `history` is masked when mask_history.
    // Returns the rank.
    int64_t add(int32_t user, const float* scores, int32_t n_items, int32_t target, std::span<const int32_t> history = {});
    // One sample ranked against negatives (sampled metrics).
    int64_t add_sampled(int32_t user, const float* scores, int32_t target, std::span<const int32_t> negatives);
    // A rank computed elsewhere.
    void add_rank(int32_t user, int64_t rank);

    // A whole batch: scores (B, n_items+1), row r for batch.examples[r]; the history mask of a row is
    // ds.sequence(user)[0, end) (everything before the target, as S3Rec's seq[:-1] at test time).
    void add_batch(const Tensor& scores, const Batch& batch, const Dataset& ds);
    // Sampled version: ranks each row's target against batch.negatives (B, K) (make the batch with
    // negatives = N and fixed_negatives = true).
    void add_batch_sampled(const Tensor& scores, const Batch& batch);

    MetricValues result() const;                // averaged over samples
    std::vector<UserMetrics> per_user() const;  // needs per_user; users with >= 1 sample, by id
    MetricValues user_averaged() const;         // mean over users of each user's mean (needs per_user)
    void merge(const RankingMetrics& other);    // for parallel evaluation; same options required
    void reset();
    const MetricOptions& options() const { return opt_; }

private:
    struct Sums {
        int64_t count = 0;
        double mrr = 0;
        std::vector<double> hr, ndcg;  // (ks.size())
    };
    void accumulate(Sums& s, int64_t rank) const;
    MetricValues values_of(const Sums& s) const;
    MetricOptions opt_;
    Sums total_;
    std::vector<Sums> users_;  // indexed by user id when per_user
};

}  // namespace tt::data
