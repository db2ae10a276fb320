// tests/data/test_candidates.cpp — the candidate-ranking protocol: group metrics (HR/NDCG with
// ties against the positives, global AUC, GAUC, logloss) on hand-computed groups; fixed candidate
// lists (rules, determinism, batches, file round trip, refused files); the TensorFlow-style
// log-uniform sampler (golden probabilities, seeded frequencies, uniqueness, expected counts).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "data/batch.hpp"
#include "data/candidates.hpp"
#include "data/group_metrics.hpp"
#include "data/sampler_loguniform.hpp"
#include "data/split.hpp"
#include "data_test_util.hpp"

using namespace tt::data;
using doctest::Approx;
using tt::data::testing::TempDir;

namespace {

Dataset make_ds(const std::vector<std::vector<int>>& seqs) {
    std::vector<std::pair<std::string, std::vector<std::string>>> named;
    for (std::size_t u = 0; u < seqs.size(); ++u) {
        std::vector<std::string> items;
        for (int i : seqs[u]) items.push_back(std::to_string(i));
        std::string name = "u";
        name += std::to_string(u);  // (not "u" + ...: GCC 12 warns falsely about that)
        named.emplace_back(name, items);
    }
    return dataset_from_sequences(named);
}

// 30 users over 40 items, each user's sequence a run of 3..12 consecutive items (mod 40).
Dataset small_ds() {
    std::vector<std::vector<int>> seqs;
    for (int u = 0; u < 30; ++u) {
        std::vector<int> s;
        for (int t = 0; t < 3 + u % 10; ++t) s.push_back(1 + (u * 7 + t) % 40);
        seqs.push_back(s);
    }
    return make_ds(seqs);
}

bool has_item(const Dataset& ds, int32_t u, int32_t it) {
    for (int32_t x : ds.sequence(u))
        if (x == it) return true;
    return false;
}

std::string read_all(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_SUITE("data/candidates") {

// ---------------------------------------------------------------------------------------------
// Group metrics

TEST_CASE("group metrics: a perfect ranking") {
    GroupMetrics m({{1, 2, 5}});
    m.add_group(std::vector<float>{5, 1, 2, 3}, std::vector<int32_t>{1, 0, 0, 0});
    auto v = m.result();
    CHECK(v.count == 1);
    CHECK(v.get("HR@1") == 1.0);
    CHECK(v.get("NDCG@1") == 1.0);
    CHECK(v.get("NDCG@5") == 1.0);
    CHECK(v.get("AUC") == 1.0);
    CHECK(v.get("GAUC") == 1.0);
    CHECK(v.get("count") == 1.0);
    CHECK(v.get("instances") == 4.0);
}

TEST_CASE("group metrics: a reversed ranking") {
    GroupMetrics m({{1, 2, 5}});
    m.add_group(std::vector<float>{0, 1, 2, 3}, std::vector<int32_t>{1, 0, 0, 0});
    auto v = m.result();
    CHECK(v.get("HR@1") == 0.0);
    CHECK(v.get("HR@2") == 0.0);
    CHECK(v.get("HR@5") == 1.0);                          // rank 4 of 4
    CHECK(v.get("NDCG@5") == Approx(1.0 / std::log2(5.0)));  // 0.4307
    CHECK(v.get("AUC") == 0.0);
    CHECK(v.get("GAUC") == 0.0);
}

TEST_CASE("group metrics: all-equal scores give AUC 1/2 and the last rank (ties against the positive)") {
    GroupMetrics m({{1, 3, 4}});
    m.add_group(std::vector<float>{1, 1, 1, 1}, std::vector<int32_t>{1, 0, 0, 0});
    auto v = m.result();
    CHECK(positive_ranks(std::vector<float>{1, 1, 1, 1}, std::vector<int32_t>{1, 0, 0, 0}) == std::vector<int64_t>{4});
    CHECK(v.get("HR@1") == 0.0);
    CHECK(v.get("HR@3") == 0.0);
    CHECK(v.get("HR@4") == 1.0);
    CHECK(v.get("NDCG@4") == Approx(1.0 / std::log2(5.0)));
    CHECK(v.get("AUC") == 0.5);
    CHECK(v.get("GAUC") == 0.5);
    // Where the positive sits does not matter: the same tie with the positive last.
    GroupMetrics m2({{1, 3, 4}});
    m2.add_group(std::vector<float>{1, 1, 1, 1}, std::vector<int32_t>{0, 0, 0, 1});
    CHECK(m2.result().get("HR@3") == 0.0);
}

TEST_CASE("group metrics: two positives in a group") {
    // pos 0.9, neg 0.8, pos 0.7, neg 0.1 -> positive ranks 1 and 3.
    const std::vector<float> s = {0.9f, 0.8f, 0.7f, 0.1f};
    const std::vector<int32_t> y = {1, 0, 1, 0};
    CHECK(positive_ranks(s, y) == std::vector<int64_t>{1, 3});
    GroupMetrics m({{1, 2, 5}});
    m.add_group(s, y);
    auto v = m.result();
    CHECK(v.get("HR@1") == 1.0);  // the best positive is on top
    CHECK(v.get("NDCG@1") == 1.0);
    CHECK(v.get("NDCG@2") == Approx(1.0 / (1.0 + 1.0 / std::log2(3.0))));  // 0.6131: DCG 1, IDCG of 2 positives
    CHECK(v.get("NDCG@5") == Approx(1.5 / (1.0 + 1.0 / std::log2(3.0))));  // 0.9197: DCG 1 + 1/log2(4)
    CHECK(v.get("AUC") == Approx(0.75));                                    // 3 of the 4 (pos, neg) pairs
    // Positives tied with each other take consecutive ranks: a perfect NDCG.
    CHECK(positive_ranks(std::vector<float>{1, 1, 0}, std::vector<int32_t>{1, 1, 0}) == std::vector<int64_t>{1, 2});
    GroupMetrics t({{2}});
    t.add_group(std::vector<float>{1, 1, 0}, std::vector<int32_t>{1, 1, 0});
    CHECK(t.result().get("NDCG@2") == Approx(1.0));
}

TEST_CASE("group metrics: GAUC over groups of different sizes, with a one-class group skipped") {
    // G1 (4 instances, 1 positive): pos 0.5 beats 0.1 and 0.2, loses to 0.9     -> AUC 2/3
    // G2 (3 instances, 2 positives): pos 0.3 beats neg 0.2, pos 0.1 loses to it  -> AUC 1/2
    // G3 (3 positives, no negative): no AUC of its own, skipped by GAUC
    auto fill = [](GroupMetrics& m) {
        m.add_group(std::vector<float>{0.5f, 0.9f, 0.1f, 0.2f}, std::vector<int32_t>{1, 0, 0, 0});
        m.add_group(std::vector<float>{0.3f, 0.1f, 0.2f}, std::vector<int32_t>{1, 1, 0});
        m.add_group(std::vector<float>{0.4f, 0.6f, 0.0f}, std::vector<int32_t>{1, 1, 1});
    };
    GroupMetrics imp({{1}, GaucWeight::Impressions}), clk({{1}, GaucWeight::Clicks}), uni({{1}, GaucWeight::Uniform});
    fill(imp);
    fill(clk);
    fill(uni);
    CHECK(imp.result().get("GAUC") == Approx((4 * 2.0 / 3 + 3 * 0.5) / 7));  // 0.5952
    CHECK(clk.result().get("GAUC") == Approx((1 * 2.0 / 3 + 2 * 0.5) / 3));  // 0.5556
    CHECK(uni.result().get("GAUC") == Approx((2.0 / 3 + 0.5) / 2));          // 0.5833
    auto v = imp.result();
    CHECK(v.get("GAUC_groups") == 2.0);
    CHECK(v.get("count") == 3.0);  // every group has a positive
    CHECK(v.get("instances") == 10.0);
    // Global AUC pools all 6 positives against all 4 negatives, across groups: 12.5 of 24 pairs
    // (the positive 0.1 of G2 ties the negative 0.1 of G1: half a pair).
    CHECK(v.get("AUC") == Approx(12.5 / 24));
    CHECK(auc(std::vector<float>{0.5f, 0.9f, 0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.4f, 0.6f, 0.0f},
              std::vector<int32_t>{1, 0, 0, 0, 1, 1, 0, 1, 1, 1}) == Approx(12.5 / 24));
    CHECK(v.get("HR@1") == Approx(2.0 / 3));  // G1: the positive is 2nd; G2, G3: a positive on top
}

TEST_CASE("group metrics: each group's own values, whose means are the summary's") {
    // G1: positive 0.5 among negatives {0.9, 0.1, 0.5}: rank 1 + #{neg >= 0.5} = 3 (the tie counts
    //     against it); AUC (1 below + 1/2 tied) / 3 = 1/2; NDCG@5 = 1/log2(4) = 1/2.
    // G2: positive 2 among {1, 0, -1}: rank 1, AUC 1, HR@1 1.
    // Both have 4 instances, so the means of their AUCs and loglosses are GAUC and the logloss.
    GroupMetrics m({{1, 5}});
    const GroupValues g1 = m.add_group(std::vector<float>{0.5f, 0.9f, 0.1f, 0.5f}, std::vector<int32_t>{1, 0, 0, 0});
    const GroupValues g2 = m.add_group(std::vector<float>{2.0f, 1.0f, 0.0f, -1.0f}, std::vector<int32_t>{1, 0, 0, 0});
    CHECK(g1.rank == 3);
    CHECK(g1.hr == std::vector<double>{0.0, 1.0});
    CHECK(g1.ndcg[0] == 0.0);
    CHECK(g1.ndcg[1] == Approx(0.5));
    CHECK(g1.auc == Approx(0.5));
    CHECK(g2.rank == 1);
    CHECK(g2.hr == std::vector<double>{1.0, 1.0});
    CHECK(g2.ndcg == std::vector<double>{1.0, 1.0});
    CHECK(g2.auc == 1.0);
    CHECK(g1.instances == 4);
    auto sig = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
    CHECK(g2.logloss == Approx(-(std::log(sig(2)) + std::log(1 - sig(1)) + std::log(1 - sig(0)) + std::log(1 - sig(-1))) / 4));
    const MetricValues v = m.result();
    CHECK(v.get("HR@1") == Approx((g1.hr[0] + g2.hr[0]) / 2));
    CHECK(v.get("NDCG@5") == Approx((g1.ndcg[1] + g2.ndcg[1]) / 2));
    CHECK(v.get("GAUC") == Approx((g1.auc + g2.auc) / 2));
    CHECK(v.get("logloss") == Approx((g1.logloss + g2.logloss) / 2));
    // Without a positive: no rank and no ranking values; with one class only: no AUC.
    const GroupValues g3 = m.add_group(std::vector<float>{0.3f, 0.2f}, std::vector<int32_t>{0, 0});
    CHECK(g3.rank == -1);
    CHECK(std::isnan(g3.hr[0]));
    CHECK(std::isnan(g3.ndcg[1]));
    CHECK(std::isnan(g3.auc));
    CHECK(g3.logloss > 0);
}

TEST_CASE("group metrics: a group without a positive counts for AUC and logloss only") {
    GroupMetrics m({{1}});
    m.add_group(std::vector<float>{2, 1}, std::vector<int32_t>{1, 0});
    m.add_group(std::vector<float>{3, 0}, std::vector<int32_t>{0, 0});
    auto v = m.result();
    CHECK(v.count == 1);
    CHECK(v.get("HR@1") == 1.0);
    CHECK(v.get("GAUC") == 1.0);
    CHECK(v.get("GAUC_groups") == 1.0);
    CHECK(v.get("instances") == 4.0);
    CHECK(v.get("AUC") == Approx(2.0 / 3));  // the positive 2 beats 1 and 0, loses to 3
    GroupMetrics empty;
    CHECK(std::isnan(empty.result().get("AUC")));
    CHECK(std::isnan(empty.result().get("HR@10")));
}

TEST_CASE("group metrics: logloss of known probabilities, clamped at 1e-7") {
    GroupMetrics m;
    // sigma(0) = 1/2 with label 1: ln 2; sigma(ln 3) = 3/4 with label 0: ln 4.
    m.add_group(std::vector<float>{0.0f, static_cast<float>(std::log(3.0))}, std::vector<int32_t>{1, 0});
    CHECK(m.result().get("logloss") == Approx(1.5 * std::log(2.0)).epsilon(1e-6));
    GroupMetrics c;
    // sigma(100) rounds to 1 in double: clamped to 1 - 1e-7, so label 0 costs -ln(1e-7).
    c.add_group(std::vector<float>{100.0f}, std::vector<int32_t>{0});
    CHECK(c.result().get("logloss") == Approx(-std::log(1e-7)).epsilon(1e-6));  // 16.118
    GroupMetrics d;
    d.add_group(std::vector<float>{-100.0f}, std::vector<int32_t>{0});
    CHECK(d.result().get("logloss") == Approx(1e-7).epsilon(1e-3));
}

TEST_CASE("group metrics: NaN scores are the worst; one positive per group = sampled RankingMetrics") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    CHECK(positive_ranks(std::vector<float>{nan, 0, -5}, std::vector<int32_t>{1, 0, 0}) == std::vector<int64_t>{3});
    CHECK(positive_ranks(std::vector<float>{0, nan, -5}, std::vector<int32_t>{1, 0, 0}) == std::vector<int64_t>{1});

    // The candidate layout (column 0 = positive) against RankingMetrics::add_sampled on item ids.
    tt::Rng rng(5);
    const int B = 7, M = 12;
    tt::Tensor scores = tt::Tensor::empty(tt::Shape{B, M});
    for (int64_t i = 0; i < scores.numel(); ++i) scores.data()[i] = static_cast<float>(rng.below(5));  // many ties
    GroupMetrics g({{1, 3, 10}});
    g.add_candidates(scores);
    RankingMetrics r({{1, 3, 10}, false, false});
    std::vector<int32_t> negs;
    for (int j = 1; j < M; ++j) negs.push_back(j);
    for (int b = 0; b < B; ++b) r.add_sampled(0, scores.data() + b * M, 0, negs);
    for (const char* name : {"HR@1", "HR@3", "HR@10", "NDCG@1", "NDCG@3", "NDCG@10"})
        CHECK(g.result().get(name) == Approx(r.result().get(name)));

    // merge == adding everything to one accumulator.
    GroupMetrics a({{1, 3, 10}}), b2({{1, 3, 10}});
    a.add_candidates(scores.rows(0, 3));
    b2.add_candidates(scores.rows(3, B));
    a.merge(b2);
    for (const auto& [name, val] : g.result().values) CHECK(a.result().get(name) == Approx(val));
    CHECK_THROWS_AS(g.add_group(std::vector<float>{1, 2}, std::vector<int32_t>{1, 2}), std::invalid_argument);
    CHECK_THROWS_AS(g.add_group(std::vector<float>{1, 2}, std::vector<int32_t>{1}), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Candidate lists

TEST_CASE("candidates: the positive first, then distinct negatives the user never interacted with") {
    Dataset ds = small_ds();
    Split sp = make_leave_one_out(ds);
    CandidateSet cs = make_split_candidates(ds, sp, 20, 7);
    REQUIRE(cs.size() == static_cast<int64_t>(sp.valid.size() + sp.test.size()));
    CHECK(cs.width() == 21);
    for (const auto* part : {&sp.valid, &sp.test})
        for (const Example& ex : *part) {
            int64_t r = cs.find(ex.user, ex.end);
            REQUIRE(r >= 0);
            auto lst = cs.row(r);
            CHECK(lst[0] == ex.target);
            std::set<int32_t> negs(lst.begin() + 1, lst.end());
            CHECK(negs.size() == 20);
            for (int32_t n : negs) {
                CHECK(n >= 1);
                CHECK(n <= ds.n_items);
                CHECK_FALSE(has_item(ds, ex.user, n));  // not even a later (test) item of a valid example
            }
        }
    CHECK_NOTHROW(cs.validate_against(ds, "memory"));
    CHECK(cs.find(0, 999) == -1);
}

TEST_CASE("candidates: a list depends on (seed, user, end) only, not on call order or companions") {
    Dataset ds = small_ds();
    Split sp = make_leave_one_out(ds);
    CandidateSet both = make_split_candidates(ds, sp, 15, 3);
    CandidateSet test_only = make_candidates(ds, sp.test, 15, 3);
    std::vector<Example> reversed(sp.test.rbegin(), sp.test.rend());
    CandidateSet rev = make_candidates(ds, reversed, 15, 3);
    CandidateSet again = make_split_candidates(ds, sp, 15, 3);
    CandidateSet other_seed = make_split_candidates(ds, sp, 15, 4);
    CHECK(both == again);
    CHECK_FALSE(both == other_seed);
    int differ = 0;
    for (const Example& ex : sp.test) {
        auto a = both.row(both.find(ex.user, ex.end));
        auto b = test_only.row(test_only.find(ex.user, ex.end));
        auto c = rev.row(rev.find(ex.user, ex.end));
        auto d = other_seed.row(other_seed.find(ex.user, ex.end));
        CHECK(std::vector<int32_t>(a.begin(), a.end()) == std::vector<int32_t>(b.begin(), b.end()));
        CHECK(std::vector<int32_t>(a.begin(), a.end()) == std::vector<int32_t>(c.begin(), c.end()));
        differ += std::vector<int32_t>(a.begin(), a.end()) != std::vector<int32_t>(d.begin(), d.end());
    }
    CHECK(differ > 0);
    // A repeated example shares its list.
    std::vector<Example> dup = {sp.test[0], sp.test[0]};
    CHECK(make_candidates(ds, dup, 15, 3).size() == 1);
}

TEST_CASE("candidates: users with few items left, and users with too few") {
    // 10 items; user 0 owns 7 of them: 3 left, exactly N = 3 -> the list is those 3 items.
    Dataset ds = make_ds({{1, 2, 3, 4, 5, 6, 7}, {8, 9}, {10, 1, 2}});
    REQUIRE(ds.n_items == 10);
    Split sp = make_leave_one_out(ds);
    REQUIRE(!sp.test.empty());
    const Example ex0 = sp.test[0];
    REQUIRE(ex0.user == 0);
    CandidateSet cs = make_candidates(ds, std::vector<Example>{ex0}, 3, 1);
    auto lst = cs.row(0);
    std::set<int32_t> negs(lst.begin() + 1, lst.end()), want;
    for (int32_t it = 1; it <= 10; ++it)
        if (!has_item(ds, 0, it)) want.insert(it);
    CHECK(negs == want);
    try {
        make_candidates(ds, std::vector<Example>{ex0}, 4, 1);
        FAIL("expected a DataError");
    } catch (const DataError& e) {
        CHECK(std::string(e.what()).find("only 3 are left") != std::string::npos);
    }
    Example bad = ex0;
    bad.target = ex0.target == 1 ? 2 : 1;
    CHECK_THROWS_AS(make_candidates(ds, std::vector<Example>{bad}, 2, 1), std::invalid_argument);
}

TEST_CASE("candidates: a batch's (B, 1+N) ids, column 0 = the positive") {
    Dataset ds = small_ds();
    Split sp = make_leave_one_out(ds);
    CandidateSet cs = make_split_candidates(ds, sp, 9, 11);
    BatchOptions opt;
    opt.batch_size = 8;
    opt.shuffle = false;
    BatchIterator it(ds, sp.test, opt);
    Batch b;
    REQUIRE(it.next(b));
    tt::IntTensor c = cs.for_batch(b.examples);
    REQUIRE(c.shape() == tt::Shape{b.size(), 10});
    for (int64_t r = 0; r < b.size(); ++r) {
        CHECK(c[r * 10] == b.targets[r]);
        auto lst = cs.row(cs.find(b.examples[static_cast<std::size_t>(r)].user, b.examples[static_cast<std::size_t>(r)].end));
        for (int j = 0; j < 10; ++j) CHECK(c[r * 10 + j] == lst[static_cast<std::size_t>(j)]);
    }
    // Full scores (B, n_items+1) -> the candidates' scores (B, 1+N).
    tt::Tensor full = tt::Tensor::empty(tt::Shape{b.size(), ds.n_items + 1});
    for (int64_t i = 0; i < full.numel(); ++i) full.data()[i] = static_cast<float>(i);
    tt::Tensor picked = gather_candidate_scores(full, c);
    REQUIRE(picked.shape() == tt::Shape{b.size(), 10});
    for (int64_t r = 0; r < b.size(); ++r)
        for (int j = 0; j < 10; ++j) CHECK(picked.data()[r * 10 + j] == static_cast<float>(r * (ds.n_items + 1) + c[r * 10 + j]));
    CHECK_THROWS_AS(gather_candidate_scores(full.rows(0, 1), c), std::invalid_argument);
    // Lists made for the test split do not serve the training examples.
    CandidateSet test_only = make_candidates(ds, sp.test, 9, 11);
    CHECK_THROWS_AS(test_only.for_batch(sp.valid), DataError);
    Example wrong = sp.test[0];
    wrong.target = wrong.target % ds.n_items + 1;
    CHECK_THROWS_AS(cs.for_batch(std::vector<Example>{wrong}), DataError);
}

TEST_CASE("candidates: evaluate_candidates runs the protocol with any scorer") {
    Dataset ds = small_ds();
    Split sp = make_leave_one_out(ds);
    CandidateSet cs = make_split_candidates(ds, sp, 9, 11);
    BatchOptions opt;
    opt.batch_size = 7;  // 30 test examples: the last batch is short
    // An oracle that knows the positive: every metric at its best.
    auto oracle = [&](const Batch& b, const tt::IntTensor& c) {
        tt::Tensor s = tt::Tensor::zeros(tt::Shape{b.size(), c.shape()[1]});
        for (int64_t r = 0; r < b.size(); ++r)
            for (int64_t j = 0; j < c.shape()[1]; ++j) s.data()[r * c.shape()[1] + j] = c[r * c.shape()[1] + j] == b.targets[r] ? 5.0f : -5.0f;
        return s;
    };
    MetricValues v = evaluate_candidates(ds, sp.test, cs, opt, oracle);
    CHECK(v.count == static_cast<int64_t>(sp.test.size()));
    CHECK(v.get("HR@5") == 1.0);
    CHECK(v.get("NDCG@10") == 1.0);
    CHECK(v.get("AUC") == 1.0);
    CHECK(v.get("GAUC") == 1.0);
    CHECK(v.get("logloss") < 0.01);
    // A constant scorer: ties against the positive, AUC 1/2.
    auto flat = [](const Batch& b, const tt::IntTensor& c) { return tt::Tensor::zeros(tt::Shape{b.size(), c.shape()[1]}); };
    MetricValues f = evaluate_candidates(ds, sp.valid, cs, opt, flat);
    CHECK(f.get("HR@5") == 0.0);
    CHECK(f.get("AUC") == 0.5);
    CHECK(f.get("logloss") == Approx(std::log(2.0)));
    auto wrong = [](const Batch& b, const tt::IntTensor&) { return tt::Tensor::zeros(tt::Shape{b.size(), 3}); };
    CHECK_THROWS_AS(evaluate_candidates(ds, sp.test, cs, opt, wrong), std::invalid_argument);
}

TEST_CASE("candidates: evaluate_candidates' per-example records, in the examples' order") {
    Dataset ds = small_ds();
    Split sp = make_leave_one_out(ds);
    CandidateSet cs = make_split_candidates(ds, sp, 9, 11);
    BatchOptions opt;
    opt.batch_size = 7;  // 30 test examples, 5 batches, the last one short
    // Scores that depend on the user, so every group has another rank: the positive scores u % 11
    // among negatives 0.5, 1.5, ..., 8.5 (its rank is 10 - u % 11 for u % 11 <= 9, and 1 for 10).
    auto scorer = [&](const Batch& b, const tt::IntTensor& c) {
        const int64_t M = c.shape()[1];
        tt::Tensor s = tt::Tensor::zeros(tt::Shape{b.size(), M});
        for (int64_t r = 0; r < b.size(); ++r) {
            s.data()[r * M] = static_cast<float>(b.examples[static_cast<std::size_t>(r)].user % 11);
            for (int64_t j = 1; j < M; ++j) s.data()[r * M + j] = static_cast<float>(j) - 0.5f;
        }
        return s;
    };
    std::vector<GroupRecord> groups;
    const MetricValues v = evaluate_candidates(ds, sp.test, cs, opt, scorer, {}, &groups);
    REQUIRE(groups.size() == sp.test.size());
    double hr5 = 0, ndcg10 = 0, gauc = 0, logloss = 0;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        CHECK(groups[i].user == sp.test[i].user);
        CHECK(groups[i].end == sp.test[i].end);
        const int u = groups[i].user % 11;
        CHECK(groups[i].values.rank == (u <= 9 ? 10 - u : 1));
        hr5 += groups[i].values.hr[0];
        ndcg10 += groups[i].values.ndcg[1];
        gauc += groups[i].values.auc;
        logloss += groups[i].values.logloss;
    }
    const double n = static_cast<double>(groups.size());
    CHECK(v.get("HR@5") == Approx(hr5 / n));
    CHECK(v.get("NDCG@10") == Approx(ndcg10 / n));
    CHECK(v.get("GAUC") == Approx(gauc / n));
    CHECK(v.get("logloss") == Approx(logloss / n));
    // The summary does not depend on whether records are kept.
    const MetricValues w = evaluate_candidates(ds, sp.test, cs, opt, scorer);
    CHECK(w.get("NDCG@10") == v.get("NDCG@10"));
    CHECK(w.get("AUC") == v.get("AUC"));
}

TEST_CASE("candidates: file round trip, written atomically") {
    Dataset ds = small_ds();
    Split sp = make_leave_one_out(ds);
    CandidateSet cs = make_split_candidates(ds, sp, 12, 5);
    TempDir dir;
    const std::string p = (dir.path / "cands.txt").string();
    save_candidates(cs, p);
    CandidateSet back = load_candidates(p, &ds);
    CHECK(back == cs);
    CHECK(read_all(p) == encode_candidates(cs));
    // Overwriting leaves no temporary file behind.
    save_candidates(make_split_candidates(ds, sp, 12, 6), p);
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) files += e.is_regular_file();
    CHECK(files == 1);
    CHECK(load_candidates(p).seed() == 6);
    // A directory that does not exist: an error naming the file, nothing written.
    const std::string q = (dir.path / "no" / "such" / "c.txt").string();
    try {
        save_candidates(cs, q);
        FAIL("expected a DataError");
    } catch (const DataError& e) {
        CHECK(std::string(e.what()).find(q) != std::string::npos);
    }
    CHECK_FALSE(std::filesystem::exists(q));
    CHECK_THROWS_AS(load_candidates((dir.path / "missing.txt").string()), DataError);
}

TEST_CASE("candidates: damaged or foreign files are refused with the file and line") {
    Dataset ds = small_ds();
    Split sp = make_leave_one_out(ds);
    CandidateSet cs = make_candidates(ds, sp.test, 4, 2);
    const std::string good = encode_candidates(cs);
    auto expect = [&](const std::string& text, const std::string& where, const std::string& what, const Dataset* d = nullptr) {
        TempDir dir;
        const std::string p = dir.write("c.txt", text);
        try {
            load_candidates(p, d);
            FAIL("expected a DataError for " << what);
        } catch (const DataError& e) {
            const std::string msg = e.what();
            INFO(msg);
            CHECK(msg.find(p + where) == 0);
            CHECK(msg.find(what) != std::string::npos);
        }
    };
    CHECK_NOTHROW(decode_candidates(good, "x"));
    // Line 8 is the first example line.
    const std::size_t l8 = [&] {
        std::size_t pos = 0;
        for (int i = 0; i < 7; ++i) pos = good.find('\n', pos) + 1;
        return pos;
    }();
    const std::size_t l8_end = good.find('\n', l8);
    const std::string line8 = good.substr(l8, l8_end - l8);

    expect("", ":", "empty file");
    expect("hello\n", ":1:", "not a tttrec candidate file");
    expect(good.substr(0, good.size() - 1), ":", "truncated");                 // last newline lost
    expect(good.substr(0, l8_end + 1), ":", "truncated");                      // cut after one example
    expect(good.substr(0, good.size() / 2), ":", "truncated");                 // cut mid-line
    {
        std::string t = good;
        t.replace(t.find("n_negatives 4"), 13, "n_negatives x");
        expect(t, ":4:", "expected 'n_negatives <number>'");
    }
    {  // one id fewer on line 8
        std::string t = good;
        t.replace(l8, line8.size(), line8.substr(0, line8.rfind(' ')));
        expect(t, ":8:", "expected 5 item ids");
    }
    {  // a repeated negative on line 8 (the checksum would catch it too; the row check speaks first)
        std::string t = good;
        std::string row = line8.substr(line8.rfind('\t') + 1);
        std::string neg1 = row.substr(row.find(' ') + 1, row.find(' ', row.find(' ') + 1) - row.find(' ') - 1);
        std::string edited = line8.substr(0, line8.rfind(' ')) + " " + neg1;
        t.replace(l8, line8.size(), edited);
        expect(t, ":8:", "appears twice");
    }
    {  // a silent edit that keeps the line valid: swap two negatives -> checksum
        std::string t = good;
        std::size_t tab = line8.rfind('\t');
        std::vector<std::string> ids;
        std::string row = line8.substr(tab + 1);
        for (std::size_t a = 0, b; a <= row.size(); a = b + 1) {
            b = row.find(' ', a);
            if (b == std::string::npos) b = row.size();
            ids.push_back(row.substr(a, b - a));
        }
        std::swap(ids[1], ids[2]);
        std::string edited = line8.substr(0, tab + 1) + ids[0];
        for (std::size_t i = 1; i < ids.size(); ++i) edited += " " + ids[i];
        t.replace(l8, line8.size(), edited);
        expect(t, ":", "checksum mismatch");
    }
    {  // the header is covered too: a changed seed no longer describes the lists
        std::string t = good;
        t.replace(t.find("seed 2\n"), 7, "seed 3\n");
        expect(t, ":", "checksum mismatch");
        std::string u = good;
        u.replace(u.find("n_negatives 4"), 13, "n_negatives 0");
        expect(u, ":4:", "impossible header value");
    }
    expect(good + "1\t2\t3 4 5 6 7\n", ":", "data after the end line");
    {  // made for another dataset
        Dataset other = make_ds({{1, 2, 3}, {2, 3, 4}});
        expect(good, ":", "made for another dataset", &other);
    }
    // The same file loads without a dataset to check against.
    CHECK(decode_candidates(good, "x") == cs);
}

TEST_CASE("candidates: BCE training negatives come from BatchOptions::negatives") {
    // The documented recipe: a running NegativeSampler, K negatives per target, label 0.
    Dataset ds = small_ds();
    Split sp = make_leave_one_out(ds);
    NegativeSampler sampler(ds, 9);
    BatchOptions opt;
    opt.batch_size = 16;
    opt.negatives = 4;
    BatchIterator it(ds, sp.train, opt, &sampler);
    Batch b;
    REQUIRE(it.next(b));
    REQUIRE(b.negatives.shape() == tt::Shape{b.size(), 4});
    for (int64_t r = 0; r < b.size(); ++r)
        for (int k = 0; k < 4; ++k) CHECK_FALSE(has_item(ds, b.examples[static_cast<std::size_t>(r)].user, b.negatives[r * 4 + k]));
}

// ---------------------------------------------------------------------------------------------
// Log-uniform sampler

TEST_CASE("log-uniform sampler: TensorFlow's probabilities (golden values)") {
    LogUniformSampler s(12102);  // Beauty: 12,101 items + padding
    CHECK(s.probability(0) == Approx(0.0737296).epsilon(1e-6));
    CHECK(s.probability(1) == Approx(0.0431290).epsilon(1e-6));
    CHECK(s.probability(100) == Approx(0.00104798).epsilon(1e-5));
    CHECK(s.probability(-1) == 0.0);
    CHECK(s.probability(12102) == 0.0);
    CHECK(LogUniformSampler(23716).probability(0) == Approx(0.0688059).epsilon(1e-6));  // Video
    double total = 0;
    LogUniformSampler small(1000);
    for (int64_t c = 0; c < 1000; ++c) total += small.probability(c);
    CHECK(total == Approx(1.0).epsilon(1e-12));
    CHECK_THROWS_AS(LogUniformSampler(0), std::invalid_argument);
}

TEST_CASE("log-uniform sampler: seeded draws follow P (chi-square)") {
    const int64_t R = 50, n = 200000;
    LogUniformSampler s(R);
    tt::Rng rng(2024);
    std::vector<double> count(R, 0.0);
    for (int64_t i = 0; i < n; ++i) {
        int64_t c = s.sample(rng);
        REQUIRE(c >= 0);
        REQUIRE(c < R);
        count[static_cast<std::size_t>(c)] += 1;
    }
    double chi2 = 0;
    for (int64_t c = 0; c < R; ++c) {
        const double e = static_cast<double>(n) * s.probability(c);
        chi2 += (count[static_cast<std::size_t>(c)] - e) * (count[static_cast<std::size_t>(c)] - e) / e;
    }
    // 49 degrees of freedom: mean 49, sd 9.9; 110 is beyond 6 sd (the seed makes it a fixed number).
    INFO("chi2 = " << chi2);
    CHECK(chi2 < 110);
    CHECK(count[0] / n == Approx(s.probability(0)).epsilon(0.02));
}

TEST_CASE("log-uniform sampler: unique sets and the expected counts of the log-Q correction") {
    LogUniformSampler s(1000);
    tt::Rng rng(1);
    auto d = s.sample_unique(200, rng);
    REQUIRE(d.candidates.size() == 200);
    CHECK(std::set<int64_t>(d.candidates.begin(), d.candidates.end()).size() == 200);
    CHECK(d.num_tries > 200);  // the head classes repeat
    for (int64_t c : d.candidates) CHECK((c >= 0 && c < 1000));
    tt::Rng rng2(1);
    auto d2 = s.sample_unique(200, rng2);
    CHECK(d2.candidates == d.candidates);
    CHECK(d2.num_tries == d.num_tries);
    // Every class when S = range_max.
    LogUniformSampler t(30);
    auto all = t.sample_unique(30, rng);
    CHECK(std::set<int64_t>(all.candidates.begin(), all.candidates.end()).size() == 30);
    CHECK_THROWS_AS(t.sample_unique(31, rng), std::invalid_argument);

    // Q(c) = 1 - (1 - P(c))^num_tries, by hand: range 100, c = 5, 50 tries for 20 classes.
    LogUniformSampler h(100);
    const double p5 = (std::log(7.0) - std::log(6.0)) / std::log(101.0);
    CHECK(h.expected_count(5, 20, 50) == Approx(1 - std::pow(1 - p5, 50)).epsilon(1e-12));
    CHECK(h.expected_count(5, 20, 50) == Approx(0.8170586).epsilon(1e-6));
    // No repeated draw (num_tries == S): TensorFlow's with-replacement count S * P(c).
    CHECK(h.expected_count(5, 20, 20) == Approx(20 * p5).epsilon(1e-12));
    std::vector<int64_t> cls = {0, 5};
    LogUniformSampler::Draw fake{{1, 2, 3}, 10};
    auto q = h.expected_counts(cls, fake);
    CHECK(q[0] == Approx(1 - std::pow(1 - h.probability(0), 10)));
    CHECK(q[1] == Approx(1 - std::pow(1 - p5, 10)));
}

TEST_CASE("log-uniform sampler: one batch of a sampled softmax (log Q, accidental hits)") {
    LogUniformSampler s(20);
    tt::Rng rng(3), same(3);
    tt::IntTensor targets(tt::Shape{3}, {0, 5, 19});
    auto d = draw_sampled_softmax(s, {}, targets, 8, rng);  // identity table: class == item
    auto ref = s.sample_unique(8, same);
    REQUIRE(d.items.shape() == tt::Shape{8});
    CHECK(d.num_tries == ref.num_tries);
    for (int j = 0; j < 8; ++j) {
        CHECK(d.items[j] == ref.candidates[static_cast<std::size_t>(j)]);
        CHECK(d.sampled_log_q.data()[j] == Approx(std::log(s.expected_count(ref.candidates[static_cast<std::size_t>(j)], 8, ref.num_tries))));
    }
    for (int b = 0; b < 3; ++b) {
        CHECK(d.target_log_q.data()[b] == Approx(std::log(s.expected_count(targets[b], 8, ref.num_tries))));
        for (int j = 0; j < 8; ++j) CHECK(d.accidental.data()[b * 8 + j] == (d.items[j] == targets[b] ? 1.0f : 0.0f));
    }
    // Each row has at most one hit (the sampled classes are distinct), exactly when its target was drawn.
    float all_hits = 0;
    for (int64_t i = 0; i < d.accidental.numel(); ++i) all_hits += d.accidental.data()[i];
    CHECK(all_hits >= 1.0f);  // with this seed some target is drawn: the hit path is exercised
    for (int b = 0; b < 3; ++b) {
        float hits = 0;
        bool drawn = false;
        for (int j = 0; j < 8; ++j) {
            hits += d.accidental.data()[b * 8 + j];
            drawn = drawn || d.items[j] == targets[b];
        }
        CHECK(hits == (drawn ? 1.0f : 0.0f));
    }

    // With a class table: the target's Q is its class's, the sampled ids are items.
    std::vector<int32_t> table = {0, 4, 2, 3, 1};  // class 1 = item 4, class 4 = item 1
    LogUniformSampler t(5);
    tt::Rng r2(8);
    auto e = draw_sampled_softmax(t, table, tt::IntTensor(tt::Shape{2}, {4, 1}), 5, r2);
    CHECK(e.target_log_q.data()[0] == Approx(std::log(t.expected_count(1, 5, e.num_tries))));
    CHECK(e.target_log_q.data()[1] == Approx(std::log(t.expected_count(4, 5, e.num_tries))));
    std::set<int32_t> got;
    for (int j = 0; j < 5; ++j) got.insert(e.items[j]);
    CHECK(got == std::set<int32_t>{0, 1, 2, 3, 4});
    CHECK_THROWS_AS(draw_sampled_softmax(t, table, tt::IntTensor(tt::Shape{1}, {7}), 2, r2), std::invalid_argument);
    CHECK_THROWS_AS(draw_sampled_softmax(t, std::vector<int32_t>{0, 1}, tt::IntTensor(tt::Shape{1}, {1}), 2, r2), std::invalid_argument);
}

TEST_CASE("log-uniform sampler: ComiRec's frequency-ordered class table") {
    // item "3" x3, "1" x2, "2" x2, "4" x1 (dense ids follow first appearance)
    Dataset ds = make_ds({{3, 1, 3}, {2, 3, 1}, {2, 4}});
    auto table = items_by_frequency(ds);
    REQUIRE(table.size() == 5);
    CHECK(table[0] == 0);
    std::vector<std::string> names;
    for (std::size_t c = 1; c < table.size(); ++c) names.emplace_back(ds.ids.item_name(table[c]));
    CHECK(names[0] == "3");
    CHECK(names[3] == "4");
    CHECK(std::set<std::string>(names.begin() + 1, names.begin() + 3) == std::set<std::string>{"1", "2"});
}

}  // TEST_SUITE
