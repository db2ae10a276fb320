// tensor/ops.cpp — the numeric ops of tensor/ops.hpp (all but matmul, which is in matmul.cpp).
//
// Each op checks shapes (TT_CHECK, naming the op and the shapes), allocates its output, and runs
// the SIMD kernels of tensor/kernels.hpp over contiguous runs of memory, split across threads with
// parallel_for. Threads only ever split independent output elements; no reduction is reordered by
// the split, so results do not depend on the thread count.
//
// NOTE: nothing may throw inside a parallel_for body (an exception cannot leave a pool
// worker), so every check (shapes, ids) runs before the parallel loop starts.
//
// Broadcasting (binary, where, broadcast_to, add_inplace) and permute share one tool, StridedIter:
// the output shape with per-operand element strides (0 on broadcast dims), coalesced so that
// adjacent dims that are contiguous for every operand become one. Same-shape inputs become a
// single run, a scalar becomes stride 0, "b is a row repeated" becomes (rows, cols) with b's row
// stride 0; each innermost run then goes to one SIMD kernel call.
#include "tensor/ops.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace tt {

namespace {

using std::size_t;

// About this many elements of simple work per thread chunk before splitting is worth it.
constexpr int64_t kGrain = int64_t{1} << 15;
// Column block of the axis reductions: a multiple of every SIMD width, small enough for L1.
constexpr int64_t kColumnBlock = 1024;

inline size_t sz(int64_t n) { return static_cast<size_t>(n); }

void require_defined(const Tensor& x, const char* op) {
    TT_CHECK(x.defined(), std::string(op) + ": undefined tensor");
}

const char* binary_name(BinaryOp op) {
    switch (op) {
        case BinaryOp::Add: return "add";
        case BinaryOp::Sub: return "sub";
        case BinaryOp::Mul: return "mul";
        case BinaryOp::Div: return "div";
        case BinaryOp::Max: return "maximum";
        case BinaryOp::Min: return "minimum";
        case BinaryOp::Greater: return "greater";
        case BinaryOp::GreaterEqual: return "greater_equal";
        case BinaryOp::Equal: return "equal";
    }
    return "binary";
}

int64_t product(const Shape& s, int begin, int end) {
    int64_t p = 1;
    for (int i = begin; i < end; ++i) p *= s[i];
    return p;
}

using Strides = std::array<int64_t, kMaxRank>;

Strides contiguous_strides(const Shape& s) {
    Strides st{};
    int64_t step = 1;
    for (int d = s.rank() - 1; d >= 0; --d) {
        st[sz(d)] = step;
        step *= s[d];
    }
    return st;
}

// Strides of `in` read as if broadcast to `out` (shapes aligned from the right): 0 where `in` has
// size 1 or no dimension at all.
Strides broadcast_strides(const Shape& in, const Shape& out) {
    Strides st{};
    const Strides own = contiguous_strides(in);
    const int lead = out.rank() - in.rank();
    for (int d = 0; d < out.rank(); ++d) {
        const int j = d - lead;
        st[sz(d)] = (j < 0 || in[j] == 1) ? 0 : own[sz(j)];
    }
    return st;
}

// The output shape with up to three operands' strides, coalesced (see the file header). The output
// itself is contiguous, so the run with outer index o starts at o * inner() in the output.
struct StridedIter {
    static constexpr int kMaxOperands = 3;
    int rank = 0;
    int n_operands = 0;
    std::array<int64_t, kMaxRank> dims{};
    std::array<Strides, kMaxOperands> strides{};

    int64_t inner() const { return dims[sz(rank - 1)]; }
    int64_t inner_stride(int k) const { return strides[sz(k)][sz(rank - 1)]; }
    int64_t outer() const {
        int64_t p = 1;
        for (int d = 0; d + 1 < rank; ++d) p *= dims[sz(d)];
        return p;
    }
    // Element offset of each operand at the start of run `o`, and run o's index along each outer dim.
    void offsets(int64_t o, int64_t* off, int64_t* index) const {
        for (int k = 0; k < n_operands; ++k) off[k] = 0;
        for (int d = rank - 2; d >= 0; --d) {
            const int64_t i = o % dims[sz(d)];
            o /= dims[sz(d)];
            index[d] = i;
            for (int k = 0; k < n_operands; ++k) off[k] += i * strides[sz(k)][sz(d)];
        }
    }
    // From run o to run o + 1: an odometer step, no divisions (runs can be as short as 16 floats,
    // where the divisions of offsets() cost more than copying the run).
    void next(int64_t* off, int64_t* index) const {
        for (int d = rank - 2; d >= 0; --d) {
            for (int k = 0; k < n_operands; ++k) off[k] += strides[sz(k)][sz(d)];
            if (++index[d] < dims[sz(d)]) return;
            for (int k = 0; k < n_operands; ++k) off[k] -= dims[sz(d)] * strides[sz(k)][sz(d)];
            index[d] = 0;
        }
    }
};

StridedIter make_iter(const Shape& out, std::initializer_list<Strides> operand_strides) {
    StridedIter it;
    it.n_operands = static_cast<int>(operand_strides.size());
    for (int d = 0; d < out.rank(); ++d) {
        if (out[d] == 1) continue;  // size-1 dims contribute nothing to any offset
        if (it.rank > 0) {
            // Merge d into the previous kept dim p when, for every operand, stepping p once is the
            // same as stepping d out[d] times: the two dims then walk memory as one.
            const size_t p = sz(it.rank - 1);
            bool mergeable = true;
            int k = 0;
            for (const Strides& st : operand_strides) {
                if (it.strides[sz(k)][p] != st[sz(d)] * out[d]) mergeable = false;
                ++k;
            }
            if (mergeable) {
                it.dims[p] *= out[d];
                k = 0;
                for (const Strides& st : operand_strides) it.strides[sz(k++)][p] = st[sz(d)];
                continue;
            }
        }
        const size_t r = sz(it.rank++);
        it.dims[r] = out[d];
        int k = 0;
        for (const Strides& st : operand_strides) it.strides[sz(k++)][r] = st[sz(d)];
    }
    if (it.rank == 0) {  // a scalar, or all dims of size 1: one run of one element
        it.rank = 1;
        it.dims[0] = 1;
    }
    return it;
}

// Calls fn(operand_offsets, out_offset, length) for every innermost run, split across threads.
// A single long run (outer() == 1) is split into pieces instead.
template <class Fn>
void for_each_run(const StridedIter& it, Fn fn) {
    const int64_t inner = it.inner(), outer = it.outer();
    if (outer == 1) {
        parallel_for(inner, kGrain, [&](int64_t begin, int64_t end) {
            int64_t off[StridedIter::kMaxOperands] = {};
            for (int k = 0; k < it.n_operands; ++k) off[k] = begin * it.inner_stride(k);
            fn(off, begin, end - begin);
        });
        return;
    }
    parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t begin, int64_t end) {
        int64_t off[StridedIter::kMaxOperands] = {};
        int64_t index[kMaxRank] = {};
        it.offsets(begin, off, index);
        for (int64_t o = begin; o < end; ++o) {
            fn(off, o * inner, inner);
            if (o + 1 < end) it.next(off, index);
        }
    });
}

// Elementwise over [0, n) in parallel chunks: fn(begin, end).
template <class Fn>
void for_each_chunk(int64_t n, Fn fn) {
    parallel_for(n, kGrain, [&](int64_t begin, int64_t end) { fn(begin, end); });
}

// One innermost run of a broadcast binary op; a_step/b_step are 1 (contiguous) or 0 (repeated).
void binary_run(BinaryOp op, const float* a, int64_t a_step, const float* b, int64_t b_step, float* out, int64_t n) {
    if (a_step == 1 && b_step == 1) {
        kernels::binary(op, a, b, out, sz(n));
    } else if (a_step == 1) {
        kernels::binary_scalar_b(op, a, *b, out, sz(n));
    } else if (b_step == 1) {
        kernels::binary_scalar_a(op, *a, b, out, sz(n));
    } else {
        float v = 0.0f;
        kernels::binary_ref(op, a, b, &v, 1);
        std::fill(out, out + n, v);
    }
}

// out = a op b with out.shape() the broadcast shape; out may be `a` itself (add_inplace).
void binary_into(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
    const Shape& os = out.shape();
    const int64_t n = out.numel();
    if (n == 0) return;
    const float* pa = a.data();
    const float* pb = b.data();
    float* po = out.data();

    if (a.shape() == os && b.shape() == os) {  // same shape: one contiguous run
        for_each_chunk(n, [&](int64_t i0, int64_t i1) { kernels::binary(op, pa + i0, pb + i0, po + i0, sz(i1 - i0)); });
        return;
    }
    if (a.shape() == os && b.numel() == 1) {  // b is a scalar
        const float bv = pb[0];
        for_each_chunk(n, [&](int64_t i0, int64_t i1) { kernels::binary_scalar_b(op, pa + i0, bv, po + i0, sz(i1 - i0)); });
        return;
    }
    if (b.shape() == os && a.numel() == 1) {  // a is a scalar
        const float av = pa[0];
        for_each_chunk(n, [&](int64_t i0, int64_t i1) { kernels::binary_scalar_a(op, av, pb + i0, po + i0, sz(i1 - i0)); });
        return;
    }

    const StridedIter it = make_iter(os, {broadcast_strides(a.shape(), os), broadcast_strides(b.shape(), os)});
    const int64_t inner = it.inner();
    const bool row_broadcast = it.rank == 2 && it.strides[0][0] == inner && it.strides[0][1] == 1 &&
                               it.strides[1][0] == 0 && it.strides[1][1] == 1;
    if (row_broadcast) {  // a (rows, cols), b (cols) repeated: bias adds, layer-norm scales
        parallel_for(it.outer(), std::max<int64_t>(1, kGrain / inner), [&](int64_t r0, int64_t r1) {
            kernels::binary_row(op, pa + r0 * inner, pb, po + r0 * inner, sz(r1 - r0), sz(inner));
        });
        return;
    }
    const int64_t a_step = it.inner_stride(0), b_step = it.inner_stride(1);
    for_each_run(it, [&](const int64_t* off, int64_t out_off, int64_t len) {
        binary_run(op, pa + off[0], a_step, pb + off[1], b_step, po + out_off, len);
    });
}

// Copies x broadcast (or permuted) through `it` into the contiguous out.
// The copy of a batch of matrix transposes: the innermost output dim walks x with a stride, and
// the one before it is contiguous in x. Done in square tiles so that reads and writes both stay
// within a few cache lines; a plain strided loop would touch a new line for every element.
void tiled_transpose_copy(const StridedIter& it, const float* px, float* po) {
    constexpr int64_t kTile = 16;  // 16 measured best on AVX-512 (32 thrashes L1 sets at power-of-2 strides)
    const int r = it.rank;
    const int64_t P = it.dims[sz(r - 2)], Q = it.dims[sz(r - 1)];
    const int64_t q_step = it.strides[0][sz(r - 1)];  // the p step is 1
    int64_t batches = 1;
    for (int d = 0; d < r - 2; ++d) batches *= it.dims[sz(d)];
    const int64_t p_tiles = (P + kTile - 1) / kTile;
    parallel_for(batches * p_tiles, std::max<int64_t>(1, kGrain / (kTile * Q)), [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t batch = t / p_tiles, p0 = (t % p_tiles) * kTile, p1 = std::min(P, p0 + kTile);
            int64_t base = 0;  // offset in x of this batch's matrix
            for (int64_t d = r - 3, rest = batch; d >= 0; --d) {
                base += (rest % it.dims[sz(d)]) * it.strides[0][sz(d)];
                rest /= it.dims[sz(d)];
            }
            for (int64_t q0 = 0; q0 < Q; q0 += kTile) {
                const int64_t q1 = std::min(Q, q0 + kTile);
                for (int64_t p = p0; p < p1; ++p) {
                    const float* src = px + base + p;
                    float* dst = po + (batch * P + p) * Q;
                    for (int64_t q = q0; q < q1; ++q) dst[q] = src[q * q_step];
                }
            }
        }
    });
}

void strided_copy(const StridedIter& it, const float* px, float* po) {
    const int64_t step = it.inner_stride(0);
    if (it.rank >= 2 && step > 1 && it.strides[0][sz(it.rank - 2)] == 1) {
        tiled_transpose_copy(it, px, po);
        return;
    }
    for_each_run(it, [&](const int64_t* off, int64_t out_off, int64_t len) {
        const float* src = px + off[0];
        float* dst = po + out_off;
        if (step == 1) {
            std::memcpy(dst, src, sz(len) * sizeof(float));
        } else if (step == 0) {
            std::fill(dst, dst + len, *src);
        } else {
            for (int64_t i = 0; i < len; ++i) dst[i] = src[i * step];
        }
    });
}

Shape reduced_shape(const Shape& s, int axis, bool keepdim) {
    Shape out;
    for (int d = 0; d < s.rank(); ++d) {
        if (d != axis) {
            out.push_back(s[d]);
        } else if (keepdim) {
            out.push_back(1);
        }
    }
    return out;
}

// Sum or max along one axis, viewing x as (outer, R, inner).
Tensor reduce_axis(const Tensor& x, int axis, bool keepdim, bool is_max, const char* op) {
    require_defined(x, op);
    TT_CHECK(x.rank() > 0, std::string(op) + ": cannot reduce an axis of a scalar");
    const int ax = x.shape().norm_axis(axis);
    const int64_t outer = product(x.shape(), 0, ax);
    const int64_t R = x.dim(ax);
    const int64_t inner = product(x.shape(), ax + 1, x.rank());
    TT_CHECK(!is_max || R > 0, std::string(op) + ": cannot take the max of an empty axis of shape " + x.shape().str());
    Tensor out = Tensor::empty(reduced_shape(x.shape(), ax, keepdim));
    if (out.numel() == 0) return out;
    const float* px = x.data();
    float* po = out.data();

    if (inner == 1) {  // the reduced axis is innermost: one horizontal reduction per row
        parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(R, 1)), [&](int64_t r0, int64_t r1) {
            if (is_max) {
                kernels::max_rows(px + r0 * R, sz(r1 - r0), sz(R), sz(R), po + r0);
            } else {
                kernels::sum_rows(px + r0 * R, sz(r1 - r0), sz(R), sz(R), po + r0);
            }
        });
        return out;
    }
    // The reduced axis is an outer one: column reductions, SIMD across the contiguous inner dim.
    // Tasks are (outer index, column block); each column is still summed over R in order.
    const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
    const int64_t work_per_task = std::max<int64_t>(1, R * std::min(inner, kColumnBlock));
    parallel_for(outer * blocks, std::max<int64_t>(1, kGrain / work_per_task), [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t o = t / blocks, c0 = (t % blocks) * kColumnBlock;
            const int64_t cols = std::min(kColumnBlock, inner - c0);
            const float* src = px + o * R * inner + c0;
            float* dst = po + o * inner + c0;
            if (is_max) {
                kernels::max_cols(src, sz(R), sz(cols), sz(inner), dst);
            } else {
                kernels::sum_cols(src, sz(R), sz(cols), sz(inner), dst);
            }
        }
    });
    return out;
}

// Ops over the last axis, one row at a time (softmax, log_softmax).
template <class RowFn>
Tensor map_last_axis_rows(const Tensor& x, const char* op, RowFn row_fn) {
    require_defined(x, op);
    Tensor out = Tensor::empty(x.shape());
    const int64_t cols = x.rank() > 0 ? x.dim(-1) : 1;
    if (out.numel() == 0 || cols == 0) return out;
    const int64_t rows = x.numel() / cols;
    const float* px = x.data();
    float* po = out.data();
    parallel_for(rows, std::max<int64_t>(1, kGrain / (4 * cols)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) row_fn(px + r * cols, po + r * cols, sz(cols));
    });
    return out;
}

// Checks an id tensor against [0, limit) before any parallel loop; names the first bad id.
void check_ids(const IntTensor& idx, int64_t limit, const char* op) {
    TT_CHECK(idx.defined() || idx.numel() == 0, std::string(op) + ": undefined index tensor");
    const int32_t* ids = idx.data();
    for (int64_t i = 0; i < idx.numel(); ++i) {
        TT_CHECK(ids[i] >= 0 && ids[i] < limit,
                 std::string(op) + ": id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                     " is out of range [0, " + std::to_string(limit) + ")");
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// elementwise with broadcasting

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
    require_defined(a, binary_name(op));
    require_defined(b, binary_name(op));
    Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), binary_name(op)));
    binary_into(op, a, b, out);
    return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
    require_defined(cond, "where");
    require_defined(a, "where");
    require_defined(b, "where");
    const Shape os = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
    Tensor out = Tensor::empty(os);
    if (out.numel() == 0) return out;
    // Three-way broadcasting is rare; materialise the broadcast inputs and run one select kernel.
    const Tensor c_full = cond.shape() == os ? cond : broadcast_to(cond, os);
    const Tensor a_full = a.shape() == os ? a : broadcast_to(a, os);
    const Tensor b_full = b.shape() == os ? b : broadcast_to(b, os);
    const float* pc = c_full.data();
    const float* pa = a_full.data();
    const float* pb = b_full.data();
    float* po = out.data();
    for_each_chunk(out.numel(), [&](int64_t i0, int64_t i1) {
        kernels::select(pc + i0, pa + i0, pb + i0, po + i0, sz(i1 - i0));
    });
    return out;
}

void add_inplace(Tensor& a, const Tensor& b) {
    require_defined(a, "add_inplace");
    require_defined(b, "add_inplace");
    TT_CHECK(broadcast_shapes(a.shape(), b.shape(), "add_inplace") == a.shape(),
             "add_inplace: " + b.shape().str() + " does not broadcast to the target shape " + a.shape().str());
    binary_into(BinaryOp::Add, a, b, a);
}

void axpy_inplace(Tensor& a, float alpha, const Tensor& b) {
    require_defined(a, "axpy_inplace");
    require_defined(b, "axpy_inplace");
    TT_CHECK(a.shape() == b.shape(), "axpy_inplace: shapes " + a.shape().str() + " and " + b.shape().str() + " differ");
    const float* pb = b.data();
    float* pa = a.data();
    for_each_chunk(a.numel(), [&](int64_t i0, int64_t i1) { kernels::axpy(alpha, pb + i0, pa + i0, sz(i1 - i0)); });
}

// ---------------------------------------------------------------------------------------------
// scalar and unary

Tensor add_scalar(const Tensor& x, float s) {
    require_defined(x, "add_scalar");
    Tensor out = Tensor::empty(x.shape());
    const float* px = x.data();
    float* po = out.data();
    for_each_chunk(x.numel(), [&](int64_t i0, int64_t i1) { kernels::add_scalar(px + i0, s, po + i0, sz(i1 - i0)); });
    return out;
}

Tensor keep_mask(const Shape& s, uint64_t key, float p, float value) {
    Tensor out = Tensor::empty(s);  // s
    float* po = out.data();
    for_each_chunk(out.numel(), [&](int64_t i0, int64_t i1) {
        kernels::keep_mask(key, static_cast<uint64_t>(i0), p, value, po + i0, sz(i1 - i0));
    });
    return out;
}

Tensor mul_scalar(const Tensor& x, float s) {
    require_defined(x, "mul_scalar");
    Tensor out = Tensor::empty(x.shape());
    const float* px = x.data();
    float* po = out.data();
    for_each_chunk(x.numel(), [&](int64_t i0, int64_t i1) { kernels::mul_scalar(px + i0, s, po + i0, sz(i1 - i0)); });
    return out;
}

Tensor pow_scalar(const Tensor& x, float p) {
    require_defined(x, "pow_scalar");
    // The common exponents map to exact (or cheaper) unary kernels.
    if (p == 1.0f) return x.clone();
    if (p == 0.0f) return Tensor::ones(x.shape());
    if (p == 2.0f) return unary(UnaryOp::Square, x);
    if (p == 0.5f) return unary(UnaryOp::Sqrt, x);
    if (p == -1.0f) return unary(UnaryOp::Reciprocal, x);
    if (p == -0.5f) return unary(UnaryOp::Rsqrt, x);
    Tensor out = Tensor::empty(x.shape());
    const float* px = x.data();
    float* po = out.data();
    for_each_chunk(x.numel(), [&](int64_t i0, int64_t i1) { kernels::pow_scalar(px + i0, p, po + i0, sz(i1 - i0)); });
    return out;
}

Tensor swiglu(const Tensor& a, const Tensor& b) {
    require_defined(a, "swiglu");
    require_defined(b, "swiglu");
    TT_CHECK(a.shape() == b.shape(), "swiglu: a " + a.shape().str() + " and b " + b.shape().str() + " differ");
    Tensor out = Tensor::empty(a.shape());
    const float *pa = a.data(), *pb = b.data();
    float* po = out.data();
    for_each_chunk(a.numel(), [&](int64_t i0, int64_t i1) { kernels::swiglu(pa + i0, pb + i0, po + i0, sz(i1 - i0)); });
    return out;
}

Tensor swiglu_vjp(const Tensor& a, const Tensor& b, const Tensor& g) {
    require_defined(a, "swiglu_vjp");
    require_defined(b, "swiglu_vjp");
    require_defined(g, "swiglu_vjp");
    TT_CHECK(a.shape() == b.shape() && a.shape() == g.shape(),
             "swiglu_vjp: a " + a.shape().str() + ", b " + b.shape().str() + " and g " + g.shape().str() + " differ");
    Shape s{2};
    for (int64_t d : a.shape()) s.push_back(d);
    Tensor out = Tensor::empty(s);  // [da ; db]
    const int64_t n = a.numel();
    const float *pa = a.data(), *pb = b.data(), *pg = g.data();
    float *da = out.data(), *db = out.data() + n;
    for_each_chunk(n, [&](int64_t i0, int64_t i1) {
        kernels::swiglu_vjp(pa + i0, pb + i0, pg + i0, da + i0, db + i0, sz(i1 - i0));
    });
    return out;
}

Tensor unary(UnaryOp op, const Tensor& x) {
    require_defined(x, "unary");
    Tensor out = Tensor::empty(x.shape());
    const float* px = x.data();
    float* po = out.data();
    for_each_chunk(x.numel(), [&](int64_t i0, int64_t i1) { kernels::unary(op, px + i0, po + i0, sz(i1 - i0)); });
    return out;
}

// ---------------------------------------------------------------------------------------------
// reductions

Tensor sum(const Tensor& x, int axis, bool keepdim) { return reduce_axis(x, axis, keepdim, false, "sum"); }

Tensor mean(const Tensor& x, int axis, bool keepdim) {
    Tensor s = reduce_axis(x, axis, keepdim, false, "mean");
    const float inv_count = 1.0f / static_cast<float>(x.dim(axis));
    float* ps = s.data();
    for_each_chunk(s.numel(), [&](int64_t i0, int64_t i1) { kernels::mul_scalar(ps + i0, inv_count, ps + i0, sz(i1 - i0)); });
    return s;
}

Tensor max(const Tensor& x, int axis, bool keepdim) { return reduce_axis(x, axis, keepdim, true, "max"); }

float sum_all(const Tensor& x) {
    require_defined(x, "sum_all");
    // Fixed blocks summed in double, block totals added in order: accurate for long tensors and
    // the same for any thread count (the blocks do not depend on it).
    constexpr int64_t kBlock = 4096;
    const int64_t n = x.numel();
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    std::vector<double> partial(sz(blocks), 0.0);
    const float* px = x.data();
    parallel_for(blocks, std::max<int64_t>(1, kGrain / kBlock), [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            const int64_t start = b * kBlock;
            partial[sz(b)] = kernels::sum_f64(px + start, sz(std::min(kBlock, n - start)));
        }
    });
    double total = 0.0;
    for (double p : partial) total += p;
    return static_cast<float>(total);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
    require_defined(x, "sum_to");
    TT_CHECK(shape.rank() <= x.rank() && broadcast_shapes(shape, x.shape(), "sum_to") == x.shape(),
             "sum_to: cannot sum " + x.shape().str() + " down to " + shape.str());
    if (x.shape() == shape) return x.clone();
    Tensor y = x;
    const int lead = x.rank() - shape.rank();
    if (lead > 0) {  // the dims broadcasting added in front: flatten them into one and sum it away
        Shape flat{product(x.shape(), 0, lead)};
        for (int d = lead; d < x.rank(); ++d) flat.push_back(x.dim(d));
        y = sum(y.reshape(flat), 0, false);
    }
    for (int d = 0; d < shape.rank(); ++d)
        if (shape[d] == 1 && y.dim(d) != 1) y = sum(y, d, true);
    return y.reshape(shape);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
    require_defined(x, "broadcast_to");
    TT_CHECK(x.rank() <= shape.rank() && broadcast_shapes(x.shape(), shape, "broadcast_to") == shape,
             "broadcast_to: cannot broadcast " + x.shape().str() + " to " + shape.str());
    if (x.shape() == shape) return x.clone();
    Tensor out = Tensor::empty(shape);
    if (out.numel() == 0) return out;
    strided_copy(make_iter(shape, {broadcast_strides(x.shape(), shape)}), x.data(), out.data());
    return out;
}

// ---------------------------------------------------------------------------------------------
// softmax family

Tensor softmax(const Tensor& x) { return map_last_axis_rows(x, "softmax", kernels::softmax_row); }
Tensor log_softmax(const Tensor& x) { return map_last_axis_rows(x, "log_softmax", kernels::log_softmax_row); }

Tensor causal_softmax(const Tensor& x, float scale) {
    require_defined(x, "causal_softmax");
    TT_CHECK(x.rank() >= 2, "causal_softmax: needs rank >= 2, got shape " + x.shape().str());
    TT_CHECK(scale > 0.0f, "causal_softmax: scale must be > 0, got " + std::to_string(scale));
    Tensor out = Tensor::empty(x.shape());
    if (out.numel() == 0) return out;
    const int64_t R = x.dim(-2), C = x.dim(-1);
    const int64_t rows = x.numel() / C;  // all rows of all matrices
    const float* px = x.data();
    float* po = out.data();
    parallel_for(rows, std::max<int64_t>(1, kGrain / (4 * C)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t keep = std::min(r % R + 1, C);  // row i sees keys j <= i
            kernels::scaled_softmax_row(px + r * C, po + r * C, sz(keep), scale);
            std::fill(po + r * C + keep, po + (r + 1) * C, 0.0f);
        }
    });
    return out;
}

Tensor normalize(const Tensor& x, float eps, bool center) {
    return map_last_axis_rows(x, "normalize", [eps, center](const float* in, float* out, size_t n) {
        kernels::normalize_row(in, out, n, eps, center);
    });
}

Tensor normalize_affine(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps, bool center) {
    require_defined(x, "normalize_affine");
    require_defined(gamma, "normalize_affine");
    const int64_t C = x.rank() > 0 ? x.dim(-1) : 0;
    // (G, 1, C) for x (..., G, K, C): one gamma row per group of K rows (TTT's per-head LayerNorm)
    const bool per_group = gamma.rank() == 3 && x.rank() >= 3 && gamma.dim(0) == x.dim(-3) && gamma.dim(1) == 1 &&
                           gamma.dim(2) == C;
    TT_CHECK(((gamma.rank() == 1 && gamma.dim(0) == C) || per_group) && (!beta.defined() || beta.shape() == gamma.shape()),
             "normalize_affine: gamma " + gamma.shape().str() + (beta.defined() ? " and beta " + beta.shape().str() : "") +
                 " must be (C) or (G,1,C) for x " + x.shape().str() + " (..., C) or (..., G, K, C)");
    Tensor out = Tensor::empty(x.shape());
    if (out.numel() == 0 || C == 0) return out;
    const int64_t rows = x.numel() / C, K = per_group ? x.dim(-2) : 1, G = per_group ? gamma.dim(0) : 1;
    const float *px = x.data(), *pg = gamma.data(), *pb = beta.defined() ? beta.data() : nullptr;
    float* po = out.data();
    parallel_for(rows, std::max<int64_t>(1, kGrain / (4 * C)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t p = (r / K) % G * C;  // this row's gamma / beta row
            kernels::normalize_affine_row(px + r * C, po + r * C, sz(C), eps, center, pg + p, pb ? pb + p : nullptr);
        }
    });
    return out;
}

Tensor normalize_vjp(const Tensor& x, const Tensor& u, float eps, bool center) {
    require_defined(x, "normalize_vjp");
    require_defined(u, "normalize_vjp");
    TT_CHECK(x.shape() == u.shape() && x.rank() >= 1,
             "normalize_vjp: x " + x.shape().str() + " and u " + u.shape().str() + " must have the same shape");
    Tensor out = Tensor::empty(x.shape());
    const int64_t cols = x.dim(-1);
    if (out.numel() == 0 || cols == 0) return out;
    const int64_t rows = x.numel() / cols;
    const float *px = x.data(), *pu = u.data();
    float* po = out.data();
    parallel_for(rows, std::max<int64_t>(1, kGrain / (4 * cols)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) kernels::normalize_row_vjp(px + r * cols, pu + r * cols, po + r * cols, sz(cols), eps, center);
    });
    return out;
}

Tensor logsumexp(const Tensor& x) {
    require_defined(x, "logsumexp");
    TT_CHECK(x.rank() >= 1, "logsumexp: needs rank >= 1, got a scalar");
    const int64_t cols = x.dim(-1);
    Tensor out = Tensor::empty(reduced_shape(x.shape(), x.rank() - 1, false));
    const int64_t rows = out.numel();
    const float* px = x.data();
    float* po = out.data();
    parallel_for(rows, std::max<int64_t>(1, kGrain / (4 * std::max<int64_t>(cols, 1))), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) po[r] = kernels::logsumexp(px + r * cols, sz(cols));
    });
    return out;
}

Tensor softmax_xent_grad(const Tensor& x, const Tensor& lse, const IntTensor& targets, const Tensor& row_scale) {
    require_defined(x, "softmax_xent_grad");
    require_defined(lse, "softmax_xent_grad");
    require_defined(row_scale, "softmax_xent_grad");
    TT_CHECK(x.rank() == 2, "softmax_xent_grad: x must be (N, V), got " + x.shape().str());
    const int64_t N = x.dim(0), V = x.dim(1);
    TT_CHECK(lse.numel() == N && row_scale.numel() == N && targets.numel() == N,
             "softmax_xent_grad: x " + x.shape().str() + " needs lse, targets and row_scale of " + std::to_string(N) +
                 " values, got " + lse.shape().str() + ", " + targets.shape().str() + ", " + row_scale.shape().str());
    check_ids(targets, V, "softmax_xent_grad");
    Tensor out = Tensor::empty(x.shape());
    const float *px = x.data(), *pl = lse.data(), *pc = row_scale.data();
    const int32_t* pt = targets.data();
    float* po = out.data();
    parallel_for(N, std::max<int64_t>(1, kGrain / (4 * std::max<int64_t>(V, 1))), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            float* o = po + r * V;
            if (pc[r] == 0.0f) {  // an ignored row: no gradient (and no exp to compute)
                std::fill(o, o + V, 0.0f);
                continue;
            }
            kernels::exp_shift_scale(px + r * V, pl[r], pc[r], o, sz(V));
            o[pt[r]] -= pc[r];
        }
    });
    return out;
}

// ---------------------------------------------------------------------------------------------
// layout

Tensor transpose(const Tensor& x, int axis_a, int axis_b) {
    require_defined(x, "transpose");
    const int a = x.shape().norm_axis(axis_a), b = x.shape().norm_axis(axis_b);
    std::array<int, kMaxRank> perm{};
    for (int d = 0; d < x.rank(); ++d) perm[sz(d)] = d;
    std::swap(perm[sz(a)], perm[sz(b)]);
    return permute(x, std::span<const int>(perm.data(), sz(x.rank())));
}

Tensor permute(const Tensor& x, std::span<const int> perm) {
    require_defined(x, "permute");
    const int r = x.rank();
    std::string perm_str = "(";
    for (size_t i = 0; i < perm.size(); ++i) perm_str += (i ? ", " : "") + std::to_string(perm[i]);
    perm_str += ")";
    TT_CHECK(static_cast<int>(perm.size()) == r,
             "permute: perm " + perm_str + " has the wrong length for shape " + x.shape().str());
    std::array<bool, kMaxRank> seen{};
    for (int p : perm) {
        TT_CHECK(p >= 0 && p < r && !seen[sz(p)],
                 "permute: " + perm_str + " is not a permutation of the axes of " + x.shape().str());
        seen[sz(p)] = true;
    }
    Shape out_shape;
    const Strides in_strides = contiguous_strides(x.shape());
    Strides read_strides{};  // stride in x of each output dim
    for (int d = 0; d < r; ++d) {
        out_shape.push_back(x.dim(perm[sz(d)]));
        read_strides[sz(d)] = in_strides[sz(perm[sz(d)])];
    }
    Tensor out = Tensor::empty(out_shape);
    if (out.numel() == 0) return out;
    strided_copy(make_iter(out_shape, {read_strides}), x.data(), out.data());
    return out;
}

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end) {
    require_defined(x, "slice");
    TT_CHECK(x.rank() > 0, "slice: cannot slice a scalar");
    const int ax = x.shape().norm_axis(axis);
    const int64_t D = x.dim(ax);
    TT_CHECK(0 <= start && start <= end && end <= D,
             "slice: range [" + std::to_string(start) + ", " + std::to_string(end) + ") out of bounds for axis " +
                 std::to_string(axis) + " of shape " + x.shape().str());
    Shape out_shape = x.shape();
    out_shape[ax] = end - start;
    Tensor out = Tensor::empty(out_shape);
    if (out.numel() == 0) return out;
    const int64_t outer = product(x.shape(), 0, ax), inner = product(x.shape(), ax + 1, x.rank());
    const int64_t run = (end - start) * inner;  // contiguous floats copied per outer index
    const float* px = x.data();
    float* po = out.data();
    parallel_for(outer, std::max<int64_t>(1, kGrain / run), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o)
            std::memcpy(po + o * run, px + (o * D + start) * inner, sz(run) * sizeof(float));
    });
    return out;
}

Tensor concat(std::span<const Tensor> xs, int axis) {
    TT_CHECK(!xs.empty(), "concat: no tensors given");
    for (const Tensor& t : xs) require_defined(t, "concat");
    const Shape& first = xs[0].shape();
    TT_CHECK(first.rank() > 0, "concat: cannot concatenate scalars");
    const int ax = first.norm_axis(axis);
    int64_t total = 0;
    for (const Tensor& t : xs) {
        bool ok = t.rank() == first.rank();
        for (int d = 0; ok && d < first.rank(); ++d) ok = d == ax || t.dim(d) == first[d];
        TT_CHECK(ok, "concat: shapes " + first.str() + " and " + t.shape().str() + " differ outside axis " +
                         std::to_string(axis));
        total += t.dim(ax);
    }
    Shape out_shape = first;
    out_shape[ax] = total;
    Tensor out = Tensor::empty(out_shape);
    if (out.numel() == 0) return out;
    const int64_t outer = product(first, 0, ax), inner = product(first, ax + 1, first.rank());
    const int64_t out_run = total * inner;
    float* po = out.data();
    parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(out_run, 1)), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
            float* dst = po + o * out_run;
            for (const Tensor& t : xs) {
                const int64_t run = t.dim(ax) * inner;
                if (run > 0) std::memcpy(dst, t.data() + o * run, sz(run) * sizeof(float));
                dst += run;
            }
        }
    });
    return out;
}

namespace {
// The normalised axis at which `part` fits in `full` from offset `start` (the same extent on every
// other axis), or an error naming `op`.
int slice_fit_axis(const Shape& part, const Shape& full, int axis, int64_t start, const char* op) {
    TT_CHECK(part.rank() == full.rank() && part.rank() > 0,
             std::string(op) + ": ranks of " + part.str() + " and " + full.str() + " differ");
    const int ax = full.norm_axis(axis);
    bool ok = true;
    for (int d = 0; d < full.rank(); ++d) ok = ok && (d == ax || part[d] == full[d]);
    TT_CHECK(ok && start >= 0 && start + part[ax] <= full[ax],
             std::string(op) + ": " + part.str() + " at offset " + std::to_string(start) + " along axis " +
                 std::to_string(axis) + " does not fit in " + full.str());
    return ax;
}
}  // namespace

Tensor pad_slice(const Tensor& src, const Shape& full_shape, int axis, int64_t start) {
    require_defined(src, "pad_slice");
    const int ax = slice_fit_axis(src.shape(), full_shape, axis, start, "pad_slice");
    Tensor out = Tensor::empty(full_shape);
    if (out.numel() == 0) return out;
    const int64_t D = full_shape[ax];
    const int64_t outer = product(full_shape, 0, ax), inner = product(full_shape, ax + 1, full_shape.rank());
    const int64_t head = start * inner, run = src.dim(ax) * inner, tail = (D - start) * inner - run;
    const float* ps = src.data();
    float* po = out.data();
    // Each outer slab is [zeros | src run | zeros]: every float written once.
    parallel_for(outer, std::max<int64_t>(1, kGrain / (D * inner)), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
            float* dst = po + o * D * inner;
            std::fill(dst, dst + head, 0.0f);
            if (run > 0) std::memcpy(dst + head, ps + o * run, sz(run) * sizeof(float));
            std::fill(dst + head + run, dst + head + run + tail, 0.0f);
        }
    });
    return out;
}

void add_into_slice(Tensor& dst, const Tensor& src, int axis, int64_t start) {
    require_defined(dst, "add_into_slice");
    require_defined(src, "add_into_slice");
    const Shape& full = dst.shape();
    const int ax = slice_fit_axis(src.shape(), full, axis, start, "add_into_slice");
    if (src.numel() == 0) return;
    const int64_t D = full[ax];
    const int64_t outer = product(full, 0, ax), inner = product(full, ax + 1, full.rank());
    const int64_t head = start * inner, run = src.dim(ax) * inner;
    const float* ps = src.data();
    float* pd = dst.data();
    // One rounded addition per element, as add() of the padded tensor would do inside the slice
    // (outside it that add only added zeros): the same floats, without touching the rest of dst.
    parallel_for(outer, std::max<int64_t>(1, kGrain / run), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
            float* d = pd + o * D * inner + head;
            kernels::binary(BinaryOp::Add, d, ps + o * run, d, sz(run));
        }
    });
}

namespace {
// out[i] = f(x[i]), in parallel over large tensors.
template <class F>
Tensor map_elementwise(const Tensor& x, const char* name, F f) {
    require_defined(x, name);
    Tensor out = Tensor::empty(x.shape());
    const float* px = x.data();
    float* po = out.data();
    for_each_chunk(x.numel(), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) po[i] = f(px[i]);
    });
    return out;
}
constexpr float kInvSqrt2f = 0.70710678118654752440f;
constexpr float kInvSqrt2Pif = 0.39894228040143267794f;  // 1/√(2π)
}  // namespace

// float erf/exp: ~1 ulp, and twice as fast as double.
Tensor gelu_erf(const Tensor& x) {
    return map_elementwise(x, "gelu_erf", [](float t) { return 0.5f * t * (1.0f + std::erf(t * kInvSqrt2f)); });
}
Tensor gelu_erf_grad(const Tensor& x) {
    return map_elementwise(x, "gelu_erf_grad", [](float t) {
        return 0.5f * (1.0f + std::erf(t * kInvSqrt2f)) + t * kInvSqrt2Pif * std::exp(-0.5f * t * t);
    });
}

Tensor tril(const Tensor& x, int64_t diagonal, float fill) {
    require_defined(x, "tril");
    TT_CHECK(x.rank() >= 2, "tril: needs rank >= 2, got shape " + x.shape().str());
    Tensor out = Tensor::empty(x.shape());
    if (out.numel() == 0) return out;
    const int64_t R = x.dim(-2), C = x.dim(-1);
    const int64_t rows = x.numel() / C;  // all rows of all matrices
    const float* px = x.data();
    float* po = out.data();
    parallel_for(rows, std::max<int64_t>(1, kGrain / C), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t i = r % R;
            // row i keeps columns j <= i + diagonal
            const int64_t keep = std::clamp<int64_t>(i + diagonal + 1, 0, C);
            std::memcpy(po + r * C, px + r * C, sz(keep) * sizeof(float));
            std::fill(po + r * C + keep, po + (r + 1) * C, fill);
        }
    });
    return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, float value) {
    require_defined(x, "masked_fill");
    require_defined(mask, "masked_fill");
    TT_CHECK(mask.rank() <= x.rank() && broadcast_shapes(x.shape(), mask.shape(), "masked_fill") == x.shape(),
             "masked_fill: mask " + mask.shape().str() + " does not broadcast to " + x.shape().str());
    Tensor out = Tensor::empty(x.shape());
    if (out.numel() == 0) return out;
    const Tensor m = mask.shape() == x.shape() ? mask : broadcast_to(mask, x.shape());
    const float* px = x.data();
    const float* pm = m.data();
    float* po = out.data();
    for_each_chunk(x.numel(), [&](int64_t i0, int64_t i1) {
        kernels::masked_fill(px + i0, pm + i0, value, po + i0, sz(i1 - i0));
    });
    return out;
}

Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin) {
    require_defined(x, "rope");
    require_defined(cos, "rope");
    require_defined(sin, "rope");
    TT_CHECK(x.rank() >= 2 && x.dim(-1) % 2 == 0,
             "rope: x must be (..., T, D) with D even, got " + x.shape().str());
    const int64_t T = x.dim(-2), D = x.dim(-1), half = D / 2;
    TT_CHECK(cos.shape() == Shape({T, half}) && sin.shape() == Shape({T, half}),
             "rope: cos " + cos.shape().str() + " and sin " + sin.shape().str() + " must be (T, D/2) = " +
                 Shape({T, half}).str() + " for x " + x.shape().str());
    Tensor out = Tensor::empty(x.shape());
    if (out.numel() == 0) return out;
    const int64_t rows = x.numel() / D;
    const float* px = x.data();
    const float* pc = cos.data();
    const float* ps = sin.data();
    float* po = out.data();
    parallel_for(rows, std::max<int64_t>(1, kGrain / D), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t t = r % T;
            kernels::rope_row(px + r * D, pc + t * half, ps + t * half, po + r * D, sz(half));
        }
    });
    return out;
}

// ---------------------------------------------------------------------------------------------
// rows: embedding lookup and its gradient

Tensor gather_rows(const Tensor& table, const IntTensor& idx) {
    require_defined(table, "gather_rows");
    TT_CHECK(table.rank() == 2, "gather_rows: table must be (V, C), got " + table.shape().str());
    TT_CHECK(idx.shape().rank() < kMaxRank,
             "gather_rows: index shape " + idx.shape().str() + " leaves no room for the row dim");
    const int64_t V = table.dim(0), C = table.dim(1);
    check_ids(idx, V, "gather_rows");
    Shape out_shape = idx.shape();
    out_shape.push_back(C);
    Tensor out = Tensor::empty(out_shape);
    const int64_t n = idx.numel();
    if (out.numel() == 0) return out;
    const int32_t* ids = idx.data();
    const float* pt = table.data();
    float* po = out.data();
    parallel_for(n, std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)), [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) std::memcpy(po + i * C, pt + int64_t{ids[i]} * C, sz(C) * sizeof(float));
    });
    return out;
}

Tensor scatter_add_rows(const Tensor& src, const IntTensor& idx, int64_t num_rows) {
    require_defined(src, "scatter_add_rows");
    bool ok = src.rank() == idx.shape().rank() + 1;
    for (int d = 0; ok && d < idx.shape().rank(); ++d) ok = src.dim(d) == idx.shape()[d];
    TT_CHECK(ok, "scatter_add_rows: src " + src.shape().str() + " must be the index shape " + idx.shape().str() +
                     " plus a row dim");
    TT_CHECK(num_rows >= 0, "scatter_add_rows: negative num_rows " + std::to_string(num_rows));
    check_ids(idx, num_rows, "scatter_add_rows");
    const int64_t C = src.dim(-1), n = idx.numel();
    Tensor out = Tensor::zeros(Shape{num_rows, C});
    if (n == 0 || C == 0) return out;
    const int32_t* ids = idx.data();
    const float* ps = src.data();
    float* po = out.data();
    // Repeated ids add into the same row, so threads split columns, not ids: every output element
    // still receives its contributions in the order of idx.
    parallel_for(C, std::max<int64_t>(1, kGrain / n), [&](int64_t c0, int64_t c1) {
        for (int64_t i = 0; i < n; ++i)
            kernels::axpy(1.0f, ps + i * C + c0, po + int64_t{ids[i]} * C + c0, sz(c1 - c0));
    });
    return out;
}

Tensor add_at_index(const Tensor& x, const IntTensor& idx, float value) {
    require_defined(x, "add_at_index");
    TT_CHECK(x.rank() == 2 && idx.shape().rank() == 1 && idx.numel() == x.dim(0),
             "add_at_index: x must be (N, V) and idx (N), got " + x.shape().str() + " and " + idx.shape().str());
    const int64_t N = x.dim(0), V = x.dim(1);
    check_ids(idx, V, "add_at_index");
    Tensor out = x.clone();
    float* po = out.data();
    for (int64_t i = 0; i < N; ++i) po[i * V + idx[i]] += value;
    return out;
}

Tensor pick(const Tensor& x, const IntTensor& idx) {
    require_defined(x, "pick");
    TT_CHECK(x.rank() == 2 && idx.shape().rank() == 1 && idx.numel() == x.dim(0),
             "pick: x must be (N, V) and idx (N), got " + x.shape().str() + " and " + idx.shape().str());
    const int64_t N = x.dim(0), V = x.dim(1);
    check_ids(idx, V, "pick");
    Tensor out = Tensor::empty(Shape{N});
    const float* px = x.data();
    float* po = out.data();
    for (int64_t i = 0; i < N; ++i) po[i] = px[i * V + idx[i]];
    return out;
}

// ---------------------------------------------------------------------------------------------

float max_abs_diff(const Tensor& a, const Tensor& b) {
    require_defined(a, "max_abs_diff");
    require_defined(b, "max_abs_diff");
    TT_CHECK(a.shape() == b.shape(), "max_abs_diff: shapes " + a.shape().str() + " and " + b.shape().str() + " differ");
    return kernels::max_abs_diff(a.data(), b.data(), sz(a.numel()));
}

}  // namespace tt
