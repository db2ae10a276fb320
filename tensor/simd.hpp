// tensor/simd.hpp — the engine's one fused multiply-add, tt::simd::fma(a, b, c) = a*b + c rounded once,
// for xsimd batches and for scalars.
//
// Why not xsimd::fma: xsimd 8.1 has no AVX-512 FMA kernel. On an avx512 batch it falls back to the
// generic x*y + z, which the project's -ffp-contract=off (root meson.build: results must not depend
// on buffer addresses) compiles to a vmulps and a vaddps: two roundings and half the arithmetic
// throughput. In a portable SSE2 build there is no FMA instruction at all and xsimd::fma is again
// mul + add. So the result of "fma" depended on the build, and on this machine the matmul ran at
// half speed.
//
// The contract here, on every build: every lane is rounded exactly once, like std::fma. So a vector
// body and the scalar iterations that finish it (which call std::fma, through the float overload
// below) give the same bits for the same element, whatever the alignment, tail length or thread
// split that put the element in one or the other.
//   * avx512 batches: _mm512_fmadd_ps (xsimd 8.1 lacks it, see above);
//   * fma3+avx2 / fma3+sse batches: _mm256_fmadd_ps / _mm_fmadd_ps (what xsimd::fma calls too);
//   * aarch64 NEON: vfmaq_f32;
//   * anything else (the portable SSE2 build): std::fma lane by lane. Slow, but exact: a portable
//     binary computes the same fused arithmetic as a native one (glibc's fmaf itself picks the FMA
//     instruction at run time where the CPU has one), and tests that check fusion hold everywhere.
//     kHardwareFma tells the bench which case it is measuring.
#pragma once

#include <cmath>
#include <cstddef>
#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#endif

namespace tt::simd {

using batch = xsimd::batch<float>;  // arch from the compile flags: sse2, fma3<avx2>, avx512bw, ...
inline constexpr std::size_t W = batch::size;
// The ISA is read from the compiler's macros, the same ones xsimd picks its default arch from (the
// widest one enabled), and the static_asserts check that the batch really is that register.
#if defined(__AVX512F__)
#define TT_SIMD_FMA_AVX512 1
#elif defined(__FMA__) && defined(__AVX__)
#define TT_SIMD_FMA_AVX 1
#elif defined(__FMA__) && defined(__SSE2__)
#define TT_SIMD_FMA_SSE 1
#elif defined(__aarch64__) && defined(__ARM_NEON)
#define TT_SIMD_FMA_NEON 1
#endif

// True when fma(batch, batch, batch) is one instruction on this build (false: per-lane std::fma).
#if defined(TT_SIMD_FMA_AVX512) || defined(TT_SIMD_FMA_AVX) || defined(TT_SIMD_FMA_SSE) || defined(TT_SIMD_FMA_NEON)
inline constexpr bool kHardwareFma = true;
#else
inline constexpr bool kHardwareFma = false;
#endif

// a*b + c, one rounding (std::fma; a single vfmadd instruction where the target has FMA).
inline float fma(float a, float b, float c) { return std::fma(a, b, c); }

// a*b + c per lane, one rounding per lane.
inline batch fma(const batch& a, const batch& b, const batch& c) {
#if defined(TT_SIMD_FMA_AVX512)
    static_assert(W == 16, "an AVX-512 build should give 16-lane batches");
    return batch(_mm512_fmadd_ps(a, b, c));
#elif defined(TT_SIMD_FMA_AVX)
    static_assert(W == 8, "an AVX build should give 8-lane batches");
    return batch(_mm256_fmadd_ps(a, b, c));
#elif defined(TT_SIMD_FMA_SSE)
    static_assert(W == 4, "an SSE build should give 4-lane batches");
    return batch(_mm_fmadd_ps(a, b, c));
#elif defined(TT_SIMD_FMA_NEON)
    static_assert(W == 4, "a NEON build should give 4-lane batches");
    return batch(vfmaq_f32(c, a, b));
#else
    alignas(64) float x[W], y[W], z[W];
    a.store_aligned(x);
    b.store_aligned(y);
    c.store_aligned(z);
    for (std::size_t k = 0; k < W; ++k) x[k] = std::fma(x[k], y[k], z[k]);
    return batch::load_aligned(x);
#endif
}

}  // namespace tt::simd
