// data/group_metrics.hpp — metrics of the candidate-ranking (CTR-style) protocol: each evaluation
// example is a GROUP of M scored candidates with 0/1 labels (usually 1 positive + N sampled
// negatives, see data/candidates.hpp), and we report per-group ranking metrics next to the
// click-through-rate metrics that DIN-family papers and Zhan et al.'s TTT4Rec (AAAI'25 student
// abstract) report: AUC, GAUC and logloss.
//
// Rules (written out because each one changes the numbers):
//
// Ranking within a group (HR@K, NDCG@K). Ties count AGAINST the positives, as in data/metrics.hpp:
// a negative whose score equals a positive's is ranked above it, so a model that scores every
// candidate equally gets no credit. Positives tied with each other take consecutive ranks (with
// binary gain their order among themselves does not change anything). With the positives sorted
// by decreasing score, positive i (0-based) has rank
//     rank_i = 1 + i + #{negatives with score >= score_i}.
// A NaN score is treated as -infinity (worst), for positives and negatives alike.
//     HR@K   = 1 if the best positive is in the top K (rank_0 <= K), else 0
//     NDCG@K = sum over positives with rank_i <= K of 1/log2(rank_i + 1), divided by the ideal
//              DCG of min(#positives, K) positives on top (binary gain)
// Both are averaged over groups that have at least one positive ("count"); a group without a
// positive has nothing to find and is skipped (as the Lv et al. / Zhan et al. metric code skips
// users without clicks). With one positive per group, HR@K and NDCG@K equal
// RankingMetrics::add_sampled on the same candidates.
//
// AUC: the GLOBAL AUC of the CTR papers — every instance of every group pooled into one list,
// then the probability that a random positive scores above a random negative, ties counted 1/2
// (the Mann-Whitney statistic). It includes cross-group pairs, so it also measures whether scores
// are comparable across users; with sampled candidates it is dominated by the easy negatives.
// Computed on the raw scores: sigma is monotone, so AUC on sigma(score) is the same up to float
// saturation, which would only add ties.
//
// GAUC (Zhou et al., "Deep Interest Network", KDD'18): the AUC of each group on its own (same tie
// rule), averaged with weights. DEFAULT weight = the group's number of instances ("impressions"),
// the DIN paper's first choice; GaucWeight::Clicks weights by the number of positives and
// GaucWeight::Uniform gives every group the same weight (an unweighted "user AUC"). Groups with
// only positives or only negatives have no AUC and are skipped ("GAUC_groups" counts the rest).
// A group is whatever one add_group() call receives: with leave-one-out each user has one valid
// and one test example, so per split a group is a user, as in DIN.
//
// logloss: mean over all instances of -(y ln p + (1-y) ln(1-p)) with p = sigma(score) clamped to
// [eps, 1-eps], eps = 1e-7. Only meaningful for models trained with a sigmoid (BCE) head: the
// scores of a softmax-trained model are logits relative to each other, not probabilities, and
// their sigma can be anything. It is computed for every model anyway, so that the column exists;
// read it only for BCE models. A NaN score gives a NaN logloss (it is not hidden).
//
// Undefined values (no positive/negative pair at all, no instance) are NaN.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "data/metrics.hpp"  // MetricValues
#include "tensor/tensor.hpp"

namespace tt::data {

enum class GaucWeight {
    Impressions,  // weight = instances in the group (DIN default)
    Clicks,       // weight = positives in the group
    Uniform,      // every group weighs 1
};

// One group's own values, the terms add_group adds to the sums: for per-example output (apps/eval
// --per-group) and paired tests between models scored on the same candidates (compare_runs).
//   rank     rank of the best positive under the tie rule (-1 if the group has no positive)
//   hr, ndcg one value per K (NaN if the group has no positive)
//   auc      the group's own AUC (NaN unless it has both classes). The mean of `auc` over groups
//            is GAUC with GaucWeight::Uniform, and with the default weight too when every group
//            has the same size (always under the protocol: 1 + N candidates per group)
//   logloss  mean over the group's instances; likewise its mean over equal-size groups is logloss
struct GroupValues {
    int64_t rank = -1;
    std::vector<double> hr, ndcg;
    double auc = 0, logloss = 0;
    int64_t instances = 0;
};

struct GroupMetricOptions {
    std::vector<int> ks = {5, 10, 20};
    GaucWeight gauc_weight = GaucWeight::Impressions;
    double logloss_eps = 1e-7;
};

// The ranks of a group's positives under the tie rule above (sorted, best first). Labels are 0/1.
std::vector<int64_t> positive_ranks(std::span<const float> scores, std::span<const int32_t> labels);

// AUC of one list of (score, label) with ties counted 1/2; NaN when there is no (positive,
// negative) pair. O(n log n).
double auc(std::span<const float> scores, std::span<const int32_t> labels);

class GroupMetrics {
public:
    explicit GroupMetrics(GroupMetricOptions opt = {});

    // One group: scores and 0/1 labels of its M >= 1 candidates (any other label value, or sizes
    // that differ, throw std::invalid_argument). Returns the group's own values.
    GroupValues add_group(std::span<const float> scores, std::span<const int32_t> labels);
    // A batch in the candidate layout of data/candidates.hpp: scores (B, M), column 0 = the
    // positive, columns 1..M-1 = negatives. Each row is one group; with `groups`, each row's
    // values are appended to it in row order.
    void add_candidates(const Tensor& scores, std::vector<GroupValues>* groups = nullptr);

    // "HR@K" and "NDCG@K" for each K, "AUC", "GAUC", "logloss", "count" (groups with a positive),
    // "GAUC_groups" (groups with both classes), "instances". MetricValues::count = "count".
    MetricValues result() const;
    void merge(const GroupMetrics& other);  // for parallel evaluation; same options required
    void reset();
    const GroupMetricOptions& options() const { return opt_; }

private:
    GroupMetricOptions opt_;
    int64_t groups_ranked_ = 0;       // groups with >= 1 positive
    std::vector<double> hr_, ndcg_;   // sums over ranked groups, (ks.size())
    double gauc_num_ = 0, gauc_den_ = 0;
    int64_t gauc_groups_ = 0;
    double logloss_sum_ = 0;
    std::vector<float> all_scores_;   // every instance, for the global AUC
    std::vector<int32_t> all_labels_;
};

}  // namespace tt::data
