// tests/autodiff/test_ops_grad.cpp — every differentiable op against finite differences, first
// order and second order (Hessian-vector products through nested grad(create_graph=true)).
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/parallel.hpp"
#include "tests/gradcheck.hpp"

using namespace tt;
using namespace tt::ad;
using tt::testing::check_gradients;
using tt::testing::check_second_order;
using tt::testing::rand_input;

namespace {

struct OpCase {
    const char* name;
    tt::testing::Fn f;
    std::vector<Tensor> inputs;
    std::vector<bool> diff = {};
};

std::vector<OpCase> op_cases() {
    IntTensor ids(Shape{2, 3}, {1, 0, 3, 3, 2, 1});
    IntTensor targets(Shape{5}, {0, 3, -1, 6, 2});
    Tensor cos = Tensor::empty(Shape{3, 2}), sin = Tensor::empty(Shape{3, 2});
    for (int t = 0; t < 3; ++t)
        for (int j = 0; j < 2; ++j) {
            cos.at({t, j}) = std::cos(0.7f * static_cast<float>(t) * static_cast<float>(j + 1));
            sin.at({t, j}) = std::sin(0.7f * static_cast<float>(t) * static_cast<float>(j + 1));
        }
    Tensor mask = Tensor::from(Shape{1, 4}, {0, 1, 0, 0});
    Tensor cond = Tensor::from(Shape{3, 1}, {1, 0, 1});
    Tensor labels = Tensor::from(Shape{2, 3}, {1, 0, 0, 1, 1, 0});
    using V = const std::vector<Var>&;
    return {
        {"add broadcast", [](V x) { return add(x[0], x[1]); }, {rand_input({2, 3, 4}, 1), rand_input({3, 1}, 2)}},
        {"sub broadcast", [](V x) { return sub(x[0], x[1]); }, {rand_input({4}, 3), rand_input({2, 3, 4}, 4)}},
        {"mul broadcast", [](V x) { return mul(x[0], x[1]); }, {rand_input({2, 3, 4}, 5), rand_input({1, 3, 1}, 6)}},
        {"mul self", [](V x) { return mul(x[0], x[0]); }, {rand_input({3, 4}, 7)}},
        {"div", [](V x) { return div(x[0], x[1]); }, {rand_input({3, 4}, 8), rand_input({3, 4}, 9, true)}},
        // b is chosen so that no a - b lies within eps of 0 (a tie would make finite differences meaningless)
        {"maximum", [](V x) { return maximum(x[0], x[1]); }, {rand_input({3, 4}, 10), Tensor::from(Shape{4}, {0.3f, -0.8f, 1.1f, 0.05f})}},
        {"where", [cond](V x) { return where(cond, x[0], x[1]); }, {rand_input({3, 4}, 12), rand_input({3, 4}, 13)}},
        {"add scalar", [](V x) { return add(x[0], 1.5f); }, {rand_input({5}, 14)}},
        {"mul scalar", [](V x) { return mul(x[0], -2.5f); }, {rand_input({5}, 15)}},
        {"pow 3", [](V x) { return pow(x[0], 3.0f); }, {rand_input({5}, 16)}},
        {"pow -0.5", [](V x) { return pow(x[0], -0.5f); }, {rand_input({5}, 17, true)}},
        {"neg", [](V x) { return neg(x[0]); }, {rand_input({5}, 18)}},
        {"exp", [](V x) { return exp(x[0]); }, {rand_input({2, 5}, 19)}},
        {"log", [](V x) { return log(x[0]); }, {rand_input({2, 5}, 20, true)}},
        {"sqrt", [](V x) { return sqrt(x[0]); }, {rand_input({2, 5}, 21, true)}},
        {"rsqrt", [](V x) { return rsqrt(x[0]); }, {rand_input({2, 5}, 22, true)}},
        {"square", [](V x) { return square(x[0]); }, {rand_input({2, 5}, 23)}},
        {"tanh", [](V x) { return tanh(x[0]); }, {rand_input({2, 5}, 24)}},
        {"sigmoid", [](V x) { return sigmoid(x[0]); }, {rand_input({2, 5}, 25)}},
        {"relu", [](V x) { return relu(x[0]); }, {rand_input({2, 5}, 26)}},
        {"silu", [](V x) { return silu(x[0]); }, {rand_input({2, 5}, 67)}},
        {"silu_grad", [](V x) { return silu_grad(x[0]); }, {rand_input({2, 5}, 68)}},
        {"layer_normalize", [](V x) { return layer_normalize(x[0], 1e-5f); }, {rand_input({3, 6}, 69)}},
        {"rms_normalize", [](V x) { return rms_normalize(x[0], 1e-5f); }, {rand_input({3, 6}, 70)}},
        {"sum axis", [](V x) { return exp(sum(x[0], 1)); }, {rand_input({2, 3, 4}, 27)}},
        {"sum keepdim", [](V x) { return mul(sum(x[0], -1, true), x[0]); }, {rand_input({2, 3, 4}, 28)}},
        {"sum all", [](V x) { return square(sum(x[0])); }, {rand_input({2, 3}, 29)}},
        {"mean axis", [](V x) { return square(mean(x[0], 0)); }, {rand_input({3, 4}, 30)}},
        {"mean all", [](V x) { return exp(mean(x[0])); }, {rand_input({3, 4}, 31)}},
        {"max axis", [](V x) { return max(x[0], 1); }, {rand_input({3, 5}, 32)}},
        {"broadcast_to", [](V x) { return square(broadcast_to(x[0], Shape{2, 3, 4})); }, {rand_input({3, 1}, 33)}},
        {"sum_to", [](V x) { return square(sum_to(x[0], Shape{3, 1})); }, {rand_input({2, 3, 4}, 34)}},
        {"reshape", [](V x) { return mul(reshape(x[0], Shape{4, 3}), x[1]); }, {rand_input({2, 6}, 35), rand_input({4, 3}, 36)}},
        {"transpose", [](V x) { return mul(transpose(x[0], 0, 2), x[1]); }, {rand_input({2, 3, 4}, 37), rand_input({4, 3, 2}, 38)}},
        {"permute", [](V x) { return square(permute(x[0], {2, 0, 1})); }, {rand_input({2, 3, 4}, 39)}},
        {"slice", [](V x) { return square(slice(x[0], 1, 1, 3)); }, {rand_input({2, 4, 3}, 40)}},
        {"pad_slice", [](V x) { return square(pad_slice(x[0], Shape{2, 5}, 1, 2)); }, {rand_input({2, 2}, 41)}},
        {"concat", [](V x) { return square(concat({x[0], x[1]}, -1)); }, {rand_input({2, 3}, 42), rand_input({2, 2}, 43)}},
        {"rows", [](V x) { return square(rows(x[0], 1, 3)); }, {rand_input({4, 3}, 73)}},
        {"tril", [](V x) { return square(tril(x[0])); }, {rand_input({2, 4, 4}, 44)}},
        {"tril fill", [](V x) { return mul(tril(x[0], -1, -3.0f), x[0]); }, {rand_input({2, 4, 4}, 76)}},
        {"masked_fill", [mask](V x) { return square(masked_fill(x[0], mask, -5.0f)); }, {rand_input({3, 4}, 45)}},
        {"matmul", [](V x) { return matmul(x[0], x[1]); }, {rand_input({3, 4}, 46), rand_input({4, 5}, 47)}},
        {"matmul ta", [](V x) { return matmul(x[0], x[1], true, false); }, {rand_input({4, 3}, 48), rand_input({4, 5}, 49)}},
        {"matmul tb", [](V x) { return matmul(x[0], x[1], false, true); }, {rand_input({3, 4}, 50), rand_input({5, 4}, 51)}},
        {"matmul ta tb", [](V x) { return matmul(x[0], x[1], true, true); }, {rand_input({4, 3}, 52), rand_input({5, 4}, 53)}},
        {"matmul batched", [](V x) { return matmul(x[0], x[1]); }, {rand_input({2, 3, 4}, 54), rand_input({2, 4, 2}, 55)}},
        {"matmul shared b", [](V x) { return matmul(x[0], x[1]); }, {rand_input({2, 3, 4}, 56), rand_input({4, 2}, 57)}},
        {"matmul x·x", [](V x) { return matmul(x[0], x[0], false, true); }, {rand_input({3, 4}, 58)}},
        {"gather_rows", [ids](V x) { return square(gather_rows(x[0], ids)); }, {rand_input({4, 3}, 59)}},
        {"scatter_add_rows", [ids](V x) { return square(scatter_add_rows(x[0], ids, 5)); }, {rand_input({2, 3, 2}, 60)}},
        {"softmax", [](V x) { return softmax(x[0]); }, {rand_input({3, 5}, 61)}},
        {"log_softmax", [](V x) { return log_softmax(x[0]); }, {rand_input({3, 5}, 62)}},
        {"cross_entropy", [targets](V x) { return cross_entropy(x[0], targets); }, {rand_input({5, 7}, 63)}},
        {"bce_with_logits", [labels](V x) { return bce_with_logits(x[0], labels); }, {rand_input({2, 3}, 64)}},
        {"rope", [cos, sin](V x) { return square(rope(x[0], cos, sin)); }, {rand_input({2, 3, 4}, 65)}},
    };
}

}  // namespace

TEST_SUITE("autodiff/ops") {
    TEST_CASE("first-order gradients match central finite differences") {
        for (const OpCase& c : op_cases()) {
            CAPTURE(c.name);
            check_gradients(c.name, c.f, c.inputs, c.diff);
        }
    }

    TEST_CASE("second-order: Hessian-vector products from nested grad match finite differences") {
        for (const OpCase& c : op_cases()) {
            CAPTURE(c.name);
            check_second_order(c.name, c.f, c.inputs, c.diff);
        }
    }

    TEST_CASE("fused cross_entropy equals log_softmax + pick, to second order") {
        // Rows 2 and 5 are ignored (target -1). Squaring the loss makes the incoming gradient g of
        // the fused backward depend on x, so its d/dg path is exercised in the second order too.
        IntTensor targets(Shape{6}, {0, 3, -1, 6, 2, -1});
        const int64_t n = 6, v = 7;
        Tensor pick = Tensor::zeros(Shape{n, v});  // onehot(t) / count
        for (int64_t i = 0; i < n; ++i)
            if (targets[i] >= 0) pick.at({i, targets[i]}) = 1.0f / 4.0f;
        auto reference = [pick](const std::vector<Var>& x) { return neg(sum(mul(log_softmax(x[0]), constant(pick)))); };
        auto fused = [targets](const std::vector<Var>& x) { return cross_entropy(x[0], targets); };
        const std::vector<Tensor> logits = {rand_input({n, v}, 66)};
        tt::testing::check_same_function("cross_entropy", fused, reference, logits);
        tt::testing::check_same_function(
            "cross_entropy squared", [&](const std::vector<Var>& x) { return square(fused(x)); },
            [&](const std::vector<Var>& x) { return square(reference(x)); }, logits);
        check_second_order("cross_entropy squared", [&](const std::vector<Var>& x) { return square(fused(x)); }, logits);
    }

    TEST_CASE("causal_softmax equals softmax(tril(mul(x, scale), 0, -1e9)), to second order") {
        using Vs = const std::vector<Var>&;
        const std::vector<Tensor> in = {rand_input({2, 7, 7}, 79)};
        tt::testing::check_same_function(
            "causal_softmax", [](Vs v) { return causal_softmax(v[0], 0.5f); },
            [](Vs v) { return softmax(tril(mul(v[0], 0.5f), 0, -1e9f)); }, in);
    }

    TEST_CASE("linear_bias equals add(matmul(x, W, false, true), b), to second order") {
        using Vs = const std::vector<Var>&;
        const std::vector<Tensor> in = {rand_input({2, 5, 7}, 76), rand_input({3, 7}, 77), rand_input({3}, 78)};
        tt::testing::check_same_function(
            "linear_bias", [](Vs v) { return linear_bias(v[0], v[1], v[2]); },
            [](Vs v) { return add(matmul(v[0], v[1], false, true), v[2]); }, in);
        tt::testing::check_same_function(
            "linear_bias squared", [](Vs v) { return square(linear_bias(v[0], v[1], v[2])); },
            [](Vs v) { return square(add(matmul(v[0], v[1], false, true), v[2])); }, in);
    }

    TEST_CASE("fused silu and normalisations equal their compositions, to second order") {
        using Vs = const std::vector<Var>&;
        const std::vector<Tensor> x = {tt::add_scalar(rand_input({4, 9}, 71), 0.7f)};
        tt::testing::check_same_function(
            "silu", [](Vs v) { return silu(v[0]); }, [](Vs v) { return mul(v[0], sigmoid(v[0])); }, x);
        tt::testing::check_same_function(
            "swiglu", [](Vs v) { return swiglu(v[0], v[1]); }, [](Vs v) { return mul(silu(v[0]), v[1]); },
            {x[0], rand_input({4, 9}, 82)});
        tt::testing::check_same_function(
            "layer_normalize", [](Vs v) { return layer_normalize(v[0], 1e-5f); },
            [](Vs v) {
                Var xc = sub(v[0], mean(v[0], -1, true));
                return mul(xc, rsqrt(add(mean(square(xc), -1, true), 1e-5f)));
            },
            x);
        tt::testing::check_same_function(
            "rms_normalize", [](Vs v) { return rms_normalize(v[0], 1e-5f); },
            [](Vs v) { return mul(v[0], rsqrt(add(mean(square(v[0]), -1, true), 1e-5f))); }, x);
        const std::vector<Tensor> xgb = {x[0], rand_input({9}, 73), rand_input({9}, 74)};
        tt::testing::check_same_function(
            "layer_normalize affine", [](Vs v) { return layer_normalize(v[0], 1e-5f, v[1], v[2]); },
            [](Vs v) { return add(mul(layer_normalize(v[0], 1e-5f), v[1]), v[2]); }, xgb);
        // per group of rows: (G,1,C) against (..., G, K, C), the TTT layer's per-head LayerNorm
        const std::vector<Tensor> xgb3 = {rand_input({2, 3, 4, 5}, 79), rand_input({3, 1, 5}, 80), rand_input({3, 1, 5}, 81)};
        tt::testing::check_same_function(
            "layer_normalize affine per group", [](Vs v) { return layer_normalize(v[0], 1e-5f, v[1], v[2]); },
            [](Vs v) { return add(mul(layer_normalize(v[0], 1e-5f), v[1]), v[2]); }, xgb3);
        tt::testing::check_same_function(
            "rms_normalize affine", [](Vs v) { return rms_normalize(v[0], 1e-5f, v[1]); },
            [](Vs v) { return mul(rms_normalize(v[0], 1e-5f), v[1]); }, {x[0], xgb[1]});
        // A third derivative goes through the VJP op's own rule (vjp_of on its composite).
        Var w = constant(rand_input({4, 9}, 72));
        auto third = [&](bool fused) {
            Var p = parameter(x[0]);
            Var y = fused ? layer_normalize(p, 1e-5f)
                          : mul(sub(p, mean(p, -1, true)), rsqrt(add(mean(square(sub(p, mean(p, -1, true))), -1, true), 1e-5f)));
            Var g1 = grad(sum(mul(y, w)), p, {.create_graph = true});
            Var g2 = grad(sum(mul(g1, g1)), p, {.create_graph = true});
            return grad(sum(mul(g2, w)), p).value();
        };
        const Tensor a = third(true), b = third(false);
        float scale = 1.0f;
        for (float v : b.to_vector()) scale = std::max(scale, std::abs(v));
        CHECK(tt::max_abs_diff(a, b) <= 1e-3f * scale);
    }

    TEST_CASE("fused linear_cross_entropy equals cross_entropy(matmul), to second order, any thread count") {
        // 300 rows: two groups of the table's gradient (256 rows each) and a partial block of 64.
        const int64_t n = 300, v = 37, c = 8;
        std::vector<int32_t> t(static_cast<std::size_t>(n));
        for (int64_t i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = i % 7 == 3 ? 0 : static_cast<int32_t>((i * 5) % v);
        const IntTensor targets(Shape{n}, t);  // 0 = ignored (padding)
        auto fused = [targets](const std::vector<Var>& x) { return linear_cross_entropy(x[0], x[1], targets, 0); };
        auto reference = [targets](const std::vector<Var>& x) {
            return cross_entropy(matmul(x[0], x[1], false, true), targets, 0);
        };
        const std::vector<Tensor> in = {rand_input({n, c}, 74), rand_input({v, c}, 75)};
        tt::testing::check_same_function("linear_cross_entropy", fused, reference, in);
        tt::testing::check_same_function(
            "linear_cross_entropy squared", [&](const std::vector<Var>& x) { return square(fused(x)); },
            [&](const std::vector<Var>& x) { return square(reference(x)); }, in);
        // The same bits with 1 and 2 threads (the table's gradient is summed over fixed row groups).
        const int saved = tt::num_threads();
        std::vector<std::vector<float>> got;
        for (int threads : {1, 2}) {
            tt::set_num_threads(threads);
            Var h = parameter(in[0]), e = parameter(in[1]);
            Var loss = fused({h, e});
            std::vector<Var> g = grad({loss}, {h, e});
            got.push_back({loss.item()});
            for (const Var& gi : g)
                for (float f : gi.value().to_vector()) got.back().push_back(f);
        }
        tt::set_num_threads(saved);
        CHECK(got[0] == got[1]);
    }

    TEST_CASE("analytic higher derivatives") {
        // d/dx sin-like: tanh' = 1 - tanh², tanh'' = -2 tanh (1 - tanh²); exp^(n) = exp.
        Var x = parameter(Tensor::from(Shape{3}, {-0.7f, 0.1f, 1.3f}));
        Var y = sum(tanh(x));
        Var d1 = grad(y, x, {.create_graph = true});
        Var d2 = grad(sum(d1), x, {.create_graph = true});
        Var d3 = grad(sum(d2), x);
        for (int i = 0; i < 3; ++i) {
            double t = std::tanh(static_cast<double>(x.value().data()[i]));
            CHECK(d1.value().data()[i] == doctest::Approx(1 - t * t).epsilon(1e-5));
            CHECK(d2.value().data()[i] == doctest::Approx(-2 * t * (1 - t * t)).epsilon(1e-4));
            CHECK(d3.value().data()[i] == doctest::Approx(-2 * (1 - t * t) * (1 - 3 * t * t)).epsilon(1e-3));
        }
        Var e = parameter(Tensor::from(Shape{2}, {0.3f, -1.1f}));
        Var g = sum(exp(e));
        for (int order = 0; order < 4; ++order) g = sum(grad(g, e, {.create_graph = true}));
        CHECK(g.item() == doctest::Approx(std::exp(0.3) + std::exp(-1.1)).epsilon(1e-5));
    }
    TEST_CASE("exact GELU: values against std::erf, first and second derivatives") {
        Tensor x = Tensor::empty(Shape{81});
        for (int64_t i = 0; i < 81; ++i) x.data()[i] = -8.0f + 0.2f * static_cast<float>(i);
        Tensor y = gelu_erf(constant(x)).value();
        for (int64_t i = 0; i < 81; ++i) {
            const double t = x.data()[i];
            CHECK(y.data()[i] == doctest::Approx(0.5 * t * (1.0 + std::erf(t / std::sqrt(2.0)))).epsilon(1e-6));
        }
        Rng rng(4);
        const std::vector<Tensor> xs = {Tensor::randn(Shape{3, 5}, rng, 0.0f, 1.5f)};
        auto fn = [](const std::vector<Var>& in) { return gelu_erf(in[0]); };
        testing::check_gradients("gelu_erf", fn, xs);
        testing::check_second_order("gelu_erf", fn, xs);
    }

}
