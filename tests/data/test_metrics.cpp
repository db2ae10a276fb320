// tests/data/test_metrics.cpp — HR/NDCG/MRR on hand-computed rankings: ties against the target,
// history masking, sampled metrics, per-user averages, batches.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "data/metrics.hpp"

using namespace tt::data;
using doctest::Approx;

TEST_SUITE("data/metrics") {

// Scores of items 1..6 (column 0 = padding, deliberately the highest: it must never count).
//   item:   pad  1    2    3    4    5    6
const std::vector<float> kScores = {9.0f, 0.1f, 0.9f, 0.5f, 0.7f, 0.3f, 0.2f};

TEST_CASE("a known ranking gives known HR, NDCG and MRR") {
    // Target 3 (0.5): items 2 (0.9) and 4 (0.7) are above it -> rank 3.
    CHECK(full_rank(kScores.data(), 6, 3) == 3);
    RankingMetrics m({{1, 3, 5}, false, false});
    CHECK(m.add(0, kScores.data(), 6, 3) == 3);
    MetricValues v = m.result();
    CHECK(v.count == 1);
    CHECK(v.get("HR@1") == 0.0);
    CHECK(v.get("HR@3") == 1.0);
    CHECK(v.get("NDCG@1") == 0.0);
    CHECK(v.get("NDCG@3") == Approx(0.5));  // 1/log2(3+1)
    CHECK(v.get("NDCG@5") == Approx(0.5));
    CHECK(v.get("MRR") == Approx(1.0 / 3));
    CHECK_THROWS_AS(v.get("Recall@3"), std::invalid_argument);

    // Second sample: target 2 is on top -> rank 1; averages over the two samples.
    m.add(1, kScores.data(), 6, 2);
    v = m.result();
    CHECK(v.get("HR@1") == Approx(0.5));
    CHECK(v.get("NDCG@3") == Approx((0.5 + 1.0) / 2));
    CHECK(v.get("MRR") == Approx((1.0 / 3 + 1.0) / 2));
    CHECK(v.str() == "HR@1=0.5000 HR@3=1.0000 HR@5=1.0000 NDCG@1=0.5000 NDCG@3=0.7500 NDCG@5=0.7500 MRR=0.6667 (n=2)");
    // Target 1 is last of 6: rank 6 -> outside @5, MRR 1/6.
    CHECK(full_rank(kScores.data(), 6, 1) == 6);
    // Default K list.
    CHECK(RankingMetrics().options().ks == std::vector<int>{5, 10, 20, 50});
    CHECK_FALSE(RankingMetrics().options().mask_history);
}

TEST_CASE("ties count against the target") {
    std::vector<float> flat(11, 1.0f);  // 10 items all scored equally
    CHECK(full_rank(flat.data(), 10, 4) == 10);  // a constant model gets no credit
    RankingMetrics m({{5, 10}, false, false});
    m.add(0, flat.data(), 10, 4);
    CHECK(m.result().get("HR@5") == 0.0);
    CHECK(m.result().get("HR@10") == 1.0);  // only because K covers every item
    std::vector<float> s = kScores;
    s[4] = 0.5f;  // item 4 now ties with target 3
    CHECK(full_rank(s.data(), 6, 3) == 3);  // still behind 2 and the tied 4
    s[4] = 0.49f;
    CHECK(full_rank(s.data(), 6, 3) == 2);
    // A NaN target score is ranked last; NaN competitors do not count.
    s[3] = std::numeric_limits<float>::quiet_NaN();
    CHECK(full_rank(s.data(), 6, 3) == 6);
    s[3] = 0.5f;
    s[2] = std::numeric_limits<float>::quiet_NaN();
    CHECK(full_rank(s.data(), 6, 3) == 1);
}

TEST_CASE("history masking removes earlier items from the candidates, never the target") {
    std::vector<int32_t> hist = {2, 4, 2};  // a repeated item is removed once
    CHECK(full_rank(kScores.data(), 6, 3, hist) == 1);
    CHECK(full_rank(kScores.data(), 6, 3, std::vector<int32_t>{3, 2}) == 2);  // target in history stays a candidate
    CHECK(full_rank(kScores.data(), 6, 3, std::vector<int32_t>{1, 5}) == 3);  // items below the target change nothing
    RankingMetrics masked({{1}, true, false}), plain({{1}, false, false});
    masked.add(0, kScores.data(), 6, 3, hist);
    plain.add(0, kScores.data(), 6, 3, hist);
    CHECK(masked.result().get("HR@1") == 1.0);
    CHECK(plain.result().get("HR@1") == 0.0);
}

TEST_CASE("sampled metrics rank against the negatives only") {
    // negatives 1 (0.1), 5 (0.3), 2 (0.9): one above target 3 (0.5) -> rank 2
    CHECK(sampled_rank(kScores.data(), 3, std::vector<int32_t>{1, 5, 2}) == 2);
    CHECK(sampled_rank(kScores.data(), 3, std::vector<int32_t>{2, 2, 4}) == 4);  // repeats count (sampled with replacement)
    CHECK(sampled_rank(kScores.data(), 3, std::vector<int32_t>{3, 1}) == 1);     // the target itself is ignored
    RankingMetrics m({{1, 10}, false, false});
    CHECK(m.add_sampled(0, kScores.data(), 3, std::vector<int32_t>{1, 5, 2}) == 2);
    CHECK(m.result().get("NDCG@10") == Approx(1.0 / std::log2(3.0)));
}

TEST_CASE("per-user reporting and user-averaged metrics") {
    RankingMetrics m({{1}, false, true});
    m.add_rank(0, 1);  // user 0: two samples, HR@1 = 1 and 0
    m.add_rank(0, 5);
    m.add_rank(3, 1);  // user 3: one sample, HR@1 = 1
    CHECK(m.result().get("HR@1") == Approx(2.0 / 3));  // over samples
    auto pu = m.per_user();
    REQUIRE(pu.size() == 2);
    CHECK(pu[0].user == 0);
    CHECK(pu[0].values.count == 2);
    CHECK(pu[0].values.get("HR@1") == Approx(0.5));
    CHECK(pu[1].user == 3);
    CHECK(pu[1].values.get("MRR") == Approx(1.0));
    MetricValues ua = m.user_averaged();
    CHECK(ua.count == 2);
    CHECK(ua.get("HR@1") == Approx(0.75));  // (0.5 + 1) / 2
    CHECK(ua.get("MRR") == Approx(((1.0 + 0.2) / 2 + 1.0) / 2));

    RankingMetrics other({{1}, false, true});
    other.add_rank(5, 2);
    m.merge(other);
    CHECK(m.result().count == 4);
    CHECK(m.per_user().size() == 3);
    m.reset();
    CHECK(m.result().count == 0);
    CHECK_THROWS_AS(RankingMetrics({{1}, false, false}).per_user(), std::invalid_argument);
}

TEST_CASE("whole batches: (B, n_items+1) scores, masks from the dataset") {
    Dataset ds = dataset_from_sequences({{"1", {"1", "2", "3"}}, {"2", {"4", "5", "6"}}});
    std::vector<Example> ex = {{0, 0, 2, 3}, {1, 0, 2, 6}};
    BatchOptions bo;
    bo.max_len = 4;
    bo.negatives = 2;
    bo.fixed_negatives = true;
    NegativeSampler ns(ds, 1);
    Batch b = make_batch(ds, ex, bo, &ns);
    // row 0: target 3 below items 1, 2 (its history) -> rank 3 unmasked, 1 masked
    // row 1: target 6 on top -> rank 1
    tt::Tensor scores = tt::Tensor::from(tt::Shape{2, 7}, {0, 0.9f, 0.8f, 0.5f, 0.1f, 0.1f, 0.1f,  //
                                                           0, 0.1f, 0.1f, 0.1f, 0.2f, 0.3f, 0.9f});
    RankingMetrics plain({{1, 3}, false, false}), masked({{1, 3}, true, false}), sampled({{1, 3}, false, false});
    plain.add_batch(scores, b, ds);
    masked.add_batch(scores, b, ds);
    CHECK(plain.result().get("HR@1") == Approx(0.5));
    CHECK(plain.result().get("MRR") == Approx((1.0 / 3 + 1.0) / 2));
    CHECK(masked.result().get("HR@1") == Approx(1.0));
    sampled.add_batch_sampled(scores, b);  // row 0's negatives come from 4..6 (scored 0.1) -> rank 1
    CHECK(sampled.result().get("HR@1") == Approx(1.0));
    CHECK_THROWS_AS(plain.add_batch(tt::Tensor::zeros(tt::Shape{2, 5}), b, ds), std::invalid_argument);
}

}  // TEST_SUITE
