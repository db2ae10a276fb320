// tests/model/test_din_comirec.cpp — DIN (model/rec/din.cpp) and ComiRec-SA / ComiRec-DR
// (model/rec/comirec.cpp):
//   * golden values: DR routing (c per iteration, final v) and SA attention / interests / readout
//     on the small hand cases of the reference spec; a DIN forward from the independent float64
//     numpy model tests/model/golden_din_comirec.py; squash; TF's log-uniform probabilities;
//   * invariants: masked positions route nothing (DR) and get no attention (SA); DR's gradient
//     goes only through the last routing iteration with its coefficients held fixed; DIN's
//     padding never changes a logit; the split first attention layer equals the concatenated one
//     (value, gradient, Hessian-vector product); RecBole's Dice is x σ(x);
//   * serving: max over interests ranks like merging each interest's top-N; score_candidates and
//     streaming agree with score_next;
//   * parameter counts of the published sizes;
//   * losses: the sampled softmax (candidates drawn without replacement, accidental hits removed,
//     same rng state -> same loss) and first-order gradient checks of every model's loss along
//     random directions of all its parameters, with the rng state copied for each evaluation.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "model/rec/comirec.hpp"
#include "model/rec/din.hpp"
#include "model/registry.hpp"
#include "tests/gradcheck.hpp"

using namespace tt;
using namespace tt::ad;
using namespace tt::model;

namespace {

// ---- golden values (python3 tests/model/golden_din_comirec.py) ---------------------------------
// kGoldenDIN: V=6 H=2 F=3 layers=2 histories=[[1, 3, 2, 0], [4, 0, 0, 0]] candidates=[[2, 5], [1, 4]]
constexpr float kGoldenDIN[] = {-0.534802373f, -0.608356654f, -0.5147643f, -0.492311149f};

// Element i (flat) = offset + scale · sin(0.37 i + 0.0123 i² + phase): the formula the script uses.
Tensor pattern(const Shape& s, double scale, double phase, double offset = 0.0) {
    Tensor t = Tensor::empty(s);
    for (int64_t n = 0; n < t.numel(); ++n) {
        const double i = static_cast<double>(n);
        t.data()[n] = static_cast<float>(offset + scale * std::sin(0.37 * i + 0.0123 * (i * i) + phase));
    }
    return t;
}

void check_values(const Tensor& got, std::initializer_list<float> want, double tol = 1e-5) {
    REQUIRE(got.numel() == static_cast<int64_t>(want.size()));
    int64_t i = 0;
    for (float w : want) {
        CAPTURE(i);
        CHECK(got.data()[i] == doctest::Approx(w).epsilon(tol));
        ++i;
    }
}

int64_t non_embedding_params(const Recommender& m) {
    ParamList ps;
    m.parameters(ps);
    int64_t n = 0;
    for (const auto& [name, v] : ps)
        if (name.find("item_embedding") == std::string::npos) n += v.numel();
    return n;
}

// Moves every weight away from its init (small inits make many wrong models look right).
void perturb(Recommender& m, uint64_t seed, float stddev = 0.3f) {
    ParamList ps;
    m.parameters(ps);
    Rng noise(seed);
    for (auto& [name, v] : ps) {
        Var p = v;
        Tensor& t = p.mutable_value();
        Tensor n = Tensor::randn(t.shape(), noise, 0.0f, stddev);
        for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += n.data()[i];
    }
}

std::unique_ptr<Recommender> tiny_model(const std::string& name, int64_t n_items, uint64_t seed = 3) {
    RecConfig c = find_model(name).tiny(n_items);
    Rng rng(seed);
    auto m = make_recommender(c, rng);
    perturb(*m, seed + 100);
    return m;
}

// Random right-padded histories (B, T) with lengths in [1, T].
struct History {
    IntTensor items, lengths;
};
History random_history(int64_t B, int64_t T, int64_t n_items, uint64_t seed) {
    Rng rng(seed);
    std::vector<int32_t> ids(static_cast<std::size_t>(B * T), 0), lens(static_cast<std::size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
        const int64_t len = 1 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(T)));
        lens[static_cast<std::size_t>(b)] = static_cast<int32_t>(len);
        for (int64_t t = 0; t < len; ++t) ids[static_cast<std::size_t>(b * T + t)] = 1 + static_cast<int32_t>(rng.below(n_items));
    }
    return {IntTensor(Shape{B, T}, ids), IntTensor(Shape{B}, lens)};
}

TrainBatch random_batch(const Recommender& m, int64_t B, uint64_t seed) {
    const RecConfig& c = m.config();
    History h = random_history(B, c.max_len, c.n_items, seed);
    Rng rng(seed + 1);
    TrainBatch tb;
    tb.items = h.items, tb.lengths = h.lengths;
    std::vector<int32_t> tgt(static_cast<std::size_t>(B));
    for (auto& t : tgt) t = 1 + static_cast<int32_t>(rng.below(c.n_items));
    tb.targets = IntTensor(Shape{B}, tgt);
    const int K = m.train_negatives();
    if (K > 0) {
        std::vector<int32_t> neg(static_cast<std::size_t>(B * K));
        for (auto& t : neg) t = 1 + static_cast<int32_t>(rng.below(c.n_items));
        tb.negatives = IntTensor(Shape{B, K}, neg);
    }
    return tb;
}

// Loss of a model at its current parameters, with a copy of the rng state (no tape).
double loss_at(const Recommender& m, const TrainBatch& tb, const Rng& rng_state, bool training) {
    NoGradGuard ng;
    Rng rng = rng_state;
    Ctx ctx{training, &rng};
    return m.loss(tb, ctx).item();
}

// dL/dθ · v from the tape vs (L(θ + εv) − L(θ − εv)) / 2ε, v random over every parameter.
void check_loss_gradient(Recommender& m, const TrainBatch& tb, uint64_t seed, float eps = 1e-2f) {
    ParamList ps;
    m.parameters(ps);
    const Rng rng0(seed);
    // training = false: dropout masks would be redrawn with each copy too, but the check is
    // about the loss itself; the sampled softmax draws from the rng in both modes.
    Rng rng = rng0;
    Var L = m.loss(tb, Ctx{false, &rng});
    std::vector<Var> wrt;
    for (auto& [n, v] : ps) wrt.push_back(v);
    std::vector<Var> g = grad({L}, wrt);
    Rng dir_rng(seed + 9);
    for (int trial = 0; trial < 3; ++trial) {
        std::vector<Tensor> dirs, saved;
        double analytic = 0;
        for (std::size_t i = 0; i < wrt.size(); ++i) {
            dirs.push_back(Tensor::randn(wrt[i].shape(), dir_rng));
            saved.push_back(wrt[i].value().clone());
            analytic += testing::dot(g[i].value(), dirs.back());
        }
        auto shift = [&](float t) {
            for (std::size_t i = 0; i < wrt.size(); ++i) wrt[i].mutable_value() = testing::shifted(saved[i], dirs[i], t);
        };
        shift(eps);
        const double lp = loss_at(m, tb, rng0, false);
        shift(-eps);
        const double lm = loss_at(m, tb, rng0, false);
        for (std::size_t i = 0; i < wrt.size(); ++i) wrt[i].mutable_value() = saved[i];
        const double fd = (lp - lm) / (2.0 * eps);
        INFO(m.config().model, " loss ", m.config().loss, ": analytic ", analytic, " finite-difference ", fd);
        CHECK(std::abs(analytic - fd) <= 2e-3 + 2e-2 * std::max(std::abs(analytic), std::abs(fd)));
    }
}

double max_abs_diff_from(const Tensor& a, const Tensor& b, int64_t first_col) {
    REQUIRE(a.shape() == b.shape());
    const int64_t R = a.dim(0), V = a.dim(1);
    double d = 0;
    for (int64_t r = 0; r < R; ++r)
        for (int64_t v = first_col; v < V; ++v) d = std::max(d, static_cast<double>(std::fabs(a.data()[r * V + v] - b.data()[r * V + v])));
    return d;
}

}  // namespace

TEST_SUITE("model/din_comirec") {

// ================================================================================================
// ComiRec pieces

TEST_CASE("squash([3, 4]) = [0.576923, 0.769231]") {
    Tensor v = comirec::squash(constant(Tensor::from(Shape{2}, {3.0f, 4.0f}))).value();
    check_values(v, {0.576923f, 0.769231f});
}

TEST_CASE("DR routing: golden c per iteration and final v (K=2, T=3, mask [1, 1, 0])") {
    // ê[0] = [[1, 0], [0.5, 0.5], [9, 9]], ê[1] = [[0.2, 0.1], [-0.5, 0.5], [9, 9]]  (B=1, K, T, C)
    Var e_hat = constant(Tensor::from(Shape{1, 2, 3, 2}, {1, 0, 0.5f, 0.5f, 9, 9, 0.2f, 0.1f, -0.5f, 0.5f, 9, 9}));
    Tensor mask = Tensor::from(Shape{1, 3}, {1, 1, 0});
    std::vector<Tensor> c;
    Tensor v = comirec::dynamic_routing(e_hat, mask, 3, &c).value();
    REQUIRE(c.size() == 3);
    check_values(c[0], {0.5f, 0.5f, 0, 0.5f, 0.5f, 0});
    check_values(c[1], {0.590221f, 0.543742f, 0, 0.409779f, 0.456258f, 0});
    check_values(c[2], {0.688772f, 0.598527f, 0, 0.311228f, 0.401473f, 0});
    check_values(v, {0.493767f, 0.149556f, -0.034860f, 0.058362f});
}

TEST_CASE("DR routing: masked positions get c = 0 exactly; the gradient flows only through the last iteration") {
    const int64_t B = 3, K = 4, T = 5, C = 3;
    Tensor e0 = testing::rand_input(Shape{B, K, T, C}, 21);
    Tensor mask = Tensor::from(Shape{B, T}, {1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1});
    std::vector<Tensor> c;
    Var e_hat(e0, true);
    Var v = comirec::dynamic_routing(e_hat, mask, 3, &c);
    for (const Tensor& ci : c)
        for (int64_t b = 0; b < B; ++b)
            for (int64_t k = 0; k < K; ++k)
                for (int64_t t = 0; t < T; ++t)
                    if (mask.data()[b * T + t] == 0) CHECK(ci.data()[(b * K + k) * T + t] == 0.0f);
    // Reference: v = squash(Σ_t c ê) with the last iteration's c a constant.
    Var e_ref(e0, true);
    Var s = reshape(matmul(reshape(constant(c[2]), Shape{B, K, 1, T}), e_ref), Shape{B, K, C});
    Var v_ref = comirec::squash(s);
    CHECK(max_abs_diff_from(v.value().reshape(Shape{B, K * C}), v_ref.value().reshape(Shape{B, K * C}), 0) < 1e-6);
    Tensor w = testing::rand_input(Shape{B, K, C}, 22);
    Tensor g = grad(sum(mul(v, constant(w))), e_hat).value();
    Tensor g_ref = grad(sum(mul(v_ref, constant(w))), e_ref).value();
    CHECK(max_abs_diff_from(g.reshape(Shape{B, K * T * C}), g_ref.reshape(Shape{B, K * T * C}), 0) < 1e-5);
    // Masked positions receive no gradient at all.
    for (int64_t b = 0; b < B; ++b)
        for (int64_t k = 0; k < K; ++k)
            for (int64_t t = 0; t < T; ++t)
                if (mask.data()[b * T + t] == 0)
                    for (int64_t j = 0; j < C; ++j) CHECK(g.data()[((b * K + k) * T + t) * C + j] == 0.0f);
}

TEST_CASE("SA: golden attention, interests and readout; masked attention < 1e-9") {
    Rng rng(1);
    Linear w1(2, 3, rng), w2(3, 2, rng);  // biases 0
    w1.weight.mutable_value() = Tensor::from(Shape{3, 2}, {0.5f, -0.5f, 1, 0.2f, -0.3f, 0.8f});
    w2.weight.mutable_value() = Tensor::from(Shape{2, 3}, {1, 0.5f, -1, -0.5f, 1, 0.5f});
    Var x = constant(Tensor::from(Shape{1, 3, 2}, {1, 0, 0, 1, 0, 0}));
    Var pos = constant(Tensor::from(Shape{3, 2}, {0.1f, 0, 0, 0.1f, 0.2f, 0.2f}));
    Tensor mask = Tensor::from(Shape{1, 3}, {1, 1, 0});
    Tensor A;
    Tensor U = comirec::self_attentive_interests(x, pos, mask, w1, w2, &A).value();  // (1, K, C)
    check_values(A, {0.910354f, 0.089646f, 0, 0.394363f, 0.605637f, 0});
    CHECK(A.data()[2] < 1e-9f);
    CHECK(A.data()[5] < 1e-9f);
    check_values(U, {0.910354f, 0.089646f, 0.394363f, 0.605637f});  // U = A X
    const float tgt[2] = {0.2f, 0.9f};
    const float s0 = U.data()[0] * tgt[0] + U.data()[1] * tgt[1], s1 = U.data()[2] * tgt[0] + U.data()[3] * tgt[1];
    CHECK(s1 > s0);  // the readout is interest 1
}

TEST_CASE("log-uniform sampler: TF's probabilities; draws are distinct, reproducible, with ln Q of the tries") {
    CHECK(comirec::log_uniform_prob(0, 12102) == doctest::Approx(0.0737296).epsilon(1e-6));
    CHECK(comirec::log_uniform_prob(1, 12102) == doctest::Approx(0.0431290).epsilon(1e-6));
    CHECK(comirec::log_uniform_prob(100, 12102) == doctest::Approx(0.00104798).epsilon(1e-6));
    CHECK(comirec::log_uniform_prob(0, 23716) == doctest::Approx(0.0688059).epsilon(1e-6));
    double total = 0;
    for (int64_t c = 0; c < 12102; ++c) total += comirec::log_uniform_prob(c, 12102);
    CHECK(total == doctest::Approx(1.0).epsilon(1e-9));

    Rng a(5), b(5);
    comirec::SampledCandidates s = comirec::sample_log_uniform(200, 1000, a);
    comirec::SampledCandidates s2 = comirec::sample_log_uniform(200, 1000, b);
    CHECK(s.ids == s2.ids);
    CHECK(s.num_tries >= 200);
    CHECK(std::set<int32_t>(s.ids.begin(), s.ids.end()).size() == 200);
    for (std::size_t j = 0; j < s.ids.size(); ++j) {
        CHECK(s.ids[j] >= 0);
        CHECK(s.ids[j] < 1000);
        const double p = comirec::log_uniform_prob(s.ids[j], 1000);
        CHECK(s.log_q[j] == doctest::Approx(std::log(1.0 - std::pow(1.0 - p, static_cast<double>(s.num_tries)))).epsilon(1e-5));
    }
    // One draw can repeat nothing: TF then uses the with-replacement expected count S P = P.
    Rng one(6);
    comirec::SampledCandidates s1 = comirec::sample_log_uniform(1, 1000, one);
    CHECK(s1.num_tries == 1);
    CHECK(s1.log_q[0] == doctest::Approx(std::log(comirec::log_uniform_prob(s1.ids[0], 1000))).epsilon(1e-6));
    // Small ids dominate: about ln 2 / ln 1001 ≈ 10% of the draws are id 0, so it is drawn.
    CHECK(std::find(s.ids.begin(), s.ids.end(), 0) != s.ids.end());
}

TEST_CASE("sampled softmax: the formula, accidental hits removed, and its gradient") {
    const int64_t N = 3, C = 4, V = 9;
    Tensor u0 = testing::rand_input(Shape{N, C}, 31), e0 = testing::rand_input(Shape{V, C}, 32);
    IntTensor targets(Shape{N}, {2, 5, 7});
    comirec::SampledCandidates s;
    s.ids = {0, 5, 1, 3}, s.num_tries = 7, s.range_max = V;
    for (int32_t id : s.ids) s.log_q.push_back(comirec::log_expected_count(id, s));
    Tensor loss = comirec::sampled_softmax_loss(constant(u0), constant(e0), targets, s).value();
    // Reference: per row, logits [t, samples \ {t}] of <u, e> − ln Q, softmax CE of index 0.
    double want = 0;
    for (int64_t n = 0; n < N; ++n) {
        auto logit = [&](int32_t id) {
            double d = 0;
            for (int64_t j = 0; j < C; ++j) d += static_cast<double>(u0.data()[n * C + j]) * e0.data()[id * C + j];
            return d - comirec::log_expected_count(id, s);
        };
        const double lt = logit(targets[n]);
        double z = std::exp(lt);
        for (int32_t id : s.ids)
            if (id != targets[n]) z += std::exp(logit(id));  // row 1's sample 5 is its own target: left out
        want += std::log(z) - lt;
    }
    CHECK(loss.item() == doctest::Approx(want / N).epsilon(1e-5));
    testing::check_gradients(
        "sampled_softmax_loss",
        [&](const std::vector<Var>& x) { return comirec::sampled_softmax_loss(x[0], x[1], targets, s); }, {u0, e0});
}

TEST_CASE("max over interests ranks like merging each interest's top-N (the official K·N merge)") {
    for (const char* name : {"comirec-sa", "comirec-dr"}) {
        CAPTURE(name);
        auto m = tiny_model(name, 60);
        const RecConfig& c = m->config();
        History h = random_history(5, c.max_len, c.n_items, 41);
        Tensor scores = m->score_next(h.items, h.lengths);  // (B, V)
        Tensor U;
        {
            NoGradGuard ng;
            U = m->user_states(h.items, h.lengths, Ctx{}).value();  // (B, K·C)
        }
        const int64_t B = 5, V = c.n_items + 1, C = c.dim, K = U.dim(1) / C, N = 10;
        ParamList ps;
        m->parameters(ps);
        Tensor E = ps[0].second.value();  // item_embedding.weight (V, C)
        REQUIRE(ps[0].first == "item_embedding.weight");
        for (int64_t b = 0; b < B; ++b) {
            // Each interest's top-N items by its own score, merged by score, de-duplicated, 0 skipped.
            std::vector<std::pair<float, int64_t>> merged;
            for (int64_t k = 0; k < K; ++k) {
                std::vector<std::pair<float, int64_t>> own;
                for (int64_t v = 0; v < V; ++v) {
                    float d = 0;
                    for (int64_t j = 0; j < C; ++j) d += U.data()[b * K * C + k * C + j] * E.data()[v * C + j];
                    own.emplace_back(d, v);
                }
                std::sort(own.begin(), own.end(), std::greater<>());
                merged.insert(merged.end(), own.begin(), own.begin() + N + 1);  // + 1: item 0 may be among them
            }
            std::sort(merged.begin(), merged.end(), std::greater<>());
            std::vector<int64_t> merge_top;
            for (const auto& [s, v] : merged)
                if (v != 0 && std::find(merge_top.begin(), merge_top.end(), v) == merge_top.end() &&
                    static_cast<int64_t>(merge_top.size()) < N)
                    merge_top.push_back(v);
            std::vector<std::pair<float, int64_t>> by_max;
            for (int64_t v = 1; v < V; ++v) by_max.emplace_back(scores.data()[b * V + v], v);
            std::sort(by_max.begin(), by_max.end(), std::greater<>());
            for (int64_t i = 0; i < N; ++i) CHECK(merge_top[static_cast<std::size_t>(i)] == by_max[static_cast<std::size_t>(i)].second);
        }
    }
}

TEST_CASE("ComiRec: non-embedding parameter counts of the official sizes (d 64, K 4, T 50)") {
    Rng rng(1);
    RecConfig sa = default_config("comirec-sa");
    sa.n_items = 100;
    CHECK(non_embedding_params(*make_recommender(sa, rng)) == 20868);  // 3,200 + 16,640 + 1,028
    RecConfig dr = default_config("comirec-dr");
    dr.n_items = 100;
    CHECK(non_embedding_params(*make_recommender(dr, rng)) == 819200);  // 50 · 256 · 64
}

TEST_CASE("ComiRec: the sampled-softmax loss is a function of the rng state, and removes the target from the samples") {
    auto m = tiny_model("comirec-sa", 40);
    TrainBatch tb = random_batch(*m, 4, 51);
    Rng r(9);
    const double a = loss_at(*m, tb, r, true), b = loss_at(*m, tb, r, true);
    CHECK(a == b);
    Rng other(10);
    CHECK(loss_at(*m, tb, other, true) != a);  // other candidates
    RecConfig c = m->config();
    c.loss = "ce";
    CHECK_NOTHROW(validate_config(c));
    c.loss = "bce";
    CHECK_THROWS_AS(validate_config(c), std::invalid_argument);
}

// ================================================================================================
// DIN

TEST_CASE("DIN: RecBole's Dice is x σ(x)") {
    Tensor x = testing::rand_input(Shape{17}, 61);
    Tensor y = din::dice_recbole(constant(x)).value();
    for (int64_t i = 0; i < 17; ++i) {
        const double xi = x.data()[i];
        CHECK(y.data()[i] == doctest::Approx(xi / (1.0 + std::exp(-xi))).epsilon(1e-6));
    }
}

TEST_CASE("DIN: the split first attention layer equals the concatenated one") {
    const int64_t N = 2, M = 3, T = 4, H = 3, F = 5;
    Rng rng(2);
    Linear layer(4 * H, F, rng);
    Tensor q = testing::rand_input(Shape{N, M, H}, 71), k = testing::rand_input(Shape{N, T, H}, 72);
    Tensor W = testing::rand_input(Shape{F, 4 * H}, 73), b = testing::rand_input(Shape{F}, 74);
    auto with = [&](bool split) {
        return [&, split](const std::vector<Var>& x) {
            Linear l = layer;
            l.weight = x[2], l.bias = x[3];
            return split ? din::lau_first_layer_split(x[0], x[1], l) : din::lau_first_layer_concat(x[0], x[1], l);
        };
    };
    testing::check_same_function("lau split vs concat", with(true), with(false), {q, k, W, b});
}

TEST_CASE("DIN: golden forward of a tiny network (float64 numpy reference)") {
    RecConfig c = default_config("din");
    c.n_items = 5, c.dim = 2, c.max_len = 4;
    c.set("mlp_hidden", int64_t{3});
    c.set("mlp_layers", int64_t{2});
    Rng rng(1);
    auto m = make_recommender(c, rng);
    ParamList ps;
    m->parameters(ps);
    const std::vector<std::string> names = {
        "item_embedding.weight", "attention.mlp.0.weight", "attention.mlp.0.bias", "attention.mlp.1.weight",
        "attention.mlp.1.bias", "attention.dense.weight", "attention.dense.bias", "dnn.mlp.0.weight", "dnn.mlp.0.bias",
        "dnn.norm.0.weight", "dnn.norm.0.bias", "dnn.mlp.1.weight", "dnn.mlp.1.bias", "dnn.norm.1.weight",
        "dnn.norm.1.bias", "dnn.predict.weight", "dnn.predict.bias"};
    REQUIRE(ps.size() == names.size());
    for (std::size_t p = 0; p < ps.size(); ++p) {
        REQUIRE(ps[p].first == names[p]);
        const bool norm_weight = names[p].find("norm") != std::string::npos && names[p].ends_with(".weight");
        ps[p].second.mutable_value() = norm_weight ? pattern(ps[p].second.shape(), 0.2, 0.7 * static_cast<double>(p), 1.0)
                                                   : pattern(ps[p].second.shape(), 0.5, 0.7 * static_cast<double>(p));
    }
    IntTensor items(Shape{2, 4}, {1, 3, 2, 0, 4, 0, 0, 0}), lengths(Shape{2}, {3, 1});
    IntTensor cands(Shape{2, 2}, {2, 5, 1, 4});
    Tensor s = m->score_candidates(items, lengths, cands);
    check_values(s, {kGoldenDIN[0], kGoldenDIN[1], kGoldenDIN[2], kGoldenDIN[3]});
    // score_next runs the same network for every item.
    Tensor all = m->score_next(items, lengths);
    CHECK(all.data()[0 * 6 + 2] == doctest::Approx(kGoldenDIN[0]).epsilon(1e-5));
    CHECK(all.data()[0 * 6 + 5] == doctest::Approx(kGoldenDIN[1]).epsilon(1e-5));
    CHECK(all.data()[1 * 6 + 1] == doctest::Approx(kGoldenDIN[2]).epsilon(1e-5));
    CHECK(all.data()[1 * 6 + 4] == doctest::Approx(kGoldenDIN[3]).epsilon(1e-5));
}

TEST_CASE("DIN: padding never changes a logit (more padding, another padding row)") {
    auto m = tiny_model("din", 30);
    IntTensor cands(Shape{2, 3}, {4, 9, 17, 2, 3, 30});
    IntTensor short_items(Shape{2, 3}, {5, 6, 7, 8, 0, 0}), lengths(Shape{2}, {3, 1});
    IntTensor long_items(Shape{2, 8}, {5, 6, 7, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0});
    Tensor a = m->score_candidates(short_items, lengths, cands);
    Tensor b = m->score_candidates(long_items, lengths, cands);
    ParamList ps;
    m->parameters(ps);
    Tensor& E = ps[0].second.mutable_value();
    for (int64_t j = 0; j < E.dim(1); ++j) E.data()[j] = 100.0f + static_cast<float>(j);  // the padding row
    Tensor c = m->score_candidates(long_items, lengths, cands);
    for (int64_t i = 0; i < 6; ++i) {
        CHECK(b.data()[i] == doctest::Approx(a.data()[i]).epsilon(1e-6));
        CHECK(c.data()[i] == doctest::Approx(a.data()[i]).epsilon(1e-6));
    }
}

TEST_CASE("DIN: rows scored in length chunks give each row its own logits, in the caller's order") {
    // DIN sorts a batch's rows by history length and scores them in chunks of similar length
    // (din.cpp, LengthChunk). Each row must come back where it was, with the logits it has alone.
    auto m = tiny_model("din", 40);
    const int64_t T = m->config().max_len, B = 9, M = 4;
    History h = random_history(B, T, 40, 17);
    Rng rng(5);
    std::vector<int32_t> cand(static_cast<std::size_t>(B * M));
    for (auto& x : cand) x = 1 + static_cast<int32_t>(rng.below(40));
    IntTensor cands(Shape{B, M}, cand);
    Tensor all = m->score_candidates(h.items, h.lengths, cands);  // (B, M)
    std::set<int32_t> lengths_seen;
    for (int64_t b = 0; b < B; ++b) {
        const int32_t len = h.lengths[b];
        lengths_seen.insert(len);
        std::vector<int32_t> row(h.items.data() + b * T, h.items.data() + b * T + len);
        Tensor one = m->score_candidates(IntTensor(Shape{1, len}, row), IntTensor(Shape{1}, {len}),
                                         IntTensor(Shape{1, M}, std::vector<int32_t>(cand.begin() + b * M, cand.begin() + (b + 1) * M)));
        for (int64_t j = 0; j < M; ++j) CHECK(all.data()[b * M + j] == doctest::Approx(one.data()[j]).epsilon(1e-6));
    }
    CHECK(lengths_seen.size() >= 4);  // several chunks (a chunk's rows are within 4/5 of its longest)
    CHECK_FALSE(std::is_sorted(h.lengths.data(), h.lengths.data() + B, std::greater<>()));  // chunk order != batch order
    // The loss is the mean over rows of each row's own loss (every row has 1 + K terms).
    TrainBatch tb = random_batch(*m, B, 23);
    Rng state(9);
    const double batch_loss = loss_at(*m, tb, state, false);
    double sum = 0;
    const int64_t K = m->train_negatives();
    for (int64_t b = 0; b < B; ++b) {
        TrainBatch one;
        const int32_t len = tb.lengths[b];
        one.items = IntTensor(Shape{1, len}, std::vector<int32_t>(tb.items.data() + b * T, tb.items.data() + b * T + len));
        one.lengths = IntTensor(Shape{1}, {len});
        one.targets = IntTensor(Shape{1}, {tb.targets[b]});
        one.negatives = IntTensor(Shape{1, K}, std::vector<int32_t>(tb.negatives.data() + b * K, tb.negatives.data() + (b + 1) * K));
        sum += loss_at(*m, one, state, false);
    }
    CHECK(batch_loss == doctest::Approx(sum / static_cast<double>(B)).epsilon(1e-5));
}

TEST_CASE("DIN: non-embedding parameter count of RecBole's sizes (H 10, MLPs [256, 256, 256])") {
    Rng rng(1);
    RecConfig c = default_config("din");
    c.n_items = 50;
    // attention 142,337 + output MLP 141,056 (with the per-feature affine in place of BatchNorm's) + 257
    CHECK(non_embedding_params(*make_recommender(c, rng)) == 283650);
}

// ================================================================================================
// all three

TEST_CASE("score_candidates and streaming agree with score_next") {
    for (const char* name : {"din", "comirec-sa", "comirec-dr"}) {
        CAPTURE(name);
        auto m = tiny_model(name, 25);
        const int64_t L = m->config().max_len, V = 26;
        // One user fed event by event, past the window: after each event, streaming == score_next
        // over the last max_len items.
        Rng rng(81);
        std::vector<int32_t> hist;
        StreamState st = m->start_stream(1);
        Tensor table;
        {
            NoGradGuard ng;
            table = m->item_table(Ctx{}).value();
        }
        for (int e = 0; e < static_cast<int>(L) + 4; ++e) {
            const int32_t item = 1 + static_cast<int32_t>(rng.below(25));
            hist.push_back(item);
            m->advance(IntTensor(Shape{1, 1}, {item}), st);
            const int64_t n = std::min<int64_t>(static_cast<int64_t>(hist.size()), L);
            std::vector<int32_t> win(hist.end() - n, hist.end());
            Tensor full = m->score_next(IntTensor(Shape{1, n}, win), IntTensor(Shape{1}, {static_cast<int32_t>(n)}));
            Tensor inc = m->score_stream(st, table);
            CHECK(max_abs_diff_from(inc, full, 1) < 1e-4);
        }
        History h = random_history(3, L, 25, 82);
        Tensor all = m->score_next(h.items, h.lengths);
        IntTensor cands(Shape{3, 4}, {1, 7, 25, 3, 2, 2, 9, 11, 5, 6, 13, 24});
        Tensor some = m->score_candidates(h.items, h.lengths, cands);
        for (int64_t b = 0; b < 3; ++b)
            for (int64_t j = 0; j < 4; ++j)
                CHECK(some.data()[b * 4 + j] == doctest::Approx(all.data()[b * V + cands[b * 4 + j]]).epsilon(1e-5));
    }
}

TEST_CASE("gradient checks of every loss along random directions of all parameters") {
    for (const char* name : {"din", "comirec-sa", "comirec-dr"}) {
        for (const char* loss : {"default", "ce"}) {
            if (std::string(name) == "din" && std::string(loss) == "ce") continue;
            CAPTURE(name);
            CAPTURE(loss);
            RecConfig c = find_model(name).tiny(20);
            if (std::string(loss) == "ce") c.loss = "ce";
            Rng rng(4);
            auto m = make_recommender(c, rng);
            perturb(*m, 5, 0.2f);
            check_loss_gradient(*m, random_batch(*m, 4, 91), 17);
        }
    }
}

}  // TEST_SUITE
