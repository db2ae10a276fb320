// tests/tensor/test_kernels.cpp — every SIMD kernel of tensor/kernels.hpp against its scalar
// `_ref` twin, at the lengths where vector loops go wrong: 0, 1, W-1, W, W+1, 4W-1, 4W, 4W+1 and
// a large odd size (W = SIMD width of this build). Comparisons use Approx, never ==: FMA and
// the SIMD summation order round differently from the plain loops.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tensor/kernels.hpp"
#include "tensor/tensor.hpp"

namespace {

namespace K = tt::kernels;
using Vec = std::vector<float>;

std::vector<std::size_t> tail_lengths() {
    const std::size_t W = K::simd_width();
    return {0, 1, W - 1, W, W + 1, 4 * W - 1, 4 * W, 4 * W + 1, 1001};
}

Vec random_normal(std::size_t n, tt::Rng& rng, float scale = 1.0f) {
    Vec v(n);
    for (float& x : v) x = scale * rng.normal();
    return v;
}

Vec random_uniform(std::size_t n, tt::Rng& rng, float lo, float hi) {
    Vec v(n);
    for (float& x : v) x = lo + (hi - lo) * rng.uniform();
    return v;
}

// Small integers (as floats) so that comparisons and max/min see plenty of ties.
Vec random_small_ints(std::size_t n, tt::Rng& rng) {
    Vec v(n);
    for (float& x : v) x = static_cast<float>(static_cast<int>(rng.below(5)) - 2);
    return v;
}

// Away from 0 in both directions, for division and reciprocals.
Vec random_nonzero(std::size_t n, tt::Rng& rng) {
    Vec v(n);
    for (float& x : v) x = (rng.uniform() < 0.5f ? -1.0f : 1.0f) * (0.5f + 2.0f * rng.uniform());
    return v;
}

bool close(float got, float want, double eps) {
    if (got == want) return true;  // also equal infinities
    if (std::isnan(got) && std::isnan(want)) return true;
    return got == doctest::Approx(want).epsilon(eps);
}

// One CHECK per array, reporting the first element that differs.
void check_close(const Vec& got, const Vec& want, double eps, const std::string& what) {
    REQUIRE(got.size() == want.size());
    std::size_t bad = got.size();
    for (std::size_t i = 0; i < got.size() && bad == got.size(); ++i)
        if (!close(got[i], want[i], eps)) bad = i;
    INFO(what, " n=", got.size(), " first mismatch at ", bad);
    if (bad < got.size()) INFO("got ", got[bad], " want ", want[bad]);
    CHECK(bad == got.size());
}

const tt::BinaryOp kBinaryOps[] = {tt::BinaryOp::Add, tt::BinaryOp::Sub,     tt::BinaryOp::Mul,
                                   tt::BinaryOp::Div, tt::BinaryOp::Max,     tt::BinaryOp::Min,
                                   tt::BinaryOp::Greater, tt::BinaryOp::GreaterEqual, tt::BinaryOp::Equal};

const tt::UnaryOp kUnaryOps[] = {tt::UnaryOp::Neg,     tt::UnaryOp::Exp,  tt::UnaryOp::Log,    tt::UnaryOp::Sqrt,
                                 tt::UnaryOp::Rsqrt,   tt::UnaryOp::Tanh, tt::UnaryOp::Sigmoid, tt::UnaryOp::Relu,
                                 tt::UnaryOp::Square,  tt::UnaryOp::Abs,  tt::UnaryOp::Step,   tt::UnaryOp::Reciprocal,
                                 tt::UnaryOp::Silu,    tt::UnaryOp::SiluGrad, tt::UnaryOp::GeluTanh,
                                 tt::UnaryOp::GeluTanhGrad, tt::UnaryOp::GeluTanhGrad2};

// Inputs in each op's domain; Div needs a non-zero b, comparisons want ties.
void binary_inputs(tt::BinaryOp op, std::size_t n, tt::Rng& rng, Vec& a, Vec& b) {
    const bool compare = op == tt::BinaryOp::Greater || op == tt::BinaryOp::GreaterEqual ||
                         op == tt::BinaryOp::Equal || op == tt::BinaryOp::Max || op == tt::BinaryOp::Min;
    a = compare ? random_small_ints(n, rng) : random_normal(n, rng);
    b = compare ? random_small_ints(n, rng) : (op == tt::BinaryOp::Div ? random_nonzero(n, rng) : random_normal(n, rng));
}

Vec unary_input(tt::UnaryOp op, std::size_t n, tt::Rng& rng) {
    switch (op) {
        case tt::UnaryOp::Log:
        case tt::UnaryOp::Sqrt:
        case tt::UnaryOp::Rsqrt: return random_uniform(n, rng, 0.01f, 100.0f);
        case tt::UnaryOp::Reciprocal: return random_nonzero(n, rng);
        case tt::UnaryOp::Exp:
        case tt::UnaryOp::Sigmoid:
        case tt::UnaryOp::Silu:
        case tt::UnaryOp::SiluGrad:
        case tt::UnaryOp::Tanh: return random_normal(n, rng, 8.0f);  // reaches the saturated tails
        default: {
            Vec v = random_normal(n, rng, 3.0f);
            if (n > 2) v[n / 2] = 0.0f;  // relu/step/abs at exactly 0
            return v;
        }
    }
}

}  // namespace

TEST_SUITE("tensor/kernels") {

TEST_CASE("simd width matches the compiled arch") {
    const std::size_t W = K::simd_width();
    INFO("arch ", K::simd_arch_name());
    CHECK((W == 4 || W == 8 || W == 16));
}

TEST_CASE("binary kernels match their references, contiguous, scalar and row forms") {
    tt::Rng rng(1);
    for (tt::BinaryOp op : kBinaryOps) {
        for (std::size_t n : tail_lengths()) {
            CAPTURE(static_cast<int>(op));
            CAPTURE(n);
            Vec a, b;
            binary_inputs(op, n, rng, a, b);
            Vec got(n), want(n);

            K::binary(op, a.data(), b.data(), got.data(), n);
            K::binary_ref(op, a.data(), b.data(), want.data(), n);
            check_close(got, want, 1e-6, "binary");

            const float s = n > 0 ? b[0] : 1.5f;
            K::binary_scalar_b(op, a.data(), s, got.data(), n);
            K::binary_scalar_b_ref(op, a.data(), s, want.data(), n);
            check_close(got, want, 1e-6, "binary_scalar_b");

            const float s_a = n > 0 ? a[0] : 0.5f;
            K::binary_scalar_a(op, s_a, b.data(), got.data(), n);
            K::binary_scalar_a_ref(op, s_a, b.data(), want.data(), n);
            check_close(got, want, 1e-6, "binary_scalar_a");

            const std::size_t rows = 3;
            Vec a_rows, unused;
            binary_inputs(op, rows * n, rng, a_rows, unused);
            Vec got_rows(rows * n), want_rows(rows * n);
            K::binary_row(op, a_rows.data(), b.data(), got_rows.data(), rows, n);
            K::binary_row_ref(op, a_rows.data(), b.data(), want_rows.data(), rows, n);
            check_close(got_rows, want_rows, 1e-6, "binary_row");
        }
    }
}

TEST_CASE("keep_mask: equals its reference bit for bit, is split-invariant, and keeps 1 - p") {
    const uint64_t key = 0x243F6A8885A308D3ull;
    for (std::size_t n : tail_lengths()) {
        for (uint64_t offset : {uint64_t{0}, uint64_t{7}, uint64_t{1} << 40}) {
            Vec got(n, -1.0f), want(n, -2.0f);
            K::keep_mask(key, offset, 0.3f, 2.5f, got.data(), n);
            K::keep_mask_ref(key, offset, 0.3f, 2.5f, want.data(), n);
            CHECK(got == want);
            for (float v : got) CHECK((v == 0.0f || v == 2.5f));
        }
    }
    // Element i depends on (key, i) only: a mask filled in two pieces equals one filled at once,
    // which is why tensor keep_mask gives the same mask for any thread count.
    const std::size_t n = 1 << 20, cut = 12345;
    Vec whole(n), pieces(n);
    K::keep_mask(key, 0, 0.3f, 1.0f, whole.data(), n);
    K::keep_mask(key, 0, 0.3f, 1.0f, pieces.data(), cut);
    K::keep_mask(key, cut, 0.3f, 1.0f, pieces.data() + cut, n - cut);
    CHECK(whole == pieces);
    double kept = 0;
    for (float v : whole) kept += v;
    // Binomial(n, 0.7): sd = sqrt(n 0.21) ~ 469; 5 sd.
    CHECK(std::fabs(kept - 0.7 * static_cast<double>(n)) < 5 * 469.0);
    // Another key gives another mask; p = 0 keeps everything.
    Vec other(n), all(1000);
    K::keep_mask(key + 1, 0, 0.3f, 1.0f, other.data(), n);
    CHECK(other != whole);
    K::keep_mask(key, 0, 0.0f, 1.0f, all.data(), all.size());
    for (float v : all) CHECK(v == 1.0f);
}

TEST_CASE("binary kernel may write over its first input") {
    tt::Rng rng(2);
    const std::size_t n = 4 * K::simd_width() + 3;
    Vec a = random_normal(n, rng), b = random_normal(n, rng);
    Vec want(n);
    K::binary_ref(tt::BinaryOp::Add, a.data(), b.data(), want.data(), n);
    K::binary(tt::BinaryOp::Add, a.data(), b.data(), a.data(), n);
    check_close(a, want, 1e-6, "in-place add");
}

TEST_CASE("select and masked_fill match their references") {
    tt::Rng rng(3);
    for (std::size_t n : tail_lengths()) {
        CAPTURE(n);
        Vec cond(n);
        for (float& c : cond) c = rng.uniform() < 0.5f ? 0.0f : 1.0f;
        if (n > 1) cond[1] = -0.0f;  // negative zero is still "false"
        Vec a = random_normal(n, rng), b = random_normal(n, rng);
        Vec got(n), want(n);
        K::select(cond.data(), a.data(), b.data(), got.data(), n);
        K::select_ref(cond.data(), a.data(), b.data(), want.data(), n);
        check_close(got, want, 0.0, "select");
        K::masked_fill(a.data(), cond.data(), -1e9f, got.data(), n);
        K::masked_fill_ref(a.data(), cond.data(), -1e9f, want.data(), n);
        check_close(got, want, 0.0, "masked_fill");
    }
}

TEST_CASE("unary kernels match their references") {
    tt::Rng rng(4);
    for (tt::UnaryOp op : kUnaryOps) {
        for (std::size_t n : tail_lengths()) {
            CAPTURE(static_cast<int>(op));
            CAPTURE(n);
            const Vec x = unary_input(op, n, rng);
            Vec got(n), want(n);
            K::unary(op, x.data(), got.data(), n);
            K::unary_ref(op, x.data(), want.data(), n);
            // xsimd's exp/log/tanh are within a few ulp of libm, not bit-equal.
            check_close(got, want, 1e-5, "unary");
        }
    }
}

TEST_CASE("elementwise kernels give an element the same bits wherever its run was split (any thread count)") {
    // parallel_for cuts a tensor into chunks at n*c/chunks, so which elements are a run's leftovers
    // (n mod W) depends on the thread count. Computed whole and in three pieces at awkward offsets,
    // every element must come out bit-identical, also for the transcendental ops (xsimd's exp and
    // tanh differ from <cmath>'s in the last bit for many inputs: leftovers go through the vector code).
    tt::Rng rng(41);
    const std::size_t n = 1001, cut1 = 37, cut2 = 37 + 5 * K::simd_width() + 3;
    auto pieces = [&](auto&& f) {  // f(begin, end) computes elements [begin, end)
        f(std::size_t{0}, cut1);
        f(cut1, cut2);
        f(cut2, n);
    };
    for (tt::UnaryOp op : kUnaryOps) {
        CAPTURE(static_cast<int>(op));
        const Vec x = unary_input(op, n, rng);
        Vec whole(n), split(n);
        K::unary(op, x.data(), whole.data(), n);
        pieces([&](std::size_t b, std::size_t e) { K::unary(op, x.data() + b, split.data() + b, e - b); });
        CHECK(std::memcmp(whole.data(), split.data(), n * sizeof(float)) == 0);
    }
    const Vec a = random_normal(n, rng, 4.0f), b = random_normal(n, rng), g = random_normal(n, rng);
    const Vec pos = random_uniform(n, rng, 0.01f, 100.0f);
    Vec whole(n), split(n), whole2(n), split2(n);
    K::swiglu(a.data(), b.data(), whole.data(), n);
    pieces([&](std::size_t s, std::size_t e) { K::swiglu(a.data() + s, b.data() + s, split.data() + s, e - s); });
    CHECK(std::memcmp(whole.data(), split.data(), n * sizeof(float)) == 0);
    K::swiglu_vjp(a.data(), b.data(), g.data(), whole.data(), whole2.data(), n);
    pieces([&](std::size_t s, std::size_t e) {
        K::swiglu_vjp(a.data() + s, b.data() + s, g.data() + s, split.data() + s, split2.data() + s, e - s);
    });
    CHECK(std::memcmp(whole.data(), split.data(), n * sizeof(float)) == 0);
    CHECK(std::memcmp(whole2.data(), split2.data(), n * sizeof(float)) == 0);
    K::pow_scalar(pos.data(), 1.7f, whole.data(), n);
    pieces([&](std::size_t s, std::size_t e) { K::pow_scalar(pos.data() + s, 1.7f, split.data() + s, e - s); });
    CHECK(std::memcmp(whole.data(), split.data(), n * sizeof(float)) == 0);
}

TEST_CASE("scalar add, mul and pow kernels match their references") {
    tt::Rng rng(5);
    for (std::size_t n : tail_lengths()) {
        CAPTURE(n);
        const Vec x = random_normal(n, rng);
        Vec got(n), want(n);
        K::add_scalar(x.data(), 0.75f, got.data(), n);
        K::add_scalar_ref(x.data(), 0.75f, want.data(), n);
        check_close(got, want, 1e-6, "add_scalar");
        K::mul_scalar(x.data(), -1.25f, got.data(), n);
        K::mul_scalar_ref(x.data(), -1.25f, want.data(), n);
        check_close(got, want, 1e-6, "mul_scalar");

        // Integer exponents on signed inputs; fractional ones on positive inputs only.
        for (float p : {0.0f, 1.0f, 3.0f, -2.0f, 7.0f}) {
            CAPTURE(p);
            K::pow_scalar(x.data(), p, got.data(), n);
            K::pow_scalar_ref(x.data(), p, want.data(), n);
            check_close(got, want, 1e-5, "pow_scalar (integer p)");
        }
        const Vec pos = random_uniform(n, rng, 0.01f, 10.0f);
        for (float p : {0.5f, -0.5f, 1.5f, -2.25f, 0.1f}) {
            CAPTURE(p);
            K::pow_scalar(pos.data(), p, got.data(), n);
            K::pow_scalar_ref(pos.data(), p, want.data(), n);
            check_close(got, want, 1e-5, "pow_scalar (fractional p)");
        }
    }
}

TEST_CASE("axpy matches its reference") {
    tt::Rng rng(6);
    for (std::size_t n : tail_lengths()) {
        CAPTURE(n);
        const Vec x = random_normal(n, rng);
        Vec y_simd = random_normal(n, rng);
        Vec y_ref = y_simd;
        K::axpy(-0.3f, x.data(), y_simd.data(), n);
        K::axpy_ref(-0.3f, x.data(), y_ref.data(), n);
        check_close(y_simd, y_ref, 1e-6, "axpy");
    }
}

TEST_CASE("full reductions match their references") {
    tt::Rng rng(7);
    for (std::size_t n : tail_lengths()) {
        CAPTURE(n);
        const Vec a = random_normal(n, rng), b = random_normal(n, rng);
        // Summation order differs (4 accumulators + horizontal add): relative 1e-4 is ample.
        CHECK(K::sum(a.data(), n) == doctest::Approx(K::sum_ref(a.data(), n)).epsilon(1e-4));
        CHECK(K::dot(a.data(), b.data(), n) == doctest::Approx(K::dot_ref(a.data(), b.data(), n)).epsilon(1e-4));
        CHECK(K::sum_f64(a.data(), n) == doctest::Approx(K::sum_f64_ref(a.data(), n)).epsilon(1e-12));
        CHECK(K::max(a.data(), n) == K::max_ref(a.data(), n));  // max is exact whatever the order
        CHECK(K::max_abs_diff(a.data(), b.data(), n) == K::max_abs_diff_ref(a.data(), b.data(), n));
    }
    CHECK(K::sum(nullptr, 0) == 0.0f);
    CHECK(K::max(nullptr, 0) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("row and column reductions match their references") {
    tt::Rng rng(8);
    for (std::size_t cols : tail_lengths()) {
        for (std::size_t rows : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
            CAPTURE(cols);
            CAPTURE(rows);
            const std::size_t ld = cols + 3;  // a row stride larger than the row, as in a column block
            const Vec x = random_normal(rows * ld, rng);
            Vec got_r(rows), want_r(rows);
            K::sum_rows(x.data(), rows, cols, ld, got_r.data());
            K::sum_rows_ref(x.data(), rows, cols, ld, want_r.data());
            check_close(got_r, want_r, 1e-4, "sum_rows");
            K::max_rows(x.data(), rows, cols, ld, got_r.data());
            K::max_rows_ref(x.data(), rows, cols, ld, want_r.data());
            check_close(got_r, want_r, 0.0, "max_rows");

            Vec got_c(cols), want_c(cols);
            K::sum_cols(x.data(), rows, cols, ld, got_c.data());
            K::sum_cols_ref(x.data(), rows, cols, ld, want_c.data());
            check_close(got_c, want_c, 1e-6, "sum_cols");
            K::max_cols(x.data(), rows, cols, ld, got_c.data());
            K::max_cols_ref(x.data(), rows, cols, ld, want_c.data());
            check_close(got_c, want_c, 0.0, "max_cols");
        }
    }
}

TEST_CASE("softmax and log_softmax rows match their references") {
    tt::Rng rng(9);
    for (std::size_t n : tail_lengths()) {
        CAPTURE(n);
        Vec x = random_normal(n, rng, 4.0f);
        for (float& v : x) v += 500.0f;  // a large offset: only a max-subtracted softmax survives it
        Vec got(n), want(n);
        K::softmax_row(x.data(), got.data(), n);
        K::softmax_row_ref(x.data(), want.data(), n);
        check_close(got, want, 1e-5, "softmax_row");
        K::log_softmax_row(x.data(), got.data(), n);
        K::log_softmax_row_ref(x.data(), want.data(), n);
        check_close(got, want, 1e-5, "log_softmax_row");
        if (n > 0) {
            const float lse = K::logsumexp(x.data(), n);
            CHECK(lse == doctest::Approx(K::logsumexp_ref(x.data(), n)).epsilon(1e-6));
            K::exp_shift_scale(x.data(), lse, 0.5f, got.data(), n);  // = softmax / 2
            K::exp_shift_scale_ref(x.data(), lse, 0.5f, want.data(), n);
            check_close(got, want, 1e-5, "exp_shift_scale");
            K::softmax_row_ref(x.data(), want.data(), n);
            for (float& w : want) w *= 0.5f;
            check_close(got, want, 1e-4, "exp_shift_scale(x, lse) == softmax");
        }
    }
}

TEST_CASE("softmax_row with masked scores (-1e9, as causal attention fills them) matches its reference") {
    tt::Rng rng(10);
    for (std::size_t n : tail_lengths()) {
        if (n == 0) continue;
        CAPTURE(n);
        Vec x = random_normal(n, rng, 2.0f);
        for (std::size_t i = n / 3 + 1; i < n; ++i) x[i] = -1e9f;  // the tail of the row is masked
        Vec got(n), want(n);
        K::softmax_row(x.data(), got.data(), n);
        K::softmax_row_ref(x.data(), want.data(), n);
        check_close(got, want, 1e-5, "softmax_row masked");
        for (std::size_t i = n / 3 + 1; i < n; ++i) CHECK(got[i] == 0.0f);
        const Vec y = random_normal(n, rng, 4.0f);  // short rows in registers, long ones in passes
        K::scaled_softmax_row(y.data(), got.data(), n, 0.125f);
        K::scaled_softmax_row_ref(y.data(), want.data(), n, 0.125f);
        check_close(got, want, 1e-5, "scaled_softmax_row");
    }
}

TEST_CASE("softmax down columns (logsumexp_cols, softmax_scale_cols, both at once) match their references") {
    tt::Rng rng(11);
    for (std::size_t cols : tail_lengths()) {
        for (std::size_t rows : {std::size_t{1}, std::size_t{7}, std::size_t{40}}) {
            CAPTURE(cols);
            CAPTURE(rows);
            const std::size_t ld = cols + 3;  // a row stride wider than the row
            Vec x = random_normal(rows * ld, rng, 4.0f);
            for (float& v : x) v += 300.0f;  // needs the max shift
            Vec got(cols), want(cols);
            K::logsumexp_cols(x.data(), rows, cols, ld, got.data());
            K::logsumexp_cols_ref(x.data(), rows, cols, ld, want.data());
            check_close(got, want, 1e-5, "logsumexp_cols");
            Vec scale = random_normal(cols, rng);
            Vec y = x, y_ref = x;
            K::softmax_scale_cols(y.data(), rows, cols, ld, want.data(), scale.data());
            K::softmax_scale_cols_ref(y_ref.data(), rows, cols, ld, want.data(), scale.data());
            check_close(y, y_ref, 1e-5, "softmax_scale_cols");
            // both at once: the same lse bits as logsumexp_cols, the softmax to rounding
            Vec lse_both(cols), lse_ref(cols);
            Vec z = x, z_ref = x;
            K::lse_softmax_scale_cols(z.data(), rows, cols, ld, scale.data(), lse_both.data());
            K::lse_softmax_scale_cols_ref(z_ref.data(), rows, cols, ld, scale.data(), lse_ref.data());
            CHECK(lse_both == got);
            check_close(lse_both, lse_ref, 1e-5, "lse_softmax_scale_cols lse");
            // exp(x - m) / s against exp(x - lse): with logits near 300, lse = m + log s itself is
            // rounded to ~3e-5 relative, so the reference is the less exact of the two here
            check_close(z, z_ref, 1e-4, "lse_softmax_scale_cols");
        }
    }
}

TEST_CASE("normalize rows and their vector-Jacobian products match their references") {
    tt::Rng rng(10);
    for (bool center : {true, false}) {
        for (std::size_t n : tail_lengths()) {
            CAPTURE(n);
            CAPTURE(center);
            Vec x = random_normal(n, rng, 2.0f), u = random_normal(n, rng);
            for (float& v : x) v += 3.0f;  // a mean well away from 0
            Vec got(n), want(n);
            K::normalize_row(x.data(), got.data(), n, 1e-6f, center);
            K::normalize_row_ref(x.data(), want.data(), n, 1e-6f, center);
            check_close(got, want, 1e-5, "normalize_row");
            const Vec gamma = random_normal(n, rng), beta = random_normal(n, rng);
            for (const float* b : {beta.data(), static_cast<const float*>(nullptr)}) {
                K::normalize_affine_row(x.data(), got.data(), n, 1e-6f, center, gamma.data(), b);
                K::normalize_affine_row_ref(x.data(), want.data(), n, 1e-6f, center, gamma.data(), b);
                check_close(got, want, 1e-5, "normalize_affine_row");
            }
            K::normalize_row_vjp(x.data(), u.data(), got.data(), n, 1e-6f, center);
            K::normalize_row_vjp_ref(x.data(), u.data(), want.data(), n, 1e-6f, center);
            check_close(got, want, 1e-5, "normalize_row_vjp");
            K::normalize_row_vjp(x.data(), u.data(), u.data(), n, 1e-6f, center);  // out may alias u
            check_close(u, want, 1e-5, "normalize_row_vjp in place");
        }
    }
}

TEST_CASE("SwiGLU's gate and its VJP match their references") {
    tt::Rng rng(13);
    for (std::size_t n : tail_lengths()) {
        CAPTURE(n);
        const Vec a = random_normal(n, rng, 3.0f), b = random_normal(n, rng), g = random_normal(n, rng);
        Vec got(n), want(n);
        K::swiglu(a.data(), b.data(), got.data(), n);
        K::swiglu_ref(a.data(), b.data(), want.data(), n);
        check_close(got, want, 1e-5, "swiglu");
        Vec da(n), db(n), da_ref(n), db_ref(n);
        K::swiglu_vjp(a.data(), b.data(), g.data(), da.data(), db.data(), n);
        K::swiglu_vjp_ref(a.data(), b.data(), g.data(), da_ref.data(), db_ref.data(), n);
        check_close(da, da_ref, 1e-5, "swiglu_vjp da");
        check_close(db, db_ref, 1e-5, "swiglu_vjp db");
    }
}

TEST_CASE("TTT's fused LayerNorm-L2 gradient and its VJP match their references") {
    tt::Rng rng(12);
    for (std::size_t n : tail_lengths()) {
        CAPTURE(n);
        const Vec z = random_normal(n, rng, 3.0f), t = random_normal(n, rng), gamma = random_normal(n, rng),
                  beta = random_normal(n, rng), u = random_normal(n, rng);
        Vec got(n), want(n);
        K::ln_l2_grad_row(z.data(), t.data(), gamma.data(), beta.data(), got.data(), n, 1e-6f);
        K::ln_l2_grad_row_ref(z.data(), t.data(), gamma.data(), beta.data(), want.data(), n, 1e-6f);
        check_close(got, want, 1e-4, "ln_l2_grad_row");
        Vec dz(n), wg(n), dg(n), dz_ref(n), wg_ref(n), dg_ref(n);
        K::ln_l2_grad_vjp_row(u.data(), z.data(), t.data(), gamma.data(), beta.data(), dz.data(), wg.data(), dg.data(), n,
                              1e-6f);
        K::ln_l2_grad_vjp_row_ref(u.data(), z.data(), t.data(), gamma.data(), beta.data(), dz_ref.data(), wg_ref.data(),
                                  dg_ref.data(), n, 1e-6f);
        check_close(dz, dz_ref, 1e-4, "ln_l2_grad_vjp_row dz");
        check_close(wg, wg_ref, 1e-4, "ln_l2_grad_vjp_row w*gamma");
        check_close(dg, dg_ref, 1e-4, "ln_l2_grad_vjp_row dgamma");
    }
}

TEST_CASE("rope on interleaved pairs matches its reference") {
    tt::Rng rng(10);
    for (std::size_t pairs : tail_lengths()) {
        CAPTURE(pairs);
        const Vec x = random_normal(2 * pairs, rng);
        Vec cos(pairs), sin(pairs);
        for (std::size_t j = 0; j < pairs; ++j) {
            const float angle = 0.37f * static_cast<float>(j) + 0.1f;
            cos[j] = std::cos(angle);
            sin[j] = std::sin(angle);
        }
        Vec got(2 * pairs), want(2 * pairs);
        K::rope_row(x.data(), cos.data(), sin.data(), got.data(), pairs);
        K::rope_row_ref(x.data(), cos.data(), sin.data(), want.data(), pairs);
        check_close(got, want, 1e-5, "rope_row");
    }
}

TEST_CASE("reference kernels give known values") {
    // The references are the specification: pin a few of them to hand-computed numbers.
    const Vec x = {1.0f, 2.0f, 3.0f, 4.0f};
    CHECK(K::sum_ref(x.data(), 4) == 10.0f);
    CHECK(K::dot_ref(x.data(), x.data(), 4) == 30.0f);
    Vec out(4);
    K::softmax_row_ref(x.data(), out.data(), 4);
    const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(4.0);
    CHECK(out[0] == doctest::Approx(std::exp(1.0) / z));
    CHECK(out[3] == doctest::Approx(std::exp(4.0) / z));
    const Vec pair = {1.0f, 0.0f};
    const float c = 0.0f, s = 1.0f;  // a quarter turn: (1, 0) -> (0, 1)
    Vec rotated(2);
    K::rope_row_ref(pair.data(), &c, &s, rotated.data(), 1);
    CHECK(rotated[0] == doctest::Approx(0.0));
    CHECK(rotated[1] == doctest::Approx(1.0));
}

}  // TEST_SUITE
