// tensor/simd.hpp — the engine's one fused multiply-add, tt::simd::fma(a, b, c) = a*b + c rounded once,
// for xsimd batches and for scalars.
//
// Why not xsimd::fma: xsimd 8.1 has no AVX-512 FMA kernel. On an avx512 batch it falls back to the
// generic x*y + z, which the project's -ffp-contract=off (root meson.build: results must not depend
// on buffer addresses) compiles to a vmulps and a vaddps: two roundings, two instructions. In a
// portable SSE2 build there is no FMA instruction at all and xsimd::fma is again mul + add. So the
// result of "fma" depended on the build, and the AVX-512 kernels ran slower than they could (on the
// Zen 4 this was measured on, which adds on separate pipes, a mul+add chain probe reached 26
// flops/cycle against 32 fused, and sgemm gained 1.2-1.75x from fusing).
//
// The contract here, on every build: every lane is rounded exactly once, like std::fma. So a vector
// body and the scalar iterations that finish it (which call std::fma, through the float overload
// below) give the same bits for the same element, whatever the alignment, tail length or thread
// split that put the element in one or the other.
//   * avx512 batches: _mm512_fmadd_ps (xsimd 8.1 lacks it, see above);
//   * fma3+avx2 / fma3+sse batches: _mm256_fmadd_ps / _mm_fmadd_ps (what xsimd::fma calls too);
//   * aarch64 NEON: vfmaq_f32;
//   * SSE2 without FMA (the portable build): exact emulation in double (see below), falling back to
//     std::fma lane by lane on the rare lanes where that could round twice; anything else: std::fma
//     lane by lane. Slower, but exact: a portable binary computes the same fused arithmetic as a
//     native one, and tests that check fusion hold everywhere. kHardwareFma tells the bench which
//     case it is measuring.
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
#if defined(__SSE2__) && !defined(__AVX__)
    // SSE2 without FMA (the portable build), in double: the product of two floats is exact in
    // double (48 significant bits), so s = a*b + c rounded once to double is within half a double
    // ulp of the exact x. Rounding s to float then gives RN(x), the fused result, unless s sits
    // exactly on a float rounding boundary (a midpoint between two floats): every midpoint is a
    // double, rounding to double is monotonic, so s and x lie on the same side of every midpoint
    // except the one s may land on. Such lanes (low 29 bits of s's significand 1000...0), and
    // results in the float subnormal range (where midpoints are spaced differently), take the
    // exact per-lane std::fma below; they are rare in practice.
    static_assert(W == 4, "an SSE2 build should give 4-lane batches");
    const __m128 af = a, bf = b, cf = c;
    const __m128d s_lo = _mm_add_pd(_mm_mul_pd(_mm_cvtps_pd(af), _mm_cvtps_pd(bf)), _mm_cvtps_pd(cf));
    const __m128d s_hi = _mm_add_pd(_mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(af, af)), _mm_cvtps_pd(_mm_movehl_ps(bf, bf))),
                                    _mm_cvtps_pd(_mm_movehl_ps(cf, cf)));
    const auto boundary = [](__m128d v) {
        // low dword of each double: its significand's low 32 bits
        const __m128i low = _mm_and_si128(_mm_castpd_si128(v), _mm_set1_epi64x(0x1FFFFFFF));
        const __m128i mid = _mm_cmpeq_epi32(low, _mm_set1_epi64x(0x10000000));
        const __m128d tiny = _mm_and_pd(_mm_cmplt_pd(_mm_andnot_pd(_mm_set1_pd(-0.0), v), _mm_set1_pd(0x1p-126)),
                                        _mm_cmpneq_pd(v, _mm_setzero_pd()));
        // dword lanes 0 and 2 are the low dwords (the high ones are masked to 0 and always equal)
        return (_mm_movemask_ps(_mm_castsi128_ps(mid)) & 0x5) | _mm_movemask_pd(tiny);
    };
    if ((boundary(s_lo) | boundary(s_hi)) == 0)
        return batch(_mm_movelh_ps(_mm_cvtpd_ps(s_lo), _mm_cvtpd_ps(s_hi)));
#endif
    alignas(64) float x[W], y[W], z[W];
    a.store_aligned(x);
    b.store_aligned(y);
    c.store_aligned(z);
    for (std::size_t k = 0; k < W; ++k) x[k] = std::fma(x[k], y[k], z[k]);
    return batch::load_aligned(x);
#endif
}

}  // namespace tt::simd
