// tensor/kernels.hpp — raw-pointer SIMD kernels (xsimd) that the ops of tensor/ops.hpp run on.
//
// Every kernel works on plain contiguous float arrays: a vector main loop over
// xsimd::batch<float> (the arch comes from the compile flags: AVX-512 with -march=native, sse2 in
// a portable build) and a scalar loop for the leftovers. Reductions keep several independent
// accumulators so the adds pipeline.
//
// Every kernel `foo` has a scalar twin `foo_ref` with the same signature: the plain loop that
// says what `foo` means. Tests compare the two at tail-sensitive lengths (0, 1, W-1, W, W+1, ...).
// Results agree up to rounding only: the SIMD versions sum in a different order. Where a kernel
// multiplies and adds in one step it calls tt::simd::fma (tensor/simd.hpp: rounded once on every
// build) in the vector body and std::fma in the scalar leftovers, so an element gets the same bits
// whichever loop reaches it (axpy_ref, also std::fma, matches axpy bit for bit).
//
// Kernels never allocate, never throw and never start threads: splitting work is the caller's job
// (tensor/ops.cpp). Unless a comment says otherwise, `out` may alias an input exactly (same
// pointer), which is how the *_inplace ops run.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/ops.hpp"  // BinaryOp, UnaryOp

namespace tt::kernels {

using std::size_t;

size_t simd_width();          // W = xsimd::batch<float>::size: 4 sse2, 8 avx2, 16 avx512
const char* simd_arch_name();  // "sse2", "avx512bw", ...

// ---- dropout masks from a counter-based generator -------------------------------------------------
// out[i] = value where u >= p, else 0, with u = the top 24 bits of splitmix64's output for counter
// offset + i under `key` (SplitMix64 is a Weyl sequence key + (c + 1)·γ through a 64-bit mixer), as a
// float in [0, 1). Element i's draw depends only on (key, offset + i), never on how [0, n) is split
// into chunks or threads: the mask is the same for any thread count, and it vectorises.
void keep_mask(uint64_t key, uint64_t offset, float p, float value, float* out, size_t n);
void keep_mask_ref(uint64_t key, uint64_t offset, float p, float value, float* out, size_t n);

// ---- elementwise binary: out = a op b ----------------------------------------------------------
// Greater/GreaterEqual/Equal write 1.0f where true and 0.0f where false.
void binary(BinaryOp op, const float* a, const float* b, float* out, size_t n);
void binary_ref(BinaryOp op, const float* a, const float* b, float* out, size_t n);
// b is one scalar: out[i] = a[i] op b.
void binary_scalar_b(BinaryOp op, const float* a, float b, float* out, size_t n);
void binary_scalar_b_ref(BinaryOp op, const float* a, float b, float* out, size_t n);
// a is one scalar: out[i] = a op b[i] (needed for the non-commutative ops, e.g. 1 - x).
void binary_scalar_a(BinaryOp op, float a, const float* b, float* out, size_t n);
void binary_scalar_a_ref(BinaryOp op, float a, const float* b, float* out, size_t n);
// Row broadcast: a (rows, cols), b_row (cols) repeated for every row: out[r, c] = a[r, c] op b_row[c].
void binary_row(BinaryOp op, const float* a, const float* b_row, float* out, size_t rows, size_t cols);
void binary_row_ref(BinaryOp op, const float* a, const float* b_row, float* out, size_t rows, size_t cols);

// out[i] = cond[i] != 0 ? a[i] : b[i]
void select(const float* cond, const float* a, const float* b, float* out, size_t n);
void select_ref(const float* cond, const float* a, const float* b, float* out, size_t n);
// out[i] = mask[i] != 0 ? value : x[i]
void masked_fill(const float* x, const float* mask, float value, float* out, size_t n);
void masked_fill_ref(const float* x, const float* mask, float value, float* out, size_t n);

// ---- unary and scalar ----------------------------------------------------------------------------
void unary(UnaryOp op, const float* x, float* out, size_t n);
void unary_ref(UnaryOp op, const float* x, float* out, size_t n);
void add_scalar(const float* x, float s, float* out, size_t n);  // out = x + s
void add_scalar_ref(const float* x, float s, float* out, size_t n);
void mul_scalar(const float* x, float s, float* out, size_t n);  // out = x * s
void mul_scalar_ref(const float* x, float s, float* out, size_t n);
// out = x^p. Integer p (|p| <= 64) is exact repeated multiplication, so negative x works as in
// std::pow; any other p uses exp(p log x) and is meant for x >= 0.
void pow_scalar(const float* x, float p, float* out, size_t n);
void pow_scalar_ref(const float* x, float p, float* out, size_t n);

// y += alpha * x  (out is y: no aliasing between x and y)
void axpy(float alpha, const float* x, float* y, size_t n);
void axpy_ref(float alpha, const float* x, float* y, size_t n);

// ---- reductions ----------------------------------------------------------------------------------
float sum(const float* x, size_t n);  // 0 for n == 0
float sum_ref(const float* x, size_t n);
// Sum accumulated in double (for sum_all and losses, where float accumulation drifts). Four double
// accumulators; xsimd 8.1 has no float->double batch conversion, so this one relies on the
// compiler to vectorize the widening adds.
double sum_f64(const float* x, size_t n);
double sum_f64_ref(const float* x, size_t n);
float max(const float* x, size_t n);  // -inf for n == 0
float max_ref(const float* x, size_t n);
float dot(const float* a, const float* b, size_t n);
float dot_ref(const float* a, const float* b, size_t n);
float max_abs_diff(const float* a, const float* b, size_t n);  // max |a - b|, 0 for n == 0
float max_abs_diff_ref(const float* a, const float* b, size_t n);

// Reduce the innermost axis: x (rows, cols) with row stride `ld` -> out[r] = sum/max over c.
void sum_rows(const float* x, size_t rows, size_t cols, size_t ld, float* out);
void sum_rows_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out);
void max_rows(const float* x, size_t rows, size_t cols, size_t ld, float* out);
void max_rows_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out);
// Reduce an outer axis, SIMD over the inner (contiguous) one: x (rows, cols) with row stride `ld`
// -> out[c] = sum/max over r. Rows are added in order 0..rows-1 for every column, so the result is
// the same whichever column block a thread is given. out must not alias x.
void sum_cols(const float* x, size_t rows, size_t cols, size_t ld, float* out);
void sum_cols_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out);
void max_cols(const float* x, size_t rows, size_t cols, size_t ld, float* out);
void max_cols_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out);

// ---- softmax of one row (max-subtracted, so large inputs do not overflow) ----------------------
void softmax_row(const float* x, float* out, size_t n);
void softmax_row_ref(const float* x, float* out, size_t n);
// out = softmax(scale * x), scale > 0 (attention's 1/sqrt(d)). Rows of up to 4 vectors (the
// attention rows of a sequence model) stay in registers: one read of x, one write of out.
void scaled_softmax_row(const float* x, float* out, size_t n, float scale);
void scaled_softmax_row_ref(const float* x, float* out, size_t n, float scale);
void log_softmax_row(const float* x, float* out, size_t n);
void log_softmax_row_ref(const float* x, float* out, size_t n);
// log sum_i exp(x[i]), max-subtracted; -inf for n == 0.
float logsumexp(const float* x, size_t n);
float logsumexp_ref(const float* x, size_t n);
// out[i] = exp(x[i] - shift) * scale: softmax rows from a known log-sum-exp (shift = lse), scaled.
void exp_shift_scale(const float* x, float shift, float scale, float* out, size_t n);
void exp_shift_scale_ref(const float* x, float shift, float scale, float* out, size_t n);

// ---- softmax down the columns of a tile ---------------------------------------------------------
// For the fused linear cross-entropy (tt::linear_logsumexp), whose logits blocks are computed
// transposed: x (rows, cols), row stride ld, one softmax per *column*, SIMD across columns.
// out[c] = log sum_r exp(x[r, c])  (max-subtracted)
void logsumexp_cols(const float* x, size_t rows, size_t cols, size_t ld, float* out);
void logsumexp_cols_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out);
// In place: x[r, c] = exp(x[r, c] - lse[c]) * scale[c]  (softmax of each column, scaled)
void softmax_scale_cols(float* x, size_t rows, size_t cols, size_t ld, const float* lse, const float* scale);
// Both at once, one exp per element: writes lse[c] exactly as logsumexp_cols does (same sums in
// the same order), and in place x[r, c] = exp(x[r, c] - max_c) * (scale[c] / sum_c), which is
// softmax_scale_cols's value up to rounding.
void lse_softmax_scale_cols(float* x, size_t rows, size_t cols, size_t ld, const float* scale, float* lse);
void lse_softmax_scale_cols_ref(float* x, size_t rows, size_t cols, size_t ld, const float* scale, float* lse);
void softmax_scale_cols_ref(float* x, size_t rows, size_t cols, size_t ld, const float* lse, const float* scale);

// ---- normalisation of one row (see tt::normalize) -------------------------------------------------
// out = (x - [mean]) / sqrt(mean((x - [mean])^2) + eps); the mean is subtracted only when center.
void normalize_row(const float* x, float* out, size_t n, float eps, bool center);
void normalize_row_ref(const float* x, float* out, size_t n, float eps, bool center);
// The same with the affine part of LayerNorm / RMSNorm: out = normalize_row(x) * gamma + beta
// (beta may be nullptr), one pass.
void normalize_affine_row(const float* x, float* out, size_t n, float eps, bool center, const float* gamma,
                          const float* beta);
void normalize_affine_row_ref(const float* x, float* out, size_t n, float eps, bool center, const float* gamma,
                              const float* beta);
// out = d<u, normalize_row(x)>/dx = r (u - [mean(u)] - xhat mean(u xhat)). out may alias u.
void normalize_row_vjp(const float* x, const float* u, float* out, size_t n, float eps, bool center);
void normalize_row_vjp_ref(const float* x, const float* u, float* out, size_t n, float eps, bool center);

// ---- SwiGLU's gate: out = silu(a) b, and its VJP for g: da = g b silu'(a), db = g silu(a) ----------
// (the arithmetic of the unfused silu, mul and their rules, in the same order)
void swiglu(const float* a, const float* b, float* out, size_t n);
void swiglu_ref(const float* a, const float* b, float* out, size_t n);
void swiglu_vjp(const float* a, const float* b, const float* g, float* da, float* db, size_t n);
void swiglu_vjp_ref(const float* a, const float* b, const float* g, float* da, float* db, size_t n);

// ---- TTT's inner loss Φ: LayerNorm fused with ½‖γ ⊙ ẑ + β − t‖², ẑ = normalize_row(z) (centred) ---
// out = dΦ/dz = r (ĝ − mean(ĝ) − ẑ mean(ĝ ẑ)), ĝ = (γ ẑ + β − t) γ  (model/ttt_ops.cpp ln_fused_l2_grad)
void ln_l2_grad_row(const float* z, const float* t, const float* gamma, const float* beta, float* out, size_t n,
                    float eps);
void ln_l2_grad_row_ref(const float* z, const float* t, const float* gamma, const float* beta, float* out, size_t n,
                        float eps);
// Its VJP for u = dL/d(out) (model/TTT.md §4.2): dz, w ⊙ γ and w ⊙ e + w ⊙ γ ⊙ ẑ (n each), with
// w = J u, e = γ ẑ + β − t. No output may alias an input.
void ln_l2_grad_vjp_row(const float* u, const float* z, const float* t, const float* gamma, const float* beta,
                        float* dz, float* wg, float* dg, size_t n, float eps);
void ln_l2_grad_vjp_row_ref(const float* u, const float* z, const float* t, const float* gamma, const float* beta,
                            float* dz, float* wg, float* dg, size_t n, float eps);

// ---- rotary embedding of one row of interleaved pairs ------------------------------------------
// x, out (2 * n_pairs); cos, sin (n_pairs):
//   out[2j] = x[2j] cos[j] - x[2j+1] sin[j],  out[2j+1] = x[2j+1] cos[j] + x[2j] sin[j]
// out must not alias x.
void rope_row(const float* x, const float* cos, const float* sin, float* out, size_t n_pairs);
void rope_row_ref(const float* x, const float* cos, const float* sin, float* out, size_t n_pairs);

}  // namespace tt::kernels
