// data/group_metrics.cpp — per-group HR/NDCG (ties against the positives), global AUC, GAUC and
// logloss for the candidate-ranking protocol. The rules are in the header.
#include "data/group_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace tt::data {

namespace {

// NaN sorts and compares as the worst possible score.
float key(float s) { return std::isnan(s) ? -std::numeric_limits<float>::infinity() : s; }

void check_labels(std::span<const float> scores, std::span<const int32_t> labels, const char* who) {
    TT_CHECK(scores.size() == labels.size(), std::string(who) + ": " + std::to_string(scores.size()) + " scores but " +
                                                 std::to_string(labels.size()) + " labels");
    for (int32_t y : labels) TT_CHECK(y == 0 || y == 1, std::string(who) + ": labels must be 0 or 1, got " + std::to_string(y));
}

// Mann-Whitney over (key, label) pairs already sorted by key: sum over positives of
// #negatives below + 1/2 #negatives tied, divided by #pos * #neg.
double auc_sorted(const std::vector<std::pair<float, int32_t>>& v) {
    double pairs = 0, negs_below = 0, pos = 0, neg = 0;
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i;
        double p = 0, n = 0;
        for (; j < v.size() && v[j].first == v[i].first; ++j) (v[j].second ? p : n) += 1;
        pairs += p * negs_below + 0.5 * p * n;
        negs_below += n;
        pos += p;
        neg += n;
        i = j;
    }
    if (pos == 0 || neg == 0) return std::numeric_limits<double>::quiet_NaN();
    return pairs / (pos * neg);
}

std::vector<std::pair<float, int32_t>> sorted_pairs(std::span<const float> scores, std::span<const int32_t> labels) {
    std::vector<std::pair<float, int32_t>> v(scores.size());
    for (std::size_t i = 0; i < scores.size(); ++i) v[i] = {key(scores[i]), labels[i]};
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return v;
}

}  // namespace

std::vector<int64_t> positive_ranks(std::span<const float> scores, std::span<const int32_t> labels) {
    check_labels(scores, labels, "positive_ranks");
    std::vector<float> pos, neg;
    for (std::size_t i = 0; i < scores.size(); ++i) (labels[i] ? pos : neg).push_back(key(scores[i]));
    std::sort(pos.begin(), pos.end(), std::greater<float>());
    std::sort(neg.begin(), neg.end(), std::greater<float>());
    // Walk both lists best-first: the negatives at or above positive i are counted against it.
    std::vector<int64_t> ranks(pos.size());
    std::size_t above = 0;
    for (std::size_t i = 0; i < pos.size(); ++i) {
        while (above < neg.size() && neg[above] >= pos[i]) ++above;
        ranks[i] = 1 + static_cast<int64_t>(i) + static_cast<int64_t>(above);
    }
    return ranks;
}

double auc(std::span<const float> scores, std::span<const int32_t> labels) {
    check_labels(scores, labels, "auc");
    return auc_sorted(sorted_pairs(scores, labels));
}

GroupMetrics::GroupMetrics(GroupMetricOptions opt) : opt_(std::move(opt)) {
    for (int k : opt_.ks) TT_CHECK(k > 0, "GroupMetrics: every K must be positive");
    TT_CHECK(opt_.logloss_eps > 0 && opt_.logloss_eps < 0.5, "GroupMetrics: logloss_eps must be in (0, 0.5)");
    reset();
}

void GroupMetrics::reset() {
    groups_ranked_ = 0;
    hr_.assign(opt_.ks.size(), 0.0);
    ndcg_.assign(opt_.ks.size(), 0.0);
    gauc_num_ = gauc_den_ = 0;
    gauc_groups_ = 0;
    logloss_sum_ = 0;
    all_scores_.clear();
    all_labels_.clear();
}

GroupValues GroupMetrics::add_group(std::span<const float> scores, std::span<const int32_t> labels) {
    check_labels(scores, labels, "GroupMetrics::add_group");
    TT_CHECK(!scores.empty(), "GroupMetrics::add_group: a group needs at least one candidate");
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    GroupValues g;
    g.instances = static_cast<int64_t>(scores.size());
    g.hr.assign(opt_.ks.size(), nan);
    g.ndcg.assign(opt_.ks.size(), nan);
    g.auc = nan;

    // Ranking metrics, when there is something to find.
    std::vector<int64_t> ranks = positive_ranks(scores, labels);
    if (!ranks.empty()) {
        ++groups_ranked_;
        g.rank = ranks[0];
        for (std::size_t k = 0; k < opt_.ks.size(); ++k) {
            const int64_t K = opt_.ks[k];
            g.hr[k] = ranks[0] <= K ? 1.0 : 0.0;
            double dcg = 0, idcg = 0;
            for (int64_t r : ranks)
                if (r <= K) dcg += 1.0 / std::log2(static_cast<double>(r) + 1.0);
            const int64_t ideal = std::min<int64_t>(static_cast<int64_t>(ranks.size()), K);
            for (int64_t r = 1; r <= ideal; ++r) idcg += 1.0 / std::log2(static_cast<double>(r) + 1.0);
            g.ndcg[k] = dcg / idcg;
            hr_[k] += g.hr[k];
            ndcg_[k] += g.ndcg[k];
        }
    }

    // The group's own AUC, when it has both classes.
    const auto n_pos = static_cast<double>(ranks.size());
    const auto n_neg = static_cast<double>(scores.size()) - n_pos;
    if (n_pos > 0 && n_neg > 0) {
        const double a = auc_sorted(sorted_pairs(scores, labels));
        g.auc = a;
        const double w = opt_.gauc_weight == GaucWeight::Impressions ? n_pos + n_neg
                         : opt_.gauc_weight == GaucWeight::Clicks    ? n_pos
                                                                     : 1.0;
        gauc_num_ += w * a;
        gauc_den_ += w;
        ++gauc_groups_;
    }

    // logloss on sigma(score), and the pooled instances for the global AUC.
    const double eps = opt_.logloss_eps;
    double group_logloss = 0;
    for (std::size_t i = 0; i < scores.size(); ++i) {
        const double s = scores[i];
        double p = 1.0 / (1.0 + std::exp(-s));
        if (!std::isnan(p)) p = std::clamp(p, eps, 1.0 - eps);
        group_logloss -= labels[i] ? std::log(p) : std::log(1.0 - p);
    }
    logloss_sum_ += group_logloss;
    g.logloss = group_logloss / static_cast<double>(scores.size());
    all_scores_.insert(all_scores_.end(), scores.begin(), scores.end());
    all_labels_.insert(all_labels_.end(), labels.begin(), labels.end());
    return g;
}

void GroupMetrics::add_candidates(const Tensor& scores, std::vector<GroupValues>* groups) {
    TT_CHECK(scores.defined() && scores.rank() == 2 && scores.dim(1) >= 1,
             "GroupMetrics::add_candidates: scores must be (B, M) with column 0 = the positive");
    const int64_t B = scores.dim(0), M = scores.dim(1);
    std::vector<int32_t> labels(static_cast<std::size_t>(M), 0);
    labels[0] = 1;
    const float* p = scores.data();
    for (int64_t r = 0; r < B; ++r) {
        GroupValues g = add_group({p + r * M, static_cast<std::size_t>(M)}, labels);
        if (groups) groups->push_back(std::move(g));
    }
}

MetricValues GroupMetrics::result() const {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    MetricValues v;
    v.count = groups_ranked_;
    const double n = groups_ranked_ > 0 ? static_cast<double>(groups_ranked_) : nan;
    for (std::size_t k = 0; k < opt_.ks.size(); ++k) v.values.emplace_back("HR@" + std::to_string(opt_.ks[k]), hr_[k] / n);
    for (std::size_t k = 0; k < opt_.ks.size(); ++k) v.values.emplace_back("NDCG@" + std::to_string(opt_.ks[k]), ndcg_[k] / n);
    v.values.emplace_back("AUC", auc_sorted(sorted_pairs(all_scores_, all_labels_)));
    v.values.emplace_back("GAUC", gauc_den_ > 0 ? gauc_num_ / gauc_den_ : nan);
    v.values.emplace_back("logloss", all_scores_.empty() ? nan : logloss_sum_ / static_cast<double>(all_scores_.size()));
    v.values.emplace_back("count", static_cast<double>(groups_ranked_));
    v.values.emplace_back("GAUC_groups", static_cast<double>(gauc_groups_));
    v.values.emplace_back("instances", static_cast<double>(all_scores_.size()));
    return v;
}

void GroupMetrics::merge(const GroupMetrics& o) {
    TT_CHECK(o.opt_.ks == opt_.ks && o.opt_.gauc_weight == opt_.gauc_weight && o.opt_.logloss_eps == opt_.logloss_eps,
             "GroupMetrics::merge: options differ");
    groups_ranked_ += o.groups_ranked_;
    for (std::size_t k = 0; k < hr_.size(); ++k) {
        hr_[k] += o.hr_[k];
        ndcg_[k] += o.ndcg_[k];
    }
    gauc_num_ += o.gauc_num_;
    gauc_den_ += o.gauc_den_;
    gauc_groups_ += o.gauc_groups_;
    logloss_sum_ += o.logloss_sum_;
    all_scores_.insert(all_scores_.end(), o.all_scores_.begin(), o.all_scores_.end());
    all_labels_.insert(all_labels_.end(), o.all_labels_.begin(), o.all_labels_.end());
}

}  // namespace tt::data
