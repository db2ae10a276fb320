// tests/gradcheck.hpp — finite-difference checks of first and second derivatives, shared by the
// autodiff and model tests (torch.autograd.gradcheck / gradgradcheck, adapted to float32).
//
// A function under test maps input Vars to an output Var of any shape. It is turned into a scalar
// L = sum(f(x) ⊙ W) with fixed random weights W, so every output element is checked.
//   first order : for each input and each coordinate (or random directions for big inputs),
//                 dL/dx·v from grad() vs (L(x+εv) − L(x−εv)) / 2ε
//   second order: the Hessian-vector product from nested grad(create_graph=true),
//                 grad(<grad(L, x), v>, x), vs (∇L(x+εv) − ∇L(x−εv)) / 2ε
// Float32 has ~7 digits, so ε = 1e-2 and tolerances of ~1e-2 relative.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autodiff/grad.hpp"
#include "autodiff/ops.hpp"

namespace tt::testing {

using Fn = std::function<ad::Var(const std::vector<ad::Var>&)>;

struct CheckOptions {
    float eps = 1e-2f;
    float rtol = 2e-2f;
    float atol = 2e-3f;
    int max_coords = 24;  // per input; beyond that, random directions
    uint64_t seed = 7;
};

inline bool close(double got, double want, const CheckOptions& o) {
    return std::abs(got - want) <= o.atol + o.rtol * std::max(std::abs(got), std::abs(want));
}

// L(x) = sum(f(x) * W) evaluated without recording (used for finite differences).
inline double eval_loss(const Fn& f, const std::vector<Tensor>& xs, const Tensor& w) {
    ad::NoGradGuard ng;
    std::vector<ad::Var> vars;
    for (const Tensor& x : xs) vars.push_back(ad::constant(x));
    Tensor y = f(vars).value();
    double s = 0.0;
    for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y.data()[i]) * w.data()[i];
    return s;
}

inline Tensor output_weights(const Fn& f, const std::vector<Tensor>& xs, uint64_t seed) {
    ad::NoGradGuard ng;
    std::vector<ad::Var> vars;
    for (const Tensor& x : xs) vars.push_back(ad::constant(x));
    Shape s = f(vars).shape();
    Rng rng(seed + 1000);
    return Tensor::randn(s, rng);
}

// Directions to probe for input i: unit coordinates for small inputs, random ones otherwise.
inline std::vector<Tensor> directions(const Tensor& x, int max_coords, Rng& rng) {
    std::vector<Tensor> dirs;
    if (x.numel() <= max_coords) {
        for (int64_t j = 0; j < x.numel(); ++j) {
            Tensor e = Tensor::zeros(x.shape());
            e.data()[j] = 1.0f;
            dirs.push_back(e);
        }
    } else {
        for (int k = 0; k < 4; ++k) dirs.push_back(Tensor::randn(x.shape(), rng));
    }
    return dirs;
}

inline double dot(const Tensor& a, const Tensor& b) {
    double s = 0;
    for (int64_t i = 0; i < a.numel(); ++i) s += static_cast<double>(a.data()[i]) * b.data()[i];
    return s;
}

inline Tensor shifted(const Tensor& x, const Tensor& v, float t) {
    Tensor y = x.clone();
    for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] += t * v.data()[i];
    return y;
}

// First-order check of every input that is marked differentiable (diff[i]).
inline void check_gradients(const std::string& name, const Fn& f, const std::vector<Tensor>& xs,
                            std::vector<bool> diff = {}, CheckOptions o = {}) {
    if (diff.empty()) diff.assign(xs.size(), true);
    Tensor w = output_weights(f, xs, o.seed);
    std::vector<ad::Var> vars;
    for (std::size_t i = 0; i < xs.size(); ++i) vars.push_back(ad::Var(xs[i], diff[i]));
    ad::Var out = f(vars);
    ad::Var loss = ad::sum(ad::mul(out, ad::constant(w)));
    std::vector<ad::Var> wrt;
    for (std::size_t i = 0; i < xs.size(); ++i)
        if (diff[i]) wrt.push_back(vars[i]);
    std::vector<ad::Var> g = ad::grad({loss}, wrt);
    Rng rng(o.seed);
    std::size_t k = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
        if (!diff[i]) continue;
        const Tensor& gi = g[k++].value();
        REQUIRE(gi.shape() == xs[i].shape());
        for (const Tensor& v : directions(xs[i], o.max_coords, rng)) {
            std::vector<Tensor> plus = xs, minus = xs;
            plus[i] = shifted(xs[i], v, o.eps);
            minus[i] = shifted(xs[i], v, -o.eps);
            double fd = (eval_loss(f, plus, w) - eval_loss(f, minus, w)) / (2.0 * o.eps);
            double an = dot(gi, v);
            INFO(name, ": input ", i, " analytic ", an, " finite-difference ", fd);
            CHECK(close(an, fd, o));
        }
    }
}

// Second-order check: Hessian-vector products from nested grad() against finite differences of
// the (first-order, analytic) gradient. All differentiable inputs are perturbed together along v.
inline void check_second_order(const std::string& name, const Fn& f, const std::vector<Tensor>& xs,
                               std::vector<bool> diff = {}, CheckOptions o = {}) {
    if (diff.empty()) diff.assign(xs.size(), true);
    Tensor w = output_weights(f, xs, o.seed);
    Rng rng(o.seed + 3);
    std::vector<Tensor> v;
    for (const Tensor& x : xs) v.push_back(Tensor::randn(x.shape(), rng));

    // Analytic gradient at a point, as plain tensors (first order).
    auto gradient_at = [&](const std::vector<Tensor>& at) {
        std::vector<ad::Var> vars, wrt;
        for (std::size_t i = 0; i < at.size(); ++i) {
            vars.push_back(ad::Var(at[i], diff[i]));
            if (diff[i]) wrt.push_back(vars.back());
        }
        ad::Var loss = ad::sum(ad::mul(f(vars), ad::constant(w)));
        std::vector<Tensor> out;
        for (const ad::Var& gv : ad::grad({loss}, wrt)) out.push_back(gv.value());
        return out;
    };

    // Hv by nested autodiff: grad( sum_i <grad_i L, v_i> ).
    std::vector<ad::Var> vars, wrt;
    std::vector<Tensor> vd;
    for (std::size_t i = 0; i < xs.size(); ++i) {
        vars.push_back(ad::Var(xs[i], diff[i]));
        if (diff[i]) {
            wrt.push_back(vars.back());
            vd.push_back(v[i]);
        }
    }
    ad::Var loss = ad::sum(ad::mul(f(vars), ad::constant(w)));
    std::vector<ad::Var> g = ad::grad({loss}, wrt, {.create_graph = true});
    ad::Var gv = ad::constant(Tensor::scalar(0.0f));
    for (std::size_t k = 0; k < g.size(); ++k) gv = ad::add(gv, ad::sum(ad::mul(g[k], ad::constant(vd[k]))));
    std::vector<ad::Var> hv = ad::grad({gv}, wrt);

    std::vector<Tensor> plus = xs, minus = xs;
    for (std::size_t i = 0; i < xs.size(); ++i)
        if (diff[i]) {
            plus[i] = shifted(xs[i], v[i], o.eps);
            minus[i] = shifted(xs[i], v[i], -o.eps);
        }
    std::vector<Tensor> gp = gradient_at(plus), gm = gradient_at(minus);
    for (std::size_t k = 0; k < hv.size(); ++k) {
        const Tensor& h = hv[k].value();
        REQUIRE(h.shape() == gp[k].shape());
        // Compare elementwise, with the scale of the whole vector as the absolute floor (small
        // entries of a large HVP carry the finite-difference noise of the large ones).
        double scale = 0;
        for (int64_t j = 0; j < h.numel(); ++j) scale = std::max(scale, std::abs(static_cast<double>(h.data()[j])));
        CheckOptions oo = o;
        oo.atol = static_cast<float>(o.atol + 2e-2 * scale);
        for (int64_t j = 0; j < h.numel(); ++j) {
            double fd = (static_cast<double>(gp[k].data()[j]) - gm[k].data()[j]) / (2.0 * o.eps);
            INFO(name, ": Hv input #", k, " element ", j, " nested ", h.data()[j], " finite-difference ", fd);
            CHECK(close(h.data()[j], fd, oo));
        }
    }
}

// A fused op against the composition of simpler ops it replaces: the same value, the same gradient
// and the same Hessian-vector products (nested grad), to float tolerance `tol` relative to each
// quantity's largest entry. The loss is L = sum(f(x) ⊙ W) with fixed random W, as above; each
// differentiable input gets its own random direction v for the second order.
inline void check_same_function(const std::string& name, const Fn& fused, const Fn& reference,
                                const std::vector<Tensor>& xs, std::vector<bool> diff = {}, float tol = 1e-4f,
                                uint64_t seed = 7) {
    if (diff.empty()) diff.assign(xs.size(), true);
    const Tensor w = output_weights(reference, xs, seed);
    Rng rng(seed + 5);
    std::vector<Tensor> v;
    for (const Tensor& x : xs) v.push_back(Tensor::randn(x.shape(), rng));
    struct Result {
        Tensor value;
        std::vector<Tensor> grads, hvps;
    };
    auto run = [&](const Fn& f) {
        std::vector<ad::Var> vars, wrt;
        std::vector<Tensor> dirs;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            vars.push_back(ad::Var(xs[i], diff[i]));
            if (diff[i]) {
                wrt.push_back(vars.back());
                dirs.push_back(v[i]);
            }
        }
        Result r;
        ad::Var out = f(vars);
        r.value = out.value();
        std::vector<ad::Var> g = ad::grad({ad::sum(ad::mul(out, ad::constant(w)))}, wrt, {.create_graph = true});
        ad::Var gv = ad::constant(Tensor::scalar(0.0f));
        for (std::size_t k = 0; k < g.size(); ++k) {
            r.grads.push_back(g[k].value());
            gv = ad::add(gv, ad::sum(ad::mul(g[k], ad::constant(dirs[k]))));
        }
        for (const ad::Var& h : ad::grad({gv}, wrt)) r.hvps.push_back(h.value());
        return r;
    };
    const Result a = run(fused), b = run(reference);
    auto compare = [&](const char* what, std::size_t k, const Tensor& got, const Tensor& want) {
        REQUIRE(got.shape() == want.shape());
        double scale = 0, err = 0;
        for (int64_t j = 0; j < want.numel(); ++j) {
            scale = std::max(scale, std::abs(static_cast<double>(want.data()[j])));
            err = std::max(err, std::abs(static_cast<double>(got.data()[j]) - want.data()[j]));
        }
        INFO(name, ": ", what, " #", k, " max |fused - reference| ", err, " (largest entry ", scale, ")");
        CHECK(err <= tol * std::max(scale, 1e-3));
    };
    compare("value", 0, a.value, b.value);
    for (std::size_t k = 0; k < a.grads.size(); ++k) compare("gradient", k, a.grads[k], b.grads[k]);
    for (std::size_t k = 0; k < a.hvps.size(); ++k) compare("Hessian-vector product", k, a.hvps[k], b.hvps[k]);
}

// Random test input with values kept away from 0 when `positive` (for log, sqrt, div).
inline Tensor rand_input(const Shape& s, uint64_t seed, bool positive = false) {
    Rng rng(seed);
    Tensor t = Tensor::randn(s, rng);
    if (positive)
        for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = 0.5f + std::abs(t.data()[i]);
    return t;
}

}  // namespace tt::testing
