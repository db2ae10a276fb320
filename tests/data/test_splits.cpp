// tests/data/test_splits.cpp — leave-one-out and 3:2:5 ratio splits on hand-computed cases,
// right-padded batches, seeded shuffling and negative sampling.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <set>
#include <vector>

#include "data/batch.hpp"
#include "data/split.hpp"

using namespace tt::data;

namespace {

// Items are named by their number so that dense id == name (numeric ids are kept in order).
Dataset make(const std::vector<std::vector<int>>& seqs) {
    std::vector<std::pair<std::string, std::vector<std::string>>> named;
    for (std::size_t u = 0; u < seqs.size(); ++u) {
        std::vector<std::string> items;
        for (int i : seqs[u]) items.push_back(std::to_string(i));
        named.emplace_back(std::to_string(u + 1), items);
    }
    return dataset_from_sequences(named);
}

std::vector<int32_t> vec(const tt::IntTensor& t) { return std::vector<int32_t>(t.data(), t.data() + t.numel()); }

bool eq(const Example& a, const Example& b) {
    return a.user == b.user && a.begin == b.begin && a.end == b.end && a.target == b.target;
}

}  // namespace

TEST_SUITE("data/splits") {

TEST_CASE("leave-one-out: last = test, second-to-last = valid, prefixes train (S3Rec/SASRec)") {
    // user 0: 1 2 3 4 5 | user 1: 6 7 (too short: train only) | user 2: 8 (no sample) | user 3: 1 6 8
    Dataset ds = make({{1, 2, 3, 4, 5}, {6, 7}, {8}, {1, 6, 8}});
    REQUIRE(ds.n_items == 8);
    Split s = make_leave_one_out(ds);
    REQUIRE(s.test.size() == 2);
    CHECK(eq(s.test[0], {0, 0, 4, 5}));   // history 1 2 3 4 -> 5
    CHECK(eq(s.valid[0], {0, 0, 3, 4}));  // history 1 2 3   -> 4
    CHECK(eq(s.test[1], {3, 0, 2, 8}));
    CHECK(eq(s.valid[1], {3, 0, 1, 6}));
    // train: user 0 predicts 2, 3 (items[1:-2]); user 1 (n = 2) predicts 7; user 3 (n = 3) nothing
    REQUIRE(s.train.size() == 3);
    CHECK(eq(s.train[0], {0, 0, 1, 2}));
    CHECK(eq(s.train[1], {0, 0, 2, 3}));
    CHECK(eq(s.train[2], {1, 0, 1, 7}));
    CHECK(s.users_train_only == 1);
    CHECK(s.users_without_sample == 1);
    CHECK(s.describe() == "leave-one-out split: 3 train / 2 valid / 2 test examples; 1 users too short for valid/test (train only); "
                          "1 users with a single interaction (no example)");

    // Every-position mode: one example per user whose history is items[:-3] and target items[-3].
    Split l = make_leave_one_out(ds, TrainExamples::LongestPerUser);
    REQUIRE(l.train.size() == 2);
    CHECK(eq(l.train[0], {0, 0, 2, 3}));
    CHECK(eq(l.train[1], {1, 0, 1, 7}));
}

TEST_CASE("ratio split counts follow RecBole _calcu_split_ids exactly (TTT_SPEC 3.1)") {
    // The example of data/README.md §P2: N = 4 gives [1, 1, 2].
    CHECK(ratio_split_counts(4, {0.3, 0.2, 0.5}) == std::array<int64_t, 3>{1, 1, 2});
    // Table from the Python function for N = 0..20 (note N = 9 -> [4,1,4] but N = 10 -> [3,2,5]).
    const std::array<int64_t, 3> want_325[21] = {{0, 0, 0}, {1, 0, 0}, {1, 0, 1}, {1, 1, 1}, {1, 1, 2}, {2, 1, 2}, {2, 1, 3},
                                                 {3, 1, 3}, {3, 1, 4}, {4, 1, 4}, {3, 2, 5}, {4, 2, 5}, {4, 2, 6}, {5, 2, 6},
                                                 {5, 2, 7}, {5, 3, 7}, {5, 3, 8}, {6, 3, 8}, {6, 3, 9}, {7, 3, 9}, {6, 4, 10}};
    const std::array<int64_t, 3> want_622[21] = {{0, 0, 0}, {1, 0, 0}, {1, 0, 1}, {1, 1, 1}, {2, 1, 1}, {3, 1, 1}, {4, 1, 1},
                                                 {5, 1, 1}, {6, 1, 1}, {7, 1, 1}, {6, 2, 2}, {7, 2, 2}, {8, 2, 2}, {9, 2, 2},
                                                 {10, 2, 2}, {9, 3, 3}, {10, 3, 3}, {11, 3, 3}, {12, 3, 3}, {13, 3, 3}, {12, 4, 4}};
    for (int n = 0; n <= 20; ++n) {
        CAPTURE(n);
        CHECK(ratio_split_counts(n, {0.3, 0.2, 0.5}) == want_325[n]);
        CHECK(ratio_split_counts(n, {0.6, 0.2, 0.2}) == want_622[n]);
    }
}

TEST_CASE("ratio split over augmented samples, chronological per user") {
    // user 0 has 5 items -> 4 samples (targets at positions 1..4) -> [1, 1, 2]
    Dataset ds = make({{1, 2, 3, 4, 5}, {6}, {7, 8}});
    Split s = make_ratio_split(ds, {3, 2, 5});  // normalised to 0.3/0.2/0.5
    REQUIRE(s.train.size() == 2);
    CHECK(eq(s.train[0], {0, 0, 1, 2}));
    CHECK(eq(s.train[1], {2, 0, 1, 8}));  // user 2: one sample -> train
    REQUIRE(s.valid.size() == 1);
    CHECK(eq(s.valid[0], {0, 0, 2, 3}));  // history includes every earlier true item
    REQUIRE(s.test.size() == 2);
    CHECK(eq(s.test[0], {0, 0, 3, 4}));
    CHECK(eq(s.test[1], {0, 0, 4, 5}));   // teacher forcing: the earlier test item is in the history
    CHECK(s.users_without_sample == 1);
    CHECK(s.users_train_only == 1);
    CHECK_THROWS_AS(make_ratio_split(ds, {0, 0, 0}), DataError);
}

}  // TEST_SUITE

TEST_SUITE("data/batches") {

TEST_CASE("right-padded (B, L) batches keep the most recent max_len items") {
    Dataset ds = make({{1, 2, 3, 4, 5, 6}, {7, 8}});
    std::vector<Example> ex = {{0, 0, 5, 6}, {1, 0, 1, 8}, {0, 0, 0, 1}};
    BatchOptions o;
    o.max_len = 3;
    Batch b = make_batch(ds, ex, o);
    CHECK(b.items.shape() == tt::Shape{3, 3});
    CHECK(vec(b.items) == std::vector<int32_t>{3, 4, 5, /**/ 7, 0, 0, /**/ 0, 0, 0});
    CHECK(vec(b.lengths) == std::vector<int32_t>{3, 1, 0});
    CHECK(vec(b.targets) == std::vector<int32_t>{6, 8, 1});
    CHECK(vec(b.users) == std::vector<int32_t>{0, 1, 0});
    CHECK_FALSE(b.position_targets.defined());

    SUBCASE("every position predicts the next item (S3Rec: items[:-1] -> items[1:])") {
        o.every_position = true;
        Batch e = make_batch(ds, ex, o);
        CHECK(vec(e.position_targets) == std::vector<int32_t>{4, 5, 6, /**/ 8, 0, 0, /**/ 0, 0, 0});
    }
    SUBCASE("pad to the longest row") {
        o.max_len = 50;
        o.pad_to_longest = true;
        Batch e = make_batch(ds, std::vector<Example>{{0, 0, 2, 3}, {1, 0, 1, 8}}, o);
        CHECK(e.items.shape() == tt::Shape{2, 2});
        CHECK(vec(e.items) == std::vector<int32_t>{1, 2, 7, 0});
    }
    SUBCASE("an out-of-range example is refused") {
        CHECK_THROWS_AS(make_batch(ds, std::vector<Example>{{1, 0, 5, 1}}, o), std::invalid_argument);
    }
}

TEST_CASE("seeded shuffling: every example once per epoch, reproducible, different per epoch") {
    Dataset ds = make({{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}});
    Split s = make_ratio_split(ds, {1, 0, 0});
    REQUIRE(s.train.size() == 10);
    BatchOptions o;
    o.batch_size = 4;
    o.seed = 7;
    auto epoch_targets = [&](BatchIterator& it, int64_t e) {
        it.start_epoch(e);
        std::vector<int32_t> t;
        Batch b;
        while (it.next(b))
            for (int32_t x : vec(b.targets)) t.push_back(x);
        return t;
    };
    BatchIterator a(ds, s.train, o), b(ds, s.train, o);
    CHECK(a.num_batches() == 3);
    auto a0 = epoch_targets(a, 0), a1 = epoch_targets(a, 1);
    CHECK(a0 == epoch_targets(b, 0));  // same seed, same order
    CHECK(a1 == epoch_targets(b, 1));
    CHECK(a0 != a1);
    auto sorted = a0;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<int32_t>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    o.shuffle = false;
    BatchIterator c(ds, s.train, o);
    CHECK(epoch_targets(c, 3) == std::vector<int32_t>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    o.drop_last = true;
    BatchIterator d(ds, s.train, o);
    CHECK(d.num_batches() == 2);
    CHECK(epoch_targets(d, 0).size() == 8);
}

TEST_CASE("negative sampling: uniform, never the user's items, seeded") {
    // 10 items; user 0 has items 1..5, user 1 has 6.
    Dataset ds = make({{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}});
    NegativeSampler ns(ds, 123);
    std::vector<int> hits(11, 0);
    for (int k = 0; k < 5000; ++k) ++hits[static_cast<std::size_t>(ns.sample(0))];
    for (int i = 1; i <= 5; ++i) CHECK(hits[static_cast<std::size_t>(i)] == 0);
    for (int i = 6; i <= 10; ++i) CHECK(hits[static_cast<std::size_t>(i)] > 850);  // ~1000 each
    CHECK(ns.is_users(1, 7));
    CHECK_FALSE(ns.is_users(1, 5));
    CHECK_THROWS_AS(ns.sample(2), DataError);  // user 2 has every item

    std::vector<int32_t> x(100), y(100), z(100);
    ns.sample_fixed(0, 4, x);
    NegativeSampler(ds, 123).sample_fixed(0, 4, y);  // a fresh sampler, same (seed, user, key)
    CHECK(x == y);
    ns.sample_fixed(0, 5, z);
    CHECK(x != z);

    SUBCASE("in batches: (B, K) fixed for evaluation, (B, L, K) for every position") {
        BatchOptions o;
        o.max_len = 4;
        o.negatives = 3;
        o.fixed_negatives = true;
        std::vector<Example> ex = {{0, 0, 4, 5}, {1, 0, 2, 8}};
        NegativeSampler s1(ds, 9), s2(ds, 9);
        Batch b1 = make_batch(ds, ex, o, &s1), b2 = make_batch(ds, ex, o, &s2);
        CHECK(b1.negatives.shape() == tt::Shape{2, 3});
        CHECK(vec(b1.negatives) == vec(b2.negatives));
        for (int k = 0; k < 3; ++k) CHECK(b1.negatives[k] > 5);
        o.every_position = true;
        o.fixed_negatives = false;
        Batch e = make_batch(ds, ex, o, &s1);
        CHECK(e.negatives.shape() == tt::Shape{2, 4, 3});
        auto n = vec(e.negatives);
        for (int k = 12; k < 18; ++k) CHECK(((n[static_cast<std::size_t>(k)] >= 1 && n[static_cast<std::size_t>(k)] <= 5)));
        for (int k = 18; k < 24; ++k) CHECK(n[static_cast<std::size_t>(k)] == 0);  // padding positions
        CHECK_THROWS_AS(make_batch(ds, ex, o, nullptr), std::invalid_argument);
    }
}

}  // TEST_SUITE
