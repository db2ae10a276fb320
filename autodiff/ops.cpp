// autodiff/ops.cpp — every differentiable op: its forward (a tensor/ops.hpp kernel) and, directly
// below, its backward rule written with these same ops. A rule gets `self` (its own node: the
// output value and the inputs) and `g` (d loss / d self), and returns d loss / d input_i.
// The one-line comment on each rule is the derivative it implements.
//
// Names: tensor-level kernels are called with an explicit `tt::` (tt::add on Tensors); unqualified
// calls inside rules are the differentiable Var ops of this file.
#include "autodiff/ops.hpp"

#include <cmath>
#include <numeric>
#include <tuple>

#include "autodiff/grad.hpp"

namespace tt::ad {

namespace {

using Grads = std::vector<Var>;

// Shape with axis `a` set to 1 (for keepdim=false reductions we re-insert the axis in backward).
Shape keepdim_shape(const Shape& s, int axis) {
    Shape k = s;
    k[axis] = 1;
    return k;
}

}  // namespace

// ================================================================================================
// elementwise, with broadcasting: each rule reduces its gradient back to the input's shape.

Var add(const Var& a, const Var& b) {
    return make_result(tt::add(a.value(), b.value()), {a, b}, "add",
                       [](const Var& self, const Var& g) -> Grads {  // d(a+b) = g, g
                           return {sum_to(g, self.input(0).shape()), sum_to(g, self.input(1).shape())};
                       });
}

Var sub(const Var& a, const Var& b) {
    return make_result(tt::sub(a.value(), b.value()), {a, b}, "sub",
                       [](const Var& self, const Var& g) -> Grads {  // d(a-b) = g, -g
                           Grads r(2);
                           if (self.needs_input_grad(0)) r[0] = sum_to(g, self.input(0).shape());
                           if (self.needs_input_grad(1)) r[1] = sum_to(neg(g), self.input(1).shape());
                           return r;
                       });
}

Var mul(const Var& a, const Var& b) {
    return make_result(tt::mul(a.value(), b.value()), {a, b}, "mul",
                       [](const Var& self, const Var& g) -> Grads {  // d(a*b) = g*b, g*a
                           Grads r(2);
                           if (self.needs_input_grad(0)) r[0] = sum_to(mul(g, self.input(1)), self.input(0).shape());
                           if (self.needs_input_grad(1)) r[1] = sum_to(mul(g, self.input(0)), self.input(1).shape());
                           return r;
                       });
}

Var div(const Var& a, const Var& b) {
    return make_result(tt::div(a.value(), b.value()), {a, b}, "div",
                       [](const Var& self, const Var& g) -> Grads {  // d(a/b) = g/b, -g*(a/b)/b
                           const Var& b = self.input(1);
                           Grads r(2);
                           Var g_over_b = div(g, b);
                           if (self.needs_input_grad(0)) r[0] = sum_to(g_over_b, self.input(0).shape());
                           if (self.needs_input_grad(1)) r[1] = sum_to(neg(mul(g_over_b, self)), b.shape());
                           return r;
                       });
}

// maximum / minimum: the choice (which input wins) is data, so the mask is a constant.
static Var select_op(const Var& a, const Var& b, bool is_max) {
    Tensor a_wins = is_max ? tt::binary(BinaryOp::GreaterEqual, a.value(), b.value())
                           : tt::binary(BinaryOp::GreaterEqual, b.value(), a.value());
    return where(a_wins, a, b);
}
Var maximum(const Var& a, const Var& b) { return select_op(a, b, true); }
Var minimum(const Var& a, const Var& b) { return select_op(a, b, false); }

Var where(const Tensor& cond, const Var& a, const Var& b) {
    return make_result(tt::where(cond, a.value(), b.value()), {a, b}, "where",
                       [cond](const Var& self, const Var& g) -> Grads {  // g flows to the chosen side
                           Var zero = constant(Tensor::scalar(0.0f));
                           Grads r(2);
                           if (self.needs_input_grad(0)) r[0] = sum_to(where(cond, g, zero), self.input(0).shape());
                           if (self.needs_input_grad(1)) r[1] = sum_to(where(cond, zero, g), self.input(1).shape());
                           return r;
                       });
}

Var add(const Var& x, float s) {
    return make_result(tt::add_scalar(x.value(), s), {x}, "add_scalar",
                       [](const Var&, const Var& g) -> Grads { return {g}; });  // d(x+s) = g
}

Var mul(const Var& x, float s) {
    return make_result(tt::mul_scalar(x.value(), s), {x}, "mul_scalar",
                       [s](const Var&, const Var& g) -> Grads { return {mul(g, s)}; });  // d(s*x) = s*g
}

Var pow(const Var& x, float p) {
    return make_result(tt::pow_scalar(x.value(), p), {x}, "pow",
                       [p](const Var& self, const Var& g) -> Grads {  // d x^p = g * p * x^(p-1)
                           return {mul(g, mul(pow(self.input(0), p - 1.0f), p))};
                       });
}

// ================================================================================================
// unary

Var neg(const Var& x) {
    return make_result(tt::neg(x.value()), {x}, "neg", [](const Var&, const Var& g) -> Grads { return {neg(g)}; });
}

Var exp(const Var& x) {
    return make_result(tt::exp(x.value()), {x}, "exp",
                       [](const Var& self, const Var& g) -> Grads { return {mul(g, self)}; });  // d e^x = g e^x
}

Var log(const Var& x) {
    return make_result(tt::log(x.value()), {x}, "log",
                       [](const Var& self, const Var& g) -> Grads { return {div(g, self.input(0))}; });  // g/x
}

Var sqrt(const Var& x) {
    return make_result(tt::sqrt(x.value()), {x}, "sqrt",
                       [](const Var& self, const Var& g) -> Grads {  // d sqrt(x) = g / (2 sqrt(x))
                           return {div(mul(g, 0.5f), self)};
                       });
}

Var rsqrt(const Var& x) {
    return make_result(tt::unary(UnaryOp::Rsqrt, x.value()), {x}, "rsqrt",
                       [](const Var& self, const Var& g) -> Grads {  // d x^-1/2 = -g/2 * (x^-1/2)^3
                           return {mul(mul(g, pow(self, 3.0f)), -0.5f)};
                       });
}

Var square(const Var& x) {
    return make_result(tt::unary(UnaryOp::Square, x.value()), {x}, "square",
                       [](const Var& self, const Var& g) -> Grads {  // d x^2 = 2 g x
                           return {mul(mul(g, self.input(0)), 2.0f)};
                       });
}

Var tanh(const Var& x) {
    return make_result(tt::tanh(x.value()), {x}, "tanh",
                       [](const Var& self, const Var& g) -> Grads {  // d tanh = g (1 - tanh^2)
                           return {mul(g, add(neg(square(self)), 1.0f))};
                       });
}

Var sigmoid(const Var& x) {
    return make_result(tt::sigmoid(x.value()), {x}, "sigmoid",
                       [](const Var& self, const Var& g) -> Grads {  // d s = g s (1 - s)
                           return {mul(g, mul(self, add(neg(self), 1.0f)))};
                       });
}

Var relu(const Var& x) {
    // NOTE: the mask x > 0 is data; relu'' = 0 almost everywhere, so treating it as a constant is exact.
    return make_result(tt::relu(x.value()), {x}, "relu",
                       [](const Var& self, const Var& g) -> Grads {
                           return {mul(g, constant(tt::unary(UnaryOp::Step, self.input(0).value())))};
                       });
}

Var silu(const Var& x) {
    return make_result(tt::unary(UnaryOp::Silu, x.value()), {x}, "silu",
                       [](const Var& self, const Var& g) -> Grads { return {mul(g, silu_grad(self.input(0)))}; });
}

Var silu_grad(const Var& x) {
    return make_result(tt::unary(UnaryOp::SiluGrad, x.value()), {x}, "silu_grad",
                       [](const Var& self, const Var& g) -> Grads {  // d/dx s (1 + x (1 - s)) = s (1 - s) (2 + x (1 - 2s))
                           const Var& x = self.input(0);
                           Var s = sigmoid(x);
                           Var ds = mul(s, add(neg(s), 1.0f));                    // s (1 - s)
                           return {mul(g, mul(ds, add(mul(x, add(mul(s, -2.0f), 1.0f)), 2.0f)))};
                       });
}

// The exact GELU. The tanh form (model/functional.hpp gelu_tanh) differs by up to ~5e-4, enough
// to fail a float64 golden check of BERT4Rec or Mamba4Rec, whose reference code uses this one.
Var gelu_erf(const Var& x) {
    return make_result(tt::gelu_erf(x.value()), {x}, "gelu_erf",
                       [](const Var& self, const Var& g) -> Grads { return {mul(g, gelu_erf_grad(self.input(0)))}; });
}

Var gelu_erf_grad(const Var& x) {
    return make_result(tt::gelu_erf_grad(x.value()), {x}, "gelu_erf_grad",
                       [](const Var& self, const Var& g) -> Grads {  // d/dx (Φ + x φ) = φ(x) (2 − x²)
                           constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
                           Var x2 = square(self.input(0));
                           Var phi = mul(exp(mul(x2, -0.5f)), kInvSqrt2Pi);  // φ(x)
                           return {mul(g, mul(phi, add(neg(x2), 2.0f)))};
                       });
}

namespace {
// gelu_tanh''(x) as one kernel. Its own rule differentiates the same function written with
// differentiable ops (u = c (x + a x³), t = tanh(u), u' = c (1 + 3a x²)):
//   gelu'' = (1 − t²) (u' − x t u'² + 3 a c x²)
// so gelu_tanh has derivatives of every order, each of the first three in one kernel.
Var gelu_tanh_grad2(const Var& x) {
    return make_result(tt::unary(UnaryOp::GeluTanhGrad2, x.value()), {x}, "gelu_tanh_grad2",
                       [](const Var& self, const Var& g) -> Grads {
                           return vjp_of([](const std::vector<Var>& in) {
                               constexpr float c = 0.7978845608028654f, a = 0.044715f;
                               const Var& x = in[0];
                               Var x2 = square(x);
                               Var t = tanh(mul(mul(x, add(mul(x2, a), 1.0f)), c));
                               Var du = mul(add(mul(x2, 3.0f * a), 1.0f), c);
                               Var inner = add(sub(du, mul(mul(x, t), square(du))), mul(x2, 3.0f * a * c));
                               return mul(add(neg(square(t)), 1.0f), inner);
                           }, self.inputs(), g);
                       });
}
}  // namespace

Var gelu_tanh(const Var& x) {
    return make_result(tt::unary(UnaryOp::GeluTanh, x.value()), {x}, "gelu_tanh",
                       [](const Var& self, const Var& g) -> Grads { return {mul(g, gelu_tanh_grad(self.input(0)))}; });
}

Var gelu_tanh_grad(const Var& x) {
    return make_result(tt::unary(UnaryOp::GeluTanhGrad, x.value()), {x}, "gelu_tanh_grad",
                       [](const Var& self, const Var& g) -> Grads { return {mul(g, gelu_tanh_grad2(self.input(0)))}; });
}

namespace {
// The VJP of swiglu for g as one kernel, [da ; db] stacked (2, ...); its own rule differentiates the
// same VJP written with differentiable ops (the rules of mul and silu), so swiglu has derivatives of
// every order.
Var swiglu_vjp(const Var& a, const Var& b, const Var& g) {
    return make_result(tt::swiglu_vjp(a.value(), b.value(), g.value()), {a, b, g}, "swiglu_vjp",
                       [](const Var& self, const Var& gg) -> Grads {
                           return vjp_of([](const std::vector<Var>& in) {
                               Shape one{1};
                               for (int64_t d : in[0].shape()) one.push_back(d);
                               Var da = mul(mul(in[2], in[1]), silu_grad(in[0]));  // g b silu'(a)
                               Var db = mul(in[2], silu(in[0]));                   // g silu(a)
                               return concat({reshape(da, one), reshape(db, one)}, 0);
                           }, self.inputs(), gg);
                       });
}
}  // namespace

Var swiglu(const Var& a, const Var& b) {
    return make_result(tt::swiglu(a.value(), b.value()), {a, b}, "swiglu",
                       [](const Var& self, const Var& g) -> Grads {  // g b silu'(a), g silu(a)
                           Var both = swiglu_vjp(self.input(0), self.input(1), g);  // (2, ...)
                           const Shape& s = self.shape();
                           return {reshape(rows(both, 0, 1), s), reshape(rows(both, 1, 2), s)};
                       });
}

// ================================================================================================
// normalisation over the last axis. Forward and first-order backward are one fused kernel each
// (tensor/ops.hpp normalize, normalize_vjp); the VJP op's own rule differentiates the same VJP
// written with differentiable ops, so these have derivatives of every order.

namespace {

// d<u, normalize(x)>/dx in differentiable ops: r (u - [mean u] - xhat mean(u xhat)).
Var normalize_vjp_composite(const Var& x, const Var& u, float eps, bool center) {
    Var xc = center ? sub(x, mean(x, -1, true)) : x;
    Var r = rsqrt(add(mean(square(xc), -1, true), eps));  // (..., 1)
    Var xh = mul(xc, r);
    Var uc = center ? sub(u, mean(u, -1, true)) : u;
    return mul(sub(uc, mul(xh, mean(mul(u, xh), -1, true))), r);
}

Var normalize_vjp(const Var& x, const Var& u, float eps, bool center) {
    return make_result(tt::normalize_vjp(x.value(), u.value(), eps, center), {x, u}, "normalize_vjp",
                       [eps, center](const Var& self, const Var& g) -> Grads {
                           return vjp_of([eps, center](const std::vector<Var>& in) {
                               return normalize_vjp_composite(in[0], in[1], eps, center);
                           }, self.inputs(), g);
                       });
}

Var normalize_op(const Var& x, float eps, bool center) {
    return make_result(tt::normalize(x.value(), eps, center), {x}, center ? "layer_normalize" : "rms_normalize",
                       [eps, center](const Var& self, const Var& g) -> Grads {
                           return {normalize_vjp(self.input(0), g, eps, center)};
                       });
}

// normalize(x) * γ (+ β) as one op: one pass forward. The rule recomputes x̂ for γ's gradient rather
// than keeping it from the forward (one (..., C) tensor less alive between the passes).
Var normalize_affine_op(const Var& x, const Var& gamma, const Var& beta, float eps, bool center) {
    std::vector<Var> inputs{x, gamma};
    if (beta.defined()) inputs.push_back(beta);
    return make_result(tt::normalize_affine(x.value(), gamma.value(), beta.defined() ? beta.value() : Tensor(), eps, center),
                       inputs, center ? "layer_normalize_affine" : "rms_normalize_affine",
                       [eps, center](const Var& self, const Var& g) -> Grads {  // d(x̂ γ + β) = J(g γ), Σ g x̂, Σ g
                           const Var& x = self.input(0);
                           const Var& gamma = self.input(1);
                           Grads r(self.inputs().size());
                           if (self.needs_input_grad(0)) r[0] = normalize_vjp(x, mul(g, gamma), eps, center);
                           if (self.needs_input_grad(1)) r[1] = sum_to(mul(g, normalize_op(x, eps, center)), gamma.shape());
                           if (r.size() > 2 && self.needs_input_grad(2)) r[2] = sum_to(g, self.input(2).shape());
                           return r;
                       });
}

}  // namespace

Var layer_normalize(const Var& x, float eps) { return normalize_op(x, eps, true); }
Var rms_normalize(const Var& x, float eps) { return normalize_op(x, eps, false); }
Var layer_normalize(const Var& x, float eps, const Var& gamma, const Var& beta) {
    return normalize_affine_op(x, gamma, beta, eps, true);
}
Var rms_normalize(const Var& x, float eps, const Var& weight) { return normalize_affine_op(x, weight, Var(), eps, false); }

// ================================================================================================
// reductions and broadcasting

Var sum(const Var& x, int axis, bool keepdim) {
    int ax = x.shape().norm_axis(axis);
    return make_result(tt::sum(x.value(), ax, keepdim), {x}, "sum",
                       [ax](const Var& self, const Var& g) -> Grads {  // d sum = g broadcast back
                           const Shape& in = self.input(0).shape();
                           return {broadcast_to(reshape(g, keepdim_shape(in, ax)), in)};
                       });
}

Var sum(const Var& x) {
    Tensor total = Tensor::scalar(tt::sum_all(x.value()));
    return make_result(std::move(total), {x}, "sum_all",
                       [](const Var& self, const Var& g) -> Grads {
                           return {broadcast_to(g, self.input(0).shape())};
                       });
}

Var mean(const Var& x, int axis, bool keepdim) {
    float n = static_cast<float>(x.shape()[axis]);
    return mul(sum(x, axis, keepdim), 1.0f / n);
}

Var mean(const Var& x) { return mul(sum(x), 1.0f / static_cast<float>(std::max<int64_t>(x.numel(), 1))); }

Var max(const Var& x, int axis, bool keepdim) {
    int ax = x.shape().norm_axis(axis);
    Tensor m = tt::max(x.value(), ax, true);
    // The winners (ties share equally) are data: weight = [x == max] / count.
    Tensor winners = tt::binary(BinaryOp::Equal, x.value(), m);
    Tensor share = tt::div(winners, tt::sum(winners, ax, true));
    Tensor out = keepdim ? m : m.reshape(tt::sum(x.value(), ax, false).shape());
    return make_result(std::move(out), {x}, "max",
                       [ax, share](const Var& self, const Var& g) -> Grads {  // g to the arg-max
                           const Shape& in = self.input(0).shape();
                           return {mul(broadcast_to(reshape(g, keepdim_shape(in, ax)), in), constant(share))};
                       });
}

Var broadcast_to(const Var& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    return make_result(tt::broadcast_to(x.value(), shape), {x}, "broadcast_to",
                       [](const Var& self, const Var& g) -> Grads { return {sum_to(g, self.input(0).shape())}; });
}

Var sum_to(const Var& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    return make_result(tt::sum_to(x.value(), shape), {x}, "sum_to",
                       [](const Var& self, const Var& g) -> Grads { return {broadcast_to(g, self.input(0).shape())}; });
}

// ================================================================================================
// layout

Var reshape(const Var& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    return make_result(x.value().reshape(shape), {x}, "reshape",
                       [](const Var& self, const Var& g) -> Grads { return {reshape(g, self.input(0).shape())}; });
}

Var transpose(const Var& x, int axis_a, int axis_b) {
    return make_result(tt::transpose(x.value(), axis_a, axis_b), {x}, "transpose",
                       [axis_a, axis_b](const Var&, const Var& g) -> Grads { return {transpose(g, axis_a, axis_b)}; });
}

Var permute(const Var& x, std::vector<int> perm) {
    Tensor out = tt::permute(x.value(), perm);
    std::vector<int> inverse(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i) inverse[static_cast<std::size_t>(perm[i])] = static_cast<int>(i);
    return make_result(std::move(out), {x}, "permute",
                       [inverse](const Var&, const Var& g) -> Grads { return {permute(g, inverse)}; });
}

namespace {
// Records where a slice sits in its input, for the engine's first-order shortcut (Node::slice_axis);
// the backward rule stays the definition, used whenever a graph of the gradient is built.
void mark_slice(Var& out, int axis, int64_t start) {
    if (out.node() && !out.inputs().empty()) out.node()->slice_axis = axis, out.node()->slice_start = start;
}
}  // namespace

Var slice(const Var& x, int axis, int64_t start, int64_t end) {
    int ax = x.shape().norm_axis(axis);
    Var out = make_result(tt::slice(x.value(), ax, start, end), {x}, "slice",
                          [ax, start](const Var& self, const Var& g) -> Grads {  // zeros outside the slice
                              return {pad_slice(g, self.input(0).shape(), ax, start)};
                          });
    mark_slice(out, ax, start);
    return out;
}

Var pad_slice(const Var& x, const Shape& full_shape, int axis, int64_t start) {
    int ax = full_shape.norm_axis(axis);
    return make_result(tt::pad_slice(x.value(), full_shape, ax, start), {x}, "pad_slice",
                       [ax, start](const Var& self, const Var& g) -> Grads {
                           return {slice(g, ax, start, start + self.input(0).shape()[ax])};
                       });
}

Var rows(const Var& x, int64_t start, int64_t end) {
    TT_CHECK(x.rank() >= 1, "rows: x must have rank >= 1, got a scalar");
    Var out = make_result(x.value().rows(start, end), {x}, "rows",  // shares x's storage: no copy
                          [start](const Var& self, const Var& g) -> Grads {  // zeros outside the rows
                              return {pad_slice(g, self.input(0).shape(), 0, start)};
                          });
    mark_slice(out, 0, start);
    return out;
}

Var concat(const std::vector<Var>& xs, int axis) {
    TT_CHECK(!xs.empty(), "concat: no inputs");
    int ax = xs[0].shape().norm_axis(axis);
    std::vector<Tensor> values;
    for (const Var& x : xs) values.push_back(x.value());
    return make_result(tt::concat(values, ax), xs, "concat", [ax](const Var& self, const Var& g) -> Grads {
        Grads r;
        int64_t offset = 0;
        for (const Var& in : self.inputs()) {  // each input gets its own slice of g
            int64_t n = in.shape()[ax];
            r.push_back(slice(g, ax, offset, offset + n));
            offset += n;
        }
        return r;
    });
}

Var tril(const Var& x, int64_t diagonal, float fill) {
    return make_result(tt::tril(x.value(), diagonal, fill), {x}, "tril",
                       [diagonal](const Var&, const Var& g) -> Grads { return {tril(g, diagonal)}; });
}

Var masked_fill(const Var& x, const Tensor& mask, float value) {
    return make_result(tt::masked_fill(x.value(), mask, value), {x}, "masked_fill",
                       [mask](const Var&, const Var& g) -> Grads { return {masked_fill(g, mask, 0.0f)}; });
}

// ================================================================================================
// matmul: C = op(A) op(B). The four transpose cases have the textbook adjoints
//   C = A B     : dA = g Bᵀ,      dB = Aᵀ g
//   C = Aᵀ B    : dA = B gᵀ,      dB = A g
//   C = A Bᵀ    : dA = g B,       dB = gᵀ A
//   C = Aᵀ Bᵀ   : dA = Bᵀ gᵀ,     dB = gᵀ Aᵀ
// each of which is again a matmul with transpose flags (no explicit transposes are materialised).

Var matmul(const Var& a, const Var& b, bool trans_a, bool trans_b) {
    // A 2-D b shared by a batch of a: fold the batch into M, so the rule below only ever sees
    // equal batch dims and dB is one big matmul (the batch sum happens inside it).
    if (a.rank() > 2 && b.rank() == 2 && !trans_a) {
        Shape a2{a.numel() / a.shape()[-1], a.shape()[-1]};
        Var c2 = matmul(reshape(a, a2), b, false, trans_b);
        Shape out = a.shape();
        out[-1] = c2.shape()[-1];
        return reshape(c2, out);
    }
    TT_CHECK(a.rank() == b.rank(), "matmul: shapes " + a.shape().str() + " and " + b.shape().str() +
                                       " (a batched a with a 2-D b needs trans_a=false)");
    return make_result(tt::matmul(a.value(), b.value(), trans_a, trans_b), {a, b}, "matmul",
                       [trans_a, trans_b](const Var& self, const Var& g) -> Grads {
                           const Var& A = self.input(0);
                           const Var& B = self.input(1);
                           Grads r(2);
                           if (self.needs_input_grad(0)) {
                               if (!trans_a && !trans_b) r[0] = matmul(g, B, false, true);
                               if (trans_a && !trans_b) r[0] = matmul(B, g, false, true);
                               if (!trans_a && trans_b) r[0] = matmul(g, B, false, false);
                               if (trans_a && trans_b) r[0] = matmul(B, g, true, true);
                           }
                           if (self.needs_input_grad(1)) {
                               if (!trans_a && !trans_b) r[1] = matmul(A, g, true, false);
                               if (trans_a && !trans_b) r[1] = matmul(A, g, false, false);
                               if (!trans_a && trans_b) r[1] = matmul(g, A, true, false);
                               if (trans_a && trans_b) r[1] = matmul(g, A, true, true);
                           }
                           return r;
                       });
}

Var linear_bias(const Var& x, const Var& W, const Var& b) {
    return make_result(tt::linear(x.value(), W.value(), b.value()), {x, W, b}, "linear_bias",
                       [](const Var& self, const Var& g) -> Grads {  // d(x Wᵀ + b) = g W, gᵀ x, Σ_rows g
                           const Var& x = self.input(0);
                           const Var& W = self.input(1);
                           const int64_t in = W.shape()[1], out = W.shape()[0], rows = x.numel() / in;
                           Grads r(3);
                           Var g2 = reshape(g, Shape{rows, out});  // every leading axis folded into rows
                           if (self.needs_input_grad(0)) r[0] = reshape(matmul(g2, W), x.shape());
                           if (self.needs_input_grad(1)) r[1] = matmul(g2, reshape(x, Shape{rows, in}), true, false);
                           if (self.needs_input_grad(2)) r[2] = sum_to(g, self.input(2).shape());
                           return r;
                       });
}

// ================================================================================================
// rows

Var gather_rows(const Var& table, const IntTensor& ids, int32_t padding_idx) {
    TT_CHECK(table.rank() == 2, "gather_rows: table must be (V, C), got " + table.shape().str());
    return make_result(tt::gather_rows(table.value(), ids), {table}, "gather_rows",
                       [ids, padding_idx](const Var& self, const Var& g) -> Grads {  // d table = scatter(g)
                           const Shape& ts = self.input(0).shape();
                           Var d = scatter_add_rows(g, ids, ts[0]);
                           if (padding_idx >= 0 && padding_idx < ts[0]) {
                               Tensor keep = Tensor::ones(Shape{ts[0], 1});
                               keep.data()[padding_idx] = 0.0f;  // the padding row learns nothing
                               d = mul(d, constant(keep));
                           }
                           return {d};
                       });
}

Var scatter_add_rows(const Var& src, const IntTensor& ids, int64_t num_rows) {
    return make_result(tt::scatter_add_rows(src.value(), ids, num_rows), {src}, "scatter_add_rows",
                       [ids](const Var&, const Var& g) -> Grads { return {gather_rows(g, ids)}; });
}

// ================================================================================================
// softmax family

Var softmax(const Var& x) {
    return make_result(tt::softmax(x.value()), {x}, "softmax",
                       [](const Var& self, const Var& g) -> Grads {  // d s = s (g - <g, s>)
                           Var gs = sum(mul(g, self), -1, true);
                           return {mul(self, sub(g, gs))};
                       });
}

Var causal_softmax(const Var& x, float scale) {
    return make_result(tt::causal_softmax(x.value(), scale), {x}, "causal_softmax",
                       [scale](const Var& self, const Var& g) -> Grads {  // d s = scale s (g - <g, s>), 0 where masked
                           Var gs = sum(mul(g, self), -1, true);
                           return {mul(mul(self, sub(g, gs)), scale)};
                       });
}

Var log_softmax(const Var& x) {
    return make_result(tt::log_softmax(x.value()), {x}, "log_softmax",
                       [](const Var& self, const Var& g) -> Grads {  // d ls = g - softmax * sum(g)
                           return {sub(g, mul(exp(self), sum(g, -1, true)))};
                       });
}

namespace {

// The targets of a mean cross-entropy over v classes, as the kernels want them: rows whose target
// is ignore_index get id 0 and weight 0 (so no kernel sees an out-of-range id), row_scale = w / count.
struct CrossEntropyTargets {
    IntTensor ids;     // (N)
    Tensor weight;     // (N): 1, or 0 for ignored rows
    Tensor row_scale;  // (N): weight / count
    float inv_count;
};

CrossEntropyTargets cross_entropy_targets(const IntTensor& targets, int64_t n, int64_t v, int32_t ignore_index,
                                          const char* op) {
    std::vector<int32_t> safe(static_cast<std::size_t>(n));
    Tensor weight = Tensor::empty(Shape{n});
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
        int32_t t = targets[i];
        bool use = t != ignore_index;
        TT_CHECK(!use || (t >= 0 && t < v), std::string(op) + ": target " + std::to_string(t) + " at row " +
                                                 std::to_string(i) + " outside [0, " + std::to_string(v) + ")");
        safe[static_cast<std::size_t>(i)] = use ? t : 0;
        weight.data()[i] = use ? 1.0f : 0.0f;
        count += use;
    }
    const float inv = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
    return {IntTensor(Shape{n}, std::move(safe)), weight, tt::mul_scalar(weight, inv), inv};
}

}  // namespace

Var cross_entropy(const Var& logits, const IntTensor& targets, int32_t ignore_index) {
    TT_CHECK(logits.rank() == 2 && targets.numel() == logits.shape()[0],
             "cross_entropy: logits " + logits.shape().str() + " and targets " + targets.shape().str());
    const int64_t n = logits.shape()[0], v = logits.shape()[1];
    CrossEntropyTargets ct = cross_entropy_targets(targets, n, v, ignore_index, "cross_entropy");
    // loss = -(1/count) sum_i w_i log_softmax(x)_i,t_i  with  log_softmax(x)_i,t = x_i,t - lse_i.
    // Fused: only the rows' log-sum-exp (N) is computed, never the (N, V) log_softmax (with the
    // benchmark's 6400 x 3417 logits that is an 87 MB tensor and two passes over memory saved).
    Tensor lse = tt::logsumexp(logits.value());                           // (N)
    Tensor picked = tt::sub(tt::pick(logits.value(), ct.ids), lse);       // log p(t_i), (N)
    Tensor loss = Tensor::scalar(-ct.inv_count * tt::sum_all(tt::mul(picked, ct.weight)));
    return make_result(std::move(loss), {logits}, "cross_entropy",
                       [ids = ct.ids, row_scale = ct.row_scale, lse](const Var& self, const Var& g) -> Grads {
                           // d loss / d x = (softmax(x) - onehot(t)) * w / count * g, as one fused op
                           return {softmax_cross_entropy_grad(self.input(0), ids, row_scale, g, lse)};
                       });
}

namespace {

// The gradients of linear_cross_entropy, [dh ; dtable] stacked along axis 0, (N + V, C), from one
// fused kernel (tt::linear_xent_grad), or `unit_grad` * g when the forward already computed them
// for g = 1. Its own rule differentiates the same gradients written with matmul and
// softmax_cross_entropy_grad, so the fused loss has derivatives of every order.
Var linear_cross_entropy_grad(const Var& h, const Var& table, const IntTensor& ids, const Tensor& row_scale,
                              const Var& g, const Tensor& lse, const Tensor& unit_grad) {
    TT_CHECK(g.numel() == 1, "linear_cross_entropy: g must be a single value, got " + g.shape().str());
    Tensor value = unit_grad.defined()
                       ? tt::mul_scalar(unit_grad, g.item())
                       : tt::linear_xent_grad(h.value(), table.value(), ids, lse, tt::mul_scalar(row_scale, g.item()));
    return make_result(std::move(value), {h, table, g}, "linear_cross_entropy_grad",
                       [ids, row_scale](const Var& self, const Var& gg) -> Grads {
                           return vjp_of([&ids, &row_scale](const std::vector<Var>& in) {
                               Var d = softmax_cross_entropy_grad(matmul(in[0], in[1], false, true), ids, row_scale, in[2]);
                               return concat({matmul(d, in[1]), matmul(d, in[0], true, false)}, 0);  // [D T ; Dᵀ h]
                           }, self.inputs(), gg);
                       });
}

}  // namespace

Var linear_cross_entropy(const Var& h, const Var& table, const IntTensor& targets, int32_t ignore_index) {
    TT_CHECK(h.rank() == 2 && table.rank() == 2 && h.shape()[1] == table.shape()[1] && targets.numel() == h.shape()[0],
             "linear_cross_entropy: h " + h.shape().str() + ", table " + table.shape().str() + " and targets " +
                 targets.shape().str());
    const int64_t n = h.shape()[0], v = table.shape()[0];
    CrossEntropyTargets ct = cross_entropy_targets(targets, n, v, ignore_index, "linear_cross_entropy");
    // When a backward pass will follow (a training step), its gradients for g = 1 come out of the
    // same pass over the logits blocks as the loss: each block of logits is computed once, not
    // twice. The loss is the same number either way.
    Tensor lse, picked, unit_grad;  // (N), (N), (N + V, C)
    if (grad_enabled() && (h.requires_grad() || table.requires_grad())) {
        tt::LinearXent both = tt::linear_xent_value_grad(h.value(), table.value(), ct.ids, ct.row_scale);
        lse = both.lse, picked = both.picked, unit_grad = both.grad;
    } else {
        std::tie(lse, picked) = tt::linear_logsumexp(h.value(), table.value(), ct.ids);
    }
    Tensor loss = Tensor::scalar(-ct.inv_count * tt::sum_all(tt::mul(tt::sub(picked, lse), ct.weight)));
    return make_result(std::move(loss), {h, table}, "linear_cross_entropy",
                       [ids = ct.ids, row_scale = ct.row_scale, lse, unit_grad](const Var& self, const Var& g) -> Grads {
                           // d/dh = D T, d/dtable = Dᵀ h with D = (softmax(h Tᵀ) - onehot(t)) * w / count * g
                           const int64_t n = self.input(0).shape()[0], v = self.input(1).shape()[0];
                           Var both = linear_cross_entropy_grad(self.input(0), self.input(1), ids, row_scale, g, lse,
                                                                unit_grad);
                           return {rows(both, 0, n), rows(both, n, n + v)};
                       });
}

Var softmax_cross_entropy_grad(const Var& logits, const IntTensor& targets, const Tensor& row_scale, const Var& g,
                               const Tensor& lse) {
    TT_CHECK(g.numel() == 1, "softmax_cross_entropy_grad: g must be a single value, got " + g.shape().str());
    Tensor l = lse.defined() ? lse : tt::logsumexp(logits.value());
    Tensor scale = tt::mul_scalar(row_scale, g.item());  // (N)
    return make_result(tt::softmax_xent_grad(logits.value(), l, targets, scale), {logits, g}, "softmax_cross_entropy_grad",
                       [targets, row_scale, l](const Var& self, const Var& u) -> Grads {
                           // out = (s - y) * c * g with s = softmax(x), y = onehot, c = row_scale:
                           //   d/dx <u, out> = s * (v - <v, s>) with v = u * c * g  (softmax's VJP)
                           //   d/dg <u, out> = <u, (s - y) * c>, the same op at g = 1
                           const Var& x = self.input(0);
                           const Var& g = self.input(1);
                           const int64_t n = x.shape()[0];
                           Grads r(2);
                           if (self.needs_input_grad(0)) {
                               Var s = softmax(x);
                               Var v = mul(mul(u, constant(row_scale.reshape(Shape{n, 1}))), g);
                               r[0] = mul(s, sub(v, sum(mul(v, s), -1, true)));
                           }
                           if (self.needs_input_grad(1)) {
                               Var one = constant(Tensor::full(g.shape(), 1.0f));
                               r[1] = reshape(sum(mul(u, softmax_cross_entropy_grad(x, targets, row_scale, one, l))), g.shape());
                           }
                           return r;
                       });
}

Var bce_with_logits(const Var& logits, const Tensor& labels) {
    // Stable form: max(x,0) - x*y + log(1 + exp(-|x|)) == softplus(x) - x*y. Composite of
    // differentiable ops: softplus(x) = relu(x) + log(1 + exp(-|x|)), |x| = 2 relu(x) - x.
    TT_CHECK(labels.shape() == logits.shape(),
             "bce_with_logits: labels " + labels.shape().str() + " vs logits " + logits.shape().str());
    Var abs_x = sub(mul(relu(logits), 2.0f), logits);
    Var softplus = add(relu(logits), log(add(exp(neg(abs_x)), 1.0f)));
    return mean(sub(softplus, mul(logits, constant(labels))));
}

// ================================================================================================
// rotary position embedding: a rotation of each pair, so its adjoint is the inverse rotation.

Var rope(const Var& x, const Tensor& cos, const Tensor& sin) {
    return make_result(tt::rope(x.value(), cos, sin), {x}, "rope",
                       [cos, sin](const Var&, const Var& g) -> Grads {  // R(φ)ᵀ = R(-φ)
                           return {rope(g, cos, tt::neg(sin))};
                       });
}

}  // namespace tt::ad
