// tests/tensor/test_fused.cpp — the engine's multiply-adds are fused (rounded once) on every build.
//
// xsimd 8.1's fma is a separate multiply and add on AVX-512 batches and in an SSE2 build, and the
// project compiles with -ffp-contract=off, so nothing fuses by accident: the kernels call
// tt::simd::fma (tensor/simd.hpp). These tests fail if any of the kernels that matter (the matmul
// micro-kernel behind sgemm, small_gemm behind batched tt::matmul, axpy, dot, the normalisation
// and TTT Φ rows) rounds a*b + c twice, in the vector body or in the scalar leftovers.
//
// The operands: kA = 1 + 2^-12, so kA * kA = 1 + 2^-11 + 2^-24 exactly. Rounded to float first
// (24-bit significand) the 2^-24 is lost: kA*kA - 1 = 2^-11 unfused, 2^-11 + 2^-24 fused.
//
// The portable build (-Dnative=false, SSE2, no FMA instruction) must pass too: there simd::fma
// is std::fma lane by lane (slow but exact) rather than mul + add, so that a portable binary does
// the same arithmetic as a native one and these tests state one contract for both.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/kernels.hpp"
#include "tensor/matmul.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/simd.hpp"
#include "tensor/tensor.hpp"

namespace {

namespace K = tt::kernels;
using Vec = std::vector<float>;

constexpr float kA = 1.0f + 0x1p-12f;
constexpr float kFused = 0x1p-11f + 0x1p-24f;  // fma(kA, kA, -1)
constexpr float kUnfused = 0x1p-11f;           // kA * kA - 1 with two roundings

Vec random_vec(std::size_t n, uint64_t seed) {
    tt::Rng rng(seed);
    Vec v(n);
    for (auto& x : v) x = rng.uniform() * 2.0f - 1.0f;
    return v;
}

// Lengths around the vector width: all-tail, one vector, vector + tail, several vectors + tail.
std::vector<std::size_t> lengths() {
    const std::size_t W = K::simd_width();
    return {1, 2, W - 1, W, W + 1, 2 * W, 4 * W - 1, 4 * W, 4 * W + 3, 8 * W + 5, 64, 67};
}

// C = op(A) op(B) as the engine promises to compute it (matmul.cpp, "Determinism"): for each
// element one std::fma chain over k in order, restarted at every K-block of depth kc, each block
// added to the previous ones with one rounding.
Vec fma_chain_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const Vec& A, const Vec& B, int64_t kc) {
    const int64_t lda = ta ? M : K, ldb = tb ? K : N;
    Vec C(static_cast<std::size_t>(M * N));
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            float c = 0.0f;
            for (int64_t p0 = 0; p0 < K; p0 += kc) {
                float acc = 0.0f;
                for (int64_t k = p0; k < std::min(K, p0 + kc); ++k) {
                    const float a = ta ? A[k * lda + i] : A[i * lda + k];
                    const float b = tb ? B[j * ldb + k] : B[k * ldb + j];
                    acc = std::fma(a, b, acc);
                }
                c = p0 == 0 ? acc : acc + c;
            }
            C[i * N + j] = c;
        }
    return C;
}

// Operands whose every product element is kA*kA - 1 through a K = 2 chain: op(A) rows (1, kA),
// op(B) columns (-1, kA), stored as the transposes say.
void sentinel_operands(bool ta, bool tb, int64_t M, int64_t N, Vec& A, Vec& B) {
    A.assign(static_cast<std::size_t>(M * 2), 0.0f);
    B.assign(static_cast<std::size_t>(2 * N), 0.0f);
    for (int64_t i = 0; i < M; ++i) {
        (ta ? A[0 * M + i] : A[i * 2 + 0]) = 1.0f;
        (ta ? A[1 * M + i] : A[i * 2 + 1]) = kA;
    }
    for (int64_t j = 0; j < N; ++j) {
        (tb ? B[j * 2 + 0] : B[0 * N + j]) = -1.0f;
        (tb ? B[j * 2 + 1] : B[1 * N + j]) = kA;
    }
}

}  // namespace

TEST_SUITE("tensor/kernels") {
    TEST_CASE("fused multiply-add: the operands tell fused from unfused, and simd::fma fuses every lane") {
        volatile float a = kA;  // computed at run time, with this file's -ffp-contract=off
        const float product = a * a;
        CHECK(product - 1.0f == kUnfused);
        CHECK(std::fma(kA, kA, -1.0f) == kFused);
        CHECK(kFused != kUnfused);

        const std::size_t W = tt::simd::W;
        Vec x(W), y(W), z(W), out(W);
        for (std::size_t k = 0; k < W; ++k) {  // a different pair per lane: lanes must not mix
            x[k] = kA * static_cast<float>(k + 1);
            y[k] = kA;
            z[k] = -static_cast<float>(k + 1);
        }
        using batch = tt::simd::batch;
        tt::simd::fma(batch::load_unaligned(x.data()), batch::load_unaligned(y.data()), batch::load_unaligned(z.data()))
            .store_unaligned(out.data());
        for (std::size_t k = 0; k < W; ++k) {
            CAPTURE(k);
            CHECK(out[k] == std::fma(x[k], y[k], z[k]));
        }
        CHECK(out[0] == kFused);
        CHECK(tt::simd::fma(kA, kA, -1.0f) == kFused);

        // Bit-equal to std::fma on random triples of every magnitude, with cancellation (c close to
        // -a*b), on exact ties (kA*kA - 2^-11 = 1 + 2^-24, halfway between 1 and 1 + 2^-23) and in
        // the subnormal range: the cases an emulation without an FMA instruction (the portable SSE2
        // build computes in double) could round twice.
        tt::Rng rng(99);
        Vec xs, ys, zs;
        for (int i = 0; i < 40000; ++i) {
            const float p = std::ldexp(rng.uniform() + 0.5f, static_cast<int>(rng.uniform() * 60.0f) - 30);
            const float q = std::ldexp(rng.uniform() - 0.5f, static_cast<int>(rng.uniform() * 60.0f) - 30);
            float r = std::ldexp(rng.uniform() - 0.5f, static_cast<int>(rng.uniform() * 60.0f) - 30);
            if (i % 3 == 0) r = -(p * q) * (1.0f + std::ldexp(rng.uniform() - 0.5f, -20));
            if (i % 7 == 0) r = -(p * q);
            xs.push_back(p), ys.push_back(q), zs.push_back(r);
        }
        for (int i = 0; i < 64; ++i) {  // exact ties, and results around the smallest normal float
            xs.push_back(kA), ys.push_back(kA), zs.push_back(i % 2 ? -0x1p-11f : -0x1p-11f - 0x1p-23f);
            xs.push_back(0x1p-70f * (1.0f + static_cast<float>(i) * 0x1p-20f)), ys.push_back(0x1p-57f), zs.push_back(0x1p-149f * static_cast<float>(i));
        }
        while (xs.size() % W != 0) xs.push_back(1.0f), ys.push_back(1.0f), zs.push_back(1.0f);
        std::size_t mismatches = 0;
        for (std::size_t i = 0; i < xs.size(); i += W) {
            alignas(64) float got[64];
            tt::simd::fma(batch::load_unaligned(xs.data() + i), batch::load_unaligned(ys.data() + i),
                          batch::load_unaligned(zs.data() + i))
                .store_unaligned(got);
            for (std::size_t k = 0; k < W; ++k) mismatches += got[k] != std::fma(xs[i + k], ys[i + k], zs[i + k]);
        }
        CHECK(mismatches == 0);
    }

    TEST_CASE("fused multiply-add: axpy rounds each y + alpha x once, in the vector body and the tail") {
        for (std::size_t n : lengths()) {
            CAPTURE(n);
            Vec x(n, kA), y(n, -1.0f);
            K::axpy(kA, x.data(), y.data(), n);
            CHECK(std::count(y.begin(), y.end(), kFused) == static_cast<std::ptrdiff_t>(n));
            // Random operands, y = -(alpha x) rounded: fused leaves the rounding error of alpha x
            // (mostly nonzero), unfused would leave exactly 0. And axpy_ref is the same std::fma.
            const float alpha = 0.3f;
            const Vec xr = random_vec(n, 7 + n);
            Vec yr(n), want(n);
            for (std::size_t i = 0; i < n; ++i) yr[i] = -(alpha * xr[i]);
            for (std::size_t i = 0; i < n; ++i) want[i] = std::fma(alpha, xr[i], yr[i]);
            Vec yref = yr;
            K::axpy(alpha, xr.data(), yr.data(), n);
            K::axpy_ref(alpha, xr.data(), yref.data(), n);
            CHECK(yr == want);
            CHECK(yref == want);
        }
    }

    TEST_CASE("fused multiply-add: dot fuses each accumulation, in every accumulator and in the tail") {
        const std::size_t W = K::simd_width();
        // n and the two positions that land in the same chain: both in the tail (n < W); lane 0 of
        // the one-vector loop (n = 2W); lane 0 of the first of the four accumulators (n = 8W); the
        // tail after vectors (n = 2W + 2).
        struct Case {
            std::size_t n, p, q;
        };
        for (const Case c : {Case{2, 0, 1}, Case{2 * W, 0, W}, Case{8 * W, 0, 4 * W}, Case{2 * W + 2, 2 * W, 2 * W + 1}}) {
            CAPTURE(c.n);
            Vec a(c.n, 0.0f), b(c.n, 0.0f);
            a[c.p] = 1.0f, b[c.p] = -1.0f;
            a[c.q] = kA, b[c.q] = kA;
            CHECK(K::dot(a.data(), b.data(), c.n) == kFused);
            CHECK(K::dot_ref(a.data(), b.data(), c.n) == kFused);
        }
    }

    TEST_CASE("fused multiply-add: normalize_affine_row and the TTT Φ row fuse gamma * xhat + beta") {
        for (std::size_t n : lengths()) {
            CAPTURE(n);
            const Vec x = random_vec(n, 11 + n), gamma = random_vec(n, 13 + n);
            // The kernel's own xhat: gamma = 1, beta = 0 makes fma(xhat, 1, 0) = xhat exactly (mean and
            // scale do not depend on gamma and beta).
            const Vec ones(n, 1.0f), zeros(n, 0.0f);
            Vec xh(n), out(n), beta(n);
            K::normalize_affine_row(x.data(), xh.data(), n, 1e-5f, true, ones.data(), zeros.data());
            // beta = -(gamma xhat) rounded: a fused gamma * xhat + beta is the rounding error of the
            // product, an unfused one exactly 0.
            for (std::size_t i = 0; i < n; ++i) beta[i] = -(xh[i] * gamma[i]);
            K::normalize_affine_row(x.data(), out.data(), n, 1e-5f, true, gamma.data(), beta.data());
            std::size_t nonzero = 0;
            for (std::size_t i = 0; i < n; ++i) {
                CAPTURE(i);
                CHECK(out[i] == std::fma(xh[i], gamma[i], beta[i]));
                nonzero += out[i] != 0.0f;
            }
            if (n >= 4) CHECK(nonzero > 0);  // n = 1: xhat = 0; tiny n: an exact product is likely

            // Φ row: with t = 0 and that beta, e = gamma xhat + beta - t is the product's rounding error
            // when fused and 0 when not; unfused, every output would be exactly 0. ln_l2_grad_row
            // computes xhat as normalize_row does.
            Vec xh2(n), phi(n);
            K::normalize_row(x.data(), xh2.data(), n, 1e-5f, true);
            for (std::size_t i = 0; i < n; ++i) beta[i] = -(gamma[i] * xh2[i]);
            K::ln_l2_grad_row(x.data(), zeros.data(), gamma.data(), beta.data(), phi.data(), n, 1e-5f);
            if (n >= 4) CHECK(std::count(phi.begin(), phi.end(), 0.0f) < static_cast<std::ptrdiff_t>(n));
        }
    }
}

TEST_SUITE("tensor/matmul") {
    TEST_CASE("fused multiply-add: sgemm's micro-kernel is one fused chain per element") {
        const tt::SgemmConfig cfg = tt::sgemm_config();
        const int64_t kc = cfg.kc, nr = cfg.nr;
        struct Shape3 {
            int64_t M, N, K;
        };
        // packed B with column edges; B read in place (N % W == 0, small); K beyond one K-block (of
        // depth kc, and of depth kc_narrow for a one-panel-wide C without trans_a); a one-panel-wide C
        // with 520 rows, which with trans_a is solved transposed (Cᵀ = Bᵀ A), K beyond both depths.
        for (const Shape3 s : {Shape3{37, 45, 70}, Shape3{24, 32, 20}, Shape3{13, 3 * nr, kc + 44},
                               Shape3{13, nr, cfg.kc_narrow + 44}, Shape3{520, nr / 4, cfg.kc_narrow + 9}}) {
            for (int t = 0; t < 4; ++t) {
                const bool ta = t & 1, tb = t & 2;
                CAPTURE(s.M);
                CAPTURE(s.N);
                CAPTURE(s.K);
                CAPTURE(ta);
                CAPTURE(tb);
                const Vec A = random_vec(static_cast<std::size_t>(s.M * s.K), 21), B = random_vec(static_cast<std::size_t>(s.K * s.N), 22);
                const Vec want = fma_chain_gemm(ta, tb, s.M, s.N, s.K, A, B, !ta && s.N <= nr ? cfg.kc_narrow : kc);
                for (int threads : {1, 2}) {
                    CAPTURE(threads);
                    Vec C(static_cast<std::size_t>(s.M * s.N), -7.0f);
                    tt::sgemm_threads(threads, ta, tb, s.M, s.N, s.K, 1.0f, A.data(), ta ? s.M : s.K, B.data(),
                                      tb ? s.K : s.N, 0.0f, C.data(), s.N);
                    CHECK(C == want);
                }
            }
        }
        // Every element kA*kA - 1 through the blocked path (M N K above small_gemm's size).
        for (int t = 0; t < 4; ++t) {
            const bool ta = t & 1, tb = t & 2;
            CAPTURE(ta);
            CAPTURE(tb);
            const int64_t M = 70, N = 75;
            Vec A, B, C(static_cast<std::size_t>(M * N));
            sentinel_operands(ta, tb, M, N, A, B);
            tt::sgemm_threads(1, ta, tb, M, N, 2, 1.0f, A.data(), ta ? M : 2, B.data(), tb ? 2 : N, 0.0f, C.data(), N);
            CHECK(std::count(C.begin(), C.end(), kFused) == M * N);
        }
    }

    TEST_CASE("fused multiply-add: batched tiny products (small_gemm) are one fused chain per element") {
        tt::Rng rng(5);
        // Per item at most small_gemm's size, so tt::matmul runs small_gemm: 16x16x16, 16x19x16,
        // 16x16x9, 16x19x9 (19 columns: a whole vector and a partial one; with trans_b, N = 19 and
        // K = 9 give partial 16 x 16 tiles to the transposition of B), the TTT-MLP shapes (8x8x16
        // and 8x8x64: N = 8, below one AVX-512 vector; 8x64x16: four vectors; 64x16x8), and 13 rows
        // (tiles of 8, 4 and 1) by 2W + 5 columns.
        struct Mnk { int64_t M, N, K; };
        const auto w = static_cast<int64_t>(tt::simd::W);
        for (const Mnk s : {Mnk{16, 16, 16}, Mnk{16, 19, 16}, Mnk{16, 16, 9}, Mnk{16, 19, 9}, Mnk{8, 8, 16}, Mnk{8, 8, 64},
                            Mnk{8, 64, 16}, Mnk{64, 16, 8}, Mnk{13, 2 * w + 5, 7}}) {
            for (int t = 0; t < 4; ++t) {
                const bool ta = t & 1, tb = t & 2;
                const int64_t M = s.M, N = s.N, Kd = s.K;
                CAPTURE(M);
                CAPTURE(N);
                CAPTURE(Kd);
                CAPTURE(ta);
                CAPTURE(tb);
                const int64_t nb = 3;
                const tt::Tensor a = tt::Tensor::randn(ta ? tt::Shape{nb, Kd, M} : tt::Shape{nb, M, Kd}, rng);
                const tt::Tensor b = tt::Tensor::randn(tb ? tt::Shape{nb, N, Kd} : tt::Shape{nb, Kd, N}, rng);
                const tt::Tensor c = tt::matmul(a, b, ta, tb);
                for (int64_t item = 0; item < nb; ++item) {
                    const Vec A(a.data() + item * M * Kd, a.data() + (item + 1) * M * Kd);
                    const Vec B(b.data() + item * Kd * N, b.data() + (item + 1) * Kd * N);
                    const Vec want = fma_chain_gemm(ta, tb, M, N, Kd, A, B, Kd);
                    const Vec got(c.data() + item * M * N, c.data() + (item + 1) * M * N);
                    CHECK(got == want);
                }
            }
        }
        // Every element kA*kA - 1 (K = 2): 5 rows (a 4-row tile and a 1-row tile) x W + 3 columns
        // (a whole vector and a partial one) per item.
        const int64_t M = 5, N = static_cast<int64_t>(tt::simd::W) + 3;
        Vec A, B;
        sentinel_operands(false, false, M, N, A, B);
        tt::Tensor a = tt::Tensor::empty(tt::Shape{2, M, 2}), b = tt::Tensor::empty(tt::Shape{2, 2, N});
        for (int64_t item = 0; item < 2; ++item) {
            std::copy(A.begin(), A.end(), a.data() + item * M * 2);
            std::copy(B.begin(), B.end(), b.data() + item * 2 * N);
        }
        const tt::Tensor c = tt::matmul(a, b);
        CHECK(std::count(c.data(), c.data() + c.numel(), kFused) == c.numel());
    }
}
