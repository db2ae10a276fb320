// model/ssm_ops.hpp — the selective scan of Mamba (Gu & Dao, "Mamba: Linear-Time Sequence Modeling
// with Selective State Spaces", arXiv 2312.00752, §3 and Algorithm 2) as engine ops: one fused op
// (SIMD kernel) whose backward rule is another fused op (a reverse scan), whose own rule
// differentiates the same scan written with primitive ops, so the scan has derivatives of every order.
//
// The math (the semantics of mamba_ssm's selective_scan_ref with a real, input-independent A, Δ
// already passed through softplus and no delta bias; B and C shared by all channels, one group):
//
//   a[t,d,n] = exp(Δ[t,d] A[d,n])                  zero-order hold of the continuous A
//   h[t,d,n] = a[t,d,n] h[t−1,d,n] + Δ[t,d] B[t,n] u[t,d],   h[−1] = h0 (zeros by default)
//   y[t,d]   = Σ_n C[t,n] h[t,d,n] + D[d] u[t,d]
//
// (Euler step on B.) The final state h[L−1] is an output too, and h0 an input, so a sequence can be
// scanned in pieces (streaming: feed the state of one piece into the next).
//
// Reverse mode, with incoming gradients g_y[t,d] and g_hL[d,n] (of h[L−1]): the gradient reaching
// h[t] is   g_h[t] = g_y[t,d] C[t,n] + a[t+1] g_h[t+1],   g_h[L−1] = g_y[L−1] C[L−1] + g_hL,
// and then, summing over what each quantity does not depend on:
//   ∂Δ[t,d] = Σ_n g_h[t] (h[t−1] a[t] A[d,n] + B[t,n] u[t,d])
//   ∂A[d,n] = Σ_t g_h[t] h[t−1] a[t] Δ[t,d]             (and over the batch)
//   ∂B[t,n] = Σ_d g_h[t] Δ[t,d] u[t,d]
//   ∂C[t,n] = Σ_d g_y[t,d] h[t,d,n]
//   ∂u[t,d] = g_y[t,d] D[d] + Δ[t,d] Σ_n g_h[t] B[t,n]
//   ∂D[d]   = Σ_t g_y[t,d] u[t,d]                        (and over the batch)
//   ∂h0     = a[0] g_h[0]
//
// Memory: the reverse pass needs h[t−1] at every step, B·L·I·N floats (1.7 GB for one layer at
// B 2048, L 50, I 128, N 32). The forward keeps h only at chunk boundaries (every `chunk` steps,
// 16 by default) and the reverse pass recomputes the states of one chunk at a time from its
// boundary, going forward: cheap (one exp and two multiply-adds per element). It never runs the
// recurrence backwards (h[t−1] = (h[t] − ΔBu) / a): a = exp(ΔA) underflows to 0 for large Δ|A|.
//
// Why Δ and not (δ_raw, b_dt): softplus(δ_raw + b_dt) is a cheap elementwise op on (B,L,I) that
// the engine already differentiates (delta_softplus below); keeping it outside makes the scan op
// exactly the recurrence above, and the same op serves a caller with another Δ parametrisation.
// The gate y·SiLU(z) stays outside for the same reason (ad::swiglu).
//
// Legend: B = batch, L = time steps, I = channels (d_inner), N = state size (d_state).
#pragma once

#include <cstddef>
#include <cstdint>

#include "autodiff/grad.hpp"
#include "autodiff/ops.hpp"

namespace tt::model {

using ad::Var;

// The forward keeps the state every kScanChunk steps; the reverse pass recomputes in between.
constexpr int64_t kScanChunk = 16;

struct ScanOut {
    Var y;       // (B,L,I)
    Var h_last;  // (B,I,N): h[L−1], the state to continue from
};

// The fused selective scan. u, delta (B,L,I); A (I,N); B, C (B,L,N); D (I); h0 (B,I,N) or undefined
// (zeros). chunk = steps between stored states (1 = store every state, no recompute). Differentiable
// to any order in every input; the first-order backward is one fused reverse-scan kernel.
ScanOut selective_scan(const Var& u, const Var& delta, const Var& A, const Var& B, const Var& C, const Var& D,
                       const Var& h0 = Var(), int64_t chunk = kScanChunk);

// The same function as a plain composition of primitive ops (a loop over t of mul / exp / add / sum
// on (B,I,N) tensors): the reference the fused op is tested against, and what the fused VJP's own
// backward rule differentiates. Stores every state (B·L·I·N), so keep it for tests and second order.
ScanOut selective_scan_composite(const Var& u, const Var& delta, const Var& A, const Var& B, const Var& C,
                                 const Var& D, const Var& h0 = Var());

// softplus(x) = log(1 + e^x) as one op (stable form max(x,0) + log1p(e^−|x|)), rule g·σ(x): Mamba's
// Δ = softplus(δ_raw + b_dt). (Named after mamba_ssm's delta_softplus flag.)
Var delta_softplus(const Var& x);

// ---- kernels for one sequence (tested directly against their _ref twins) -----------------------
namespace ssm {

// Row-major pointers of one sequence: u, delta (L,I); A (I,N); B, C (L,N); D (I); h0 (I,N) (nullptr
// = zeros).
struct SeqIn {
    const float *u, *delta, *A, *B, *C, *D, *h0;
    int64_t L, I, N;
};

// Gradients of one sequence, written (not accumulated): du, ddelta (L,I); dA (I,N) and dD (I) are
// this sequence's contributions (the op sums them over the batch); dB, dC (L,N); dh0 (I,N).
struct SeqGrads {
    float *du, *ddelta, *dA, *dB, *dC, *dD, *dh0;
};

inline int64_t num_chunks(int64_t L, int64_t chunk) { return (L + chunk - 1) / chunk; }
// Floats of scratch scan_backward needs: the states and decays of one chunk for one channel.
inline std::size_t backward_scratch(int64_t N, int64_t chunk) {
    return static_cast<std::size_t>((2 * chunk + 1) * N);
}

// y (L,I) and h_last (I,N); ckpt (num_chunks, I, N) or nullptr: ckpt[c] = the state before step
// c·chunk. SIMD over N (xsimd).
void scan_forward(const SeqIn& in, float* y, float* h_last, float* ckpt, int64_t chunk);
// Scalar twin, written out plainly (no checkpoints).
void scan_forward_ref(const SeqIn& in, float* y, float* h_last);

// The reverse scan: gy (L,I), gh_last (I,N) (nullptr = zeros); ckpt from scan_forward with the same
// chunk; scratch of backward_scratch(N, chunk) floats. SIMD over N.
void scan_backward(const SeqIn& in, const float* gy, const float* gh_last, const float* ckpt, int64_t chunk,
                   const SeqGrads& out, float* scratch);
// Scalar twin: stores every state (no checkpoints, no recompute), a plain reverse loop.
void scan_backward_ref(const SeqIn& in, const float* gy, const float* gh_last, const SeqGrads& out);

// out[i] = softplus(x[i]) = max(x, 0) + log1p(exp(−|x|)) (SIMD), and its scalar twin.
void softplus(const float* x, float* out, int64_t n);
void softplus_ref(const float* x, float* out, int64_t n);

}  // namespace ssm

}  // namespace tt::model
