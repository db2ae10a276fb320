// tests/tensor/test_ops.cpp — tensor/ops.hpp against hand-written loops and known values:
// broadcasting of many shape pairs (up to rank 6), reductions along every axis, sum_to as the
// adjoint of broadcast_to, softmax stability, layout round trips (permute, slice, concat,
// pad_slice), tril, masked_fill, gather/scatter adjointness, rope inversion, and shape errors.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/tensor.hpp"

namespace {

using tt::BinaryOp;
using tt::IntTensor;
using tt::Shape;
using tt::Tensor;

// Multi-index of flat position i in shape s (row-major).
std::vector<int64_t> unravel(int64_t i, const Shape& s) {
    std::vector<int64_t> idx(static_cast<std::size_t>(s.rank()));
    for (int d = s.rank() - 1; d >= 0; --d) {
        idx[static_cast<std::size_t>(d)] = i % s[d];
        i /= s[d];
    }
    return idx;
}

// Flat position in `in` of output multi-index `out_idx` under numpy broadcasting.
int64_t broadcast_source(const std::vector<int64_t>& out_idx, const Shape& in) {
    const int lead = static_cast<int>(out_idx.size()) - in.rank();
    int64_t flat = 0;
    for (int d = 0; d < in.rank(); ++d) {
        const int64_t i = in[d] == 1 ? 0 : out_idx[static_cast<std::size_t>(d + lead)];
        flat = flat * in[d] + i;
    }
    return flat;
}

float apply(BinaryOp op, float a, float b) {
    switch (op) {
        case BinaryOp::Add: return a + b;
        case BinaryOp::Sub: return a - b;
        case BinaryOp::Mul: return a * b;
        case BinaryOp::Div: return a / b;
        case BinaryOp::Max: return a > b ? a : b;
        case BinaryOp::Min: return a < b ? a : b;
        case BinaryOp::Greater: return a > b ? 1.0f : 0.0f;
        case BinaryOp::GreaterEqual: return a >= b ? 1.0f : 0.0f;
        case BinaryOp::Equal: return a == b ? 1.0f : 0.0f;
    }
    return 0.0f;
}

// The plain-loop broadcast binary op the fast paths must agree with.
Tensor naive_binary(BinaryOp op, const Tensor& a, const Tensor& b) {
    const Shape os = tt::broadcast_shapes(a.shape(), b.shape(), "naive");
    Tensor out = Tensor::empty(os);
    for (int64_t i = 0; i < out.numel(); ++i) {
        const auto idx = unravel(i, os);
        out.data()[i] = apply(op, a.data()[broadcast_source(idx, a.shape())], b.data()[broadcast_source(idx, b.shape())]);
    }
    return out;
}

// Small integers: exact in float, and comparisons see ties. Divisors are kept away from zero.
Tensor small_ints(const Shape& s, tt::Rng& rng, bool nonzero = false) {
    Tensor t = Tensor::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) {
        float v = static_cast<float>(static_cast<int>(rng.below(7)) - 3);
        if (nonzero && v == 0.0f) v = 4.0f;
        t.data()[i] = v;
    }
    return t;
}

double inner_product(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    double s = 0.0;
    for (int64_t i = 0; i < a.numel(); ++i) s += double{a.data()[i]} * double{b.data()[i]};
    return s;
}

void check_tensors_close(const Tensor& got, const Tensor& want, double eps = 1e-5) {
    REQUIRE(got.shape() == want.shape());
    int64_t bad = -1;
    for (int64_t i = 0; i < got.numel() && bad < 0; ++i) {
        const float g = got.data()[i], w = want.data()[i];
        if (!(g == w || g == doctest::Approx(w).epsilon(eps))) bad = i;
    }
    INFO("shape ", got.shape().str(), " first mismatch at ", bad);
    if (bad >= 0) INFO("got ", got.data()[bad], " want ", want.data()[bad]);
    CHECK(bad < 0);
}

// Expects `fn` to throw std::invalid_argument whose message contains `needle`.
void check_throws_mentioning(const std::function<void()>& fn, const std::string& needle) {
    bool thrown = false;
    try {
        fn();
    } catch (const std::invalid_argument& e) {
        thrown = true;
        INFO("message: ", e.what());
        CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
    CHECK_MESSAGE(thrown, "expected std::invalid_argument mentioning '", needle, "'");
}

}  // namespace

TEST_SUITE("tensor/ops") {

TEST_CASE("binary ops broadcast like numpy for many shape pairs") {
    const std::vector<std::pair<Shape, Shape>> pairs = {
        {Shape{3, 4}, Shape{3, 4}},          {Shape{3, 4}, Shape{4}},          {Shape{4}, Shape{3, 4}},
        {Shape{3, 1}, Shape{1, 4}},          {Shape{2, 3, 4}, Shape{3, 1}},    {Shape{2, 1, 4}, Shape{1, 3, 1}},
        {Shape{}, Shape{2, 3}},              {Shape{2, 3}, Shape{}},           {Shape{1}, Shape{5}},
        {Shape{2, 3, 4, 5}, Shape{3, 1, 5}}, {Shape{2, 1, 4, 1}, Shape{1, 3, 1, 5}},
        {Shape{5, 1, 37}, Shape{1, 33, 37}}, {Shape{7, 67}, Shape{67}},        {Shape{67}, Shape{7, 67}},
        {Shape{2, 3, 1, 5, 1, 2}, Shape{3, 4, 1, 1, 2}},                       {Shape{0, 3}, Shape{3}},
        {Shape{4, 1}, Shape{4, 1}},          {Shape{1, 1}, Shape{2, 1, 3}},
    };
    const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub,     BinaryOp::Mul,          BinaryOp::Div,  BinaryOp::Max,
                            BinaryOp::Min, BinaryOp::Greater, BinaryOp::GreaterEqual, BinaryOp::Equal};
    tt::Rng rng(11);
    for (const auto& [sa, sb] : pairs) {
        for (BinaryOp op : ops) {
            CAPTURE(sa.str());
            CAPTURE(sb.str());
            CAPTURE(static_cast<int>(op));
            const Tensor a = small_ints(sa, rng), b = small_ints(sb, rng, op == BinaryOp::Div);
            check_tensors_close(tt::binary(op, a, b), naive_binary(op, a, b), 1e-6);
        }
    }
}

TEST_CASE("large broadcast binary ops split across threads agree with the loop") {
    tt::Rng rng(12);
    const Tensor a = Tensor::randn(Shape{64, 1100}, rng);
    const Tensor row = Tensor::randn(Shape{1100}, rng);
    const Tensor col = Tensor::randn(Shape{64, 1}, rng);
    check_tensors_close(tt::add(a, row), naive_binary(BinaryOp::Add, a, row));
    check_tensors_close(tt::mul(a, col), naive_binary(BinaryOp::Mul, a, col));
    check_tensors_close(tt::sub(a, a), Tensor::zeros(a.shape()));
    const Tensor big = Tensor::randn(Shape{200000}, rng);
    check_tensors_close(tt::div(big, Tensor::scalar(2.0f)), tt::mul_scalar(big, 0.5f));
}

TEST_CASE("incompatible shapes throw naming the op and the shapes") {
    const Tensor a = Tensor::zeros(Shape{3, 4}), b = Tensor::zeros(Shape{3});
    CHECK_THROWS_AS(tt::add(a, b), std::invalid_argument);
    check_throws_mentioning([&] { tt::mul(a, b); }, "mul");
    check_throws_mentioning([&] { tt::mul(a, b); }, "(3, 4)");
    CHECK_THROWS_AS(tt::where(Tensor::zeros(Shape{2}), a, a), std::invalid_argument);
    CHECK_THROWS_AS(tt::add(Tensor(), a), std::invalid_argument);
}

TEST_CASE("where, add_inplace and axpy_inplace") {
    const Tensor cond = Tensor::from(Shape{2, 1}, {1.0f, 0.0f});
    const Tensor a = Tensor::from(Shape{3}, {1.0f, 2.0f, 3.0f});
    const Tensor b = Tensor::scalar(-1.0f);
    const Tensor w = tt::where(cond, a, b);
    CHECK(w.shape() == Shape{2, 3});
    CHECK(w.to_vector() == std::vector<float>{1, 2, 3, -1, -1, -1});

    Tensor acc = Tensor::ones(Shape{2, 3});
    tt::add_inplace(acc, a);  // row broadcast
    CHECK(acc.to_vector() == std::vector<float>{2, 3, 4, 2, 3, 4});
    tt::add_inplace(acc, Tensor::from(Shape{2, 1}, {10.0f, 20.0f}));  // column broadcast
    CHECK(acc.to_vector() == std::vector<float>{12, 13, 14, 22, 23, 24});
    CHECK_THROWS_AS(tt::add_inplace(acc, Tensor::zeros(Shape{4, 2, 3})), std::invalid_argument);

    tt::axpy_inplace(acc, -2.0f, Tensor::ones(Shape{2, 3}));
    CHECK(acc.to_vector() == std::vector<float>{10, 11, 12, 20, 21, 22});
    CHECK_THROWS_AS(tt::axpy_inplace(acc, 1.0f, Tensor::ones(Shape{3, 2})), std::invalid_argument);
}

TEST_CASE("scalar and unary ops give known values") {
    const Tensor x = Tensor::from(Shape{5}, {-2.0f, -0.5f, 0.0f, 0.5f, 2.0f});
    CHECK(tt::add_scalar(x, 1.0f).to_vector() == std::vector<float>{-1, 0.5f, 1, 1.5f, 3});
    CHECK(tt::mul_scalar(x, 2.0f).to_vector() == std::vector<float>{-4, -1, 0, 1, 4});
    CHECK(tt::pow_scalar(x, 2.0f).to_vector() == std::vector<float>{4, 0.25f, 0, 0.25f, 4});
    CHECK(tt::pow_scalar(x, 3.0f).to_vector() == std::vector<float>{-8, -0.125f, 0, 0.125f, 8});
    CHECK(tt::pow_scalar(x, 0.0f).to_vector() == std::vector<float>{1, 1, 1, 1, 1});
    CHECK(tt::pow_scalar(Tensor::scalar(4.0f), 1.5f).item() == doctest::Approx(8.0));
    CHECK(tt::pow_scalar(Tensor::scalar(4.0f), -0.5f).item() == doctest::Approx(0.5));
    CHECK(tt::relu(x).to_vector() == std::vector<float>{0, 0, 0, 0.5f, 2});
    CHECK(tt::unary(tt::UnaryOp::Step, x).to_vector() == std::vector<float>{0, 0, 0, 1, 1});
    CHECK(tt::unary(tt::UnaryOp::Abs, x).to_vector() == std::vector<float>{2, 0.5f, 0, 0.5f, 2});
    CHECK(tt::neg(x).to_vector() == std::vector<float>{2, 0.5f, 0, -0.5f, -2});
    CHECK(tt::sigmoid(x).at({2}) == doctest::Approx(0.5));
    CHECK(tt::sigmoid(Tensor::scalar(-100.0f)).item() == doctest::Approx(0.0));  // no NaN in the tail
    CHECK(tt::tanh(x).at({4}) == doctest::Approx(std::tanh(2.0)));
    CHECK(tt::exp(Tensor::scalar(0.0f)).item() == 1.0f);
    CHECK(tt::log(Tensor::scalar(1.0f)).item() == 0.0f);
    CHECK(tt::sqrt(Tensor::scalar(9.0f)).item() == doctest::Approx(3.0));
    CHECK(tt::unary(tt::UnaryOp::Rsqrt, Tensor::scalar(4.0f)).item() == doctest::Approx(0.5));
    CHECK(tt::unary(tt::UnaryOp::Reciprocal, Tensor::scalar(4.0f)).item() == doctest::Approx(0.25));
    CHECK(tt::unary(tt::UnaryOp::Square, Tensor::scalar(-3.0f)).item() == 9.0f);
}

TEST_CASE("sum, mean and max along every axis, with and without keepdim") {
    tt::Rng rng(13);
    for (const Shape& s : {Shape{7}, Shape{3, 4, 5}, Shape{2, 3, 4, 37}, Shape{5, 70}, Shape{70, 5}}) {
        const Tensor x = Tensor::randn(s, rng);
        for (int axis = -s.rank(); axis < s.rank(); ++axis) {
            for (bool keepdim : {false, true}) {
                CAPTURE(s.str());
                CAPTURE(axis);
                CAPTURE(keepdim);
                const int ax = s.norm_axis(axis);
                // Hand-written loops over the flat index, accumulated in double.
                Shape kept;
                for (int d = 0; d < s.rank(); ++d) kept.push_back(d == ax ? 1 : s[d]);
                std::vector<double> want_sum(static_cast<std::size_t>(kept.numel()), 0.0);
                std::vector<float> want_max(want_sum.size(), -std::numeric_limits<float>::infinity());
                for (int64_t i = 0; i < x.numel(); ++i) {
                    auto idx = unravel(i, s);
                    idx[static_cast<std::size_t>(ax)] = 0;
                    int64_t flat = 0;
                    for (int d = 0; d < s.rank(); ++d) flat = flat * kept[d] + idx[static_cast<std::size_t>(d)];
                    want_sum[static_cast<std::size_t>(flat)] += x.data()[i];
                    want_max[static_cast<std::size_t>(flat)] = std::max(want_max[static_cast<std::size_t>(flat)], x.data()[i]);
                }
                const Tensor got_sum = tt::sum(x, axis, keepdim);
                const Tensor got_mean = tt::mean(x, axis, keepdim);
                const Tensor got_max = tt::max(x, axis, keepdim);
                Shape want_shape;
                for (int d = 0; d < s.rank(); ++d)
                    if (d != ax || keepdim) want_shape.push_back(kept[d]);
                REQUIRE(got_sum.shape() == want_shape);
                REQUIRE(got_mean.shape() == want_shape);
                REQUIRE(got_max.shape() == want_shape);
                for (std::size_t k = 0; k < want_sum.size(); ++k) {
                    const int64_t i = static_cast<int64_t>(k);
                    CHECK(got_sum.data()[i] == doctest::Approx(want_sum[k]).epsilon(1e-4));
                    CHECK(got_mean.data()[i] == doctest::Approx(want_sum[k] / static_cast<double>(s[ax])).epsilon(1e-4));
                    CHECK(got_max.data()[i] == want_max[k]);
                }
            }
        }
    }
}

TEST_CASE("reduction edge cases") {
    const Tensor empty_axis = Tensor::zeros(Shape{3, 0});
    CHECK(tt::sum(empty_axis, 1).to_vector() == std::vector<float>{0, 0, 0});
    CHECK_THROWS_AS(tt::max(empty_axis, 1), std::invalid_argument);
    CHECK_THROWS_AS(tt::sum(Tensor::zeros(Shape{3, 4}), 2), std::invalid_argument);
    CHECK_THROWS_AS(tt::sum(Tensor::scalar(1.0f), 0), std::invalid_argument);
}

TEST_CASE("sum_all accumulates in double") {
    // 2^22 copies of 0.1f: a single float accumulator drifts by percents; blocked + double does not.
    const Tensor x = Tensor::full(Shape{int64_t{1} << 22}, 0.1f);
    const double want = 0.1f * static_cast<double>(int64_t{1} << 22);
    CHECK(tt::sum_all(x) == doctest::Approx(want).epsilon(1e-6));
    CHECK(tt::sum_all(Tensor::zeros(Shape{0})) == 0.0f);
    CHECK(tt::sum_all(Tensor::arange(101)) == 5050.0f);
}

TEST_CASE("results do not depend on the thread count") {
    tt::Rng rng(14);
    const Tensor x = Tensor::randn(Shape{300, 700}, rng);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
        tt::set_num_threads(threads);
        results.push_back(tt::sum(x, 0).to_vector());
        results.push_back(tt::sum(x, 1).to_vector());
        results.push_back({tt::sum_all(x)});
    }
    tt::set_num_threads(0);
    for (std::size_t k = 3; k < results.size(); ++k) CHECK(results[k] == results[k % 3]);
}

TEST_CASE("sum_to inverts broadcast_to and is its adjoint") {
    tt::Rng rng(15);
    const std::vector<std::pair<Shape, Shape>> pairs = {
        {Shape{4}, Shape{3, 4}},          {Shape{3, 1}, Shape{3, 4}},       {Shape{}, Shape{2, 3}},
        {Shape{1, 3, 1}, Shape{2, 3, 5}}, {Shape{3, 1, 5}, Shape{2, 3, 4, 5}}, {Shape{2, 3}, Shape{2, 3}},
        {Shape{1, 1}, Shape{4, 5, 6}},
    };
    for (const auto& [small, big] : pairs) {
        CAPTURE(small.str());
        CAPTURE(big.str());
        const Tensor x = Tensor::randn(small, rng);
        const Tensor xb = tt::broadcast_to(x, big);
        REQUIRE(xb.shape() == big);
        check_tensors_close(xb, naive_binary(BinaryOp::Add, x, Tensor::zeros(big)));
        // Each element of x was copied numel(big)/numel(small) times.
        const float copies = static_cast<float>(big.numel() / small.numel());
        check_tensors_close(tt::sum_to(xb, small), tt::mul_scalar(x, copies), 1e-4);
        // <broadcast_to(x), Y> == <x, sum_to(Y)>
        const Tensor y = Tensor::randn(big, rng);
        CHECK(inner_product(xb, y) == doctest::Approx(inner_product(x, tt::sum_to(y, small))).epsilon(1e-4));
    }
    CHECK_THROWS_AS(tt::sum_to(Tensor::zeros(Shape{3, 4}), Shape{3}), std::invalid_argument);
    CHECK_THROWS_AS(tt::sum_to(Tensor::zeros(Shape{4}), Shape{2, 4}), std::invalid_argument);
    CHECK_THROWS_AS(tt::broadcast_to(Tensor::zeros(Shape{3}), Shape{4}), std::invalid_argument);
}

TEST_CASE("softmax rows sum to one and stay finite for large inputs") {
    tt::Rng rng(16);
    const Tensor x = Tensor::randn(Shape{4, 6, 33}, rng, 0.0f, 3.0f);
    const Tensor p = tt::softmax(x);
    const Tensor row_sums = tt::sum(p, -1);
    for (float s : row_sums.to_vector()) CHECK(s == doctest::Approx(1.0).epsilon(1e-5));
    check_tensors_close(tt::log_softmax(x), tt::log(p), 1e-4);

    // Shifting a row does not change its softmax; naive exp(1000) would overflow to inf.
    const Tensor small = Tensor::from(Shape{3}, {0.0f, 1.0f, 2.0f});
    const Tensor large = Tensor::from(Shape{3}, {1000.0f, 1001.0f, 1002.0f});
    check_tensors_close(tt::softmax(large), tt::softmax(small), 1e-5);
    check_tensors_close(tt::log_softmax(large), tt::log_softmax(small), 1e-5);
    const double z = 1.0 + std::exp(1.0) + std::exp(2.0);
    CHECK(tt::softmax(small).at({2}) == doctest::Approx(std::exp(2.0) / z));
    CHECK(tt::log_softmax(small).at({0}) == doctest::Approx(-std::log(z)));
    // A causal-mask style fill of -1e9 gets exactly zero probability.
    const Tensor masked = Tensor::from(Shape{3}, {0.5f, -1e9f, 0.5f});
    CHECK(tt::softmax(masked).to_vector() == std::vector<float>{0.5f, 0.0f, 0.5f});
}

TEST_CASE("permute and transpose copy the right elements and round trip") {
    tt::Rng rng(17);
    const Tensor x = Tensor::randn(Shape{2, 3, 4, 5}, rng);
    const int perm[] = {2, 0, 3, 1};
    const int inverse[] = {1, 3, 0, 2};
    const Tensor y = tt::permute(x, perm);
    REQUIRE(y.shape() == Shape{4, 2, 5, 3});
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
            for (int64_t k = 0; k < 4; ++k)
                for (int64_t l = 0; l < 5; ++l) CHECK(y.at({k, i, l, j}) == x.at({i, j, k, l}));
    CHECK(tt::permute(y, inverse).to_vector() == x.to_vector());

    const Tensor t = tt::transpose(x, 1, -1);
    REQUIRE(t.shape() == Shape{2, 5, 4, 3});
    CHECK(t.at({1, 4, 2, 0}) == x.at({1, 0, 2, 4}));
    CHECK(tt::transpose(t, 1, 3).to_vector() == x.to_vector());
    const Tensor m = Tensor::randn(Shape{37, 53}, rng);  // a plain matrix transpose, odd sizes
    const Tensor mt = tt::transpose(m, 0, 1);
    CHECK(mt.at({52, 36}) == m.at({36, 52}));
    CHECK(tt::transpose(mt, 0, 1).to_vector() == m.to_vector());
    const Tensor batch = Tensor::randn(Shape{3, 37, 41}, rng);  // batched, tiles cross the edges
    const Tensor bt = tt::transpose(batch, -1, -2);
    REQUIRE(bt.shape() == Shape{3, 41, 37});
    for (int64_t b = 0; b < 3; ++b)
        for (int64_t i = 0; i < 37; ++i)
            for (int64_t j = 0; j < 41; ++j) CHECK(bt.at({b, j, i}) == batch.at({b, i, j}));

    const int bad_repeat[] = {0, 0, 1, 2};
    const int bad_length[] = {0, 1};
    CHECK_THROWS_AS(tt::permute(x, bad_repeat), std::invalid_argument);
    CHECK_THROWS_AS(tt::permute(x, bad_length), std::invalid_argument);
}

TEST_CASE("slice, concat and pad_slice round trip along every axis") {
    tt::Rng rng(18);
    const Tensor x = Tensor::randn(Shape{4, 5, 6}, rng);
    for (int axis = 0; axis < 3; ++axis) {
        CAPTURE(axis);
        const int64_t D = x.dim(axis), cut = D / 2;
        const Tensor lo = tt::slice(x, axis, 0, cut);
        const Tensor hi = tt::slice(x, axis, cut, D);
        CHECK(lo.dim(axis) == cut);
        const Tensor parts[] = {lo, hi};
        CHECK(tt::concat(parts, axis).to_vector() == x.to_vector());
        // pad_slice is the adjoint of slice: the padded pieces add back up to x.
        const Tensor rebuilt = tt::add(tt::pad_slice(lo, x.shape(), axis, 0), tt::pad_slice(hi, x.shape(), axis, cut));
        CHECK(rebuilt.to_vector() == x.to_vector());
        // <slice(x), Y> == <x, pad_slice(Y)>
        const Tensor y = Tensor::randn(hi.shape(), rng);
        CHECK(inner_product(hi, y) == doctest::Approx(inner_product(x, tt::pad_slice(y, x.shape(), axis, cut))));
    }
    // Values of one slice by hand, and the zeros around a pad.
    const Tensor s = tt::slice(x, 1, 1, 3);
    CHECK(s.shape() == Shape{4, 2, 6});
    CHECK(s.at({3, 1, 5}) == x.at({3, 2, 5}));
    const Tensor padded = tt::pad_slice(Tensor::ones(Shape{2, 1}), Shape{2, 3}, 1, 1);
    CHECK(padded.to_vector() == std::vector<float>{0, 1, 0, 0, 1, 0});
    // Three pieces of unequal size along the last axis.
    const Tensor a = Tensor::ones(Shape{2, 1}), b = Tensor::zeros(Shape{2, 2}), c = Tensor::full(Shape{2, 1}, 7.0f);
    const Tensor abc[] = {a, b, c};
    CHECK(tt::concat(abc, -1).to_vector() == std::vector<float>{1, 0, 0, 7, 1, 0, 0, 7});

    CHECK_THROWS_AS(tt::slice(x, 0, 2, 5), std::invalid_argument);
    CHECK_THROWS_AS(tt::slice(x, 3, 0, 1), std::invalid_argument);
    const Tensor mismatched[] = {Tensor::zeros(Shape{2, 3}), Tensor::zeros(Shape{3, 3})};
    CHECK_THROWS_AS(tt::concat(mismatched, 1), std::invalid_argument);
    CHECK_THROWS_AS(tt::pad_slice(Tensor::zeros(Shape{2, 2}), Shape{2, 3}, 1, 2), std::invalid_argument);
}

TEST_CASE("tril keeps j <= i + diagonal") {
    const Tensor x = tt::add_scalar(Tensor::arange(2 * 3 * 4).reshape(Shape{2, 3, 4}), 1.0f);
    for (int64_t diagonal : {-1, 0, 1, 5}) {
        CAPTURE(diagonal);
        const Tensor t = tt::tril(x, diagonal, -9.0f);
        for (int64_t b = 0; b < 2; ++b)
            for (int64_t i = 0; i < 3; ++i)
                for (int64_t j = 0; j < 4; ++j) CHECK(t.at({b, i, j}) == (j <= i + diagonal ? x.at({b, i, j}) : -9.0f));
    }
    CHECK_THROWS_AS(tt::tril(Tensor::zeros(Shape{3})), std::invalid_argument);
}

TEST_CASE("masked_fill broadcasts the mask") {
    const Tensor x = Tensor::arange(6).reshape(Shape{2, 3});
    const Tensor mask = Tensor::from(Shape{3}, {0.0f, 1.0f, 0.0f});
    CHECK(tt::masked_fill(x, mask, -1.0f).to_vector() == std::vector<float>{0, -1, 2, 3, -1, 5});
    CHECK_THROWS_AS(tt::masked_fill(x, Tensor::zeros(Shape{2}), 0.0f), std::invalid_argument);
}

TEST_CASE("gather_rows and scatter_add_rows are adjoint") {
    tt::Rng rng(19);
    const int64_t V = 11, C = 37;
    const Tensor table = Tensor::randn(Shape{V, C}, rng);
    // Repeated ids on purpose: scatter must add, not overwrite.
    const IntTensor idx(Shape{2, 3}, {3, 0, 3, 10, 5, 3});
    const Tensor g = tt::gather_rows(table, idx);
    REQUIRE(g.shape() == Shape{2, 3, C});
    for (int64_t c = 0; c < C; ++c) {
        CHECK(g.at({0, 0, c}) == table.at({3, c}));
        CHECK(g.at({1, 0, c}) == table.at({10, c}));
    }
    const Tensor y = Tensor::randn(g.shape(), rng);
    const Tensor s = tt::scatter_add_rows(y, idx, V);
    REQUIRE(s.shape() == Shape{V, C});
    // <gather(T), Y> == <T, scatter(Y)>
    CHECK(inner_product(g, y) == doctest::Approx(inner_product(table, s)).epsilon(1e-5));
    CHECK(s.at({3, 7}) == doctest::Approx(y.at({0, 0, 7}) + y.at({0, 2, 7}) + y.at({1, 2, 7})));
    CHECK(s.at({1, 7}) == 0.0f);

    const IntTensor bad(Shape{2}, {1, 11});
    check_throws_mentioning([&] { tt::gather_rows(table, bad); }, "id 11");
    check_throws_mentioning([&] { tt::scatter_add_rows(Tensor::zeros(Shape{2, C}), bad, V); }, "id 11");
    const IntTensor negative(Shape{1}, {-1});
    check_throws_mentioning([&] { tt::gather_rows(table, negative); }, "id -1");
    CHECK_THROWS_AS(tt::scatter_add_rows(Tensor::zeros(Shape{3, C}), bad, V), std::invalid_argument);
}

TEST_CASE("add_at_index and pick") {
    const Tensor x = Tensor::arange(6).reshape(Shape{2, 3});
    const IntTensor idx(Shape{2}, {2, 0});
    CHECK(tt::add_at_index(x, idx, -1.0f).to_vector() == std::vector<float>{0, 1, 1, 2, 4, 5});
    CHECK(x.to_vector() == std::vector<float>{0, 1, 2, 3, 4, 5});  // input untouched
    CHECK(tt::pick(x, idx).to_vector() == std::vector<float>{2, 3});
    const IntTensor bad(Shape{2}, {0, 3});
    check_throws_mentioning([&] { tt::pick(x, bad); }, "id 3");
    CHECK_THROWS_AS(tt::add_at_index(x, IntTensor(Shape{3}, {0, 0, 0}), 1.0f), std::invalid_argument);
}

TEST_CASE("logsumexp and softmax_xent_grad: the cross-entropy gradient in one pass") {
    tt::Rng rng(12);
    const Tensor x = tt::add_scalar(Tensor::randn(Shape{5, 37}, rng, 0.0f, 3.0f), 200.0f);  // large: needs the max shift
    const Tensor lse = tt::logsumexp(x);
    REQUIRE(lse.shape() == Shape{5});
    const Tensor ls = tt::log_softmax(x);
    for (int64_t i = 0; i < 5; ++i) CHECK(x.at({i, 0}) - lse.at({i}) == doctest::Approx(ls.at({i, 0})).epsilon(1e-5));
    const IntTensor t(Shape{5}, {0, 36, 3, 3, 10});
    const Tensor scale = Tensor::from(Shape{5}, {0.5f, 0.25f, 0.0f, 1.0f, -2.0f});  // row 2 ignored
    const Tensor got = tt::softmax_xent_grad(x, lse, t, scale);
    // reference: (softmax(x) - onehot(t)) * scale
    const Tensor want = tt::mul(tt::add_at_index(tt::softmax(x), t, -1.0f), scale.reshape(Shape{5, 1}));
    CHECK(tt::max_abs_diff(got, want) < 1e-5f);
    for (int64_t j = 0; j < 37; ++j) CHECK(got.at({2, j}) == 0.0f);
    check_throws_mentioning([&] { tt::softmax_xent_grad(x, lse, IntTensor(Shape{5}, {0, 0, 37, 0, 0}), scale); }, "id 37");
    CHECK_THROWS_AS(tt::softmax_xent_grad(x, scale.reshape(Shape{5, 1}).rows(0, 4), t, scale), std::invalid_argument);
}

TEST_CASE("causal_softmax equals softmax(tril(scale * x, 0, -1e9)), masked entries exactly 0") {
    tt::Rng rng(15);
    for (const int64_t n : {int64_t{1}, int64_t{15}, int64_t{17}, int64_t{50}}) {
        CAPTURE(n);
        const Tensor x = Tensor::randn(Shape{3, n, n}, rng, 0.0f, 4.0f);
        const Tensor got = tt::causal_softmax(x, 0.125f);
        const Tensor want = tt::softmax(tt::tril(tt::mul_scalar(x, 0.125f), 0, -1e9f));
        CHECK(tt::max_abs_diff(got, want) <= 1e-6f);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = i + 1; j < n; ++j) CHECK(got.at({1, i, j}) == 0.0f);
    }
    const Tensor tall = Tensor::randn(Shape{5, 3}, rng);  // more queries than keys: rows >= 2 see all 3
    CHECK(tt::max_abs_diff(tt::causal_softmax(tall, 1.0f), tt::softmax(tt::tril(tall, 0, -1e9f))) <= 1e-6f);
    CHECK_THROWS_AS(tt::causal_softmax(Tensor::zeros(Shape{4}), 1.0f), std::invalid_argument);
}

TEST_CASE("linear_xent_value_grad: loss and gradient in one pass, as the two passes give them") {
    // 300 rows: two groups of 256 rows for the table's gradient, a partial block of 44; 37 items.
    const int64_t n = 300, v = 37, c = 8;
    tt::Rng rng(13);
    const Tensor h = Tensor::randn(Shape{n, c}, rng), table = Tensor::randn(Shape{v, c}, rng);
    std::vector<int32_t> ids(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = static_cast<int32_t>((i * 7) % v);
    const IntTensor t(Shape{n}, ids);
    const Tensor scale = Tensor::uniform(Shape{n}, rng, 0.0f, 0.01f);
    const auto [lse, picked] = tt::linear_logsumexp(h, table, t);
    const Tensor grad = tt::linear_xent_grad(h, table, t, lse, scale);
    const tt::LinearXent both = tt::linear_xent_value_grad(h, table, t, scale);
    CHECK(both.lse.to_vector() == lse.to_vector());
    CHECK(both.picked.to_vector() == picked.to_vector());
    CHECK(tt::max_abs_diff(both.grad, grad) <= 1e-7f);  // entries ~1e-3: a few ulps
    CHECK_THROWS_AS(tt::linear_xent_value_grad(h, table, t, scale.rows(0, 4)), std::invalid_argument);
}

TEST_CASE("rope rotates pairs and -sin undoes it") {
    tt::Rng rng(20);
    const int64_t B = 3, T = 5, D = 2 * 19;  // 19 pairs: a vector part and a tail on every arch
    const Tensor x = Tensor::randn(Shape{B, T, D}, rng);
    Tensor cos = Tensor::empty(Shape{T, D / 2}), sin = Tensor::empty(Shape{T, D / 2});
    for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < D / 2; ++j) {
            const double angle = static_cast<double>(t) * std::pow(100.0, -static_cast<double>(j) / (D / 2));
            cos.at({t, j}) = static_cast<float>(std::cos(angle));
            sin.at({t, j}) = static_cast<float>(std::sin(angle));
        }
    const Tensor r = tt::rope(x, cos, sin);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t)
            for (int64_t j = 0; j < D / 2; ++j) {
                const float xe = x.at({b, t, 2 * j}), xo = x.at({b, t, 2 * j + 1});
                const float c = cos.at({t, j}), s = sin.at({t, j});
                CHECK(r.at({b, t, 2 * j}) == doctest::Approx(xe * c - xo * s).epsilon(1e-5));
                CHECK(r.at({b, t, 2 * j + 1}) == doctest::Approx(xo * c + xe * s).epsilon(1e-5));
            }
    check_tensors_close(tt::rope(r, cos, tt::neg(sin)), x, 1e-4);
    CHECK_THROWS_AS(tt::rope(Tensor::zeros(Shape{T, 3}), cos, sin), std::invalid_argument);
    CHECK_THROWS_AS(tt::rope(x, sin.rows(0, 2), sin), std::invalid_argument);
}

TEST_CASE("max_abs_diff") {
    const Tensor a = Tensor::from(Shape{3}, {1.0f, 2.0f, 3.0f});
    const Tensor b = Tensor::from(Shape{3}, {1.0f, 2.5f, 1.0f});
    CHECK(tt::max_abs_diff(a, b) == 2.0f);
    CHECK(tt::max_abs_diff(a, a) == 0.0f);
    CHECK_THROWS_AS(tt::max_abs_diff(a, Tensor::zeros(Shape{4})), std::invalid_argument);
}

}  // TEST_SUITE
