// tensor/ops.hpp — numeric ops on Tensors (no autograd): what autodiff's ops call to compute values.
//
// Every op here returns a new contiguous tensor and never modifies its inputs (except the
// explicitly named *_inplace / *_into functions). Shapes are checked with TT_CHECK and errors
// name the op and the shapes.
//
// Each op runs on the SIMD kernels of tensor/kernels.hpp (xsimd), and each of those kernels has a
// scalar `_ref` twin that the tests compare it with. Big loops are split across threads by
// tensor/parallel.hpp; results never depend on the thread count (no cross-thread reductions in
// a different order).
//
// Conventions: row-major, last dimension contiguous; `axis` may be negative (-1 = last).
// Broadcasting follows numpy: shapes align from the right and dimensions of size 1 stretch.
#pragma once

#include <utility>

#include "tensor/tensor.hpp"

namespace tt {

// ---- elementwise, with numpy broadcasting ----------------------------------------------------
enum class BinaryOp { Add, Sub, Mul, Div, Max, Min, Greater, GreaterEqual, Equal };
// Greater/GreaterEqual/Equal produce 1.0f where true and 0.0f where false.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
inline Tensor maximum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Max, a, b); }
inline Tensor minimum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Min, a, b); }
inline Tensor greater(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Greater, a, b); }

// out = cond != 0 ? a : b, all three broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// a += b in place (b broadcast to a's shape). The accumulation primitive of optimizers and grads.
void add_inplace(Tensor& a, const Tensor& b);
// a += alpha * b in place, same shapes (axpy).
void axpy_inplace(Tensor& a, float alpha, const Tensor& b);

// A dropout mask of shape s: `value` with probability 1 − p, else 0, drawn from the counter-based
// generator of kernels::keep_mask under `key` (element i uses counter i): the same mask whatever the
// thread count. Callers take the key from their seeded tt::Rng, one draw per mask.
Tensor keep_mask(const Shape& s, uint64_t key, float p, float value);

// ---- scalar and unary --------------------------------------------------------------------------
Tensor add_scalar(const Tensor& x, float s);
Tensor mul_scalar(const Tensor& x, float s);
Tensor pow_scalar(const Tensor& x, float p);  // x^p elementwise (p = 2, 0.5, -1, ... common cases fast)

// Silu = x sigmoid(x); SiluGrad = its derivative sigmoid(x) (1 + x (1 - sigmoid(x))).
// GeluTanh = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))), GeluTanhGrad and GeluTanhGrad2 its first and
// second derivatives (formulas in kernels.cpp).
enum class UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Relu, Square, Abs, Step /* x > 0 ? 1 : 0 */, Reciprocal,
                     Silu, SiluGrad, GeluTanh, GeluTanhGrad, GeluTanhGrad2 };
Tensor unary(UnaryOp op, const Tensor& x);
// SwiGLU's gate silu(a) b for a, b of one shape, one pass; its VJP for g (same shape) as
// [da ; db] stacked along a new leading axis, (2, ...shape): da = g b silu'(a), db = g silu(a).
Tensor swiglu(const Tensor& a, const Tensor& b);
Tensor swiglu_vjp(const Tensor& a, const Tensor& b, const Tensor& g);
inline Tensor neg(const Tensor& x) { return unary(UnaryOp::Neg, x); }
inline Tensor exp(const Tensor& x) { return unary(UnaryOp::Exp, x); }
inline Tensor log(const Tensor& x) { return unary(UnaryOp::Log, x); }
inline Tensor sqrt(const Tensor& x) { return unary(UnaryOp::Sqrt, x); }
inline Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, x); }
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, x); }
inline Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, x); }

// ---- reductions --------------------------------------------------------------------------------
Tensor sum(const Tensor& x, int axis, bool keepdim = false);
Tensor mean(const Tensor& x, int axis, bool keepdim = false);
Tensor max(const Tensor& x, int axis, bool keepdim = false);
float sum_all(const Tensor& x);  // accumulated in double
// Sums x down to `shape` (the inverse of broadcasting): the gradient of broadcast_to.
Tensor sum_to(const Tensor& x, const Shape& shape);
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// ---- softmax family (last axis) ----------------------------------------------------------------
Tensor softmax(const Tensor& x);
Tensor log_softmax(const Tensor& x);
// Causal attention weights in one pass: x (..., T, S), row i of each matrix is
// softmax(scale * x[i, 0..i]) followed by exact zeros for the masked keys j > i, i.e.
// softmax(tril(scale * x, 0, -inf)) without the two extra passes and the exp of masked scores.
Tensor causal_softmax(const Tensor& x, float scale);
// log sum_j exp(x[..., j]) over the last axis (max-subtracted): x (..., V) -> (...).
Tensor logsumexp(const Tensor& x);
// The gradient of softmax cross-entropy with respect to the logits, in one pass: x (N, V), its rows'
// log-sum-exp lse (N), targets (N) in [0, V), row_scale (N):
//   out[i, j] = (exp(x[i, j] - lse[i]) - [j == targets[i]]) * row_scale[i]   (rows with scale 0: zeros)
Tensor softmax_xent_grad(const Tensor& x, const Tensor& lse, const IntTensor& targets, const Tensor& row_scale);

// ---- normalisation over the last axis (what LayerNorm and RMSNorm are made of) ----------------------
// center = true : out = (x - mean) * r,  r = 1 / sqrt(mean((x - mean)^2) + eps)   (LayerNorm, no affine)
// center = false: out = x * r,           r = 1 / sqrt(mean(x^2) + eps)           (RMSNorm, no weight)
Tensor normalize(const Tensor& x, float eps, bool center);
// normalize(x) * gamma + beta in one pass (LayerNorm, or RMSNorm's weight with beta undefined):
// gamma, beta (C) for x (..., C), or (G, 1, C) for x (..., G, K, C): one row per group of K rows.
Tensor normalize_affine(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps, bool center);
// Its vector-Jacobian product: u (same shape as x) -> d<u, normalize(x)>/dx
//   = r (u - [mean(u)] - xhat mean(u xhat)),  xhat = normalize(x), [mean(u)] only when centred.
Tensor normalize_vjp(const Tensor& x, const Tensor& u, float eps, bool center);

// ---- layout ------------------------------------------------------------------------------------
Tensor transpose(const Tensor& x, int axis_a, int axis_b);    // swaps two axes (copy)
Tensor permute(const Tensor& x, std::span<const int> perm);   // out.dim(i) = x.dim(perm[i])
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);  // [start, end) along axis
Tensor concat(std::span<const Tensor> xs, int axis);
// Writes `src` into x[..., start:start+src.dim(axis), ...] (the gradient of slice).
Tensor pad_slice(const Tensor& src, const Shape& full_shape, int axis, int64_t start);
// dst[.., start : start + src.dim(axis), ..] += src, in place: the adjoint of slice accumulated
// without building pad_slice's zero-padded tensor (autodiff's first-order backward uses it).
void add_into_slice(Tensor& dst, const Tensor& src, int axis, int64_t start);

// Lower-triangular mask on the last two dims: out[..., i, j] = j <= i + diagonal ? x : fill.
Tensor tril(const Tensor& x, int64_t diagonal = 0, float fill = 0.0f);
// The exact (erf) GELU, x Φ(x) = ½ x (1 + erf(x/√2)), and its derivative Φ(x) + x φ(x), elementwise.
// Scalar std::erf per element, not a SIMD kernel: xsimd's generic erf would round differently from
// std::erf, which the golden tests and the published runs use; these run on FFN activations only.
Tensor gelu_erf(const Tensor& x);
Tensor gelu_erf_grad(const Tensor& x);
// out = mask != 0 ? value : x, mask broadcast to x's shape.
Tensor masked_fill(const Tensor& x, const Tensor& mask, float value);

// Rotary position embedding on interleaved pairs (2j, 2j+1) of the last axis:
//   out[2j]   = x[2j] cos[t,j] - x[2j+1] sin[t,j]
//   out[2j+1] = x[2j+1] cos[t,j] + x[2j] sin[t,j]
// x (..., T, D) with D even; cos, sin (T, D/2). rope(x, cos, -sin) is the inverse rotation.
Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin);

// ---- rows: embedding lookup and its gradient ----------------------------------------------------
// table (V, C), idx any shape of ids in [0, V) -> out idx.shape + (C).
Tensor gather_rows(const Tensor& table, const IntTensor& idx);
// out (num_rows, C) = zeros, then out[idx[i]] += src[i]  (src idx.shape + (C)).
Tensor scatter_add_rows(const Tensor& src, const IntTensor& idx, int64_t num_rows);
// x (N, V): out = x with out[i, idx[i]] += value (the one-hot part of cross-entropy's gradient).
Tensor add_at_index(const Tensor& x, const IntTensor& idx, float value);
// x (N, V) -> (N): x[i, idx[i]]
Tensor pick(const Tensor& x, const IntTensor& idx);

// ---- matmul ------------------------------------------------------------------------------------
// a (..., M, K) (or (..., K, M) with trans_a), b (..., K, N) (or (..., N, K) with trans_b).
// Batch dims must be equal, or b may be 2-D and is then shared by every batch (x @ W).
// Runs the packed, blocked SIMD micro-kernel of tensor/matmul.hpp, split across threads.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// A Linear layer's x Wᵀ + b: x (..., in), W (out, in), b (out) -> (..., out). One GEMM over all rows
// of x that adds the bias as it writes each tile of the output (no second pass over it); the same
// bits as add(matmul(x, W, false, true), b) whenever in <= 256 (one K-block), else equal to rounding.
Tensor linear(const Tensor& x, const Tensor& W, const Tensor& b);

// ---- fused linear + softmax cross-entropy (matmul.cpp) ----------------------------------------------
// For h (N, C) against a table (V, C), the logits H Tᵀ (N, V) are computed in blocks of rows that
// stay in cache and are never stored whole (with the benchmark's 6400 x 3417 that is 87 MB).
// Forward: lse[i] = log sum_v exp(h_i . t_v) and picked[i] = h_i . t_{targets[i]}, each (N).
std::pair<Tensor, Tensor> linear_logsumexp(const Tensor& h, const Tensor& table, const IntTensor& targets);
// Backward: with D = (softmax(H Tᵀ) - onehot(targets)) * row_scale (row-wise, lse from the forward),
// returns [D T ; Dᵀ H] stacked along axis 0: (N + V, C), the gradients of h and of the table.
// The logits are recomputed block by block. Dᵀ H is summed over fixed groups of rows in a fixed
// order, so the result does not depend on the thread count.
Tensor linear_xent_grad(const Tensor& h, const Tensor& table, const IntTensor& targets, const Tensor& lse,
                        const Tensor& row_scale);
// Both in one pass, for a training step: lse and picked equal linear_logsumexp's bit for bit and
// grad equals linear_xent_grad(h, table, targets, lse, row_scale) to rounding, but each block of
// logits is computed once instead of twice (forward, then again in the backward), and each logit
// goes through exp once instead of twice.
struct LinearXent {
    Tensor lse, picked;  // (N) each
    Tensor grad;         // (N + V, C): [D T ; Dᵀ H]
};
LinearXent linear_xent_value_grad(const Tensor& h, const Tensor& table, const IntTensor& targets,
                                  const Tensor& row_scale);

// ---- comparisons used by tests -----------------------------------------------------------------
// max |a-b| / (atol + rtol*|b|) style check is in tests; this is the raw max abs difference.
float max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace tt
