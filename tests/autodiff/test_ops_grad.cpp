// tests/autodiff/test_ops_grad.cpp — every differentiable op against finite differences, first
// order and second order (Hessian-vector products through nested grad(create_graph=true)).
#include <doctest/doctest.h>

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
        {"tril", [](V x) { return square(tril(x[0])); }, {rand_input({2, 4, 4}, 44)}},
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
}
