// tests/tensor/test_matmul.cpp — sgemm (packed SIMD micro-kernel) against the naive sgemm_ref, and
// tt::matmul's shapes, batch modes, transposes and error messages.
//
// Sizes are chosen around the kernel's edges: 1, W-1, W+1 (W = SIMD width), MR±1, NR±1 (the register
// tile), KC±1 (the K cache block), and odd sizes that are none of these (67, 129, 301).
//
// Tolerance: sgemm accumulates in float, sgemm_ref in double. A float dot product of length K has
// error at most ~K * eps * sum_k |a_k b_k| (the classic worst-case bound), so each element is checked
// against (K + 2) * eps * (|alpha| sum_k |a_k b_k| + |beta c|). That never fails for a correct kernel
// and still catches any dropped or doubled term (which is ~sum/K, far above the bound for our K).
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "tensor/matmul.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/tensor.hpp"

namespace {

std::vector<float> random_vec(int64_t n, tt::Rng& rng) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = rng.uniform() * 2.0f - 1.0f;
    return v;
}

struct GemmCase {
    bool ta, tb;
    int64_t M, N, K;
    float alpha = 1.0f, beta = 0.0f;
    int64_t pad = 0;  // extra columns in every leading dimension (lda, ldb, ldc > row width)
};

// Runs sgemm (with `threads` threads) and sgemm_ref on the same random operands and checks every
// element of C against the error bound above, and that the padding columns of C are untouched.
// Returns C (the full padded buffer) so callers can compare runs bit for bit.
std::vector<float> check_gemm(const GemmCase& g, int threads, uint64_t seed = 1) {
    CAPTURE(g.ta);
    CAPTURE(g.tb);
    CAPTURE(g.M);
    CAPTURE(g.N);
    CAPTURE(g.K);
    CAPTURE(g.alpha);
    CAPTURE(g.beta);
    CAPTURE(g.pad);
    CAPTURE(threads);
    tt::Rng rng(seed);
    const int64_t lda = (g.ta ? g.M : g.K) + g.pad, ldb = (g.tb ? g.K : g.N) + g.pad, ldc = g.N + g.pad;
    const int64_t a_rows = g.ta ? g.K : g.M, b_rows = g.tb ? g.N : g.K;
    const std::vector<float> A = random_vec(a_rows * lda, rng), B = random_vec(b_rows * ldb, rng);
    const std::vector<float> C0 = random_vec(g.M * ldc, rng);
    std::vector<float> C = C0, R = C0;

    tt::sgemm_threads(threads, g.ta, g.tb, g.M, g.N, g.K, g.alpha, A.data(), lda, B.data(), ldb, g.beta, C.data(), ldc);
    tt::sgemm_ref(g.ta, g.tb, g.M, g.N, g.K, g.alpha, A.data(), lda, B.data(), ldb, g.beta, R.data(), ldc);

    int64_t bad = 0;
    for (int64_t i = 0; i < g.M; ++i) {
        for (int64_t j = 0; j < g.N; ++j) {
            double mag = 0;  // sum_k |a b|
            for (int64_t k = 0; k < g.K; ++k) {
                const float a = g.ta ? A[static_cast<std::size_t>(k * lda + i)] : A[static_cast<std::size_t>(i * lda + k)];
                const float b = g.tb ? B[static_cast<std::size_t>(j * ldb + k)] : B[static_cast<std::size_t>(k * ldb + j)];
                mag += std::fabs(static_cast<double>(a) * b);
            }
            const auto idx = static_cast<std::size_t>(i * ldc + j);
            const double bound = static_cast<double>(g.K + 2) * FLT_EPSILON *
                                     (std::fabs(g.alpha) * mag + std::fabs(g.beta * C0[idx])) +
                                 1e-30;
            if (std::fabs(static_cast<double>(C[idx]) - R[idx]) > bound) {
                if (bad < 5) {
                    INFO("i=", i, " j=", j, " sgemm=", C[idx], " ref=", R[idx], " bound=", bound);
                    CHECK(false);
                }
                ++bad;
            }
        }
        for (int64_t j = g.N; j < ldc; ++j) {
            const auto idx = static_cast<std::size_t>(i * ldc + j);
            if (C[idx] != C0[idx]) ++bad;  // padding must not be written
        }
    }
    CHECK(bad == 0);
    return C;
}

// Restores the global thread count when a test changes it.
struct ThreadGuard {
    int saved = tt::num_threads();
    ~ThreadGuard() { tt::set_num_threads(saved); }
};

std::vector<int64_t> edge_sizes(bool with_large) {
    const tt::SgemmConfig c = tt::sgemm_config();
    std::set<int64_t> s = {1, 2, c.simd_width - 1, c.simd_width + 1, c.mr - 1, c.mr + 1, c.nr - 1, c.nr + 1, 16, 67};
    if (with_large) {
        s.insert(129);
        s.insert(301);
    }
    s.erase(0);
    return {s.begin(), s.end()};
}

}  // namespace

TEST_SUITE("tensor/matmul") {
    TEST_CASE("sgemm matches sgemm_ref at edge sizes, all four transpose combinations") {
        const std::vector<int64_t> sizes = edge_sizes(false);
        for (int t = 0; t < 4; ++t)
            for (int64_t M : sizes)
                for (int64_t N : sizes)
                    for (int64_t K : {int64_t{1}, int64_t{7}, int64_t{67}}) check_gemm({(t & 1) != 0, (t & 2) != 0, M, N, K}, 1);
    }

    TEST_CASE("sgemm: larger odd sizes and K across the cache block (KC±1)") {
        const tt::SgemmConfig c = tt::sgemm_config();
        for (int t = 0; t < 4; ++t) {
            const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
            check_gemm({ta, tb, 129, 301, 67}, 1);
            check_gemm({ta, tb, 301, 129, c.kc + 1}, 1);
            check_gemm({ta, tb, 67, 67, c.kc - 1}, 1);
            check_gemm({ta, tb, 5 * c.mr + 5, c.nc + 3 * c.nr + 3, 2 * c.kc + 3}, 1);  // several N and K blocks
            check_gemm({ta, tb, 5, 2 * c.nr + 7, 300}, 1);                     // skinny, B packed
            check_gemm({ta, tb, 300, 2, 300}, 1);                              // skinny
            check_gemm({ta, tb, 40, 2 * c.simd_width, 33}, 1);                 // B read in place (nn, tn)
            // C one panel wide with >= 512 rows: with trans_a (dE = dlogitsᵀ H) solved transposed,
            // with padded leading dimensions, and K beyond one K-block of depth kc_narrow
            check_gemm({ta, tb, 600, c.nr, 300}, 1);
            check_gemm({ta, tb, 600, c.nr - 3, 70, 1.0f, 0.0f, 5}, 1);
            check_gemm({ta, tb, 530, 5, c.kc_narrow + 5}, 1);
        }
    }

    TEST_CASE("sgemm: alpha, beta and leading dimensions wider than the rows") {
        const tt::SgemmConfig c = tt::sgemm_config();
        for (int t = 0; t < 4; ++t) {
            const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
            for (float alpha : {1.0f, -0.5f, 2.0f})
                for (float beta : {0.0f, 1.0f, 0.25f}) {
                    check_gemm({ta, tb, 37, 45, 19, alpha, beta, 0}, 1);
                    check_gemm({ta, tb, 37, 45, 19, alpha, beta, 5}, 1);
                    check_gemm({ta, tb, 13, 100, 260, alpha, beta, 3}, 1);
                    check_gemm({ta, tb, 600, c.nr, 20, alpha, beta, 3}, 1);  // dE-shaped: alpha != 1 or beta != 0 is not solved transposed
                }
        }
    }

    TEST_CASE("sgemm: beta == 0 ignores NaN in C; K == 0 and alpha == 0 just scale C") {
        const int64_t M = 7, N = 9, K = 5;
        std::vector<float> A(M * K, 1.0f), B(K * N, 2.0f), C(M * N, NAN);
        tt::sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
        for (float c : C) CHECK(c == 10.0f);
        tt::sgemm(false, false, M, N, 0, 1.0f, A.data(), K, B.data(), N, 0.5f, C.data(), N);
        for (float c : C) CHECK(c == 5.0f);
        tt::sgemm(false, false, M, N, K, 0.0f, A.data(), K, B.data(), N, 2.0f, C.data(), N);
        for (float c : C) CHECK(c == 10.0f);
        std::fill(C.begin(), C.end(), NAN);
        tt::sgemm(false, false, M, N, 0, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
        for (float c : C) CHECK(c == 0.0f);
    }

    TEST_CASE("sgemm: 1 and 2 threads give bit-identical results") {
        const tt::SgemmConfig c = tt::sgemm_config();
        for (int t = 0; t < 4; ++t) {
            const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
            for (const GemmCase& g : {GemmCase{ta, tb, 300, 67, 129}, GemmCase{ta, tb, 67, 301, 2 * c.kc + 1},
                                      GemmCase{ta, tb, 129, 129, 129, 0.5f, 0.25f, 3},
                                      GemmCase{ta, tb, 1000, 16, 64}}) {
                const std::vector<float> c1 = check_gemm(g, 1), c2 = check_gemm(g, 2), c3 = check_gemm(g, 3);
                CHECK(c1 == c2);
                CHECK(c1 == c3);
            }
        }
    }

    TEST_CASE("matmul: 2-D shapes, transposes, agrees with sgemm_ref") {
        tt::Rng rng(7);
        const int64_t M = 19, N = 23, K = 17;
        for (int t = 0; t < 4; ++t) {
            const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
            CAPTURE(ta);
            CAPTURE(tb);
            const tt::Tensor a = tt::Tensor::randn(ta ? tt::Shape{K, M} : tt::Shape{M, K}, rng);
            const tt::Tensor b = tt::Tensor::randn(tb ? tt::Shape{N, K} : tt::Shape{K, N}, rng);
            const tt::Tensor c = tt::matmul(a, b, ta, tb);
            REQUIRE(c.shape() == tt::Shape{M, N});
            std::vector<float> r(static_cast<std::size_t>(M * N));
            tt::sgemm_ref(ta, tb, M, N, K, 1.0f, a.data(), a.dim(-1), b.data(), b.dim(-1), 0.0f, r.data(), N);
            for (int64_t i = 0; i < M * N; ++i) CHECK(c.data()[i] == doctest::Approx(r[static_cast<std::size_t>(i)]).epsilon(1e-4));
        }
    }

    TEST_CASE("matmul: batched, equal batch dims and a shared 2-D b, all transposes") {
        tt::Rng rng(11);
        ThreadGuard guard;
        const int64_t B0 = 3, B1 = 5, M = 16, N = 16, K = 16;
        for (int t = 0; t < 4; ++t) {
            const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
            CAPTURE(ta);
            CAPTURE(tb);
            const tt::Tensor a = tt::Tensor::randn(ta ? tt::Shape{B0, B1, K, M} : tt::Shape{B0, B1, M, K}, rng);
            const tt::Tensor b = tt::Tensor::randn(tb ? tt::Shape{B0, B1, N, K} : tt::Shape{B0, B1, K, N}, rng);
            const tt::Tensor w = tt::Tensor::randn(tb ? tt::Shape{N, K} : tt::Shape{K, N}, rng);
            tt::set_num_threads(1);
            const tt::Tensor c = tt::matmul(a, b, ta, tb), cw = tt::matmul(a, w, ta, tb);
            tt::set_num_threads(2);
            const tt::Tensor c2 = tt::matmul(a, b, ta, tb), cw2 = tt::matmul(a, w, ta, tb);
            REQUIRE(c.shape() == tt::Shape{B0, B1, M, N});
            REQUIRE(cw.shape() == tt::Shape{B0, B1, M, N});
            CHECK(c.to_vector() == c2.to_vector());  // batch split across threads: same bits
            CHECK(cw.to_vector() == cw2.to_vector());
            for (int64_t item = 0; item < B0 * B1; ++item) {
                std::vector<float> r(static_cast<std::size_t>(M * N)), rw(r.size());
                tt::sgemm_ref(ta, tb, M, N, K, 1.0f, a.data() + item * M * K, a.dim(-1), b.data() + item * K * N,
                              b.dim(-1), 0.0f, r.data(), N);
                tt::sgemm_ref(ta, tb, M, N, K, 1.0f, a.data() + item * M * K, a.dim(-1), w.data(), w.dim(-1), 0.0f,
                              rw.data(), N);
                for (int64_t i = 0; i < M * N; ++i) {
                    CHECK(c.data()[item * M * N + i] == doctest::Approx(r[static_cast<std::size_t>(i)]).epsilon(1e-4));
                    CHECK(cw.data()[item * M * N + i] == doctest::Approx(rw[static_cast<std::size_t>(i)]).epsilon(1e-4));
                }
            }
        }
    }

    TEST_CASE("matmul: batches of tiny products (the per-token shapes) match sgemm_ref, any thread count") {
        tt::Rng rng(13);
        ThreadGuard guard;
        struct Mnk { int64_t M, N, K; };
        for (const Mnk s : {Mnk{1, 16, 16}, Mnk{16, 16, 1}, Mnk{16, 1, 16}, Mnk{3, 5, 7}, Mnk{16, 16, 32}, Mnk{1, 1, 1},
                            Mnk{8, 8, 16}, Mnk{8, 64, 16}, Mnk{13, 37, 7}}) {
            for (int t = 0; t < 4; ++t) {
                const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
                CAPTURE(s.M);
                CAPTURE(s.N);
                CAPTURE(s.K);
                CAPTURE(ta);
                CAPTURE(tb);
                const int64_t nb = 64;
                const tt::Tensor a = tt::Tensor::randn(ta ? tt::Shape{nb, s.K, s.M} : tt::Shape{nb, s.M, s.K}, rng);
                const tt::Tensor b = tt::Tensor::randn(tb ? tt::Shape{nb, s.N, s.K} : tt::Shape{nb, s.K, s.N}, rng);
                tt::set_num_threads(1);
                const tt::Tensor c1 = tt::matmul(a, b, ta, tb);
                tt::set_num_threads(2);
                const tt::Tensor c2 = tt::matmul(a, b, ta, tb);
                CHECK(c1.to_vector() == c2.to_vector());
                for (int64_t item = 0; item < nb; ++item) {
                    std::vector<float> r(static_cast<std::size_t>(s.M * s.N));
                    tt::sgemm_ref(ta, tb, s.M, s.N, s.K, 1.0f, a.data() + item * s.M * s.K, a.dim(-1),
                                  b.data() + item * s.K * s.N, b.dim(-1), 0.0f, r.data(), s.N);
                    for (int64_t i = 0; i < s.M * s.N; ++i)
                        CHECK(c1.data()[item * s.M * s.N + i] == doctest::Approx(r[static_cast<std::size_t>(i)]).epsilon(1e-4));
                }
            }
        }
    }

    TEST_CASE("linear: the bias added inside the kernel equals matmul then add, at edge sizes, any thread count") {
        tt::Rng rng(14);
        ThreadGuard guard;
        const tt::SgemmConfig c = tt::sgemm_config();
        for (const int64_t rows : {int64_t{1}, int64_t{c.mr + 1}, int64_t{50}}) {
            for (const int64_t out : {int64_t{1}, int64_t{c.simd_width + 1}, int64_t{c.nr + 1}, int64_t{64}}) {
                for (const int64_t in : {int64_t{5}, int64_t{64}, int64_t{300}}) {  // 300: two K-blocks
                    CAPTURE(rows);
                    CAPTURE(out);
                    CAPTURE(in);
                    const tt::Tensor x = tt::Tensor::randn(tt::Shape{2, rows, in}, rng);
                    const tt::Tensor W = tt::Tensor::randn(tt::Shape{out, in}, rng);
                    const tt::Tensor b = tt::Tensor::randn(tt::Shape{out}, rng);
                    tt::set_num_threads(1);
                    const tt::Tensor y1 = tt::linear(x, W, b);
                    tt::set_num_threads(2);
                    const tt::Tensor y2 = tt::linear(x, W, b);
                    CHECK(y1.to_vector() == y2.to_vector());
                    REQUIRE(y1.shape() == (tt::Shape{2, rows, out}));
                    const tt::Tensor want = tt::add(tt::matmul(x, W, false, true), b);
                    if (in <= c.kc)
                        CHECK(y1.to_vector() == want.to_vector());  // one rounding either way
                    else
                        CHECK(tt::max_abs_diff(y1, want) <= 1e-4f);
                    std::vector<float> r(static_cast<std::size_t>(2 * rows * out));  // and the naive reference
                    tt::sgemm_ref(false, true, 2 * rows, out, in, 1.0f, x.data(), in, W.data(), in, 0.0f, r.data(), out);
                    for (int64_t i = 0; i < 2 * rows * out; ++i)
                        CHECK(y1.data()[i] == doctest::Approx(r[static_cast<std::size_t>(i)] + b.data()[i % out]).epsilon(1e-4));
                }
            }
        }
        CHECK_THROWS_AS(tt::linear(tt::Tensor::zeros(tt::Shape{2, 3}), tt::Tensor::zeros(tt::Shape{4, 3}),
                                   tt::Tensor::zeros(tt::Shape{3})),
                        std::invalid_argument);
    }

    TEST_CASE("matmul: a batch of big products is split inside each product, still deterministic") {
        tt::Rng rng(13);
        ThreadGuard guard;
        const tt::Tensor a = tt::Tensor::randn({2, 150, 70}, rng), b = tt::Tensor::randn({2, 70, 90}, rng);
        tt::set_num_threads(1);
        const tt::Tensor c1 = tt::matmul(a, b);
        tt::set_num_threads(2);
        const tt::Tensor c2 = tt::matmul(a, b);
        CHECK(c1.to_vector() == c2.to_vector());
        std::vector<float> r(150 * 90);
        tt::sgemm_ref(false, false, 150, 90, 70, 1.0f, a.data() + 150 * 70, 70, b.data() + 70 * 90, 90, 0.0f, r.data(), 90);
        for (int64_t i = 0; i < 150 * 90; ++i)
            CHECK(c1.data()[150 * 90 + i] == doctest::Approx(r[static_cast<std::size_t>(i)]).epsilon(1e-4));
    }

    TEST_CASE("matmul: shape errors name the shapes") {
        const tt::Tensor a = tt::Tensor::zeros({2, 3, 4}), b = tt::Tensor::zeros({2, 5, 6}), v = tt::Tensor::zeros({4});
        CHECK_THROWS_AS(tt::matmul(a, b), std::invalid_argument);
        CHECK_THROWS_AS(tt::matmul(a, v), std::invalid_argument);
        CHECK_THROWS_AS(tt::matmul(a, tt::Tensor::zeros({3, 4, 5})), std::invalid_argument);  // batch 2 vs 3
        CHECK_THROWS_AS(tt::matmul(tt::Tensor::zeros({3, 4}), tt::Tensor::zeros({2, 4, 5})), std::invalid_argument);
        try {
            (void)tt::matmul(a, b);
            FAIL("no throw");
        } catch (const std::invalid_argument& e) {
            const std::string msg = e.what();
            CHECK(msg.find("(2, 3, 4)") != std::string::npos);
            CHECK(msg.find("(2, 5, 6)") != std::string::npos);
        }
        // The transposed forms that do fit.
        CHECK(tt::matmul(a, tt::Tensor::zeros({2, 6, 4}), false, true).shape() == tt::Shape{2, 3, 6});
        CHECK(tt::matmul(a, tt::Tensor::zeros({3, 6}), true, false).shape() == tt::Shape{2, 4, 6});
    }

    TEST_CASE("matmul: empty dimensions") {
        CHECK(tt::matmul(tt::Tensor::zeros({0, 4}), tt::Tensor::zeros({4, 3})).shape() == tt::Shape{0, 3});
        const tt::Tensor c = tt::matmul(tt::Tensor::zeros({2, 0}), tt::Tensor::zeros({0, 3}));
        REQUIRE(c.shape() == tt::Shape{2, 3});
        for (float x : c.to_vector()) CHECK(x == 0.0f);  // K == 0: a sum of nothing
    }
}
