// tests/model/test_layers.cpp — the standard layers of model/layers.hpp: finite-difference
// gradients of every layer w.r.t. its input and all its parameters (first order; second order for
// the norms and activations), and known values (norm statistics, GELU, RoPE tables, causality,
// padding, a hand-unrolled GRU, dropout statistics).
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "model/layers.hpp"
#include "tensor/parallel.hpp"
#include "tests/gradcheck.hpp"

using namespace tt;
using namespace tt::ad;
using namespace tt::model;
using tt::testing::check_gradients;
using tt::testing::check_second_order;
using tt::testing::rand_input;

namespace {

using V = const std::vector<Var>&;

// Gradient check of a layer w.r.t. its data inputs and every parameter. `refs` returns pointers
// to the parameter members of a copy of the layer: the check substitutes its own leaves there
// (a Var is a handle, so the original layer is untouched). The number of refs must equal what
// parameters() lists, so no parameter escapes the check.
template <class Layer, class Refs, class Forward>
void check_layer(const std::string& name, const Layer& layer, Refs refs, Forward forward, std::vector<Tensor> data,
                 std::vector<bool> data_diff = {}, tt::testing::CheckOptions opt = {}) {
    ParamList listed;
    layer.parameters(listed, "");
    Layer probe = layer;
    std::vector<Var*> members = refs(probe);
    REQUIRE(members.size() == listed.size());

    const std::size_t nd = data.size();
    if (data_diff.empty()) data_diff.assign(nd, true);
    std::vector<Tensor> xs = data;
    std::vector<bool> diff = data_diff;
    for (Var* m : members) {
        xs.push_back(m->value());
        diff.push_back(true);
    }
    auto f = [&](V v) {
        Layer l = layer;
        std::vector<Var*> r = refs(l);
        for (std::size_t k = 0; k < r.size(); ++k) *r[k] = v[nd + k];
        return forward(l, std::vector<Var>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(nd)));
    };
    check_gradients(name, f, xs, diff, opt);
}

std::vector<Var*> linear_refs(Linear& l) {
    std::vector<Var*> r{&l.weight};
    if (l.bias.defined()) r.push_back(&l.bias);
    return r;
}

std::vector<Var*> attention_refs(CausalSelfAttention& a) {
    std::vector<Var*> r;
    for (Linear* l : {&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj})
        for (Var* p : linear_refs(*l)) r.push_back(p);
    return r;
}

std::vector<Var*> norm_refs(Norm& n) {
    if (n.ln) return {&n.ln->weight, &n.ln->bias};
    return {&n.rms->weight};
}

std::vector<Var*> block_refs(TransformerBlock& b) {
    std::vector<Var*> r = norm_refs(b.seq_norm);
    for (Var* p : attention_refs(b.attn)) r.push_back(p);
    for (Var* p : norm_refs(b.ffn_norm)) r.push_back(p);
    if (b.swiglu)
        for (Linear* l : {&b.swiglu->gate_proj, &b.swiglu->up_proj, &b.swiglu->down_proj}) r.push_back(&l->weight);
    if (b.pointwise)
        for (Linear* l : {&b.pointwise->fc1, &b.pointwise->fc2})
            for (Var* p : linear_refs(*l)) r.push_back(p);
    return r;
}

// Makes unit/zero-initialised parameters (norm γ, β, biases) random, so their gradients are
// checked at a generic point rather than at a special one.
void randomise(const ParamList& params, uint64_t seed, float scale = 0.5f) {
    Rng rng(seed);
    for (const auto& entry : params) {
        Var p = entry.second;
        Tensor& t = p.mutable_value();
        for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += scale * rng.normal();
    }
}

template <class Layer>
void randomise(const Layer& layer, uint64_t seed, float scale = 0.5f) {
    ParamList params;
    layer.parameters(params, "");
    randomise(params, seed, scale);
}

double gelu_ref(double x) { return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x))); }

}  // namespace

TEST_SUITE("model/layers") {
    // ---- first-order gradient checks ---------------------------------------------------------
    TEST_CASE("Linear: gradients w.r.t. input, weight and bias") {
        Rng rng(1);
        Linear with_bias(4, 3, rng, 0.5f);
        randomise(with_bias, 2);
        check_layer("linear", with_bias, linear_refs, [](const Linear& l, V x) { return l.forward(x[0]); },
                    {rand_input({2, 3, 4}, 3)});
        Linear no_bias(4, 3, rng, 0.5f, false);
        ParamList names;
        no_bias.parameters(names, "proj.");
        REQUIRE(names.size() == 1);
        CHECK(names[0].first == "proj.weight");
        check_layer("linear no bias", no_bias, linear_refs, [](const Linear& l, V x) { return l.forward(x[0]); },
                    {rand_input({5, 4}, 4)});
    }

    TEST_CASE("Embedding: gradient w.r.t. the table; the padding row gets none") {
        Rng rng(5);
        Embedding emb(6, 3, rng, 0.5f);
        // Finite differences do see the padding row (its value is used), so check without id 0.
        IntTensor real_ids(Shape{2, 3}, {1, 4, 3, 3, 5, 1});
        check_layer(
            "embedding", emb, [](Embedding& e) { return std::vector<Var*>{&e.weight}; },
            [real_ids](const Embedding& e, V) { return e.forward(real_ids); }, {});

        IntTensor ids(Shape{2, 3}, {1, 0, 3, 3, 5, 0});

        Var out = emb.forward(ids);  // (2, 3, 3)
        CHECK(out.shape() == (Shape{2, 3, 3}));
        for (int c = 0; c < 3; ++c) CHECK(out.value().at({1, 0, c}) == emb.weight.value().at({3, c}));
        backward(sum(mul(out, constant(rand_input({2, 3, 3}, 6)))));
        const Tensor& g = emb.weight.grad();
        for (int c = 0; c < 3; ++c) {
            CHECK(g.at({0, c}) == 0.0f);  // padding row: id 0 appears twice, still no gradient
            CHECK(g.at({2, c}) == 0.0f);  // never looked up
            CHECK(g.at({3, c}) != 0.0f);
        }
        CHECK(emb.weight.value().at({0, 0}) != 0.0f);  // TTT4Rec-style init: the row is random
        Embedding zero_row(6, 3, rng, 0.5f, 0, true);
        for (int c = 0; c < 3; ++c) CHECK(zero_row.weight.value().at({0, c}) == 0.0f);
    }

    TEST_CASE("LayerNorm and RMSNorm: gradients w.r.t. input, weight and bias") {
        LayerNorm ln(5, 1e-5f);
        randomise(ln, 7);
        check_layer(
            "layer_norm", ln, [](LayerNorm& l) { return std::vector<Var*>{&l.weight, &l.bias}; },
            [](const LayerNorm& l, V x) { return l.forward(x[0]); }, {rand_input({3, 5}, 8)});
        RMSNorm rms(5);
        randomise(rms, 9);
        check_layer(
            "rms_norm", rms, [](RMSNorm& l) { return std::vector<Var*>{&l.weight}; },
            [](const RMSNorm& l, V x) { return l.forward(x[0]); }, {rand_input({3, 5}, 10)});
    }

    TEST_CASE("SwiGLU and the pointwise FFN (with a fixed dropout mask): gradients") {
        Rng rng(11);
        SwiGLU ffn(4, 6, rng, 0.5f);
        check_layer(
            "swiglu", ffn,
            [](SwiGLU& s) { return std::vector<Var*>{&s.gate_proj.weight, &s.up_proj.weight, &s.down_proj.weight}; },
            [](const SwiGLU& s, V x) { return s.forward(x[0]); }, {rand_input({2, 3, 4}, 12)});
        ParamList names;
        ffn.parameters(names, "mlp.");
        REQUIRE(names.size() == 3);
        CHECK(names[0].first == "mlp.gate_proj.weight");
        CHECK(names[1].first == "mlp.up_proj.weight");
        CHECK(names[2].first == "mlp.down_proj.weight");

        for (Activation act : {Activation::ReLU, Activation::GELU}) {
            PointwiseFeedForward pw(4, 6, rng, 0.5f, act, 0.25f);
            randomise(pw, 13, 0.1f);
            auto refs = [](PointwiseFeedForward& p) {
                return std::vector<Var*>{&p.fc1.weight, &p.fc1.bias, &p.fc2.weight, &p.fc2.bias};
            };
            // A fresh generator with the same seed on every evaluation: the same dropout mask each time.
            check_layer(
                "pointwise ffn", pw, refs,
                [](const PointwiseFeedForward& p, V x) {
                    Rng mask_rng(99);
                    return p.forward(x[0], Ctx{true, &mask_rng});
                },
                {rand_input({2, 3, 4}, 14)});
        }
    }

    TEST_CASE("causal self-attention (padding, RoPE): gradients w.r.t. input and all projections") {
        Rng rng(15);
        CausalSelfAttention attn(4, 2, rng, 0.5f);
        randomise(attn, 16, 0.1f);
        Tensor valid = Tensor::from(Shape{2, 3}, {1, 1, 1, 1, 1, 0});  // second sequence right-padded
        RopeTables rope = rope_tables(3, 2, 10.0f);
        check_layer("attention", attn, attention_refs,
                    [&](const CausalSelfAttention& a, V x) { return a.forward(x[0], valid, Ctx{}, &rope); },
                    {rand_input({2, 3, 4}, 17)});
    }

    TEST_CASE("Transformer block (each FFN and norm kind): gradients w.r.t. input and all parameters") {
        struct Variant {
            FfnKind ffn;
            NormKind norm;
        };
        for (Variant var : {Variant{FfnKind::SwiGLU, NormKind::RMSNorm}, Variant{FfnKind::PointwiseReLU, NormKind::LayerNorm},
                            Variant{FfnKind::PointwiseGELU, NormKind::LayerNorm}}) {
            CAPTURE(static_cast<int>(var.ffn));
            TransformerBlockConfig cfg{.dim = 4, .n_heads = 2, .ffn_hidden = 6, .ffn = var.ffn, .norm = var.norm,
                                       .norm_eps = 1e-5f, .init_range = 0.5f};
            Rng rng(18);
            TransformerBlock block(cfg, rng);
            randomise(block, 19, 0.1f);
            Tensor valid = Tensor::from(Shape{2, 3}, {1, 1, 0, 1, 1, 1});
            check_layer("block", block, block_refs,
                        [&](const TransformerBlock& b, V x) { return b.forward(x[0], valid, Ctx{}); },
                        {rand_input({2, 3, 4}, 20)});
        }
    }

    TEST_CASE("positional embedding: adds rows 0..T-1; gradients") {
        Rng rng(21);
        PositionalEmbedding pos(5, 3, rng, 0.5f);
        Var x = constant(rand_input({2, 4, 3}, 22));
        Var y = pos.forward(x);
        for (int b = 0; b < 2; ++b)
            for (int t = 0; t < 4; ++t)
                for (int c = 0; c < 3; ++c)
                    CHECK(y.value().at({b, t, c}) == doctest::Approx(x.value().at({b, t, c}) + pos.weight.value().at({t, c})));
        check_layer(
            "positional", pos, [](PositionalEmbedding& p) { return std::vector<Var*>{&p.weight}; },
            [](const PositionalEmbedding& p, V x) { return p.forward(x[0]); }, {rand_input({2, 4, 3}, 23)});
        CHECK_THROWS_AS(pos.forward(constant(Tensor::zeros(Shape{1, 6, 3}))), std::invalid_argument);
    }

    TEST_CASE("GRU: gradients w.r.t. input, h0 and all weights") {
        Rng rng(24);
        GRU gru(3, 2, rng);
        auto refs = [](GRU& g) { return std::vector<Var*>{&g.weight_ih, &g.weight_hh, &g.bias_ih, &g.bias_hh}; };
        check_layer("gru", gru, refs, [](const GRU& g, V x) { return g.forward(x[0], x[1]); },
                    {rand_input({2, 4, 3}, 25), rand_input({2, 2}, 26)});
        GRU no_bias(3, 2, rng, false);
        ParamList names;
        no_bias.parameters(names, "gru.");
        REQUIRE(names.size() == 2);
        CHECK(names[0].first == "gru.weight_ih");
        CHECK(names[1].first == "gru.weight_hh");
    }

    // ---- second order --------------------------------------------------------------------------
    TEST_CASE("second order: layer_norm, rms_norm, silu, gelu_tanh, SwiGLU") {
        Tensor x = rand_input({3, 5}, 27);
        Tensor gamma = rand_input({5}, 28), beta = rand_input({5}, 29);
        check_second_order("layer_norm", [](V v) { return layer_norm(v[0], v[1], v[2], 1e-5f); }, {x, gamma, beta});
        check_second_order("rms_norm", [](V v) { return rms_norm(v[0], v[1], 1e-6f); }, {x, gamma});
        check_second_order("silu", [](V v) { return silu(v[0]); }, {x});
        check_second_order("gelu_tanh", [](V v) { return gelu_tanh(v[0]); }, {x});
        Rng rng(30);
        SwiGLU ffn(4, 6, rng, 0.5f);
        check_second_order(
            "swiglu",
            [&](V v) {
                SwiGLU s = ffn;
                s.gate_proj.weight = v[1];
                s.up_proj.weight = v[2];
                s.down_proj.weight = v[3];
                return s.forward(v[0]);
            },
            {rand_input({2, 4}, 31), ffn.gate_proj.weight.value(), ffn.up_proj.weight.value(), ffn.down_proj.weight.value()});
    }

    // ---- known values --------------------------------------------------------------------------
    TEST_CASE("LayerNorm with unit γ: each row has mean 0 and variance 1; RMSNorm: mean square 1") {
        Tensor xt = rand_input({4, 16}, 32);
        for (int64_t i = 0; i < xt.numel(); ++i) xt.data()[i] = 3.0f * xt.data()[i] + 2.0f;  // off-centre rows
        Var x = constant(xt);
        Tensor y = LayerNorm(16, 1e-6f).forward(x).value();
        Tensor r = RMSNorm(16).forward(x).value();
        for (int row = 0; row < 4; ++row) {
            double mean = 0, sq = 0, rsq = 0, xsq = 0;
            for (int c = 0; c < 16; ++c) {
                mean += y.at({row, c}) / 16.0;
                rsq += static_cast<double>(r.at({row, c})) * r.at({row, c}) / 16.0;
                xsq += static_cast<double>(xt.at({row, c})) * xt.at({row, c}) / 16.0;
            }
            for (int c = 0; c < 16; ++c) sq += (y.at({row, c}) - mean) * (y.at({row, c}) - mean) / 16.0;
            CHECK(mean == doctest::Approx(0.0).epsilon(1e-5));
            CHECK(sq == doctest::Approx(1.0).epsilon(1e-4));
            CHECK(rsq == doctest::Approx(1.0).epsilon(1e-4));
            CHECK(r.at({row, 3}) == doctest::Approx(xt.at({row, 3}) / std::sqrt(xsq + 1e-6)).epsilon(1e-5));
        }
    }

    TEST_CASE("gelu_tanh and silu at a few points match their formulas") {
        std::vector<float> pts{-3.0f, -1.0f, -0.25f, 0.0f, 0.5f, 1.0f, 2.0f};
        Var x = constant(Tensor::from(Shape{static_cast<int64_t>(pts.size())}, pts));
        Tensor g = gelu_tanh(x).value(), s = silu(x).value();
        for (std::size_t i = 0; i < pts.size(); ++i) {
            double xi = pts[i];
            CHECK(g.data()[i] == doctest::Approx(gelu_ref(xi)).epsilon(1e-5));
            CHECK(s.data()[i] == doctest::Approx(xi / (1.0 + std::exp(-xi))).epsilon(1e-5));
        }
        CHECK(g.data()[5] == doctest::Approx(0.8411920).epsilon(1e-5));  // the familiar GELU(1)
    }

    TEST_CASE("RoPE tables: angle t·base^(−2j/D); positions mod b repeat; rope keeps pair norms") {
        RopeTables tab = rope_tables(4, 4, 10000.0f, 0);
        CHECK(tab.cos.shape() == (Shape{4, 2}));
        CHECK(tab.cos.at({2, 0}) == doctest::Approx(std::cos(2.0)));
        CHECK(tab.sin.at({3, 0}) == doctest::Approx(std::sin(3.0)));
        CHECK(tab.cos.at({3, 1}) == doctest::Approx(std::cos(0.03)));  // 10000^(−2/4) = 1/100
        CHECK(tab.sin.at({3, 1}) == doctest::Approx(std::sin(0.03)));
        CHECK(tab.sin.at({0, 1}) == 0.0f);

        const int b = 3;
        RopeTables mod = rope_tables(8, 6, 1000.0f, b);
        for (int t = 0; t < 8; ++t)
            for (int j = 0; j < 3; ++j) {
                CHECK(mod.cos.at({t, j}) == mod.cos.at({t % b, j}));
                CHECK(mod.sin.at({t, j}) == mod.sin.at({t % b, j}));
            }
        // The same vector at positions t and t + b is rotated identically.
        Tensor xt = Tensor::empty(Shape{8, 6});
        Tensor row = rand_input({6}, 33);
        for (int t = 0; t < 8; ++t)
            for (int c = 0; c < 6; ++c) xt.at({t, c}) = row.data()[c];
        Tensor y = rope(constant(xt), mod.cos, mod.sin).value();
        for (int c = 0; c < 6; ++c) {
            CHECK(y.at({4, c}) == doctest::Approx(y.at({1, c})));
            CHECK(y.at({6, c}) == doctest::Approx(y.at({0, c})));
        }
        CHECK(y.at({1, 0}) != doctest::Approx(y.at({0, 0})));  // but does rotate between positions
        for (int t = 0; t < 8; ++t)
            for (int j = 0; j < 3; ++j) {
                double before = row.data()[2 * j] * row.data()[2 * j] + row.data()[2 * j + 1] * row.data()[2 * j + 1];
                double after = y.at({t, 2 * j}) * y.at({t, 2 * j}) + y.at({t, 2 * j + 1}) * y.at({t, 2 * j + 1});
                CHECK(after == doctest::Approx(before).epsilon(1e-5));
            }
    }

    TEST_CASE("attention matches a hand computation of masked multi-head softmax attention") {
        Rng rng(50);
        const int B = 2, T = 3, C = 4, H = 2, D = 2;
        CausalSelfAttention attn(C, H, rng, 0.5f);
        randomise(attn, 51, 0.2f);  // non-zero biases
        Tensor x = rand_input({B, T, C}, 52);
        Tensor valid = Tensor::from(Shape{B, T}, {1, 1, 1, 1, 0, 1});  // a padding key in the middle
        Tensor y = attn.forward(constant(x), valid, Ctx{}).value();
        auto proj = [&](const Linear& l, int b, int t, int o) {  // (x Wᵀ + b)[b, t, o] in double
            double acc = l.bias.value().at({o});
            for (int i = 0; i < C; ++i) acc += static_cast<double>(l.weight.value().at({o, i})) * x.at({b, t, i});
            return acc;
        };
        for (int b = 0; b < B; ++b)
            for (int i = 0; i < T; ++i) {
                double heads[C];
                for (int h = 0; h < H; ++h) {
                    double score[T], z = 0, mx = -1e300;
                    bool seen[T];
                    for (int j = 0; j < T; ++j) {
                        seen[j] = j <= i && (valid.at({b, j}) != 0.0f || j == i);
                        score[j] = 0;
                        for (int d = 0; d < D; ++d) score[j] += proj(attn.q_proj, b, i, h * D + d) * proj(attn.k_proj, b, j, h * D + d);
                        score[j] /= std::sqrt(static_cast<double>(D));
                        if (seen[j]) mx = std::max(mx, score[j]);
                    }
                    for (int j = 0; j < T; ++j) z += seen[j] ? std::exp(score[j] - mx) : 0.0;
                    for (int d = 0; d < D; ++d) {
                        heads[h * D + d] = 0;
                        for (int j = 0; j < T; ++j)
                            if (seen[j]) heads[h * D + d] += std::exp(score[j] - mx) / z * proj(attn.v_proj, b, j, h * D + d);
                    }
                }
                for (int o = 0; o < C; ++o) {
                    double want = attn.o_proj.bias.value().at({o});
                    for (int c = 0; c < C; ++c) want += static_cast<double>(attn.o_proj.weight.value().at({o, c})) * heads[c];
                    CHECK(y.at({b, i, o}) == doctest::Approx(want).epsilon(1e-5));
                }
            }
    }

    TEST_CASE("attention is causal: a future token never changes earlier outputs") {
        Rng rng(34);
        CausalSelfAttention attn(8, 2, rng, 0.3f);
        RopeTables rope = rope_tables(5, 4, 100.0f);
        Tensor x1 = rand_input({2, 5, 8}, 35);
        Tensor x2 = x1.clone();
        for (int b = 0; b < 2; ++b)
            for (int c = 0; c < 8; ++c) x2.at({b, 3, c}) += 5.0f;  // change token 3 only
        Tensor y1 = attn.forward(constant(x1), Tensor(), Ctx{}, &rope).value();
        Tensor y2 = attn.forward(constant(x2), Tensor(), Ctx{}, &rope).value();
        for (int b = 0; b < 2; ++b)
            for (int c = 0; c < 8; ++c) {
                for (int t = 0; t < 3; ++t) CHECK(y2.at({b, t, c}) == doctest::Approx(y1.at({b, t, c})).epsilon(1e-6));
                CHECK(y2.at({b, 3, c}) != doctest::Approx(y1.at({b, 3, c})));
            }
        // Tables built for a longer maximum length use their first T rows.
        RopeTables long_rope = rope_tables(8, 4, 100.0f);
        CHECK(max_abs_diff(attn.forward(constant(x1), Tensor(), Ctx{}, &long_rope).value(), y1) == 0.0f);
    }

    TEST_CASE("attention: padding keys do not influence real tokens; padding queries give no NaN") {
        Rng rng(36);
        CausalSelfAttention attn(8, 2, rng, 0.3f);
        // Sequence 0 left-padded (positions 0, 1), sequence 1 right-padded (position 4), and a
        // sequence that is all padding.
        IntTensor ids(Shape{3, 5}, {0, 0, 4, 2, 7, 3, 1, 5, 9, 0, 0, 0, 0, 0, 0});
        Tensor valid = valid_mask(ids);
        CHECK(valid.to_vector() == std::vector<float>{0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0});
        Tensor x1 = rand_input({3, 5, 8}, 37);
        Tensor x2 = x1.clone();
        for (int c = 0; c < 8; ++c) {
            x2.at({0, 0, c}) = 10.0f;  // rewrite the padding positions
            x2.at({0, 1, c}) = -7.0f;
            x2.at({1, 4, c}) = 3.0f;
        }
        Tensor y1 = attn.forward(constant(x1), valid, Ctx{}).value();
        Tensor y2 = attn.forward(constant(x2), valid, Ctx{}).value();
        for (int c = 0; c < 8; ++c) {
            for (int t = 2; t < 5; ++t) CHECK(y2.at({0, t, c}) == doctest::Approx(y1.at({0, t, c})).epsilon(1e-6));
            for (int t = 0; t < 4; ++t) CHECK(y2.at({1, t, c}) == doctest::Approx(y1.at({1, t, c})).epsilon(1e-6));
        }
        for (float v : y1.to_vector()) CHECK(std::isfinite(v));

        // And the gradient through padded queries is finite too (a NaN there would poison training).
        Var xv = parameter(x1);
        backward(sum(attn.forward(xv, valid, Ctx{})));
        for (float v : xv.grad().to_vector()) CHECK(std::isfinite(v));
    }

    TEST_CASE("GRU matches a hand-unrolled scalar computation") {
        Rng rng(38);
        const int B = 2, T = 3, I = 2, H = 2;
        GRU gru(I, H, rng);
        Tensor x = rand_input({B, T, I}, 39);
        Tensor y = gru.forward(constant(x)).value();  // (B, T, H)
        REQUIRE(y.shape() == (Shape{B, T, H}));
        auto W = [](const Var& v, int r, int c) { return static_cast<double>(v.value().at({r, c})); };
        auto b = [](const Var& v, int r) { return static_cast<double>(v.value().at({r})); };
        auto sigm = [](double a) { return 1.0 / (1.0 + std::exp(-a)); };
        for (int bi = 0; bi < B; ++bi) {
            double h[H] = {0.0, 0.0};
            for (int t = 0; t < T; ++t) {
                double hn[H];
                for (int k = 0; k < H; ++k) {
                    // Row k of each gate block: r = rows [0, H), z = [H, 2H), n = [2H, 3H).
                    double gi[3], gh[3];
                    for (int gate = 0; gate < 3; ++gate) {
                        int row = gate * H + k;
                        gi[gate] = b(gru.bias_ih, row);
                        gh[gate] = b(gru.bias_hh, row);
                        for (int i = 0; i < I; ++i) gi[gate] += W(gru.weight_ih, row, i) * x.at({bi, t, i});
                        for (int j = 0; j < H; ++j) gh[gate] += W(gru.weight_hh, row, j) * h[j];
                    }
                    double r = sigm(gi[0] + gh[0]), z = sigm(gi[1] + gh[1]);
                    double n = std::tanh(gi[2] + r * gh[2]);
                    hn[k] = (1.0 - z) * n + z * h[k];
                }
                for (int k = 0; k < H; ++k) {
                    h[k] = hn[k];
                    CHECK(y.at({bi, t, k}) == doctest::Approx(h[k]).epsilon(1e-5));
                }
            }
        }
        const float bound = 1.0f / std::sqrt(static_cast<float>(H));  // PyTorch's init range
        for (float w : gru.weight_hh.value().to_vector()) CHECK(std::abs(w) <= bound);
    }

    TEST_CASE("Dropout: identity in eval and for p = 0; seeded; keeps the expectation") {
        Dropout drop(0.3f);
        Var x = constant(Tensor::ones(Shape{200, 500}));
        CHECK(drop.forward(x, Ctx{}).node() == x.node());  // eval: the very same Var
        Rng r0(1);
        CHECK(Dropout(0.0f).forward(x, Ctx{true, &r0}).node() == x.node());

        Rng ra(42), rb(42), rc(43);
        Tensor a = drop.forward(x, Ctx{true, &ra}).value();
        Tensor b = drop.forward(x, Ctx{true, &rb}).value();
        Tensor c = drop.forward(x, Ctx{true, &rc}).value();
        CHECK(max_abs_diff(a, b) == 0.0f);  // same seed, same mask
        CHECK(max_abs_diff(a, c) > 0.0f);
        {  // the same mask with one and with two threads
            const int saved = tt::num_threads();
            Rng r1(42), r2(42);
            tt::set_num_threads(1);
            Tensor one = drop.forward(x, Ctx{true, &r1}).value();
            tt::set_num_threads(2);
            Tensor two = drop.forward(x, Ctx{true, &r2}).value();
            tt::set_num_threads(saved);
            CHECK(max_abs_diff(one, a) == 0.0f);
            CHECK(max_abs_diff(two, a) == 0.0f);
        }
        int64_t zeros = 0;
        for (float v : a.to_vector()) {
            if (v == 0.0f)
                ++zeros;
            else
                CHECK(v == doctest::Approx(1.0 / 0.7));
        }
        const double n = static_cast<double>(a.numel());
        CHECK(static_cast<double>(zeros) / n == doctest::Approx(0.3).epsilon(0.02));
        CHECK(tt::sum_all(a) / n == doctest::Approx(1.0).epsilon(0.01));  // E[out] = x

        // The mask is a constant: the gradient is the same mask.
        Var p = parameter(Tensor::ones(Shape{4, 4}));
        Rng rd(7), re(7);
        Tensor mask = drop.forward(constant(Tensor::ones(Shape{4, 4})), Ctx{true, &rd}).value();
        backward(sum(drop.forward(p, Ctx{true, &re})));
        CHECK(max_abs_diff(p.grad(), mask) == 0.0f);
        CHECK_THROWS_AS(drop.forward(x, Ctx{true, nullptr}), std::invalid_argument);
        CHECK_THROWS_AS(Dropout(1.0f), std::invalid_argument);
    }

    TEST_CASE("Transformer block: parameter names, dropout only in training, causal end to end") {
        TransformerBlockConfig cfg{.dim = 8, .n_heads = 2, .ffn_hidden = 16, .ffn = FfnKind::PointwiseReLU,
                                   .norm = NormKind::LayerNorm, .norm_eps = 1e-8f, .dropout = 0.5f};
        Rng rng(40);
        TransformerBlock block(cfg, rng);
        ParamList params;
        block.parameters(params, "blocks.0.");
        std::vector<std::string> names;
        for (const auto& [name, v] : params) names.push_back(name);
        CHECK(names == std::vector<std::string>{
                           "blocks.0.seq_norm.weight", "blocks.0.seq_norm.bias", "blocks.0.attn.q_proj.weight",
                           "blocks.0.attn.q_proj.bias", "blocks.0.attn.k_proj.weight", "blocks.0.attn.k_proj.bias",
                           "blocks.0.attn.v_proj.weight", "blocks.0.attn.v_proj.bias", "blocks.0.attn.o_proj.weight",
                           "blocks.0.attn.o_proj.bias", "blocks.0.ffn_norm.weight", "blocks.0.ffn_norm.bias",
                           "blocks.0.ffn.fc1.weight", "blocks.0.ffn.fc1.bias", "blocks.0.ffn.fc2.weight",
                           "blocks.0.ffn.fc2.bias"});

        Tensor x1 = rand_input({1, 4, 8}, 41), x2 = x1.clone();
        for (int c = 0; c < 8; ++c) x2.at({0, 3, c}) -= 2.0f;
        Tensor e1 = block.forward(constant(x1), Tensor(), Ctx{}).value();
        Tensor e2 = block.forward(constant(x2), Tensor(), Ctx{}).value();
        for (int t = 0; t < 3; ++t)
            for (int c = 0; c < 8; ++c) CHECK(e2.at({0, t, c}) == doctest::Approx(e1.at({0, t, c})).epsilon(1e-6));
        Rng d1(3), d2(3);
        Tensor t1 = block.forward(constant(x1), Tensor(), Ctx{true, &d1}).value();
        Tensor t2 = block.forward(constant(x1), Tensor(), Ctx{true, &d2}).value();
        CHECK(max_abs_diff(t1, t2) == 0.0f);
        CHECK(max_abs_diff(t1, e1) > 1e-3f);

        TransformerBlockConfig swiglu_cfg{.dim = 8, .n_heads = 4, .ffn_hidden = 16};
        TransformerBlock tb(swiglu_cfg, rng);
        ParamList p2;
        tb.parameters(p2, "");
        CHECK(p2.size() == 1 + 8 + 1 + 3);
        CHECK(p2.back().first == "ffn.down_proj.weight");
    }
}
