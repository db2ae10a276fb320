// apps/evaluation.cpp — see evaluation.hpp.
#include "apps/evaluation.hpp"

#include <algorithm>
#include <sstream>

#include "data/candidates.hpp"
#include "data/significance.hpp"
#include "model/checkpoint.hpp"

namespace tt::app {

using model::Recommender;

// ------------------------------------------------------------------------------------------------
// evaluation

namespace {

data::MetricOptions metric_options(const EvalOptions& e) {
    data::MetricOptions m;
    m.ks = e.ks;
    m.mask_history = e.mask_history;
    return m;
}

json metrics_json(const data::MetricValues& v) {
    json j;
    for (const auto& [name, value] : v.values) j[name] = value;
    j["count"] = v.count;
    return j;
}

}  // namespace

json evaluate(const Recommender& model, const data::Dataset& ds, const std::vector<data::Example>& examples,
              const EvalOptions& eval, uint64_t seed, const EvalFiles& files) {
    data::MetricOptions mo = metric_options(eval);
    mo.per_user = !files.per_user.empty();
    mo.per_sample = !files.per_sample.empty();
    data::RankingMetrics full(mo), sampled(mo);
    data::NegativeSampler sampler(ds, seed ^ 0x5A5A5A5Aull);
    data::BatchOptions bo;
    bo.batch_size = eval.batch_size;
    bo.max_len = model.config().max_len;
    bo.shuffle = false;
    bo.negatives = eval.sampled_negatives;
    bo.fixed_negatives = true;
    if (eval.full_ranking || eval.sampled_negatives > 0) {  // both read the full (B, V) scores
        data::BatchIterator it(ds, examples, bo, eval.sampled_negatives > 0 ? &sampler : nullptr);
        it.start_epoch(0);
        data::Batch batch;
        while (it.next(batch)) {
            Tensor scores = model.score_next(batch.items, batch.lengths);  // (B, V)
            if (eval.full_ranking) full.add_batch(scores, batch, ds);
            if (eval.sampled_negatives > 0) sampled.add_batch_sampled(scores, batch);
        }
    }
    json j;
    if (eval.full_ranking) j["full"] = metrics_json(full.result());
    if (eval.sampled_negatives > 0) j["sampled_" + std::to_string(eval.sampled_negatives)] = metrics_json(sampled.result());
    if (eval.candidates > 0) {
        // The same lists for every model and every call: they depend only on (seed, user, example).
        data::CandidateSet cs = data::make_candidates(ds, examples, eval.candidates, eval.candidates_seed);
        data::BatchOptions cb = bo;
        cb.negatives = 0;
        const data::GroupMetricOptions gm;
        std::vector<data::GroupRecord> groups;
        j["candidates"] = metrics_json(data::evaluate_candidates(
            ds, examples, cs, cb, [&](const data::Batch& b, const IntTensor& c) { return model.score_candidates(b.items, b.lengths, c); },
            gm, files.per_group.empty() ? nullptr : &groups));
        j["candidates"]["negatives"] = eval.candidates;
        if (!files.per_group.empty()) model::atomic_write_file(files.per_group, data::per_group_jsonl(groups, gm.ks, ds.ids));
    }
    if (!files.per_user.empty()) {
        std::ostringstream os;
        for (const data::UserMetrics& u : full.per_user()) {
            json row = metrics_json(u.values);
            row["user"] = std::string(ds.ids.user_name(u.user));
            if (u.history_len >= 0) row["history_len"] = u.history_len;  // for compare_runs --by-length
            os << row.dump() << "\n";
        }
        model::atomic_write_file(files.per_user, os.str());
    }
    if (!files.per_sample.empty()) model::atomic_write_file(files.per_sample, data::per_sample_jsonl(full, ds.ids));
    return j;
}

json evaluate_popularity(const data::Dataset& ds, const data::Split& split, const std::vector<data::Example>& examples,
                         const EvalOptions& eval) {
    // Scores = how often each item occurs in the training interactions. Each interaction counts
    // once: with one example per prefix (last-position training) the same early items appear in
    // many examples, so each user's training part is taken as the longest range its examples
    // cover, [0, max end] with the target at `end`, not as the sum over examples.
    std::vector<int32_t> covered(static_cast<std::size_t>(ds.n_users), 0);
    for (const data::Example& e : split.train)
        covered[static_cast<std::size_t>(e.user)] = std::max(covered[static_cast<std::size_t>(e.user)], e.end + 1);
    Tensor pop = Tensor::zeros(Shape{1, ds.n_items + 1});
    for (int32_t u = 0; u < ds.n_users; ++u) {
        auto seq = ds.sequence(u);
        int32_t n = std::min<int32_t>(covered[static_cast<std::size_t>(u)], static_cast<int32_t>(seq.size()));
        for (int32_t i = 0; i < n; ++i) pop.data()[seq[static_cast<std::size_t>(i)]] += 1.0f;
    }
    pop.data()[0] = -1e30f;
    data::RankingMetrics m(metric_options(eval));
    for (const data::Example& e : examples) {
        auto seq = ds.sequence(e.user);
        m.add(e.user, pop.data(), ds.n_items, e.target, seq.subspan(0, static_cast<std::size_t>(e.end)));
    }
    return json{{"full", metrics_json(m.result())}};
}


}  // namespace tt::app
