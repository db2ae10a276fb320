// tensor/matmul.hpp — single-precision GEMM: the packed, blocked SIMD kernel behind tt::matmul.
//
// sgemm computes, BLAS style but row-major,
//
//     C (M, N) = alpha * op(A) (M, K) · op(B) (K, N) + beta * C
//
// where op(A) = A (stored (M, K), row stride lda) or, with trans_a, Aᵀ (A stored (K, M));
// op(B) = B (stored (K, N), row stride ldb) or, with trans_b, Bᵀ (B stored (N, K)).
// C is stored (M, N) with row stride ldc >= N. When beta == 0, C is only written (never read), so it
// may hold garbage or NaN on entry, as in BLAS. An optional bias (N floats) is added to every row of
// C in the same pass (a Linear layer's x Wᵀ + b): C = alpha·op(A)·op(B) + (beta·C + bias), rounded
// once, so with alpha = 1, beta = 0 and K <= KC it equals the product followed by adding the bias.
//
// The fast path follows GotoBLAS/BLIS (see matmul.cpp for the walk-through): op(B) is copied
// ("packed") into contiguous, aligned panels, and an xsimd register-blocked micro-kernel computes
// MR x NR tiles of C with fma, reading MR rows of op(A) straight from A (measured faster here than
// packing A, see matmul.cpp; a one-panel-wide C with a transposed big A is solved as Cᵀ = op(B)ᵀ A).
// Threads split the M x N tiles of C, never K: every element of C is
// computed by the same sequence of fma's whatever the thread count, so results are bit-identical
// for 1 and N threads (tt::num_threads(); one thread when called from inside a parallel region).
//
// sgemm_ref is the naive triple loop (accumulates in double): the reference the tests compare with.
#pragma once

#include <cstdint>

namespace tt {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias = nullptr);

// Same contract, with an explicit thread count (>= 1) instead of tt::num_threads().
void sgemm_threads(int nthreads, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                   const float* bias = nullptr);

// Naive reference: for each (i, j), s = sum_k op(A)(i,k) * op(B)(k,j) in double, then
// C = float(alpha * s + beta * C) (C not read when beta == 0). Slow (no blocking, no SIMD): tests only.
void sgemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The blocking parameters compiled into this build (they depend on the SIMD width), so that tests can
// aim at edge cases (MR±1, NR±1, ...) and the bench can print them.
struct SgemmConfig {
    int simd_width;  // floats per xsimd::batch<float>: 4 sse2, 8 avx2, 16 avx512
    int mr, nr;      // micro-tile of C held in registers: MR rows x NR columns (NR = a few vectors)
    int kc, nc;      // cache blocks: K-depth of a block, columns of the packed B slab (at depth kc)
    int kc_narrow;   // K-depth of a block when N <= nr (one panel wide) and op(A) = A: each element's
                     // fma chain restarts every kc_narrow instead of every kc (matmul.cpp, block_depth)
    const char* arch;  // xsimd::default_arch::name()
};
SgemmConfig sgemm_config();

}  // namespace tt
