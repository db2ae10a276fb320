// tests/autodiff/test_engine.cpp — the tape itself: grad() vs backward(), grad mode, fan-in,
// unused inputs, meta-gradients through an inner gradient step, million-node graphs, no leaks.
#include <doctest/doctest.h>

#include <memory>

#include "tests/gradcheck.hpp"

using namespace tt;
using namespace tt::ad;

TEST_SUITE("autodiff/engine") {
    TEST_CASE("grad returns gradients and changes nothing; backward accumulates into leaves") {
        Var x = parameter(Tensor::from(Shape{3}, {1, 2, 3}));
        Var y = sum(mul(x, x));  // dy/dx = 2x
        Var g = grad(y, x);
        CHECK(!x.grad().defined());  // grad() leaves .grad alone
        CHECK(g.value().to_vector() == std::vector<float>{2, 4, 6});
        CHECK(!g.requires_grad());  // a first-order gradient records nothing
        CHECK(g.inputs().empty());

        backward(y);
        backward(y);  // twice: accumulates, as in PyTorch
        CHECK(x.grad().to_vector() == std::vector<float>{4, 8, 12});
        x.zero_grad();
        CHECK(!x.grad().defined());
    }

    TEST_CASE("backward without retain_graph gives the same gradients and frees the graph as it goes") {
        for (bool retain : {true, false}) {
            CAPTURE(retain);
            Var x = parameter(Tensor::from(Shape{3}, {1, 2, 3}));
            std::weak_ptr<Node> middle;
            Var y;
            {
                Var e = exp(x);  // held only by the graph once this scope ends
                middle = e.node_ptr();
                y = sum(mul(e, x));  // dy/dx = e^x (1 + x)
            }
            REQUIRE(!middle.expired());
            backward(y, Var(), {.retain_graph = retain});
            for (int i = 0; i < 3; ++i) {
                const double xi = x.value().data()[i];
                CHECK(x.grad().data()[i] == doctest::Approx(std::exp(xi) * (1 + xi)).epsilon(1e-5));
            }
            CHECK(middle.expired() == !retain);  // consumed: the activation is gone before y is
            CHECK(y.item() == doctest::Approx(std::exp(1.0) + 2 * std::exp(2.0) + 3 * std::exp(3.0)).epsilon(1e-5));
            backward(y, Var(), {.retain_graph = retain});  // again: accumulates, or does nothing
            CHECK(x.grad().data()[0] == doctest::Approx((retain ? 2 : 1) * std::exp(1.0) * 2).epsilon(1e-5));
        }
    }

    TEST_CASE("fan-in is summed; unused inputs get zeros of their shape") {
        Var x = parameter(Tensor::from(Shape{2}, {0.5f, -1.0f}));
        Var unused = parameter(Tensor::ones(Shape{4, 2}));
        Var y = sum(add(add(mul(x, 3.0f), exp(x)), mul(x, x)));  // x used three times
        auto g = grad({y}, {x, unused});
        for (int i = 0; i < 2; ++i) {
            float xi = x.value().data()[i];
            CHECK(g[0].value().data()[i] == doctest::Approx(3 + std::exp(xi) + 2 * xi));
        }
        CHECK(g[1].shape() == Shape{4, 2});
        CHECK(tt::sum_all(g[1].value()) == 0.0f);
    }

    TEST_CASE("slice gradients added into their region equal the zero-padded rule, bit for bit") {
        // Without create_graph the engine adds a slice's gradient into its region of the input's
        // running sum (Node::slice_axis); with create_graph it runs the rule, pad_slice + add.
        // Overlapping slices, a slice of a slice, rows() views, and dense uses of x before and
        // after the slices in creation order must all give the same floats both ways.
        Rng rng(7);
        Var x = parameter(Tensor::randn(Shape{5, 7, 3}, rng));
        Var w = parameter(Tensor::randn(Shape{7, 3}, rng));
        auto f = [&] {
            Var y = sum(mul(x, x));                                   // dense, before the slices
            for (int64_t t = 0; t < 7; ++t)                           // one step at a time, as a GRU does
                y = add(y, sum(mul(slice(x, 1, t, t + 1), slice(w, 0, t, t + 1))));
            y = add(y, sum(exp(slice(x, 1, 2, 6))));                  // overlaps the steps
            y = add(y, sum(mul(slice(slice(x, 2, 1, 3), 0, 1, 4), 0.5f)));  // a slice of a slice
            y = add(y, sum(tanh(rows(w, 3, 7))));                     // a view of rows
            y = add(y, sum(mul(exp(x), 0.25f)));                      // dense, after the slices
            return y;
        };
        Var y = f();
        auto first = grad({y}, {x, w});
        auto padded = grad({y}, {x, w}, {.create_graph = true});
        for (int i = 0; i < 2; ++i) {
            CAPTURE(i);
            REQUIRE(first[i].shape() == padded[i].shape());
            CHECK(first[i].value().to_vector() == padded[i].value().to_vector());
        }
        // And the training path (backward, graph freed as it goes) agrees too.
        Var y2 = f();
        backward(y2, Var(), {.retain_graph = false});
        CHECK(x.grad().to_vector() == first[0].value().to_vector());
        CHECK(w.grad().to_vector() == first[1].value().to_vector());
        // A gradient the caller still holds is never written into: a slice as the only consumer of
        // x, whose running sum starts as the caller's grad_output of another output.
        Var a = parameter(Tensor::randn(Shape{4, 2}, rng));
        Var s = slice(a, 0, 1, 3);
        Var go = constant(Tensor::ones(Shape{4, 2}));
        auto g = grad({a, s}, {a}, {.grad_outputs = {go, constant(Tensor::ones(Shape{2, 2}))}});
        CHECK(go.value().to_vector() == std::vector<float>(8, 1.0f));
        CHECK(g[0].value().to_vector() == std::vector<float>{1, 1, 2, 2, 2, 2, 1, 1});
    }

    TEST_CASE("no-grad guard records nothing and restores the previous mode") {
        Var x = parameter(Tensor::ones(Shape{2}));
        {
            NoGradGuard ng;
            Var y = mul(x, 2.0f);
            CHECK(!y.requires_grad());
            CHECK(y.inputs().empty());
            {
                GradModeGuard on(true);
                CHECK(mul(x, 2.0f).requires_grad());
            }
            CHECK(!grad_enabled());
        }
        CHECK(grad_enabled());
        CHECK(mul(x, 2.0f).requires_grad());
        CHECK(!mul(constant(Tensor::ones(Shape{2})), 2.0f).requires_grad());  // no parameter, no tape
    }

    TEST_CASE("sequence numbers increase in creation order") {
        Var a = parameter(Tensor::ones(Shape{1}));
        Var b = exp(a);
        Var c = add(b, a);
        CHECK(a.seq() < b.seq());
        CHECK(b.seq() < c.seq());
    }

    TEST_CASE("shape errors name the op and the shapes") {
        Var a = parameter(Tensor::ones(Shape{2, 3}));
        Var b = parameter(Tensor::ones(Shape{4, 5}));
        CHECK_THROWS_AS(add(a, b), std::invalid_argument);
        CHECK_THROWS_WITH_AS(matmul(a, b), doctest::Contains("(2, 3)"), std::invalid_argument);
        CHECK_THROWS_AS(backward(mul(a, 2.0f)), std::invalid_argument);  // non-scalar without grad_output
    }

    TEST_CASE("meta-gradient through one inner gradient step matches finite differences") {
        // The structure of TTT training: W' = W - eta * dL_inner/dW(W), loss = L_outer(W').
        // d loss / d W needs the Hessian of L_inner (second order); d loss / d eta does not.
        Tensor X = testing::rand_input({5, 3}, 101), Y = testing::rand_input({5, 2}, 102);
        Tensor X2 = testing::rand_input({4, 3}, 103), Y2 = testing::rand_input({4, 2}, 104);
        auto inner_loss = [X, Y](const std::vector<Var>& p) {  // mean squared error of tanh(X W)
            return mean(square(sub(tanh(matmul(constant(X), p[0])), constant(Y))));
        };
        testing::Fn outer = [&](const std::vector<Var>& in) {  // in = {W (3,2), eta ()}
            Var dW = inner_grad(inner_loss, {in[0]})[0];
            Var W1 = sub(in[0], mul(broadcast_to(in[1], dW.shape()), dW));
            return mean(square(sub(tanh(matmul(constant(X2), W1)), constant(Y2))));
        };
        Tensor W = testing::rand_input({3, 2}, 105);
        Tensor eta = Tensor::scalar(0.7f);
        testing::check_gradients("meta", outer, {W, eta});
        // and the meta-gradient is not the first-order (MAML-FO) approximation: the second-order
        // term is present and large here.
        Var Wv = parameter(W), ev = parameter(eta);
        Var full = grad(outer({Wv, ev}), Wv);
        Var dW = inner_grad(inner_loss, {Wv})[0];
        Var W1 = parameter(tt::sub(W, tt::mul_scalar(dW.value(), 0.7f)));
        Var first_order = grad(mean(square(sub(tanh(matmul(constant(X2), W1)), constant(Y2)))), W1);
        CHECK(tt::max_abs_diff(full.value(), first_order.value()) > 1e-3f);
        testing::check_second_order("meta second order", outer, {W, eta});
    }

    TEST_CASE("inner_grad still works under no-grad (evaluation of a TTT model)") {
        Var W = parameter(Tensor::from(Shape{2}, {1.0f, -2.0f}));
        auto loss = [](const std::vector<Var>& p) { return sum(square(p[0])); };
        NoGradGuard ng;
        Var g = inner_grad(loss, {W})[0];
        CHECK(g.value().to_vector() == std::vector<float>{2.0f, -4.0f});
        CHECK(!g.requires_grad());
    }

    TEST_CASE("a chain of 1,000,000 nodes builds, differentiates and is freed without recursion") {
        std::weak_ptr<Node> first;
        {
            Var x = parameter(Tensor::scalar(0.5f));
            Var y = x;
            for (int i = 0; i < 1000000; ++i) y = add(y, 1.0f);  // exact in float up to 2^24
            first = y.node_ptr();
            Var g = grad(y, x);
            CHECK(g.item() == 1.0f);
            CHECK(y.item() == 1000000.5f);
        }  // the whole chain is destroyed here: iteratively, by Node::~Node
        CHECK(first.expired());
    }

    TEST_CASE("second-order graphs that reuse their own output free everything") {
        // exp's rule refers to its own output (self); with create_graph the gradient graph points
        // back into the forward graph. Nothing may keep itself alive.
        std::weak_ptr<Node> out, g1, g2;
        {
            Var x = parameter(Tensor::from(Shape{3}, {0.1f, 0.2f, 0.3f}));
            Var y = sum(mul(exp(x), sigmoid(x)));
            Var d1 = grad(y, x, {.create_graph = true});
            Var d2 = grad(sum(d1), x, {.create_graph = true});
            out = y.node_ptr();
            g1 = d1.node_ptr();
            g2 = d2.node_ptr();
            CHECK(d2.requires_grad());
        }
        CHECK(out.expired());
        CHECK(g1.expired());
        CHECK(g2.expired());
    }
}
