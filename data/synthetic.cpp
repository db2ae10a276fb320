// data/synthetic.cpp — the drifting-topics generator (model described in synthetic.hpp).
#include "data/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace tt::data {

namespace {
// Draws an index from a cumulative weight table by binary search.
int32_t draw(const std::vector<double>& cdf, Rng& rng) {
    double x = static_cast<double>(rng.uniform()) * cdf.back();
    auto it = std::upper_bound(cdf.begin(), cdf.end(), x);
    return static_cast<int32_t>(std::min<std::ptrdiff_t>(it - cdf.begin(), static_cast<std::ptrdiff_t>(cdf.size()) - 1));
}

std::vector<double> zipf_cdf(int32_t n, double s) {
    std::vector<double> cdf(static_cast<std::size_t>(n));
    double acc = 0;
    for (int32_t r = 0; r < n; ++r) cdf[static_cast<std::size_t>(r)] = acc += 1.0 / std::pow(r + 1.0, s);
    return cdf;
}
}  // namespace

Dataset generate_synthetic(const SyntheticOptions& o) {
    if (o.n_users < 1 || o.n_items < 1 || o.n_topics < 1 || o.n_topics > o.n_items || o.min_len < 1 || o.max_len < o.min_len)
        throw DataError("generate_synthetic: need n_users, n_items >= 1, 1 <= n_topics <= n_items, 1 <= min_len <= max_len");
    Rng rng(o.seed);
    // Topic t owns items [first[t], first[t+1]).
    std::vector<int32_t> first(static_cast<std::size_t>(o.n_topics) + 1);
    for (int32_t t = 0; t <= o.n_topics; ++t)
        first[static_cast<std::size_t>(t)] = 1 + static_cast<int32_t>(static_cast<int64_t>(o.n_items) * t / o.n_topics);
    // Global popularity is a random permutation of Zipf ranks, so popular items spread over topics.
    std::vector<int32_t> by_pop(static_cast<std::size_t>(o.n_items));
    for (int32_t i = 0; i < o.n_items; ++i) by_pop[static_cast<std::size_t>(i)] = i + 1;
    for (std::size_t i = by_pop.size(); i > 1; --i) std::swap(by_pop[i - 1], by_pop[rng.below(i)]);
    const std::vector<double> global_cdf = zipf_cdf(o.n_items, o.zipf);
    std::vector<std::vector<double>> topic_cdf(static_cast<std::size_t>(o.n_topics));
    for (int32_t t = 0; t < o.n_topics; ++t)
        topic_cdf[static_cast<std::size_t>(t)] = zipf_cdf(first[static_cast<std::size_t>(t) + 1] - first[static_cast<std::size_t>(t)], o.zipf);
    auto topic_of = [&](int32_t item) {
        return static_cast<int32_t>(std::upper_bound(first.begin(), first.end(), item) - first.begin()) - 1;
    };

    Dataset ds;
    ds.name = "synthetic";
    ds.n_users = o.n_users;
    ds.n_items = o.n_items;
    ds.offsets.push_back(0);
    for (int32_t u = 0; u < o.n_users; ++u) {
        auto len = static_cast<int32_t>(o.min_len + static_cast<int32_t>(rng.below(static_cast<uint64_t>(o.max_len - o.min_len + 1))));
        auto topic = static_cast<int32_t>(rng.below(static_cast<uint64_t>(o.n_topics)));
        int32_t prev = 0;
        for (int32_t step = 0; step < len; ++step) {
            if (step > 0 && rng.uniform() < o.p_drift)
                topic = (topic + (rng.uniform() < 0.5f ? 1 : o.n_topics - 1)) % o.n_topics;
            const int32_t b = first[static_cast<std::size_t>(topic)], e = first[static_cast<std::size_t>(topic) + 1];
            int32_t item;
            if (rng.uniform() < o.p_in_topic) {
                if (prev != 0 && topic_of(prev) == topic && rng.uniform() < o.p_successor)
                    item = prev + 1 < e ? prev + 1 : b;  // the next item in the topic, cyclically
                else
                    item = b + draw(topic_cdf[static_cast<std::size_t>(topic)], rng);
            } else {
                item = by_pop[static_cast<std::size_t>(draw(global_cdf, rng))];
            }
            ds.items.push_back(item);
            ds.timestamps.push_back(static_cast<double>(step));
            prev = item;
        }
        ds.offsets.push_back(static_cast<int64_t>(ds.items.size()));
    }
    std::vector<std::string> users, items;
    for (int32_t u = 1; u <= o.n_users; ++u) users.push_back(std::to_string(u));
    for (int32_t i = 1; i <= o.n_items; ++i) items.push_back(std::to_string(i));
    ds.ids = IdMap::from_names(users, items);
    ds.report.path = "synthetic";
    ds.report.format_reason = "generated (seed " + std::to_string(o.seed) + ")";
    ds.report.lines = ds.n_interactions();
    ds.validate();
    return ds;
}

}  // namespace tt::data
