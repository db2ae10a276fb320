// tests/data/test_synthetic.cpp — the drifting-topic generator: shape, determinism, and the
// property the README relies on: recent history predicts the next item far better than popularity.
#include <doctest/doctest.h>

#include <vector>

#include "data/metrics.hpp"
#include "data/split.hpp"
#include "data/synthetic.hpp"

using namespace tt::data;

TEST_SUITE("data/synthetic") {

TEST_CASE("default size, seeded, and valid") {
    Dataset a = generate_synthetic();
    a.validate();
    CHECK(a.n_users == 2000);
    CHECK(a.n_items == 500);
    auto st = a.stats();
    CHECK(st.min_len >= 20);
    CHECK(st.max_len <= 40);
    CHECK(a.has_timestamps());
    Dataset b = generate_synthetic();
    CHECK(a.items == b.items);
    SyntheticOptions o;
    o.seed = 43;
    CHECK(generate_synthetic(o).items != a.items);
    CHECK(a.ids.item_name(17) == "17");
    o.n_topics = 0;
    CHECK_THROWS_AS(generate_synthetic(o), DataError);
}

TEST_CASE("a first-order sequential baseline beats popularity by a wide margin") {
    Dataset ds = generate_synthetic();
    Split s = make_leave_one_out(ds);
    const auto n = static_cast<std::size_t>(ds.n_items) + 1;
    // Fit both baselines on the training part of every sequence (targets items[1:-2]).
    std::vector<float> pop(n, 0.0f);
    std::vector<float> trans(n * n, 0.0f);  // trans[prev * n + next]
    for (int32_t u = 0; u < ds.n_users; ++u) {
        auto seq = ds.sequence(u);
        for (std::size_t t = 0; t + 2 < seq.size(); ++t) {
            pop[static_cast<std::size_t>(seq[t])] += 1.0f;
            if (t > 0) trans[static_cast<std::size_t>(seq[t - 1]) * n + static_cast<std::size_t>(seq[t])] += 1.0f;
        }
    }
    RankingMetrics by_pop({{10}, false, false}), by_last({{10}, false, false});
    std::vector<float> row(n);
    for (const Example& ex : s.test) {
        by_pop.add(ex.user, pop.data(), ds.n_items, ex.target);
        auto last = static_cast<std::size_t>(ds.sequence(ex.user)[static_cast<std::size_t>(ex.end - 1)]);
        for (std::size_t j = 0; j < n; ++j) row[j] = trans[last * n + j] + 1e-4f * pop[j];  // popularity breaks ties
        by_last.add(ex.user, row.data(), ds.n_items, ex.target);
    }
    double hr_pop = by_pop.result().get("HR@10"), hr_seq = by_last.result().get("HR@10");
    MESSAGE("synthetic HR@10: popularity " << hr_pop << ", last-item transitions " << hr_seq);
    CHECK(hr_seq > 3.0 * hr_pop);
    CHECK(hr_seq > 0.3);
}

}  // TEST_SUITE
