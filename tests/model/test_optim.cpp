// tests/model/test_optim.cpp — Adam/AdamW against a hand computation of the update, convergence on
// a quadratic, decoupled weight decay, skipped parameters, state save/restore, gradient clipping
// and the learning-rate schedule.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "model/layers.hpp"
#include "model/optim.hpp"
#include "tests/gradcheck.hpp"

using namespace tt;
using namespace tt::ad;
using namespace tt::model;

namespace {

// The textbook Adam update for one coordinate, in double (Kingma & Ba, Alg. 1, torch's eps placement).
struct AdamRef {
    double m = 0, v = 0;
    int t = 0;
    double step(double theta, double g, const AdamConfig& c) {
        if (!c.decoupled_weight_decay) g += c.weight_decay * theta;
        else theta *= 1.0 - static_cast<double>(c.lr) * c.weight_decay;
        ++t;
        m = c.beta1 * m + (1 - c.beta1) * g;
        v = c.beta2 * v + (1 - c.beta2) * g * g;
        double m_hat = m / (1 - std::pow(c.beta1, t));
        double v_hat = v / (1 - std::pow(c.beta2, t));
        return theta - c.lr * m_hat / (std::sqrt(v_hat) + c.eps);
    }
};

}  // namespace

TEST_SUITE("model/optim") {
    TEST_CASE("Adam: three steps match the hand computation (bias correction included)") {
        for (bool decoupled : {false, true}) {
            CAPTURE(decoupled);
            AdamConfig cfg{.lr = 0.05f, .beta1 = 0.8f, .beta2 = 0.95f, .eps = 1e-6f, .weight_decay = 0.1f,
                           .decoupled_weight_decay = decoupled};
            Var p = parameter(Tensor::from(Shape{2, 3}, {1.0f, -2.0f, 0.5f, 0.0f, 3.0f, -0.25f}));
            Adam opt({{"p", p}}, cfg);
            std::vector<AdamRef> ref(6);
            std::vector<double> theta(6);
            for (int i = 0; i < 6; ++i) theta[static_cast<std::size_t>(i)] = p.value().data()[i];
            const std::vector<std::vector<float>> grads{
                {0.5f, 0.1f, -1.0f, 2.0f, 0.0f, -0.3f}, {0.2f, -0.4f, -0.5f, 1.0f, 0.01f, 0.3f}, {-1.0f, 0.3f, 0.0f, 0.5f, 2.0f, 0.1f}};
            for (const auto& g : grads) {
                p.grad() = Tensor::from(Shape{2, 3}, g);
                opt.step();
                for (std::size_t i = 0; i < 6; ++i) {
                    theta[i] = ref[i].step(theta[i], g[i], cfg);
                    CHECK(p.value().data()[i] == doctest::Approx(theta[i]).epsilon(1e-5));
                }
            }
            // The state is visible by name, with torch's names.
            NamedTensors st = opt.state();
            REQUIRE(st.size() == 3);
            CHECK(st[0].first == "p.exp_avg");
            CHECK(st[1].first == "p.exp_avg_sq");
            CHECK(st[2].first == "p.step");
            CHECK(st[2].second.item() == 3.0f);
            CHECK(st[0].second.data()[3] == doctest::Approx(ref[3].m).epsilon(1e-5));
            CHECK(st[1].second.data()[3] == doctest::Approx(ref[3].v).epsilon(1e-5));
        }
    }

    TEST_CASE("Adam on a quadratic converges to the minimum (through backward())") {
        Var theta = parameter(Tensor::from(Shape{4}, {5.0f, -3.0f, 0.0f, 10.0f}));
        Tensor target = Tensor::from(Shape{4}, {1.0f, 2.0f, -1.0f, 0.5f});
        Tensor curvature = Tensor::from(Shape{4}, {1.0f, 10.0f, 0.1f, 3.0f});  // badly conditioned on purpose
        Adam opt({{"theta", theta}}, {.lr = 0.1f});
        float first_loss = 0, loss_value = 0;
        for (int it = 0; it < 1500; ++it) {
            opt.zero_grad();
            Var loss = sum(mul(square(sub(theta, constant(target))), constant(curvature)));
            if (it == 0) first_loss = loss.item();
            loss_value = loss.item();
            backward(loss);
            opt.step();
        }
        CHECK(loss_value < 1e-4f * first_loss);
        for (int i = 0; i < 4; ++i) CHECK(theta.value().data()[i] == doctest::Approx(target.data()[i]).epsilon(1e-2));
    }

    TEST_CASE("AdamW decays decoupled from the gradient; Adam's L2 goes through the moments") {
        const float lr = 0.1f, wd = 0.5f;
        Var a = parameter(Tensor::from(Shape{2}, {2.0f, -4.0f}));
        Var b = parameter(Tensor::from(Shape{2}, {2.0f, -4.0f}));
        AdamW adamw({{"a", a}}, {.lr = lr, .weight_decay = wd});
        Adam adam_l2({{"b", b}}, {.lr = lr, .weight_decay = wd});
        CHECK(adamw.config().decoupled_weight_decay);
        CHECK(!adam_l2.config().decoupled_weight_decay);
        // A zero (but defined) gradient: AdamW only shrinks θ by (1 − lr·wd), exactly.
        a.grad() = Tensor::zeros(Shape{2});
        b.grad() = Tensor::zeros(Shape{2});
        adamw.step();
        adam_l2.step();
        CHECK(a.value().data()[0] == doctest::Approx(2.0 * (1 - lr * wd)));
        CHECK(a.value().data()[1] == doctest::Approx(-4.0 * (1 - lr * wd)));
        // Adam + L2: g = wd·θ is normalised by sqrt(v), so both coordinates move by ≈ lr.
        CHECK(b.value().data()[0] == doctest::Approx(2.0 - lr).epsilon(1e-4));
        CHECK(b.value().data()[1] == doctest::Approx(-4.0 + lr).epsilon(1e-4));
        // AdamW's decay does not depend on the gradient's scale: scaling g by 1000 leaves the
        // update unchanged (Adam is scale-invariant, the decay term is separate).
        Var c = parameter(Tensor::from(Shape{1}, {3.0f})), d = parameter(Tensor::from(Shape{1}, {3.0f}));
        AdamW oc({{"c", c}}, {.lr = lr, .weight_decay = wd}), od({{"d", d}}, {.lr = lr, .weight_decay = wd});
        c.grad() = Tensor::from(Shape{1}, {0.001f});
        d.grad() = Tensor::from(Shape{1}, {1.0f});
        oc.step();
        od.step();
        CHECK(c.value().item() == doctest::Approx(d.value().item()).epsilon(1e-5));
    }

    TEST_CASE("parameters without a gradient are skipped and keep step 0") {
        Var used = parameter(Tensor::ones(Shape{3}));
        Var unused = parameter(Tensor::ones(Shape{2, 2}));
        Adam opt({{"used", used}, {"unused", unused}}, {.lr = 0.1f, .weight_decay = 0.1f});
        backward(sum(mul(used, used)));
        CHECK(!unused.grad().defined());
        opt.step();
        CHECK(used.value().data()[0] < 1.0f);
        CHECK(max_abs_diff(unused.value(), Tensor::ones(Shape{2, 2})) == 0.0f);
        NamedTensors st = opt.state();
        CHECK(st[2].second.item() == 1.0f);  // used.step
        CHECK(st[5].second.item() == 0.0f);  // unused.step
        opt.zero_grad();
        CHECK(!used.grad().defined());
    }

    TEST_CASE("state save/restore continues bit-exactly") {
        Rng rng(3);
        Linear lin(4, 2, rng, 0.5f);
        Tensor x = tt::testing::rand_input({5, 4}, 4);
        auto train_step = [&](Adam& opt, const Linear& l) {
            opt.zero_grad();
            backward(mean(square(l.forward(constant(x)))));
            opt.step();
        };
        ParamList params;
        lin.parameters(params, "lin.");
        Adam opt(params, {.lr = 0.01f});
        for (int i = 0; i < 3; ++i) train_step(opt, lin);

        // "Checkpoint": deep copies of parameters and optimizer state.
        NamedTensors saved;
        for (const auto& [name, t] : opt.state()) saved.emplace_back(name, t.clone());
        Linear copy = lin;
        copy.weight = parameter(lin.weight.value().clone());
        copy.bias = parameter(lin.bias.value().clone());

        for (int i = 0; i < 2; ++i) train_step(opt, lin);

        ParamList copy_params;
        copy.parameters(copy_params, "lin.");
        Adam restored(copy_params, {.lr = 0.01f});
        restored.load_state(saved);
        for (int i = 0; i < 2; ++i) train_step(restored, copy);
        CHECK(max_abs_diff(copy.weight.value(), lin.weight.value()) == 0.0f);
        CHECK(max_abs_diff(copy.bias.value(), lin.bias.value()) == 0.0f);

        NamedTensors bad = saved;
        bad.pop_back();
        CHECK_THROWS_AS(restored.load_state(bad), std::invalid_argument);
    }

    TEST_CASE("clip_grad_norm scales all gradients together and returns the norm before clipping") {
        Var a = parameter(Tensor::zeros(Shape{2}));
        Var b = parameter(Tensor::zeros(Shape{1}));
        Var skipped = parameter(Tensor::zeros(Shape{3}));  // no gradient: ignored
        ParamList params{{"a", a}, {"b", b}, {"skipped", skipped}};
        a.grad() = Tensor::from(Shape{2}, {3.0f, 4.0f});
        b.grad() = Tensor::from(Shape{1}, {12.0f});
        float norm = clip_grad_norm(params, 6.5f);  // sqrt(9 + 16 + 144) = 13
        CHECK(norm == doctest::Approx(13.0f));
        CHECK(a.grad().data()[0] == doctest::Approx(1.5f).epsilon(1e-5));
        CHECK(a.grad().data()[1] == doctest::Approx(2.0f).epsilon(1e-5));
        CHECK(b.grad().data()[0] == doctest::Approx(6.0f).epsilon(1e-5));
        CHECK(clip_grad_norm(params, 6.5f) == doctest::Approx(6.5f).epsilon(1e-5));
        // Below the threshold: untouched.
        CHECK(clip_grad_norm(params, 100.0f) == doctest::Approx(6.5f).epsilon(1e-5));
        CHECK(b.grad().data()[0] == doctest::Approx(6.0f).epsilon(1e-5));
        CHECK(!skipped.grad().defined());
    }

    TEST_CASE("learning-rate schedule: linear warm-up, then constant or cosine") {
        LrSchedule constant_lr{.base_lr = 1e-3f, .warmup_steps = 4};
        CHECK(constant_lr.at(0) == doctest::Approx(0.25e-3f));
        CHECK(constant_lr.at(3) == doctest::Approx(1e-3f));
        CHECK(constant_lr.at(1000) == doctest::Approx(1e-3f));
        CHECK(LrSchedule{.base_lr = 2e-3f}.at(0) == doctest::Approx(2e-3f));  // no warm-up

        LrSchedule cosine{.base_lr = 1.0f, .warmup_steps = 10, .total_steps = 110,
                          .decay = LrSchedule::Decay::Cosine, .min_lr_ratio = 0.1f};
        CHECK(cosine.at(4) == doctest::Approx(0.5f));
        CHECK(cosine.at(10) == doctest::Approx(1.0f));
        CHECK(cosine.at(60) == doctest::Approx(0.55f));  // half way: 0.1 + 0.9 · 0.5
        CHECK(cosine.at(35) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi / 4))));
        CHECK(cosine.at(110) == doctest::Approx(0.1f));
        CHECK(cosine.at(500) == doctest::Approx(0.1f));
        for (int64_t s = 11; s < 110; ++s) CHECK(cosine.at(s) <= cosine.at(s - 1));
    }

    TEST_CASE("end to end: Adam + clipping trains a small GRU + Linear regressor") {
        Rng rng(5);
        GRU gru(3, 8, rng);
        Linear head(8, 1, rng, 0.3f);
        ParamList params;
        gru.parameters(params, "gru.");
        head.parameters(params, "head.");
        Tensor x = tt::testing::rand_input({8, 5, 3}, 6);
        // Target: the sum of the first feature over time, per sequence (needs memory).
        Tensor y = Tensor::zeros(Shape{8, 1});
        for (int b = 0; b < 8; ++b)
            for (int t = 0; t < 5; ++t) y.at({b, 0}) += 0.3f * x.at({b, t, 0});
        AdamW opt(params, {.lr = 0.02f, .weight_decay = 0.0f});
        auto loss_fn = [&] {
            Var h = gru.forward(constant(x));                         // (8, 5, 8)
            Var last = reshape(slice(h, 1, 4, 5), Shape{8, 8});      // (8, 8)
            return mean(square(sub(head.forward(last), constant(y))));
        };
        const float initial = loss_fn().item();
        for (int it = 0; it < 150; ++it) {
            opt.zero_grad();
            backward(loss_fn());
            clip_grad_norm(params, 1.0f);
            opt.step();
        }
        CHECK(loss_fn().item() < 0.1f * initial);
    }
}
