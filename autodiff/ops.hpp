// autodiff/ops.hpp — the differentiable ops. Each computes its value with tensor/ops.hpp and
// records a backward rule written with these same ops (see autodiff/ops.cpp, where every op's
// forward and its rule sit side by side), so every gradient is differentiable again.
//
// Shapes follow numpy conventions: broadcasting for elementwise ops, negative axes count from the
// end, row-major layouts.
#pragma once

#include <span>
#include <vector>

#include "autodiff/var.hpp"
#include "tensor/ops.hpp"

namespace tt::ad {

// ---- elementwise (broadcasting) -----------------------------------------------------------------
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var maximum(const Var& a, const Var& b);  // gradient goes to a where a >= b, else to b
Var minimum(const Var& a, const Var& b);
// cond is data (not differentiated): out = cond != 0 ? a : b, all broadcast together.
Var where(const Tensor& cond, const Var& a, const Var& b);

Var add(const Var& x, float s);
Var mul(const Var& x, float s);
Var pow(const Var& x, float p);

Var neg(const Var& x);
Var exp(const Var& x);
Var log(const Var& x);
Var sqrt(const Var& x);
Var rsqrt(const Var& x);  // 1/sqrt(x)
Var square(const Var& x);
Var tanh(const Var& x);
Var sigmoid(const Var& x);
Var relu(const Var& x);
Var silu(const Var& x);       // x sigmoid(x), one kernel (SwiGLU's gate)
Var silu_grad(const Var& x);  // silu'(x) = s (1 + x (1 - s)), s = sigmoid(x), one kernel
Var gelu_erf(const Var& x);       // exact GELU x Φ(x) (PyTorch's nn.GELU(), RecBole's "gelu"), one kernel
Var gelu_erf_grad(const Var& x);  // GELU'(x) = Φ(x) + x φ(x), one kernel
// GELU with the tanh approximation ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))) (ttt.py's gelu, the
// TTT-MLP inner activation) and its derivative (ttt.py's gelu_bwd, which the dual form's forward
// pass needs), one kernel each; their rules too, down to gelu''; from there on, composed ops.
Var gelu_tanh(const Var& x);
Var gelu_tanh_grad(const Var& x);
Var swiglu(const Var& a, const Var& b);  // silu(a) ⊙ b (SwiGLU's gate), a and b of one shape: one kernel each way

// ---- normalisation over the last axis (fused kernels, forward and backward) ---------------------
Var layer_normalize(const Var& x, float eps);  // (x - mean) / sqrt(var + eps), biased variance
Var rms_normalize(const Var& x, float eps);    // x / sqrt(mean(x²) + eps)
// With a per-channel affine part, γ, β, w (C), in the same pass (a LayerNorm / RMSNorm layer):
Var layer_normalize(const Var& x, float eps, const Var& gamma, const Var& beta);  // layer_normalize(x) γ + β
Var rms_normalize(const Var& x, float eps, const Var& weight);                     // rms_normalize(x) w

// ---- reductions and broadcasting ----------------------------------------------------------------
Var sum(const Var& x, int axis, bool keepdim = false);
Var sum(const Var& x);  // all elements -> shape ()
Var mean(const Var& x, int axis, bool keepdim = false);
Var mean(const Var& x);
Var max(const Var& x, int axis, bool keepdim = false);  // ties share the gradient equally
Var broadcast_to(const Var& x, const Shape& shape);
Var sum_to(const Var& x, const Shape& shape);  // adjoint of broadcast_to

// ---- layout -------------------------------------------------------------------------------------
Var reshape(const Var& x, const Shape& shape);
Var transpose(const Var& x, int axis_a, int axis_b);
Var permute(const Var& x, std::vector<int> perm);
Var slice(const Var& x, int axis, int64_t start, int64_t end);
Var pad_slice(const Var& x, const Shape& full_shape, int axis, int64_t start);  // adjoint of slice
// Rows [start, end) along axis 0 as a view: shares x's storage, no copy (values are never written
// in place, so sharing is safe).
Var rows(const Var& x, int64_t start, int64_t end);
Var concat(const std::vector<Var>& xs, int axis);
// Keeps j <= i + diagonal on the last two dims; above it `fill` (a constant: no gradient there),
// e.g. -1e9 for a causal attention mask without a separate mask tensor.
Var tril(const Var& x, int64_t diagonal = 0, float fill = 0.0f);
Var masked_fill(const Var& x, const Tensor& mask, float value);  // mask != 0 -> value (no gradient there)

// ---- linear algebra -----------------------------------------------------------------------------
// x Wᵀ + b (x (..., in), W (out, in), b (out)) as one op: the bias is added inside the matmul kernel
// (tt::linear). The same value as add(matmul(x, W, false, true), b), one pass over the output fewer.
Var linear_bias(const Var& x, const Var& W, const Var& b);
// (..., M, K) @ (..., K, N) with optional transposes; b may be 2-D and shared across the batch.
Var matmul(const Var& a, const Var& b, bool trans_a = false, bool trans_b = false);

// ---- rows ---------------------------------------------------------------------------------------
// Embedding lookup: table (V, C), ids -> ids.shape + (C). Rows whose id == padding_idx get no
// gradient (pass -1 for none).
Var gather_rows(const Var& table, const IntTensor& ids, int32_t padding_idx = -1);
Var scatter_add_rows(const Var& src, const IntTensor& ids, int64_t num_rows);  // adjoint of gather

// ---- softmax family and losses ------------------------------------------------------------------
Var softmax(const Var& x);      // last axis
Var log_softmax(const Var& x);  // last axis
// softmax(tril(scale * x, 0, -inf)): causal attention weights (key j <= query i), masked ones exactly 0.
Var causal_softmax(const Var& x, float scale);
// Mean cross-entropy of logits (N, V) against targets (N); rows whose target == ignore_index are
// left out of the mean. Fused: never materialises a one-hot matrix.
Var cross_entropy(const Var& logits, const IntTensor& targets, int32_t ignore_index = -1);
// cross_entropy(matmul(h, table, false, true), targets, ignore_index) without ever storing the
// (N, V) logits: h (N, C), table (V, C) (tied item embeddings). Forward and backward are fused
// kernels over blocks of rows (tt::linear_logsumexp / linear_xent_grad); differentiable again.
// With grad mode on and h or the table requiring grad, the forward also computes the gradients for
// an incoming gradient of 1 from the same logits blocks (tt::linear_xent_value_grad), and the
// backward only scales them: a training step computes each block of logits once.
Var linear_cross_entropy(const Var& h, const Var& table, const IntTensor& targets, int32_t ignore_index = -1);
// cross_entropy's gradient with respect to its logits as one fused op (its backward rule):
// (softmax(logits) - onehot(targets)) * row_scale * g, logits (N, V), row_scale (N) data, g a single
// value (the incoming gradient). `lse` = the rows' log-sum-exp when the caller already has it.
// Differentiable again in logits and g (second order through the loss).
Var softmax_cross_entropy_grad(const Var& logits, const IntTensor& targets, const Tensor& row_scale, const Var& g,
                               const Tensor& lse = Tensor());
// Mean binary cross-entropy with logits: labels in {0,1} (same shape as logits), stable form.
Var bce_with_logits(const Var& logits, const Tensor& labels);

// ---- position ------------------------------------------------------------------------------------
// Rotary embedding on interleaved pairs of the last axis; x (..., T, D), cos/sin (T, D/2) data.
Var rope(const Var& x, const Tensor& cos, const Tensor& sin);

// ---- operators ----------------------------------------------------------------------------------
inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }
inline Var operator-(const Var& a) { return neg(a); }
inline Var operator+(const Var& a, float s) { return add(a, s); }
inline Var operator+(float s, const Var& a) { return add(a, s); }
inline Var operator-(const Var& a, float s) { return add(a, -s); }
inline Var operator-(float s, const Var& a) { return add(neg(a), s); }
inline Var operator*(const Var& a, float s) { return mul(a, s); }
inline Var operator*(float s, const Var& a) { return mul(a, s); }
inline Var operator/(const Var& a, float s) { return mul(a, 1.0f / s); }

}  // namespace tt::ad
