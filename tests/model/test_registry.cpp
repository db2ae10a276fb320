// tests/model/test_registry.cpp — the checks every recommender of the registry must pass, run
// over model_registry(): a model gets all of them by being in the table (model/registry.cpp).
//
// For each model, on its tiny() configuration and a small batch with right padding:
//   shapes        encode (B, T, C); score_next (B, V); score_candidates (B, M)
//   scores        score_next of a padded batch = score_next of each row alone (padding and batch
//                 neighbours change nothing); score_candidates = score_next at the candidates
//   gradient      the training loss's gradient along random directions of all parameters against
//                 central finite differences (the same dropout masks / samples on every evaluation)
//   checkpoint    weights saved and loaded into a differently initialised model give the same scores
//   streaming     items fed one piece at a time (OnlineModel) score like score_next on the whole
//                 history; the states survive encode/decode
//   evaluation    dropout is off: two evaluations agree, and training mode differs when dropout > 0
//   config        every field survives set/get by key, describe() lists each field once
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <sstream>

#include "model/checkpoint.hpp"
#include "model/online.hpp"
#include "model/registry.hpp"

using namespace tt;
using namespace tt::model;

namespace {

constexpr int64_t kItems = 20;

struct Fixture {
    RecConfig cfg;
    std::unique_ptr<Recommender> model;
    IntTensor items, lengths;  // (B, T), (B)
    std::vector<std::vector<int32_t>> rows;  // the real items of each row
};

Fixture make_fixture(const ModelEntry& e, uint64_t seed = 3) {
    Fixture f;
    f.cfg = e.tiny(kItems);
    Rng rng(seed);
    f.model = make_recommender(f.cfg, rng);
    const int64_t T = f.cfg.max_len;
    const std::vector<int64_t> lens = {T, 5, 1};
    Rng pick(11);
    std::vector<int32_t> ids(static_cast<std::size_t>(3 * T), 0);
    std::vector<int32_t> ls;
    for (std::size_t b = 0; b < lens.size(); ++b) {
        std::vector<int32_t> row;
        for (int64_t t = 0; t < lens[b]; ++t) {
            int32_t id = 1 + static_cast<int32_t>(pick.below(kItems));
            row.push_back(id);
            ids[b * static_cast<std::size_t>(T) + static_cast<std::size_t>(t)] = id;
        }
        f.rows.push_back(row);
        ls.push_back(static_cast<int32_t>(lens[b]));
    }
    f.items = IntTensor(Shape{3, T}, ids);
    f.lengths = IntTensor(Shape{3}, ls);
    return f;
}

// A training batch for the model's own mode: targets, position targets and negatives.
TrainBatch make_train_batch(const Fixture& f) {
    TrainBatch b;
    b.items = f.items;
    b.lengths = f.lengths;
    const int64_t B = f.items.shape()[0], T = f.items.shape()[1];
    std::vector<int32_t> tgt, pos(static_cast<std::size_t>(B * T), 0);
    for (int64_t r = 0; r < B; ++r) {
        tgt.push_back(static_cast<int32_t>(1 + (r * 7) % kItems));
        for (int64_t t = 0; t < f.lengths[r]; ++t)
            pos[static_cast<std::size_t>(r * T + t)] = static_cast<int32_t>(1 + (r * 5 + t * 3) % kItems);
    }
    b.targets = IntTensor(Shape{B}, tgt);
    b.position_targets = IntTensor(Shape{B, T}, pos);
    const int K = f.model->train_negatives();
    if (K > 0) {
        const bool every = f.cfg.every_position;
        const int64_t n = (every ? B * T : B) * K;
        std::vector<int32_t> neg(static_cast<std::size_t>(n));
        for (int64_t i = 0; i < n; ++i) neg[static_cast<std::size_t>(i)] = static_cast<int32_t>(1 + (i * 11 + 4) % kItems);
        b.negatives = every ? IntTensor(Shape{B, T, K}, neg) : IntTensor(Shape{B, K}, neg);
    }
    return b;
}

double diff_max(const Tensor& a, const Tensor& b, int64_t skip_col0_width = 0) {
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
        if (skip_col0_width > 0 && i % skip_col0_width == 0) continue;  // the padding item's score
        m = std::max(m, std::abs(static_cast<double>(a.data()[i]) - b.data()[i]));
    }
    return m;
}

float loss_value(const Recommender& m, const TrainBatch& b, const Rng& rng_state) {
    ad::NoGradGuard ng;
    Rng r = rng_state;
    return m.loss(b, Ctx{.training = true, .rng = &r}).item();
}

}  // namespace

TEST_SUITE("model/registry") {
    TEST_CASE("the registry: unique names, defaults that validate, every option listed once") {
        std::set<std::string> names;
        for (const ModelEntry& e : model_registry()) {
            const std::string model_name = e.name;
            CAPTURE(model_name);
            CHECK(names.insert(e.name).second);
            RecConfig c = e.defaults();
            CHECK(c.model == e.name);
            c.n_items = 100;
            CHECK_NOTHROW(validate_config(c));
            // describe() lists each key once
            std::istringstream words(c.describe());
            std::string w;
            std::set<std::string> keys;
            words >> w;  // the model name
            while (words >> w) CHECK(keys.insert(w.substr(0, w.find('='))).second);
            CHECK(keys.count("dim") == 1);
            // a copy is deep: changing it leaves the original alone
            RecConfig copy = c;
            copy.dim = 2 * c.dim;
            CHECK(c.dim != copy.dim);
            CHECK(copy.describe() != c.describe());
        }
        CHECK_THROWS_AS(find_model("no-such-model"), std::invalid_argument);
    }

    TEST_CASE("every model: shapes, padding and batch independence, candidates") {
        for (const ModelEntry& e : model_registry()) {
            const std::string model_name = e.name;
            CAPTURE(model_name);
            Fixture f = make_fixture(e);
            const int64_t B = 3, T = f.cfg.max_len, V = kItems + 1;
            {
                ad::NoGradGuard ng;
                Var h = f.model->encode(f.items, Ctx{});
                CHECK(h.shape() == Shape{B, T, f.cfg.dim});
            }
            Tensor all = f.model->score_next(f.items, f.lengths);
            REQUIRE(all.shape() == Shape{B, V});
            for (int64_t i = 0; i < all.numel(); ++i)
                if (i % V != 0) REQUIRE(std::isfinite(all.data()[i]));
            // Each row alone, unpadded, scores as in the padded batch.
            for (int64_t b = 0; b < B; ++b) {
                const auto& row = f.rows[static_cast<std::size_t>(b)];
                const int64_t n = static_cast<int64_t>(row.size());
                Tensor one = f.model->score_next(IntTensor(Shape{1, n}, row), IntTensor(Shape{1}, {static_cast<int32_t>(n)}));
                Tensor want = Tensor::from(Shape{1, V}, std::span<const float>(all.data() + b * V, static_cast<std::size_t>(V)));
                CAPTURE(b);
                CHECK(diff_max(one, want, V) < 1e-4);
            }
            // Candidates score as the same items in score_next.
            const int64_t M = 4;
            std::vector<int32_t> cand;
            for (int64_t b = 0; b < B; ++b)
                for (int64_t m = 0; m < M; ++m) cand.push_back(static_cast<int32_t>(1 + (b * 3 + m * 5) % kItems));
            Tensor cs = f.model->score_candidates(f.items, f.lengths, IntTensor(Shape{B, M}, cand));
            REQUIRE(cs.shape() == Shape{B, M});
            for (int64_t b = 0; b < B; ++b)
                for (int64_t m = 0; m < M; ++m)
                    CHECK(cs.data()[b * M + m] == doctest::Approx(all.data()[b * V + cand[static_cast<std::size_t>(b * M + m)]]).epsilon(1e-4));
        }
    }

    TEST_CASE("every model: the loss's gradient along random directions matches finite differences") {
        for (const ModelEntry& e : model_registry()) {
            const std::string model_name = e.name;
            CAPTURE(model_name);
            Fixture f = make_fixture(e);
            TrainBatch batch = make_train_batch(f);
            ParamList params;
            f.model->parameters(params);
            REQUIRE(!params.empty());
            // Away from the initialisation first: at init the TTT inner model's output XK·W1 + b1 is
            // nearly 0 (W1 ~ N(0, 0.02), b1 = 0), where the inner LayerNorm is so curved that no
            // finite-difference step is small enough (seen: b1's directional derivative off 10x).
            Rng noise(9);
            for (auto& [name, v] : params) {
                Tensor e = Tensor::randn(v.shape(), noise);
                float* w = v.mutable_value().data();
                for (int64_t i = 0; i < e.numel(); ++i) w[i] += 0.3f * e.data()[i];
            }
            const Rng rng_state(17);
            std::vector<Var> leaves;
            for (auto& [n, v] : params) leaves.push_back(v);
            Rng r = rng_state;
            Var loss = f.model->loss(batch, Ctx{.training = true, .rng = &r});
            REQUIRE(std::isfinite(loss.item()));
            std::vector<Var> g = ad::grad(std::vector<Var>{loss}, leaves);
            Rng dir_rng(23);
            for (int trial = 0; trial < 3; ++trial) {
                // A random direction over every parameter, unit norm overall.
                std::vector<Tensor> d;
                double norm2 = 0;
                for (const Var& v : leaves) {
                    d.push_back(Tensor::randn(v.shape(), dir_rng));
                    for (int64_t i = 0; i < d.back().numel(); ++i) norm2 += double(d.back().data()[i]) * d.back().data()[i];
                }
                const double scale = 1.0 / std::sqrt(norm2);
                double analytic = 0;
                for (std::size_t p = 0; p < leaves.size(); ++p) {
                    if (!g[p].defined()) continue;  // a parameter the loss does not read (e.g. padding-only)
                    for (int64_t i = 0; i < d[p].numel(); ++i) analytic += double(g[p].value().data()[i]) * d[p].data()[i] * scale;
                }
                const float eps = 1e-2f;
                auto shifted = [&](float s) {
                    for (std::size_t p = 0; p < leaves.size(); ++p) {
                        float* w = leaves[p].mutable_value().data();
                        for (int64_t i = 0; i < d[p].numel(); ++i) w[i] += s * static_cast<float>(d[p].data()[i] * scale);
                    }
                };
                shifted(eps);
                const double up = loss_value(*f.model, batch, rng_state);
                shifted(-2 * eps);
                const double down = loss_value(*f.model, batch, rng_state);
                shifted(eps);
                const double numeric = (up - down) / (2.0 * eps);
                CAPTURE(trial);
                CAPTURE(analytic);
                CAPTURE(numeric);
                CHECK(std::abs(analytic - numeric) <= 2e-3 + 5e-2 * std::max(std::abs(analytic), std::abs(numeric)));
            }
        }
    }

    TEST_CASE("every model: a checkpoint round trip restores the scores exactly") {
        for (const ModelEntry& e : model_registry()) {
            const std::string model_name = e.name;
            CAPTURE(model_name);
            Fixture a = make_fixture(e, 3), b = make_fixture(e, 99);  // different initial weights
            ParamList pa, pb;
            a.model->parameters(pa);
            b.model->parameters(pb);
            const std::string bytes = encode_safetensors(parameter_values(pa));
            load_parameters(pb, decode_safetensors(bytes, "in-memory checkpoint"), "in-memory checkpoint");
            Tensor sa = a.model->score_next(a.items, a.lengths), sb = b.model->score_next(a.items, a.lengths);
            CHECK(diff_max(sa, sb) == 0.0);
        }
    }

    TEST_CASE("every model: streaming equals a full recompute, across a save and load of the states") {
        for (const ModelEntry& e : model_registry()) {
            const std::string model_name = e.name;
            CAPTURE(model_name);
            Fixture f = make_fixture(e);
            OnlineModel online(*f.model);
            UserStates users;
            users["u"] = online.new_user();
            users["v"] = online.new_user();
            // Longer than max_len, fed as pieces of 1, 3, 1, 3, ...: windows slide, mini-batches split.
            std::vector<int32_t> history;
            for (int64_t t = 0; t < f.cfg.max_len + 5; ++t) history.push_back(static_cast<int32_t>(1 + (t * 7 + 3) % kItems));
            online.observe(users["v"], 4);
            std::size_t n = 0;
            int piece = 1;
            while (n < history.size()) {
                const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(piece), history.size() - n);
                online.observe(users.at("u"), std::span<const int32_t>(history.data() + n, k));
                n += k;
                piece = piece == 1 ? 3 : 1;
                CAPTURE(n);
                Tensor inc = online.scores(users.at("u"));
                Tensor full = online.recompute_scores(std::span<const int32_t>(history.data(), n));
                CHECK(diff_max(inc, full, inc.numel()) < 1e-4);
                if (n == 4) {  // a save/load in the middle
                    users = decode_user_states(online, encode_user_states(online, users), "in-memory states");
                    CHECK(diff_max(online.scores(users.at("u")), full, full.numel()) < 1e-6);
                }
            }
            CHECK(diff_max(online.scores(users.at("v")), online.recompute_scores(std::vector<int32_t>{4}), kItems + 1) < 1e-4);
            CHECK(!f.model->stream_summary().empty());
        }
    }

    TEST_CASE("every model: evaluation has no dropout; training mode does when dropout > 0") {
        for (const ModelEntry& e : model_registry()) {
            const std::string model_name = e.name;
            CAPTURE(model_name);
            Fixture f = make_fixture(e);
            REQUIRE(f.cfg.dropout > 0);  // tiny() configurations keep dropout on so that this can be seen
            Tensor s1 = f.model->score_next(f.items, f.lengths), s2 = f.model->score_next(f.items, f.lengths);
            CHECK(diff_max(s1, s2) == 0.0);
            ad::NoGradGuard ng;
            Tensor ev = f.model->encode(f.items, Ctx{}).value();
            Rng r(5);
            Tensor tr = f.model->encode(f.items, Ctx{.training = true, .rng = &r}).value();
            CHECK(diff_max(ev, tr) > 1e-6);
        }
    }

    TEST_CASE("every model: every option survives set/get by key, and bad values are refused by validate") {
        for (const ModelEntry& e : model_registry()) {
            const std::string model_name = e.name;
            CAPTURE(model_name);
            RecConfig c = e.tiny(kItems);
            RecConfig d = c;
            std::istringstream words(c.describe());
            std::string w;
            words >> w;
            while (words >> w) {
                const std::string key = w.substr(0, w.find('='));
                CAPTURE(key);
                CHECK(c.has(key));
                d.set(key, c.get(key));  // same value back: no change
            }
            CHECK(d.describe() == c.describe());
            CHECK_THROWS_AS(c.set("no_such_option", 1), std::invalid_argument);
            RecConfig bad = c;
            bad.dropout = 1.5f;
            CHECK_THROWS_AS(validate_config(bad), std::invalid_argument);
            bad = c;
            bad.loss = "no-such-loss";
            CHECK_THROWS_AS(validate_config(bad), std::invalid_argument);
        }
    }
}
