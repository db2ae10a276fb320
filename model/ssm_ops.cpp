// model/ssm_ops.cpp — see ssm_ops.hpp: the selective scan's kernels (xsimd, vectorised over the
// state axis N, with scalar _ref twins), the fused op and its fused VJP op, the primitive-op
// composition both are tested against, and delta_softplus.
//
// Layout of this file: kernels for one sequence (forward, forward_ref, backward, backward_ref), then
// the ops. How the orders of differentiation are covered:
//   selective_scan          forward kernel;  rule = selective_scan_vjp (the reverse-scan kernel)
//   selective_scan_vjp      reverse kernel;  rule = vjp_of(the VJP of the composite, written as
//                                            ad::grad of selective_scan_composite with create_graph)
// so the second-order rule runs the primitive composition (storing every state); training, which
// only needs first order, never does.
#include "model/ssm_ops.hpp"

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/parallel.hpp"
#include "tensor/simd.hpp"

namespace tt::model {

using namespace tt::ad;

namespace {
using Grads = std::vector<Var>;
}

// ================================================================================================
// kernels, one sequence. Multiply-adds are tt::simd::fma (fused on every ISA; xsimd 8.1's fma is a
// separate multiply and add on AVX-512) and std::fma in the scalar tails, so that a tail element
// rounds as a vector lane would.

namespace ssm {

namespace {

using batch = xsimd::batch<float>;
constexpr int64_t W = static_cast<int64_t>(batch::size);

inline batch load(const float* p) { return batch::load_unaligned(p); }
inline float hsum(const batch& v) { return xsimd::hadd(v); }  // xsimd 8.1's name for reduce_add

inline void copy_or_zero(const float* src, float* dst, int64_t n) {
    if (src)
        std::copy(src, src + n, dst);
    else
        std::fill(dst, dst + n, 0.0f);
}

}  // namespace

void scan_forward(const SeqIn& in, float* y, float* h_last, float* ckpt, int64_t chunk) {
    const int64_t L = in.L, I = in.I, N = in.N;
    for (int64_t d = 0; d < I; ++d) {
        float* h = h_last + d * N;  // the running state of channel d, (N); ends as h[L−1]
        copy_or_zero(in.h0 ? in.h0 + d * N : nullptr, h, N);
        const float* Ad = in.A + d * N;
        for (int64_t t = 0; t < L; ++t) {
            if (ckpt && t % chunk == 0) std::copy(h, h + N, ckpt + ((t / chunk) * I + d) * N);  // h[t−1]
            const float dt = in.delta[t * I + d], ut = in.u[t * I + d], bu = dt * ut;
            const float *Bt = in.B + t * N, *Ct = in.C + t * N;
            const batch vdt(dt), vbu(bu);
            batch acc(0.0f);
            int64_t n = 0;
            for (; n + W <= N; n += W) {
                const batch a = xsimd::exp(vdt * load(Ad + n));              // exp(Δ A)
                const batch hn = simd::fma(a, load(h + n), vbu * load(Bt + n));  // a h + Δ u B
                hn.store_unaligned(h + n);
                acc = simd::fma(hn, load(Ct + n), acc);                     // Σ_n C h
            }
            float s = hsum(acc);
            for (; n < N; ++n) {
                const float hn = std::fma(std::exp(dt * Ad[n]), h[n], bu * Bt[n]);  // as the vector body
                h[n] = hn;
                s = std::fma(hn, Ct[n], s);
            }
            y[t * I + d] = s + in.D[d] * ut;
        }
    }
}

void scan_forward_ref(const SeqIn& in, float* y, float* h_last) {
    const int64_t L = in.L, I = in.I, N = in.N;
    for (int64_t d = 0; d < I; ++d) {
        std::vector<float> h(static_cast<std::size_t>(N), 0.0f);
        if (in.h0)
            for (int64_t n = 0; n < N; ++n) h[n] = in.h0[d * N + n];
        for (int64_t t = 0; t < L; ++t) {
            const float dt = in.delta[t * I + d], ut = in.u[t * I + d];
            float s = 0.0f;
            for (int64_t n = 0; n < N; ++n) {
                h[n] = std::exp(dt * in.A[d * N + n]) * h[n] + dt * in.B[t * N + n] * ut;
                s += in.C[t * N + n] * h[n];
            }
            y[t * I + d] = s + in.D[d] * ut;
        }
        for (int64_t n = 0; n < N; ++n) h_last[d * N + n] = h[n];
    }
}

void scan_backward(const SeqIn& in, const float* gy, const float* gh_last, const float* ckpt, int64_t chunk,
                   const SeqGrads& out, float* scratch) {
    const int64_t L = in.L, I = in.I, N = in.N;
    std::fill(out.dB, out.dB + L * N, 0.0f);  // both summed over the channels below
    std::fill(out.dC, out.dC + L * N, 0.0f);
    float* hbuf = scratch;                    // (chunk+1, N): h[t0−1], h[t0], ..., h[t1−1] of one chunk
    float* abuf = scratch + (chunk + 1) * N;  // (chunk, N):   a[t0], ..., a[t1−1]
    for (int64_t d = 0; d < I; ++d) {
        float* gh = out.dh0 + d * N;  // the gradient reaching the state, carried backwards; ends as ∂h0
        copy_or_zero(gh_last ? gh_last + d * N : nullptr, gh, N);
        float* dAd = out.dA + d * N;
        std::fill(dAd, dAd + N, 0.0f);
        const float* Ad = in.A + d * N;
        float dD = 0.0f;
        for (int64_t c = num_chunks(L, chunk) - 1; c >= 0; --c) {
            const int64_t t0 = c * chunk, t1 = std::min(L, t0 + chunk);
            // recompute the chunk's states forwards from its stored boundary
            std::copy(ckpt + (c * I + d) * N, ckpt + (c * I + d + 1) * N, hbuf);
            for (int64_t t = t0; t < t1; ++t) {
                const float dt = in.delta[t * I + d], bu = dt * in.u[t * I + d];
                const float* Bt = in.B + t * N;
                const float* hp = hbuf + (t - t0) * N;
                float* hn = hbuf + (t - t0 + 1) * N;
                float* a = abuf + (t - t0) * N;
                const batch vdt(dt), vbu(bu);
                int64_t n = 0;
                for (; n + W <= N; n += W) {
                    const batch av = xsimd::exp(vdt * load(Ad + n));
                    av.store_unaligned(a + n);
                    simd::fma(av, load(hp + n), vbu * load(Bt + n)).store_unaligned(hn + n);
                }
                for (; n < N; ++n) {
                    a[n] = std::exp(dt * Ad[n]);
                    hn[n] = std::fma(a[n], hp[n], bu * Bt[n]);  // the forward's states, bit for bit
                }
            }
            // reverse steps
            for (int64_t t = t1 - 1; t >= t0; --t) {
                const float gyt = gy[t * I + d], dt = in.delta[t * I + d], ut = in.u[t * I + d], bu = dt * ut;
                const float *Bt = in.B + t * N, *Ct = in.C + t * N;
                const float* hp = hbuf + (t - t0) * N;      // h[t−1]
                const float* hn = hbuf + (t - t0 + 1) * N;  // h[t]
                const float* a = abuf + (t - t0) * N;       // a[t]
                float *dBt = out.dB + t * N, *dCt = out.dC + t * N;
                const batch vgy(gyt), vdt(dt), vbu(bu);
                batch accA(0.0f), accB(0.0f);
                int64_t n = 0;
                for (; n + W <= N; n += W) {
                    const batch g = simd::fma(vgy, load(Ct + n), load(gh + n));  // g_h[t]
                    simd::fma(vgy, load(hn + n), load(dCt + n)).store_unaligned(dCt + n);
                    const batch gpa = g * load(hp + n) * load(a + n);           // g_h h[t−1] a
                    accA = simd::fma(gpa, load(Ad + n), accA);
                    simd::fma(gpa, vdt, load(dAd + n)).store_unaligned(dAd + n);
                    accB = simd::fma(g, load(Bt + n), accB);
                    simd::fma(g, vbu, load(dBt + n)).store_unaligned(dBt + n);
                    (g * load(a + n)).store_unaligned(gh + n);                   // to h[t−1]
                }
                float sA = hsum(accA), sB = hsum(accB);
                for (; n < N; ++n) {
                    const float g = std::fma(gyt, Ct[n], gh[n]);  // as the vector body
                    dCt[n] = std::fma(gyt, hn[n], dCt[n]);
                    const float gpa = g * hp[n] * a[n];
                    sA = std::fma(gpa, Ad[n], sA);
                    dAd[n] = std::fma(gpa, dt, dAd[n]);
                    sB = std::fma(g, Bt[n], sB);
                    dBt[n] = std::fma(g, bu, dBt[n]);
                    gh[n] = g * a[n];
                }
                out.ddelta[t * I + d] = sA + ut * sB;   // Σ_n g_h (h[t−1] a A + B u)
                out.du[t * I + d] = gyt * in.D[d] + dt * sB;  // g_y D + Δ Σ_n g_h B
                dD += gyt * ut;
            }
        }
        out.dD[d] = dD;
    }
}

void scan_backward_ref(const SeqIn& in, const float* gy, const float* gh_last, const SeqGrads& out) {
    const int64_t L = in.L, I = in.I, N = in.N;
    for (int64_t k = 0; k < L * N; ++k) out.dB[k] = out.dC[k] = 0.0f;
    for (int64_t d = 0; d < I; ++d) {
        // every state of channel d: hs[t+1] = h[t], hs[0] = h0
        std::vector<float> hs(static_cast<std::size_t>((L + 1) * N), 0.0f);
        if (in.h0)
            for (int64_t n = 0; n < N; ++n) hs[n] = in.h0[d * N + n];
        for (int64_t t = 0; t < L; ++t) {
            const float dt = in.delta[t * I + d], ut = in.u[t * I + d];
            for (int64_t n = 0; n < N; ++n)
                hs[(t + 1) * N + n] = std::exp(dt * in.A[d * N + n]) * hs[t * N + n] + dt * in.B[t * N + n] * ut;
        }
        std::vector<float> gh(static_cast<std::size_t>(N), 0.0f);
        if (gh_last)
            for (int64_t n = 0; n < N; ++n) gh[n] = gh_last[d * N + n];
        for (int64_t n = 0; n < N; ++n) out.dA[d * N + n] = 0.0f;
        float dD = 0.0f;
        for (int64_t t = L - 1; t >= 0; --t) {
            const float dt = in.delta[t * I + d], ut = in.u[t * I + d], gyt = gy[t * I + d];
            float ddelta = 0.0f, du = gyt * in.D[d];
            for (int64_t n = 0; n < N; ++n) {
                const float a = std::exp(dt * in.A[d * N + n]);
                const float g = gh[n] + gyt * in.C[t * N + n];  // g_h[t]
                const float hp = hs[t * N + n];                 // h[t−1]
                out.dC[t * N + n] += gyt * hs[(t + 1) * N + n];
                ddelta += g * (hp * a * in.A[d * N + n] + in.B[t * N + n] * ut);
                out.dA[d * N + n] += g * hp * a * dt;
                out.dB[t * N + n] += g * dt * ut;
                du += g * dt * in.B[t * N + n];
                gh[n] = g * a;
            }
            out.ddelta[t * I + d] = ddelta;
            out.du[t * I + d] = du;
            dD += gyt * ut;
        }
        out.dD[d] = dD;
        for (int64_t n = 0; n < N; ++n) out.dh0[d * N + n] = gh[n];
    }
}

void softplus(const float* x, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + W <= n; i += W) {
        const batch v = load(x + i);
        (xsimd::max(v, batch(0.0f)) + xsimd::log1p(xsimd::exp(-xsimd::abs(v)))).store_unaligned(out + i);
    }
    for (; i < n; ++i) out[i] = std::max(x[i], 0.0f) + std::log1p(std::exp(-std::abs(x[i])));
}

void softplus_ref(const float* x, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] + std::log1p(std::exp(-x[i])) : std::log1p(std::exp(x[i]));
}

}  // namespace ssm

// ================================================================================================
// the ops

namespace {

struct Dims {
    int64_t B, L, I, N;
    int64_t yn() const { return B * L * I; }   // y, du, ddelta
    int64_t hn() const { return B * I * N; }   // h_last, h0, dh0
    int64_t bn() const { return B * L * N; }   // B, C, dB, dC
};

Dims check_dims(const Var& u, const Var& delta, const Var& A, const Var& B, const Var& C, const Var& D,
                const Var& h0) {
    TT_CHECK(u.rank() == 3 && u.shape()[1] >= 1, "selective_scan: u must be (B,L,I) with L >= 1, got " + u.shape().str());
    const Dims s{u.shape()[0], u.shape()[1], u.shape()[2], A.rank() == 2 ? A.shape()[1] : -1};
    const std::string got = " (u " + u.shape().str() + ", delta " + delta.shape().str() + ", A " + A.shape().str() +
                            ", B " + B.shape().str() + ", C " + C.shape().str() + ", D " + D.shape().str() + ")";
    TT_CHECK(delta.shape() == u.shape(), "selective_scan: delta must have u's shape" + got);
    TT_CHECK(A.rank() == 2 && A.shape()[0] == s.I, "selective_scan: A must be (I,N)" + got);
    TT_CHECK(B.shape() == Shape({s.B, s.L, s.N}) && C.shape() == B.shape(), "selective_scan: B and C must be (B,L,N)" + got);
    TT_CHECK(D.shape() == Shape({s.I}), "selective_scan: D must be (I)" + got);
    TT_CHECK(!h0.defined() || h0.shape() == Shape({s.B, s.I, s.N}),
             "selective_scan: h0 must be (B,I,N), got " + (h0.defined() ? h0.shape().str() : std::string()));
    return s;
}

ssm::SeqIn seq_in(const std::vector<Tensor>& v, const Dims& s, int64_t b) {
    // v = u, delta, A, B, C, D, h0
    return {v[0].data() + b * s.L * s.I, v[1].data() + b * s.L * s.I, v[2].data(), v[3].data() + b * s.L * s.N,
            v[4].data() + b * s.L * s.N, v[5].data(), v[6].data() + b * s.I * s.N, s.L, s.I, s.N};
}

std::vector<Tensor> values_of(const std::vector<Var>& vs) {
    std::vector<Tensor> out;
    for (const Var& v : vs) out.push_back(v.value());
    return out;
}

int64_t seq_grain(const Dims& s) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, s.L * s.I * s.N)); }

// The forward over the batch: packed [y (B·L·I) | h_last (B·I·N)]; ckpt (B, chunks, I, N) if defined.
Tensor run_forward(const std::vector<Tensor>& v, const Dims& s, Tensor* ckpt, int64_t chunk) {
    Tensor out = Tensor::empty(Shape{s.yn() + s.hn()});
    float* y = out.data();
    float* hl = out.data() + s.yn();
    const int64_t nck = ssm::num_chunks(s.L, chunk);
    float* ck = ckpt ? ckpt->data() : nullptr;
    parallel_for(s.B, seq_grain(s), [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
            ssm::scan_forward(seq_in(v, s, b), y + b * s.L * s.I, hl + b * s.I * s.N,
                              ck ? ck + b * nck * s.I * s.N : nullptr, chunk);
    });
    return out;
}

// [y (B,L,I) ; h_last (B,I,N)] from the packed output, as views (ad::rows shares storage).
ScanOut unpack_forward(const Var& packed, const Dims& s) {
    return {reshape(rows(packed, 0, s.yn()), Shape{s.B, s.L, s.I}),
            reshape(rows(packed, s.yn(), s.yn() + s.hn()), Shape{s.B, s.I, s.N})};
}

// The composite with the fused op's packed layout.
Var packed_composite(const std::vector<Var>& in) {  // u, delta, A, B, C, D, h0
    ScanOut o = selective_scan_composite(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
    return concat({reshape(o.y, Shape{o.y.numel()}), reshape(o.h_last, Shape{o.h_last.numel()})}, 0);
}

// The VJP of the composite, in the fused VJP's packed layout
// [du | ddelta | dB | dC | dh0 | dA | dD]; in = g (packed like the forward), u, delta, A, B, C, D, h0.
Var vjp_composite(const std::vector<Var>& in) {
    std::vector<Var> x(in.begin() + 1, in.end());
    std::vector<Var> g = grad({packed_composite(x)}, x, {.create_graph = true, .grad_outputs = {in[0]}});
    auto flat = [](const Var& v) { return reshape(v, Shape{v.numel()}); };
    return concat({flat(g[0]), flat(g[1]), flat(g[3]), flat(g[4]), flat(g[6]), flat(g[2]), flat(g[5])}, 0);
}

// The fused reverse scan: packed gradients [du | ddelta | dB | dC | dh0 | dA | dD] of
// <g, [y ; h_last]>, g packed like the forward output. `ckpt` = the forward's chunk boundaries (or
// undefined: then a forward pass makes them). Its rule differentiates vjp_composite.
Var selective_scan_vjp(const Var& g, const std::vector<Var>& x, const Tensor& ckpt_in, int64_t chunk) {
    const std::vector<Tensor> v = values_of(x);
    const Dims s{v[0].dim(0), v[0].dim(1), v[0].dim(2), v[2].dim(1)};
    const int64_t nck = ssm::num_chunks(s.L, chunk);
    Tensor ckpt = ckpt_in;
    if (!ckpt.defined()) {
        ckpt = Tensor::empty(Shape{s.B, nck, s.I, s.N});
        run_forward(v, s, &ckpt, chunk);
    }
    const int64_t IN = s.I * s.N;
    Tensor out = Tensor::empty(Shape{2 * s.yn() + 2 * s.bn() + s.hn() + IN + s.I});
    float* du = out.data();
    float* ddelta = du + s.yn();
    float* dB = ddelta + s.yn();
    float* dC = dB + s.bn();
    float* dh0 = dC + s.bn();
    float* dA = dh0 + s.hn();
    float* dD = dA + IN;
    // per-sequence contributions to dA, dD, summed below in a fixed order (thread-count independent)
    std::vector<float> dA_seq(static_cast<std::size_t>(s.B * IN)), dD_seq(static_cast<std::size_t>(s.B * s.I));
    const float* gy = g.value().data();
    const float* ghl = gy + s.yn();
    const float* ck = ckpt.data();
    parallel_for(s.B, seq_grain(s), [&](int64_t b0, int64_t b1) {
        std::vector<float> scratch(ssm::backward_scratch(s.N, chunk));
        for (int64_t b = b0; b < b1; ++b) {
            const int64_t yo = b * s.L * s.I, bo = b * s.L * s.N, ho = b * IN;
            ssm::SeqGrads gr{du + yo, ddelta + yo, dA_seq.data() + ho, dB + bo, dC + bo, dD_seq.data() + b * s.I, dh0 + ho};
            ssm::scan_backward(seq_in(v, s, b), gy + yo, ghl + ho, ck + b * nck * IN, chunk, gr, scratch.data());
        }
    });
    for (int64_t k = 0; k < IN; ++k) {
        float acc = 0.0f;
        for (int64_t b = 0; b < s.B; ++b) acc += dA_seq[static_cast<std::size_t>(b * IN + k)];
        dA[k] = acc;
    }
    for (int64_t d = 0; d < s.I; ++d) {
        float acc = 0.0f;
        for (int64_t b = 0; b < s.B; ++b) acc += dD_seq[static_cast<std::size_t>(b * s.I + d)];
        dD[d] = acc;
    }
    std::vector<Var> inputs{g};
    inputs.insert(inputs.end(), x.begin(), x.end());
    return make_result(std::move(out), std::move(inputs), "selective_scan_vjp",
                       [](const Var& self, const Var& gg) -> Grads {
                           // d <gg, vjp(g, x)> / d (g, x): the same VJP as ad::grad of the composite,
                           // differentiated again (recorded exactly when grad mode is on).
                           return vjp_of(vjp_composite, self.inputs(), gg);
                       });
}

// The fused forward over the batch; packed [y | h_last].
Var selective_scan_packed(const std::vector<Var>& x, const Dims& s, int64_t chunk) {
    const std::vector<Tensor> v = values_of(x);
    bool record = grad_enabled();
    if (record) {
        record = false;
        for (const Var& xi : x) record = record || xi.requires_grad();
    }
    Tensor ckpt;  // (B, chunks, I, N), only when a backward can follow
    if (record) ckpt = Tensor::empty(Shape{s.B, ssm::num_chunks(s.L, chunk), s.I, s.N});
    Tensor out = run_forward(v, s, record ? &ckpt : nullptr, chunk);
    return make_result(std::move(out), x, "selective_scan", [ckpt, chunk](const Var& self, const Var& g) -> Grads {
        const Var& A = self.input(2);
        const Dims s{self.input(0).dim(0), self.input(0).dim(1), self.input(0).dim(2), A.dim(1)};
        Var p = selective_scan_vjp(g, self.inputs(), ckpt, chunk);  // [du | ddelta | dB | dC | dh0 | dA | dD]
        const int64_t o_dB = 2 * s.yn(), o_dC = o_dB + s.bn(), o_dh0 = o_dC + s.bn(), o_dA = o_dh0 + s.hn(),
                      o_dD = o_dA + s.I * s.N;
        const Shape seq{s.B, s.L, s.I}, bc{s.B, s.L, s.N};
        Grads r(7);
        if (self.needs_input_grad(0)) r[0] = reshape(rows(p, 0, s.yn()), seq);
        if (self.needs_input_grad(1)) r[1] = reshape(rows(p, s.yn(), 2 * s.yn()), seq);
        if (self.needs_input_grad(2)) r[2] = reshape(rows(p, o_dA, o_dD), Shape{s.I, s.N});
        if (self.needs_input_grad(3)) r[3] = reshape(rows(p, o_dB, o_dC), bc);
        if (self.needs_input_grad(4)) r[4] = reshape(rows(p, o_dC, o_dh0), bc);
        if (self.needs_input_grad(5)) r[5] = rows(p, o_dD, o_dD + s.I);
        if (self.needs_input_grad(6)) r[6] = reshape(rows(p, o_dh0, o_dA), Shape{s.B, s.I, s.N});
        return r;
    });
}

}  // namespace

ScanOut selective_scan(const Var& u, const Var& delta, const Var& A, const Var& B, const Var& C, const Var& D,
                       const Var& h0, int64_t chunk) {
    const Dims s = check_dims(u, delta, A, B, C, D, h0);
    TT_CHECK(chunk >= 1, "selective_scan: chunk must be >= 1");
    Var h_init = h0.defined() ? h0 : constant(Tensor::zeros(Shape{s.B, s.I, s.N}));
    return unpack_forward(selective_scan_packed({u, delta, A, B, C, D, h_init}, s, chunk), s);
}

ScanOut selective_scan_composite(const Var& u, const Var& delta, const Var& A, const Var& B, const Var& C,
                                 const Var& D, const Var& h0) {
    const Dims s = check_dims(u, delta, A, B, C, D, h0);
    Var h = h0.defined() ? h0 : constant(Tensor::zeros(Shape{s.B, s.I, s.N}));  // (B,I,N)
    Var D_col = reshape(D, Shape{s.I, 1});                                      // (I,1)
    std::vector<Var> ys;
    for (int64_t t = 0; t < s.L; ++t) {
        Var u_t = reshape(slice(u, 1, t, t + 1), Shape{s.B, s.I, 1});       // (B,I,1)
        Var delta_t = reshape(slice(delta, 1, t, t + 1), Shape{s.B, s.I, 1});  // (B,I,1)
        Var B_t = slice(B, 1, t, t + 1);                                     // (B,1,N)
        Var C_t = slice(C, 1, t, t + 1);                                     // (B,1,N)
        Var a_t = exp(mul(delta_t, A));                                      // (B,I,N)
        h = add(mul(a_t, h), mul(mul(delta_t, u_t), B_t));                   // (B,I,N)
        Var y_t = add(sum(mul(h, C_t), -1, true), mul(u_t, D_col));          // (B,I,1)
        ys.push_back(reshape(y_t, Shape{s.B, 1, s.I}));
    }
    return {concat(ys, 1), h};
}

Var delta_softplus(const Var& x) {
    const Tensor& xv = x.value();
    Tensor out = Tensor::empty(xv.shape());
    const float* px = xv.data();
    float* po = out.data();
    parallel_for(xv.numel(), 16384, [&](int64_t i0, int64_t i1) { ssm::softplus(px + i0, po + i0, i1 - i0); });
    return make_result(std::move(out), {x}, "softplus", [](const Var& self, const Var& g) -> Grads {
        return {mul(g, sigmoid(self.input(0)))};  // d softplus = g σ(x)
    });
}

}  // namespace tt::model
