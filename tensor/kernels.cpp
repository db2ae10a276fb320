// tensor/kernels.cpp — the xsimd kernels of kernels.hpp and their scalar `_ref` twins.
//
// Layout of this file: small op functors (each callable on a batch and on a float, so the vector
// loop and its scalar leftovers share one definition), generic loops over those functors, then
// the public kernels in the order of kernels.hpp, each SIMD version followed by its `_ref`.
//
// The `_ref` twins deliberately do not reuse the functors: they are written out with <cmath> so
// that a test comparing the two checks the math as well as the loop bounds.
#include "tensor/kernels.hpp"

#include <xsimd/xsimd.hpp>

#include "tensor/simd.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace tt::kernels {

namespace {

using batch = xsimd::batch<float>;
constexpr size_t W = batch::size;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline batch load(const float* p) { return batch::load_unaligned(p); }

// The last n < W elements of a run as a batch (lanes past n are 0), and back. Elementwise kernels
// with a transcendental functor (exp, log, tanh: xsimd's round differently from <cmath>'s in about
// 15% of inputs, measured) push their leftovers through the same vector functor as the body: the
// runs are parallel_for chunks whose boundaries depend on the thread count, so a scalar leftover
// loop made an element's bits depend on which chunk ended next to it, i.e. on the thread count.
inline batch load_tail(const float* p, size_t n) {
    alignas(64) float t[W] = {};
    std::copy(p, p + n, t);
    return batch::load_aligned(t);
}
inline void store_tail(const batch& v, float* p, size_t n) {
    alignas(64) float t[W];
    v.store_aligned(t);
    std::copy(t, t + n, p);
}

// xsimd 8.1 spells the horizontal add `hadd` (renamed reduce_add in 9.0); it has no reduce_max.
inline float hsum(const batch& v) { return xsimd::hadd(v); }
inline float hmax(const batch& v) {
    alignas(64) float lanes[W];
    v.store_aligned(lanes);
    float m = lanes[0];
    for (size_t k = 1; k < W; ++k) m = std::max(m, lanes[k]);
    return m;
}

// ---- binary functors ------------------------------------------------------------------------------
struct AddF {
    batch operator()(const batch& a, const batch& b) const { return a + b; }
    float operator()(float a, float b) const { return a + b; }
};
struct SubF {
    batch operator()(const batch& a, const batch& b) const { return a - b; }
    float operator()(float a, float b) const { return a - b; }
};
struct MulF {
    batch operator()(const batch& a, const batch& b) const { return a * b; }
    float operator()(float a, float b) const { return a * b; }
};
struct DivF {
    batch operator()(const batch& a, const batch& b) const { return a / b; }
    float operator()(float a, float b) const { return a / b; }
};
struct MaxF {
    batch operator()(const batch& a, const batch& b) const { return xsimd::max(a, b); }
    float operator()(float a, float b) const { return std::max(a, b); }
};
struct MinF {
    batch operator()(const batch& a, const batch& b) const { return xsimd::min(a, b); }
    float operator()(float a, float b) const { return std::min(a, b); }
};
struct GreaterF {
    batch operator()(const batch& a, const batch& b) const { return xsimd::select(a > b, batch(1.0f), batch(0.0f)); }
    float operator()(float a, float b) const { return a > b ? 1.0f : 0.0f; }
};
struct GreaterEqualF {
    batch operator()(const batch& a, const batch& b) const { return xsimd::select(a >= b, batch(1.0f), batch(0.0f)); }
    float operator()(float a, float b) const { return a >= b ? 1.0f : 0.0f; }
};
struct EqualF {
    batch operator()(const batch& a, const batch& b) const { return xsimd::select(a == b, batch(1.0f), batch(0.0f)); }
    float operator()(float a, float b) const { return a == b ? 1.0f : 0.0f; }
};

// Resolve the op once per call, outside the loop; the loop is then instantiated per functor.
template <class Fn>
void with_binary(BinaryOp op, Fn&& fn) {
    switch (op) {
        case BinaryOp::Add: fn(AddF{}); return;
        case BinaryOp::Sub: fn(SubF{}); return;
        case BinaryOp::Mul: fn(MulF{}); return;
        case BinaryOp::Div: fn(DivF{}); return;
        case BinaryOp::Max: fn(MaxF{}); return;
        case BinaryOp::Min: fn(MinF{}); return;
        case BinaryOp::Greater: fn(GreaterF{}); return;
        case BinaryOp::GreaterEqual: fn(GreaterEqualF{}); return;
        case BinaryOp::Equal: fn(EqualF{}); return;
    }
}

template <class F>
void map_vv(F f, const float* a, const float* b, float* out, size_t n) {
    size_t i = 0;
    for (; i + W <= n; i += W) f(load(a + i), load(b + i)).store_unaligned(out + i);
    for (; i < n; ++i) out[i] = f(a[i], b[i]);  // leftovers
}

template <class F>
void map_vs(F f, const float* a, float b, float* out, size_t n) {
    const batch vb(b);
    size_t i = 0;
    for (; i + W <= n; i += W) f(load(a + i), vb).store_unaligned(out + i);
    for (; i < n; ++i) out[i] = f(a[i], b);
}

template <class F>
void map_sv(F f, float a, const float* b, float* out, size_t n) {
    const batch va(a);
    size_t i = 0;
    for (; i + W <= n; i += W) f(va, load(b + i)).store_unaligned(out + i);
    for (; i < n; ++i) out[i] = f(a, b[i]);
}

float binary_scalar_ref_op(BinaryOp op, float a, float b) {
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

// ---- unary functors -------------------------------------------------------------------------------
struct NegF {
    batch operator()(const batch& x) const { return -x; }
    float operator()(float x) const { return -x; }
};
struct ExpF {
    batch operator()(const batch& x) const { return xsimd::exp(x); }
    float operator()(float x) const { return std::exp(x); }
};
// NOTE: xsimd 8.1's log does not compile for AVX-512BW without optimization (-O0): gcc then
// defines the mask-blend intrinsics as macros whose casts reject xsimd batches. Debug builds get a
// lane-by-lane std::log instead; optimized builds (every normal build) use xsimd::log.
#if defined(__AVX512BW__) && !defined(__OPTIMIZE__)
inline batch simd_log(const batch& x) {
    alignas(64) float lanes[W];
    x.store_aligned(lanes);
    for (float& v : lanes) v = std::log(v);
    return batch::load_aligned(lanes);
}
#else
inline batch simd_log(const batch& x) { return xsimd::log(x); }
#endif

struct LogF {
    batch operator()(const batch& x) const { return simd_log(x); }
    float operator()(float x) const { return std::log(x); }
};
struct SqrtF {
    batch operator()(const batch& x) const { return xsimd::sqrt(x); }
    float operator()(float x) const { return std::sqrt(x); }
};
// NOTE: not xsimd::rsqrt: in xsimd 8.1 it does not compile for AVX-512 (fixed in 10.0), and its
// approximate result would differ between archs anyway.
struct RsqrtF {
    batch operator()(const batch& x) const { return batch(1.0f) / xsimd::sqrt(x); }
    float operator()(float x) const { return 1.0f / std::sqrt(x); }
};
struct TanhF {
    batch operator()(const batch& x) const { return xsimd::tanh(x); }
    float operator()(float x) const { return std::tanh(x); }
};
inline batch tanh_of(const batch& x) { return xsimd::tanh(x); }
inline float tanh_of(float x) { return std::tanh(x); }
// 1 / (1 + e^-x): for very negative x, e^-x = inf and the result is a clean 0 (no NaN).
struct SigmoidF {
    batch operator()(const batch& x) const { return batch(1.0f) / (batch(1.0f) + xsimd::exp(-x)); }
    float operator()(float x) const { return 1.0f / (1.0f + std::exp(-x)); }
};
struct ReluF {
    batch operator()(const batch& x) const { return xsimd::max(x, batch(0.0f)); }
    float operator()(float x) const { return x > 0.0f ? x : 0.0f; }
};
struct SquareF {
    batch operator()(const batch& x) const { return x * x; }
    float operator()(float x) const { return x * x; }
};
struct AbsF {
    batch operator()(const batch& x) const { return xsimd::abs(x); }
    float operator()(float x) const { return std::fabs(x); }
};
struct StepF {
    batch operator()(const batch& x) const { return xsimd::select(x > batch(0.0f), batch(1.0f), batch(0.0f)); }
    float operator()(float x) const { return x > 0.0f ? 1.0f : 0.0f; }
};
struct ReciprocalF {
    batch operator()(const batch& x) const { return batch(1.0f) / x; }
    float operator()(float x) const { return 1.0f / x; }
};
// silu(x) = x sigmoid(x) = x / (1 + e^-x); its derivative s (1 + x (1 - s)), s = sigmoid(x).
struct SiluF {
    batch operator()(const batch& x) const { return x / (batch(1.0f) + xsimd::exp(-x)); }
    float operator()(float x) const { return x / (1.0f + std::exp(-x)); }
};
struct SiluGradF {
    batch operator()(const batch& x) const {
        const batch s = batch(1.0f) / (batch(1.0f) + xsimd::exp(-x));
        return s * simd::fma(x, batch(1.0f) - s, batch(1.0f));
    }
    float operator()(float x) const {
        const float s = 1.0f / (1.0f + std::exp(-x));
        return s * std::fma(x, 1.0f - s, 1.0f);  // as the batch version: one rounding
    }
};

// GELU, tanh approximation (ttt.py's gelu; TTT-MLP's inner activation), and its first two
// derivatives, with u = c (x + a x³), t = tanh(u), u' = c (1 + 3a x²):
//   gelu   = ½ x (1 + t)
//   gelu'  = ½ (1 + t) + ½ x (1 − t²) u'
//   gelu'' = (1 − t²) (u' − x t u'² + 3 a c x²)        (from t' = (1 − t²) u', u'' = 6 a c x)
// One pass each instead of the 8-14 elementwise ops of the composition (TTT4Rec's dual form runs
// all three on (B,H,K,4D) tensors every mini-batch).
constexpr float kGeluC = 0.7978845608028654f;  // √(2/π)
constexpr float kGeluA = 0.044715f;
// x², t and u' of the formulas above, shared by the three functors.
template <class T>
struct GeluParts {
    T x2, t, du;
    explicit GeluParts(const T& x)
        : x2(x * x),
          t(tanh_of(T(kGeluC) * x * (T(1.0f) + T(kGeluA) * x2))),
          du(T(kGeluC) * (T(1.0f) + T(3.0f * kGeluA) * x2)) {}
};
struct GeluTanhF {
    template <class T>
    T operator()(const T& x) const {
        return T(0.5f) * x * (T(1.0f) + GeluParts<T>(x).t);
    }
};
struct GeluTanhGradF {
    template <class T>
    T operator()(const T& x) const {
        const GeluParts<T> g(x);
        return T(0.5f) * (T(1.0f) + g.t) + T(0.5f) * x * (T(1.0f) - g.t * g.t) * g.du;
    }
};
struct GeluTanhGrad2F {
    template <class T>
    T operator()(const T& x) const {
        const GeluParts<T> g(x);
        return (T(1.0f) - g.t * g.t) * (g.du - x * g.t * g.du * g.du + T(3.0f * kGeluA * kGeluC) * g.x2);
    }
};

template <class Fn>
void with_unary(UnaryOp op, Fn&& fn) {
    switch (op) {
        case UnaryOp::Neg: fn(NegF{}); return;
        case UnaryOp::Exp: fn(ExpF{}); return;
        case UnaryOp::Log: fn(LogF{}); return;
        case UnaryOp::Sqrt: fn(SqrtF{}); return;
        case UnaryOp::Rsqrt: fn(RsqrtF{}); return;
        case UnaryOp::Tanh: fn(TanhF{}); return;
        case UnaryOp::Sigmoid: fn(SigmoidF{}); return;
        case UnaryOp::Relu: fn(ReluF{}); return;
        case UnaryOp::Square: fn(SquareF{}); return;
        case UnaryOp::Abs: fn(AbsF{}); return;
        case UnaryOp::Step: fn(StepF{}); return;
        case UnaryOp::Reciprocal: fn(ReciprocalF{}); return;
        case UnaryOp::Silu: fn(SiluF{}); return;
        case UnaryOp::SiluGrad: fn(SiluGradF{}); return;
        case UnaryOp::GeluTanh: fn(GeluTanhF{}); return;
        case UnaryOp::GeluTanhGrad: fn(GeluTanhGradF{}); return;
        case UnaryOp::GeluTanhGrad2: fn(GeluTanhGrad2F{}); return;
    }
}

template <class F>
void map_v(F f, const float* x, float* out, size_t n) {
    size_t i = 0;
    for (; i + W <= n; i += W) f(load(x + i)).store_unaligned(out + i);
    if (i < n) store_tail(f(load_tail(x + i, n - i)), out + i, n - i);  // see load_tail
}

// x^e for a non-negative integer e by repeated squaring: exact for small e, and works for x < 0.
template <class T>
T pow_uint(T x, unsigned e) {
    T result(1.0f);
    T base = x;
    while (e != 0) {
        if (e & 1u) result = result * base;
        base = base * base;
        e >>= 1;
    }
    return result;
}

// Index generators for xsimd::swizzle (rope): lane i takes lane get(i, n) of the source.
struct SwapPairs {
    static constexpr uint32_t get(size_t i, size_t) { return static_cast<uint32_t>(i ^ 1u); }
};
struct DuplicateLowHalf {  // (v0, v0, v1, v1, ...) from the first n/2 lanes
    static constexpr uint32_t get(size_t i, size_t) { return static_cast<uint32_t>(i / 2); }
};
struct DuplicateHighHalf {  // (v_{n/2}, v_{n/2}, ...) from the last n/2 lanes
    static constexpr uint32_t get(size_t i, size_t n) { return static_cast<uint32_t>(n / 2 + i / 2); }
};

}  // namespace

size_t simd_width() { return W; }
const char* simd_arch_name() { return xsimd::default_arch::name(); }

// ---------------------------------------------------------------------------------------------
// elementwise binary

void binary(BinaryOp op, const float* a, const float* b, float* out, size_t n) {
    with_binary(op, [&](auto f) { map_vv(f, a, b, out, n); });
}
void binary_ref(BinaryOp op, const float* a, const float* b, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = binary_scalar_ref_op(op, a[i], b[i]);
}

void binary_scalar_b(BinaryOp op, const float* a, float b, float* out, size_t n) {
    with_binary(op, [&](auto f) { map_vs(f, a, b, out, n); });
}
void binary_scalar_b_ref(BinaryOp op, const float* a, float b, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = binary_scalar_ref_op(op, a[i], b);
}

void binary_scalar_a(BinaryOp op, float a, const float* b, float* out, size_t n) {
    with_binary(op, [&](auto f) { map_sv(f, a, b, out, n); });
}
void binary_scalar_a_ref(BinaryOp op, float a, const float* b, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = binary_scalar_ref_op(op, a, b[i]);
}

void binary_row(BinaryOp op, const float* a, const float* b_row, float* out, size_t rows, size_t cols) {
    with_binary(op, [&](auto f) {
        for (size_t r = 0; r < rows; ++r) map_vv(f, a + r * cols, b_row, out + r * cols, cols);
    });
}
void binary_row_ref(BinaryOp op, const float* a, const float* b_row, float* out, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) out[r * cols + c] = binary_scalar_ref_op(op, a[r * cols + c], b_row[c]);
}

void select(const float* cond, const float* a, const float* b, float* out, size_t n) {
    const batch zero(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) xsimd::select(load(cond + i) != zero, load(a + i), load(b + i)).store_unaligned(out + i);
    for (; i < n; ++i) out[i] = cond[i] != 0.0f ? a[i] : b[i];
}
void select_ref(const float* cond, const float* a, const float* b, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = cond[i] != 0.0f ? a[i] : b[i];
}

void masked_fill(const float* x, const float* mask, float value, float* out, size_t n) {
    const batch zero(0.0f), v(value);
    size_t i = 0;
    for (; i + W <= n; i += W) xsimd::select(load(mask + i) != zero, v, load(x + i)).store_unaligned(out + i);
    for (; i < n; ++i) out[i] = mask[i] != 0.0f ? value : x[i];
}
void masked_fill_ref(const float* x, const float* mask, float value, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = mask[i] != 0.0f ? value : x[i];
}

// ---------------------------------------------------------------------------------------------
// unary and scalar

void unary(UnaryOp op, const float* x, float* out, size_t n) {
    with_unary(op, [&](auto f) { map_v(f, x, out, n); });
}
void unary_ref(UnaryOp op, const float* x, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const float v = x[i];
        float y = 0.0f;
        switch (op) {
            case UnaryOp::Neg: y = -v; break;
            case UnaryOp::Exp: y = std::exp(v); break;
            case UnaryOp::Log: y = std::log(v); break;
            case UnaryOp::Sqrt: y = std::sqrt(v); break;
            case UnaryOp::Rsqrt: y = 1.0f / std::sqrt(v); break;
            case UnaryOp::Tanh: y = std::tanh(v); break;
            case UnaryOp::Sigmoid: y = 1.0f / (1.0f + std::exp(-v)); break;
            case UnaryOp::Relu: y = v > 0.0f ? v : 0.0f; break;
            case UnaryOp::Square: y = v * v; break;
            case UnaryOp::Abs: y = std::fabs(v); break;
            case UnaryOp::Step: y = v > 0.0f ? 1.0f : 0.0f; break;
            case UnaryOp::Reciprocal: y = 1.0f / v; break;
            case UnaryOp::Silu: y = v / (1.0f + std::exp(-v)); break;
            case UnaryOp::SiluGrad: {
                const float sg = 1.0f / (1.0f + std::exp(-v));
                y = sg * (1.0f + v * (1.0f - sg));
                break;
            }
            case UnaryOp::GeluTanh:
            case UnaryOp::GeluTanhGrad:
            case UnaryOp::GeluTanhGrad2: {  // in double, from the composition's own form
                const double xd = v, c = 0.7978845608028654, a = 0.044715;
                const double t = std::tanh(c * (xd + a * xd * xd * xd)), du = c * (1.0 + 3.0 * a * xd * xd);
                const double r = op == UnaryOp::GeluTanh      ? 0.5 * xd * (1.0 + t)
                                 : op == UnaryOp::GeluTanhGrad ? 0.5 * (1.0 + t) + 0.5 * xd * (1.0 - t * t) * du
                                                               : (1.0 - t * t) * (du - xd * t * du * du + 6.0 * a * c * xd * xd / 2.0);
                y = static_cast<float>(r);
                break;
            }
        }
        out[i] = y;
    }
}

void add_scalar(const float* x, float s, float* out, size_t n) { map_vs(AddF{}, x, s, out, n); }
void add_scalar_ref(const float* x, float s, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = x[i] + s;
}

// ---- dropout masks -------------------------------------------------------------------------------
// One splitmix64 output per element. The vector loop is the same integer arithmetic on lanes of
// uint64 (GCC vectorises it: vpmullq on AVX-512); integer operations are exact, so it equals the
// reference bit for bit on every build.

namespace {
inline float counter_uniform(uint64_t key, uint64_t c) {
    uint64_t z = key + (c + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);  // exact: 24 bits
}
}  // namespace

void keep_mask(uint64_t key, uint64_t offset, float p, float value, float* out, size_t n) {
#pragma GCC ivdep
    for (size_t i = 0; i < n; ++i) out[i] = counter_uniform(key, offset + i) >= p ? value : 0.0f;
}
void keep_mask_ref(uint64_t key, uint64_t offset, float p, float value, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        uint64_t z = key + (offset + i + 1) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        const float u = static_cast<float>(z >> 40) / 16777216.0f;
        out[i] = u >= p ? value : 0.0f;
    }
}

void mul_scalar(const float* x, float s, float* out, size_t n) { map_vs(MulF{}, x, s, out, n); }
void mul_scalar_ref(const float* x, float s, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = x[i] * s;
}

void pow_scalar(const float* x, float p, float* out, size_t n) {
    const bool is_integer = std::nearbyint(p) == p && std::fabs(p) <= 64.0f;
    if (is_integer) {
        const unsigned e = static_cast<unsigned>(std::fabs(p));
        if (p >= 0.0f) {
            map_v([e](auto v) { return pow_uint(v, e); }, x, out, n);
        } else {
            map_v([e](auto v) { return decltype(v)(1.0f) / pow_uint(v, e); }, x, out, n);
        }
        return;
    }
    if (p == 0.5f) {
        map_v(SqrtF{}, x, out, n);
        return;
    }
    if (p == -0.5f) {
        map_v(RsqrtF{}, x, out, n);
        return;
    }
    // x^p = exp(p log x): NaN for x < 0 like std::pow, 0 or inf at x = 0. (Not xsimd::pow, which
    // hits the same -O0 AVX-512BW compile error as xsimd::log, see simd_log.)
    const batch vp(p);
    size_t i = 0;
    for (; i + W <= n; i += W) xsimd::exp(vp * simd_log(load(x + i))).store_unaligned(out + i);
    if (i < n) store_tail(xsimd::exp(vp * simd_log(load_tail(x + i, n - i))), out + i, n - i);  // see load_tail
}
void pow_scalar_ref(const float* x, float p, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = std::pow(x[i], p);
}

void axpy(float alpha, const float* x, float* y, size_t n) {
    const batch va(alpha);
    size_t i = 0;
    for (; i + W <= n; i += W) simd::fma(va, load(x + i), load(y + i)).store_unaligned(y + i);
    for (; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}
void axpy_ref(float alpha, const float* x, float* y, size_t n) {
    for (size_t i = 0; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}

// ---------------------------------------------------------------------------------------------
// reductions (four accumulators: independent adds keep the FP pipeline busy)

float sum(const float* x, size_t n) {
    batch s0(0.0f), s1(0.0f), s2(0.0f), s3(0.0f);
    size_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        s0 += load(x + i);
        s1 += load(x + i + W);
        s2 += load(x + i + 2 * W);
        s3 += load(x + i + 3 * W);
    }
    for (; i + W <= n; i += W) s0 += load(x + i);
    float s = hsum((s0 + s1) + (s2 + s3));
    for (; i < n; ++i) s += x[i];
    return s;
}
float sum_ref(const float* x, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; ++i) s += x[i];
    return s;
}

double sum_f64(const float* x, size_t n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += double{x[i]};
        s1 += double{x[i + 1]};
        s2 += double{x[i + 2]};
        s3 += double{x[i + 3]};
    }
    double s = (s0 + s1) + (s2 + s3);
    for (; i < n; ++i) s += double{x[i]};
    return s;
}
double sum_f64_ref(const float* x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += double{x[i]};
    return s;
}

float max(const float* x, size_t n) {
    batch m0(kNegInf), m1(kNegInf), m2(kNegInf), m3(kNegInf);
    size_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        m0 = xsimd::max(m0, load(x + i));
        m1 = xsimd::max(m1, load(x + i + W));
        m2 = xsimd::max(m2, load(x + i + 2 * W));
        m3 = xsimd::max(m3, load(x + i + 3 * W));
    }
    for (; i + W <= n; i += W) m0 = xsimd::max(m0, load(x + i));
    float m = hmax(xsimd::max(xsimd::max(m0, m1), xsimd::max(m2, m3)));
    for (; i < n; ++i) m = std::max(m, x[i]);
    return m;
}
float max_ref(const float* x, size_t n) {
    float m = kNegInf;
    for (size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}

float dot(const float* a, const float* b, size_t n) {
    batch s0(0.0f), s1(0.0f), s2(0.0f), s3(0.0f);
    size_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        s0 = simd::fma(load(a + i), load(b + i), s0);
        s1 = simd::fma(load(a + i + W), load(b + i + W), s1);
        s2 = simd::fma(load(a + i + 2 * W), load(b + i + 2 * W), s2);
        s3 = simd::fma(load(a + i + 3 * W), load(b + i + 3 * W), s3);
    }
    for (; i + W <= n; i += W) s0 = simd::fma(load(a + i), load(b + i), s0);
    float s = hsum((s0 + s1) + (s2 + s3));
    for (; i < n; ++i) s = std::fma(a[i], b[i], s);
    return s;
}
float dot_ref(const float* a, const float* b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; ++i) s = std::fma(a[i], b[i], s);
    return s;
}

float max_abs_diff(const float* a, const float* b, size_t n) {
    batch m(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) m = xsimd::max(m, xsimd::abs(load(a + i) - load(b + i)));
    float r = hmax(m);
    for (; i < n; ++i) r = std::max(r, std::fabs(a[i] - b[i]));
    return r;
}
float max_abs_diff_ref(const float* a, const float* b, size_t n) {
    float r = 0.0f;
    for (size_t i = 0; i < n; ++i) r = std::max(r, std::fabs(a[i] - b[i]));
    return r;
}

void sum_rows(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    for (size_t r = 0; r < rows; ++r) out[r] = sum(x + r * ld, cols);
}
void sum_rows_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    for (size_t r = 0; r < rows; ++r) out[r] = sum_ref(x + r * ld, cols);
}

void max_rows(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    for (size_t r = 0; r < rows; ++r) out[r] = max(x + r * ld, cols);
}
void max_rows_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    for (size_t r = 0; r < rows; ++r) out[r] = max_ref(x + r * ld, cols);
}

// Column blocks of 4W, then W, then single columns; each block walks all rows in order.
template <class F>
void reduce_cols(F f, float init, const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    const batch vinit(init);
    size_t c = 0;
    for (; c + 4 * W <= cols; c += 4 * W) {
        batch a0 = vinit, a1 = vinit, a2 = vinit, a3 = vinit;
        for (size_t r = 0; r < rows; ++r) {
            const float* p = x + r * ld + c;
            a0 = f(a0, load(p));
            a1 = f(a1, load(p + W));
            a2 = f(a2, load(p + 2 * W));
            a3 = f(a3, load(p + 3 * W));
        }
        a0.store_unaligned(out + c);
        a1.store_unaligned(out + c + W);
        a2.store_unaligned(out + c + 2 * W);
        a3.store_unaligned(out + c + 3 * W);
    }
    for (; c + W <= cols; c += W) {
        batch a = vinit;
        for (size_t r = 0; r < rows; ++r) a = f(a, load(x + r * ld + c));
        a.store_unaligned(out + c);
    }
    for (; c < cols; ++c) {
        float a = init;
        for (size_t r = 0; r < rows; ++r) a = f(a, x[r * ld + c]);
        out[c] = a;
    }
}

void sum_cols(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    reduce_cols(AddF{}, 0.0f, x, rows, cols, ld, out);
}
void sum_cols_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    for (size_t c = 0; c < cols; ++c) {
        float s = 0.0f;
        for (size_t r = 0; r < rows; ++r) s += x[r * ld + c];
        out[c] = s;
    }
}

void max_cols(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    reduce_cols(MaxF{}, kNegInf, x, rows, cols, ld, out);
}
void max_cols_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    for (size_t c = 0; c < cols; ++c) {
        float m = kNegInf;
        for (size_t r = 0; r < rows; ++r) m = x[r * ld + c] > m ? x[r * ld + c] : m;
        out[c] = m;
    }
}

// ---------------------------------------------------------------------------------------------
// softmax family: subtract the row max first, so exp never overflows (exp(x - max) <= 1)

void softmax_row(const float* x, float* out, size_t n) {
    if (n == 0) return;
    const float m = max(x, n);
    const batch vm(m);
    batch acc(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const batch e = xsimd::exp(load(x + i) - vm);
        e.store_unaligned(out + i);
        acc += e;
    }
    if (i < n) {
        // The tail as one more vector padded with -inf (exp -> 0): a scalar std::exp of a masked
        // score (attention's -1e9) would take libm's slow underflow path, once per row.
        alignas(64) float t[W];
        std::fill(t, t + W, kNegInf);
        std::copy(x + i, x + n, t);
        const batch e = xsimd::exp(batch::load_aligned(t) - vm);
        e.store_aligned(t);
        std::copy(t, t + (n - i), out + i);
        acc += e;
    }
    mul_scalar(out, 1.0f / hsum(acc), out, n);
}
void scaled_softmax_row(const float* x, float* out, size_t n, float scale) {
    constexpr size_t kRegs = 4;
    if (n == 0) return;
    if (n > kRegs * W) {  // long rows: scale, then the general kernel
        mul_scalar(x, scale, out, n);
        softmax_row(out, out, n);
        return;
    }
    // Short row: the last (partial) vector is read from a copy padded with -inf (exp -> 0).
    const size_t nv = (n + W - 1) / W, full = n / W;
    alignas(64) float tail[W];
    batch v[kRegs];
    batch vmax(kNegInf);
    for (size_t j = 0; j < nv; ++j) {
        if (j < full) {
            v[j] = load(x + j * W);
        } else {
            std::fill(tail, tail + W, kNegInf);
            std::copy(x + j * W, x + n, tail);
            v[j] = batch::load_aligned(tail);
        }
        vmax = xsimd::max(vmax, v[j]);
    }
    const batch vs(scale), shift(-scale * hmax(vmax));  // exp(s x - s max) <= 1
    batch acc(0.0f);
    for (size_t j = 0; j < nv; ++j) {
        v[j] = xsimd::exp(simd::fma(v[j], vs, shift));
        acc += v[j];
    }
    const batch inv(1.0f / hsum(acc));
    for (size_t j = 0; j < nv; ++j) {
        if (j < full) {
            (v[j] * inv).store_unaligned(out + j * W);
        } else {
            (v[j] * inv).store_aligned(tail);
            std::copy(tail, tail + (n - j * W), out + j * W);
        }
    }
}
void scaled_softmax_row_ref(const float* x, float* out, size_t n, float scale) {
    for (size_t i = 0; i < n; ++i) out[i] = scale * x[i];
    softmax_row_ref(out, out, n);
}

void softmax_row_ref(const float* x, float* out, size_t n) {
    if (n == 0) return;
    const float m = max_ref(x, n);
    float s = 0.0f;
    for (size_t i = 0; i < n; ++i) {
        out[i] = std::exp(x[i] - m);
        s += out[i];
    }
    for (size_t i = 0; i < n; ++i) out[i] /= s;
}

// log sum exp(x) = max + log sum exp(x - max): the log of a sum of terms <= 1, never of 0 or inf.
float logsumexp(const float* x, size_t n) {
    if (n == 0) return kNegInf;
    const float m = max(x, n);
    const batch vm(m);
    batch acc(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) acc += xsimd::exp(load(x + i) - vm);
    float s = hsum(acc);
    for (; i < n; ++i) s += std::exp(x[i] - m);
    return m + std::log(s);
}
float logsumexp_ref(const float* x, size_t n) {
    if (n == 0) return kNegInf;
    const float m = max_ref(x, n);
    float s = 0.0f;
    for (size_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
    return m + std::log(s);
}

// log_softmax = x - logsumexp(x)
void log_softmax_row(const float* x, float* out, size_t n) {
    if (n == 0) return;
    add_scalar(x, -logsumexp(x, n), out, n);
}
void log_softmax_row_ref(const float* x, float* out, size_t n) {
    if (n == 0) return;
    const float log_sum = logsumexp_ref(x, n);
    for (size_t i = 0; i < n; ++i) out[i] = x[i] - log_sum;
}

// softmax with a known log-sum-exp, scaled: out = exp(x - shift) * scale (one pass, no max/sum).
void exp_shift_scale(const float* x, float shift, float scale, float* out, size_t n) {
    const batch vs(shift), vc(scale);
    size_t i = 0;
    for (; i + W <= n; i += W) (xsimd::exp(load(x + i) - vs) * vc).store_unaligned(out + i);
    for (; i < n; ++i) out[i] = std::exp(x[i] - shift) * scale;
}
void exp_shift_scale_ref(const float* x, float shift, float scale, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = std::exp(x[i] - shift) * scale;
}

// ---------------------------------------------------------------------------------------------
// softmax down columns: the same max-subtracted arithmetic, one lane per column

void logsumexp_cols(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    if (rows == 0) {
        std::fill(out, out + cols, kNegInf);
        return;
    }
    size_t c = 0;
    for (; c + W <= cols; c += W) {
        batch m(kNegInf);
        for (size_t r = 0; r < rows; ++r) m = xsimd::max(m, load(x + r * ld + c));
        batch s(0.0f);
        for (size_t r = 0; r < rows; ++r) s += xsimd::exp(load(x + r * ld + c) - m);
        (m + simd_log(s)).store_unaligned(out + c);
    }
    for (; c < cols; ++c) {
        float m = kNegInf;
        for (size_t r = 0; r < rows; ++r) m = std::max(m, x[r * ld + c]);
        float s = 0.0f;
        for (size_t r = 0; r < rows; ++r) s += std::exp(x[r * ld + c] - m);
        out[c] = m + std::log(s);
    }
}
void logsumexp_cols_ref(const float* x, size_t rows, size_t cols, size_t ld, float* out) {
    for (size_t c = 0; c < cols; ++c) {
        float m = kNegInf;
        for (size_t r = 0; r < rows; ++r) m = std::max(m, x[r * ld + c]);
        float s = 0.0f;
        for (size_t r = 0; r < rows; ++r) s += std::exp(x[r * ld + c] - m);
        out[c] = rows == 0 ? kNegInf : m + std::log(s);
    }
}

void softmax_scale_cols(float* x, size_t rows, size_t cols, size_t ld, const float* lse, const float* scale) {
    size_t c = 0;
    for (; c + W <= cols; c += W) {
        const batch l = load(lse + c), k = load(scale + c);
        for (size_t r = 0; r < rows; ++r) (xsimd::exp(load(x + r * ld + c) - l) * k).store_unaligned(x + r * ld + c);
    }
    for (; c < cols; ++c)
        for (size_t r = 0; r < rows; ++r) x[r * ld + c] = std::exp(x[r * ld + c] - lse[c]) * scale[c];
}
void lse_softmax_scale_cols(float* x, size_t rows, size_t cols, size_t ld, const float* scale, float* lse) {
    if (rows == 0) {
        std::fill(lse, lse + cols, kNegInf);
        return;
    }
    // Up to kGroup batches of columns side by side: each pass walks the rows once for all of them
    // (one contiguous stretch of a row, not kGroup strided walks down the columns) and keeps kGroup
    // independent exp chains in flight. Each column's arithmetic is the same as one batch alone.
    constexpr size_t kGroup = 4;
    size_t c = 0;
    while (c + W <= cols) {
        const size_t nb = std::min(kGroup, (cols - c) / W);
        batch m[kGroup], s[kGroup];
        for (size_t j = 0; j < nb; ++j) m[j] = batch(kNegInf), s[j] = batch(0.0f);
        for (size_t r = 0; r < rows; ++r)
            for (size_t j = 0; j < nb; ++j) m[j] = xsimd::max(m[j], load(x + r * ld + c + j * W));
        for (size_t r = 0; r < rows; ++r)
            for (size_t j = 0; j < nb; ++j) {
                float* p = x + r * ld + c + j * W;
                const batch e = xsimd::exp(load(p) - m[j]);
                e.store_unaligned(p);
                s[j] += e;
            }
        batch k[kGroup];
        for (size_t j = 0; j < nb; ++j) {
            (m[j] + simd_log(s[j])).store_unaligned(lse + c + j * W);
            k[j] = load(scale + c + j * W) / s[j];
        }
        for (size_t r = 0; r < rows; ++r)
            for (size_t j = 0; j < nb; ++j) {
                float* p = x + r * ld + c + j * W;
                (load(p) * k[j]).store_unaligned(p);
            }
        c += nb * W;
    }
    for (; c < cols; ++c) {
        float m = kNegInf;
        for (size_t r = 0; r < rows; ++r) m = std::max(m, x[r * ld + c]);
        float s = 0.0f;
        for (size_t r = 0; r < rows; ++r) {
            x[r * ld + c] = std::exp(x[r * ld + c] - m);
            s += x[r * ld + c];
        }
        lse[c] = m + std::log(s);
        const float k = scale[c] / s;
        for (size_t r = 0; r < rows; ++r) x[r * ld + c] *= k;
    }
}
void lse_softmax_scale_cols_ref(float* x, size_t rows, size_t cols, size_t ld, const float* scale, float* lse) {
    logsumexp_cols_ref(x, rows, cols, ld, lse);
    softmax_scale_cols_ref(x, rows, cols, ld, lse, scale);
}

void softmax_scale_cols_ref(float* x, size_t rows, size_t cols, size_t ld, const float* lse, const float* scale) {
    for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) x[r * ld + c] = std::exp(x[r * ld + c] - lse[c]) * scale[c];
}

// ---------------------------------------------------------------------------------------------
// normalisation of one row: the statistics in two passes (mean, then the second moment about it),
// which stays accurate when the mean is large against the spread.

namespace {
// mean (0 when not centring) and r = 1/sqrt(mean((x - mean)^2) + eps) of one row
void row_moments(const float* x, size_t n, float eps, bool center, float& mu, float& r) {
    const float inv_n = 1.0f / static_cast<float>(n);
    mu = center ? sum(x, n) * inv_n : 0.0f;
    const batch vm(mu);
    batch acc(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const batch d = load(x + i) - vm;
        acc = simd::fma(d, d, acc);
    }
    float s = hsum(acc);
    for (; i < n; ++i) s = std::fma(x[i] - mu, x[i] - mu, s);
    r = 1.0f / std::sqrt(s * inv_n + eps);
}
void row_moments_ref(const float* x, size_t n, float eps, bool center, float& mu, float& r) {
    mu = 0.0f;
    if (center) {
        for (size_t i = 0; i < n; ++i) mu += x[i];
        mu /= static_cast<float>(n);
    }
    float s = 0.0f;
    for (size_t i = 0; i < n; ++i) s = std::fma(x[i] - mu, x[i] - mu, s);
    r = 1.0f / std::sqrt(s / static_cast<float>(n) + eps);
}
}  // namespace

void normalize_row(const float* x, float* out, size_t n, float eps, bool center) {
    if (n == 0) return;
    float mu, r;
    row_moments(x, n, eps, center, mu, r);
    const batch vm(mu), vr(r);
    size_t i = 0;
    for (; i + W <= n; i += W) ((load(x + i) - vm) * vr).store_unaligned(out + i);
    for (; i < n; ++i) out[i] = (x[i] - mu) * r;
}
void normalize_row_ref(const float* x, float* out, size_t n, float eps, bool center) {
    if (n == 0) return;
    float mu, r;
    row_moments_ref(x, n, eps, center, mu, r);
    for (size_t i = 0; i < n; ++i) out[i] = (x[i] - mu) * r;
}

void normalize_affine_row(const float* x, float* out, size_t n, float eps, bool center, const float* gamma,
                          const float* beta) {
    if (n == 0) return;
    constexpr size_t kRegs = 4;
    if (n % W == 0 && n <= kRegs * W) {
        // A row of whole vectors, up to four (a model's C = 64 channels): held in registers, x is
        // read once instead of three times (mean, variance, output).
        const size_t nv = n / W;
        const float inv_n = 1.0f / static_cast<float>(n);
        batch v[kRegs];
        batch s(0.0f);
        for (size_t j = 0; j < nv; ++j) {
            v[j] = load(x + j * W);
            s += v[j];
        }
        const batch vm(center ? hsum(s) * inv_n : 0.0f);
        batch q(0.0f);
        for (size_t j = 0; j < nv; ++j) {
            v[j] -= vm;
            q = simd::fma(v[j], v[j], q);
        }
        const batch vr(1.0f / std::sqrt(hsum(q) * inv_n + eps));
        for (size_t j = 0; j < nv; ++j) {
            const batch b = beta ? load(beta + j * W) : batch(0.0f);
            simd::fma(v[j] * vr, load(gamma + j * W), b).store_unaligned(out + j * W);
        }
        return;
    }
    float mu, r;
    row_moments(x, n, eps, center, mu, r);
    const batch vm(mu), vr(r);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const batch b = beta ? load(beta + i) : batch(0.0f);
        simd::fma((load(x + i) - vm) * vr, load(gamma + i), b).store_unaligned(out + i);
    }
    for (; i < n; ++i) out[i] = std::fma((x[i] - mu) * r, gamma[i], beta ? beta[i] : 0.0f);
}
void normalize_affine_row_ref(const float* x, float* out, size_t n, float eps, bool center, const float* gamma,
                              const float* beta) {
    if (n == 0) return;
    float mu, r;
    row_moments_ref(x, n, eps, center, mu, r);
    for (size_t i = 0; i < n; ++i) out[i] = std::fma((x[i] - mu) * r, gamma[i], beta ? beta[i] : 0.0f);
}

void normalize_row_vjp(const float* x, const float* u, float* out, size_t n, float eps, bool center) {
    if (n == 0) return;
    float mu, r;
    row_moments(x, n, eps, center, mu, r);
    const float inv_n = 1.0f / static_cast<float>(n);
    const float mean_u = center ? sum(u, n) * inv_n : 0.0f;
    // mean(u xhat) = r mean(u (x - mu))
    const batch vm(mu);
    batch acc(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) acc = simd::fma(load(u + i), load(x + i) - vm, acc);
    float s = hsum(acc);
    for (; i < n; ++i) s = std::fma(u[i], x[i] - mu, s);
    const float m = s * inv_n * r;  // mean(u xhat)
    // out = r (u - mean_u - (x - mu) r m)
    const batch vr(r), vrm(r * m), vmu(mean_u);
    for (i = 0; i + W <= n; i += W) (vr * (load(u + i) - vmu - (load(x + i) - vm) * vrm)).store_unaligned(out + i);
    for (; i < n; ++i) out[i] = r * (u[i] - mean_u - (x[i] - mu) * (r * m));
}
void normalize_row_vjp_ref(const float* x, const float* u, float* out, size_t n, float eps, bool center) {
    if (n == 0) return;
    float mu, r;
    row_moments_ref(x, n, eps, center, mu, r);
    float mean_u = 0.0f, m = 0.0f;
    for (size_t i = 0; i < n; ++i) {
        mean_u += u[i];
        m += u[i] * (x[i] - mu) * r;
    }
    mean_u = center ? mean_u / static_cast<float>(n) : 0.0f;
    m /= static_cast<float>(n);
    for (size_t i = 0; i < n; ++i) out[i] = r * (u[i] - mean_u - (x[i] - mu) * r * m);
}

// ---------------------------------------------------------------------------------------------
// SwiGLU's gate: silu(a) b, and its VJP, with SiluF / SiluGradF (so the same numbers as silu, mul).

void swiglu(const float* a, const float* b, float* out, size_t n) {
    const SiluF silu;
    size_t i = 0;
    for (; i + W <= n; i += W) (silu(load(a + i)) * load(b + i)).store_unaligned(out + i);
    if (i < n) store_tail(silu(load_tail(a + i, n - i)) * load_tail(b + i, n - i), out + i, n - i);  // see load_tail
}
void swiglu_ref(const float* a, const float* b, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}

void swiglu_vjp(const float* a, const float* b, const float* g, float* da, float* db, size_t n) {
    const SiluF silu;
    const SiluGradF silu_grad;
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const batch x = load(a + i), gi = load(g + i);
        (gi * load(b + i) * silu_grad(x)).store_unaligned(da + i);
        (gi * silu(x)).store_unaligned(db + i);
    }
    if (i < n) {  // see load_tail
        const size_t m = n - i;
        const batch x = load_tail(a + i, m), gi = load_tail(g + i, m);
        store_tail(gi * load_tail(b + i, m) * silu_grad(x), da + i, m);
        store_tail(gi * silu(x), db + i, m);
    }
}
void swiglu_vjp_ref(const float* a, const float* b, const float* g, float* da, float* db, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const float s = 1.0f / (1.0f + std::exp(-a[i]));
        da[i] = g[i] * b[i] * (s * std::fma(a[i], 1.0f - s, 1.0f));
        db[i] = g[i] * (a[i] * s);
    }
}

// ---------------------------------------------------------------------------------------------
// TTT's inner loss Φ (model/ttt_ops.cpp): LayerNorm fused with ½‖·‖², differentiated, and its VJP.
// ẑ = normalize_row(z), ĝ = (γ ẑ + β − t) γ; every pass recomputes ẑ and ĝ (cheaper than storing).

void ln_l2_grad_row(const float* z, const float* t, const float* gamma, const float* beta, float* out, size_t n,
                    float eps) {
    if (n == 0) return;
    float mu, r;
    row_moments(z, n, eps, true, mu, r);
    const float inv_n = 1.0f / static_cast<float>(n);
    const batch vmu(mu), vr(r);
    batch s_gh(0.0f), s_ghxh(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const batch g = load(gamma + i), xh = (load(z + i) - vmu) * vr;
        const batch gh = (simd::fma(g, xh, load(beta + i)) - load(t + i)) * g;
        gh.store_unaligned(out + i);
        s_gh += gh;
        s_ghxh = simd::fma(gh, xh, s_ghxh);
    }
    float mean_gh = hsum(s_gh), mean_ghxh = hsum(s_ghxh);
    for (; i < n; ++i) {
        const float xh = (z[i] - mu) * r;
        const float gh = (std::fma(gamma[i], xh, beta[i]) - t[i]) * gamma[i];
        out[i] = gh;
        mean_gh += gh;
        mean_ghxh = std::fma(gh, xh, mean_ghxh);
    }
    mean_gh *= inv_n;
    mean_ghxh *= inv_n;
    const batch vg(mean_gh), vgx(mean_ghxh);
    for (i = 0; i + W <= n; i += W) ((load(out + i) - vg - (load(z + i) - vmu) * vr * vgx) * vr).store_unaligned(out + i);
    for (; i < n; ++i) out[i] = (out[i] - mean_gh - (z[i] - mu) * r * mean_ghxh) * r;
}
void ln_l2_grad_row_ref(const float* z, const float* t, const float* gamma, const float* beta, float* out, size_t n,
                        float eps) {
    if (n == 0) return;
    float mu, r;
    row_moments_ref(z, n, eps, true, mu, r);
    float mean_gh = 0, mean_ghxh = 0;
    for (size_t i = 0; i < n; ++i) {
        const float xh = (z[i] - mu) * r;
        const float gh = (std::fma(gamma[i], xh, beta[i]) - t[i]) * gamma[i];
        out[i] = gh;
        mean_gh += gh;
        mean_ghxh = std::fma(gh, xh, mean_ghxh);
    }
    mean_gh /= static_cast<float>(n);
    mean_ghxh /= static_cast<float>(n);
    for (size_t i = 0; i < n; ++i) out[i] = (out[i] - mean_gh - (z[i] - mu) * r * mean_ghxh) * r;
}

void ln_l2_grad_vjp_row(const float* u, const float* z, const float* t, const float* gamma, const float* beta,
                        float* dz, float* wg, float* dg, size_t n, float eps) {
    if (n == 0) return;
    float mu, r;
    row_moments(z, n, eps, true, mu, r);
    const float inv_n = 1.0f / static_cast<float>(n);
    const batch vmu(mu), vr(r);
    // pass 1: mean(ĝ), m = mean(ĝ ẑ), mean(u), mean(u ẑ)
    batch a_gh(0.0f), a_m(0.0f), a_u(0.0f), a_uxh(0.0f);
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const batch g = load(gamma + i), xh = (load(z + i) - vmu) * vr, uu = load(u + i);
        const batch gh = (simd::fma(g, xh, load(beta + i)) - load(t + i)) * g;
        a_gh += gh;
        a_m = simd::fma(gh, xh, a_m);
        a_u += uu;
        a_uxh = simd::fma(uu, xh, a_uxh);
    }
    float mean_gh = hsum(a_gh), m = hsum(a_m), mean_u = hsum(a_u), mu_uxh = hsum(a_uxh);
    for (; i < n; ++i) {
        const float xh = (z[i] - mu) * r;
        const float gh = (std::fma(gamma[i], xh, beta[i]) - t[i]) * gamma[i];
        mean_gh += gh;
        m = std::fma(gh, xh, m);
        mean_u += u[i];
        mu_uxh = std::fma(u[i], xh, mu_uxh);
    }
    mean_gh *= inv_n, m *= inv_n, mean_u *= inv_n, mu_uxh *= inv_n;
    // pass 2: Φ for u·Φ, w = J u, the γ outputs, and a (kept in dz) with its two means
    const batch vgh(mean_gh), vm(m), vu(mean_u), vuxh(mu_uxh);
    batch a_uphi(0.0f), a_a(0.0f), a_axh(0.0f);
    for (i = 0; i + W <= n; i += W) {
        const batch g = load(gamma + i), xh = (load(z + i) - vmu) * vr, uu = load(u + i);
        const batch e = simd::fma(g, xh, load(beta + i)) - load(t + i);
        const batch gh = e * g;
        const batch phi = (gh - vgh - xh * vm) * vr;
        a_uphi = simd::fma(uu, phi, a_uphi);
        const batch w = (uu - vu - xh * vuxh) * vr;
        const batch w_g = w * g;
        w_g.store_unaligned(wg + i);
        simd::fma(w, e, w_g * xh).store_unaligned(dg + i);
        const batch a = g * g * w - (vm * uu + vuxh * gh) * vr;
        a.store_unaligned(dz + i);
        a_a += a;
        a_axh = simd::fma(a, xh, a_axh);
    }
    float u_phi = hsum(a_uphi), mean_a = hsum(a_a), mean_axh = hsum(a_axh);
    for (; i < n; ++i) {
        const float xh = (z[i] - mu) * r;
        const float e = std::fma(gamma[i], xh, beta[i]) - t[i];
        const float gh = e * gamma[i];
        u_phi = std::fma(u[i], (gh - mean_gh - xh * m) * r, u_phi);
        const float w = (u[i] - mean_u - xh * mu_uxh) * r;
        wg[i] = w * gamma[i];
        dg[i] = std::fma(w, e, wg[i] * xh);
        const float a = gamma[i] * gamma[i] * w - (m * u[i] + mu_uxh * gh) * r;
        dz[i] = a;
        mean_a += a;
        mean_axh = std::fma(a, xh, mean_axh);
    }
    mean_a *= inv_n, mean_axh *= inv_n;
    // pass 3: dz = J a + dσ ẑ / n, dσ = −(u·Φ) r
    const float dsig_n = -u_phi * r * inv_n;
    const batch va(mean_a), vaxh(mean_axh), vds(dsig_n);
    for (i = 0; i + W <= n; i += W) {
        const batch xh = (load(z + i) - vmu) * vr;
        simd::fma(vds, xh, (load(dz + i) - va - xh * vaxh) * vr).store_unaligned(dz + i);
    }
    for (; i < n; ++i) {
        const float xh = (z[i] - mu) * r;
        dz[i] = std::fma(dsig_n, xh, (dz[i] - mean_a - xh * mean_axh) * r);
    }
}
void ln_l2_grad_vjp_row_ref(const float* u, const float* z, const float* t, const float* gamma, const float* beta,
                            float* dz, float* wg, float* dg, size_t n, float eps) {
    if (n == 0) return;
    float mu, r;
    row_moments_ref(z, n, eps, true, mu, r);
    const float inv_d = 1.0f / static_cast<float>(n);
    std::vector<float> xh(n), gh(n), w(n);
    float mean_gh = 0, m = 0, mean_u = 0, mu_uxh = 0;
    for (size_t i = 0; i < n; ++i) {
        xh[i] = (z[i] - mu) * r;
        gh[i] = (std::fma(gamma[i], xh[i], beta[i]) - t[i]) * gamma[i];
        mean_gh += gh[i];
        m += gh[i] * xh[i];
        mean_u += u[i];
        mu_uxh += u[i] * xh[i];
    }
    mean_gh *= inv_d, m *= inv_d, mean_u *= inv_d, mu_uxh *= inv_d;
    float u_phi = 0, mean_a = 0, mean_axh = 0;
    for (size_t i = 0; i < n; ++i) {
        const float phi = (gh[i] - mean_gh - xh[i] * m) * r;
        u_phi += u[i] * phi;
        w[i] = (u[i] - mean_u - xh[i] * mu_uxh) * r;
        wg[i] = w[i] * gamma[i];
        dg[i] = std::fma(w[i], std::fma(gamma[i], xh[i], beta[i]) - t[i], wg[i] * xh[i]);
        const float a = gamma[i] * gamma[i] * w[i] - (m * u[i] + mu_uxh * gh[i]) * r;
        dz[i] = a;  // a for now
        mean_a += a;
        mean_axh += a * xh[i];
    }
    mean_a *= inv_d, mean_axh *= inv_d;
    const float dsig = -u_phi * r;
    for (size_t i = 0; i < n; ++i) dz[i] = (dz[i] - mean_a - xh[i] * mean_axh) * r + dsig * xh[i] * inv_d;
}

// ---------------------------------------------------------------------------------------------
// rope: W pairs per step = two batches of x. cos/sin lanes are duplicated to (c0, c0, c1, c1, ...)
// with swizzles (xsimd 8.1's zip_lo/zip_hi work per 128-bit lane on AVX-512, so they are not
// used), and the partner of each element comes from swapping neighbours:
//   out = x * (c0, c0, ...) + swap(x) * (-s0, +s0, ...)

void rope_row(const float* x, const float* cos, const float* sin, float* out, size_t n_pairs) {
    using ubatch = xsimd::batch<uint32_t>;
    constexpr auto swap_pairs = xsimd::make_batch_constant<ubatch, SwapPairs>();
    constexpr auto dup_low = xsimd::make_batch_constant<ubatch, DuplicateLowHalf>();
    constexpr auto dup_high = xsimd::make_batch_constant<ubatch, DuplicateHighHalf>();
    alignas(64) float sign_lanes[W];
    for (size_t k = 0; k < W; ++k) sign_lanes[k] = k % 2 == 0 ? -1.0f : 1.0f;
    const batch sign = batch::load_aligned(sign_lanes);

    size_t j = 0;
    for (; j + W <= n_pairs; j += W) {
        const batch c = load(cos + j), s = load(sin + j);
        const batch x0 = load(x + 2 * j), x1 = load(x + 2 * j + W);
        const batch out0 = x0 * xsimd::swizzle(c, dup_low) + xsimd::swizzle(x0, swap_pairs) * (xsimd::swizzle(s, dup_low) * sign);
        const batch out1 = x1 * xsimd::swizzle(c, dup_high) + xsimd::swizzle(x1, swap_pairs) * (xsimd::swizzle(s, dup_high) * sign);
        out0.store_unaligned(out + 2 * j);
        out1.store_unaligned(out + 2 * j + W);
    }
    for (; j < n_pairs; ++j) {
        const float xe = x[2 * j], xo = x[2 * j + 1];
        out[2 * j] = xe * cos[j] - xo * sin[j];
        out[2 * j + 1] = xo * cos[j] + xe * sin[j];
    }
}
void rope_row_ref(const float* x, const float* cos, const float* sin, float* out, size_t n_pairs) {
    for (size_t j = 0; j < n_pairs; ++j) {
        const float xe = x[2 * j], xo = x[2 * j + 1];
        out[2 * j] = xe * cos[j] - xo * sin[j];
        out[2 * j + 1] = xo * cos[j] + xe * sin[j];
    }
}

}  // namespace tt::kernels
