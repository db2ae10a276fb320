// model/mamba.hpp — the Mamba block (Gu & Dao, arXiv 2312.00752, Fig. 3; the layer mamba_ssm's
// `Mamba` module computes), the sequence mixer of Mamba4Rec, with a streaming API that carries the
// convolution window and the SSM state between calls, so one more event costs O(I·N) whatever the
// length of the history.
//
// For one sequence (t time, d channel, n state; E = d_model, I = expand·E, N = d_state,
// K = d_conv, R = dt_rank = ⌈E/16⌉ by default):
//   [x ; z]   = in_proj(h_t)                          no bias; the first I outputs are x, the last I z
//   xc[t,d]   = c_d + Σ_k w[d,k] x[t−(K−1)+k, d]      causal depthwise conv, x before the start = 0:
//                                                     the last tap w[d,K−1] multiplies x[t]
//   u         = SiLU(xc)
//   [δ̃ ; B ; C] = x_proj(u)                          no bias; split R, N, N in that order
//   Δ         = softplus(dt_proj.weight δ̃ + dt_proj.bias)   the bias is added before softplus
//   y         = selective_scan(u, Δ, A = −exp(A_log), B, C, D)   (model/ssm_ops.hpp)
//   out_t     = out_proj(y ⊙ SiLU(z))                 no bias
//
// Parameter names are mamba_ssm's: in_proj.weight (2I,E), conv1d.weight (I,1,K) (PyTorch's depthwise
// Conv1d layout), conv1d.bias (I), x_proj.weight (R+2N,I), dt_proj.weight (I,R), dt_proj.bias (I),
// A_log (I,N), D (I), out_proj.weight (E,I), so weights exchange with PyTorch through safetensors.
//
// Legend: B = batch, L = sequence length (T' = the length of one streamed piece).
#pragma once

#include <cstdint>
#include <string>

#include "model/layers.hpp"
#include "model/module.hpp"
#include "model/ssm_ops.hpp"
#include "model/ttt.hpp"  // CausalConv

namespace tt::model {

// Official is the default because it is what Mamba4Rec's published numbers were trained from: its
// `_init_weights` re-initialises *every* nn.Linear inside the Mamba block (in_proj, x_proj,
// dt_proj, out_proj) to N(0, 0.02) with zero bias, overwriting Mamba's dt_proj init, so every
// channel starts at Δ = softplus(0) = ln 2. conv1d keeps PyTorch's U(±1/√K), A_log = ln(n+1)
// (S4D-real, A = −(1..N)) and D = 1 are untouched. Mamba is the block's own init (labelled as such
// when used): in/x/out_proj PyTorch Linear default U(±1/√fan_in), dt_proj.weight U(±dt_scale/√R),
// dt_proj.bias = softplus⁻¹(dt) for dt log-uniform in [dt_min, dt_max], floored at dt_init_floor.
enum class MambaInit { Official, Mamba };

struct MambaConfig {
    int64_t d_model = 64;   // E
    int64_t d_state = 32;   // N
    int64_t d_conv = 4;     // K
    int64_t expand = 2;     // I = expand · E
    int64_t dt_rank = 0;    // R; 0 = ⌈E/16⌉
    MambaInit init = MambaInit::Official;
    float init_range = 0.02f;  // Official: std of every Linear weight
    float dt_min = 1e-3f, dt_max = 0.1f, dt_init_floor = 1e-4f, dt_scale = 1.0f;  // Mamba init only
    int64_t scan_chunk = kScanChunk;  // states kept every scan_chunk steps for the backward pass
};

// What a block carries between streamed pieces of a batch of sequences.
struct MambaState {
    Var conv;        // (B,K−1,I): the last K−1 conv inputs (x after in_proj); undefined = zeros
    Var h;           // (B,I,N): the SSM state h[t−1]; undefined = zeros
    int64_t t = 0;   // steps consumed so far
    // The same state as constants (no gradient flows back into the past): for online serving.
    MambaState detached() const;
};

// Intermediates of one forward, for tests and inspection.
struct MambaTrace {
    Var u;      // (B,T',I): SiLU(conv(x))
    Var delta;  // (B,T',I): Δ
    Var y;      // (B,T',I): the scan's output before the gate
};

struct MambaBlock {
    MambaBlock(const MambaConfig& cfg, Rng& rng);

    // Whole sequences from a zero state: x (B,L,E) -> (B,L,E). Causal: output t sees inputs <= t
    // (right padding after a sequence's end does not change its earlier outputs).
    Var forward(const Var& x) const;
    // A piece x (B,T',E) continuing from `st` (a fresh MambaState = a sequence start); updates st.
    // Feeding a sequence piece by piece gives the outputs of forward() on the whole sequence.
    Var forward_step(const Var& x, MambaState& st, MambaTrace* trace = nullptr) const;
    // One event per sequence: x (B,E) -> (B,E); O(I·N) per sequence.
    Var step(const Var& x, MambaState& st) const;

    void parameters(ParamList& out, const std::string& prefix = "") const;

    MambaConfig cfg;
    int64_t d_inner;  // I
    int64_t dt_rank;  // R
    Linear in_proj;     // E -> 2I, no bias
    CausalConv conv1d;  // depthwise, weight (I,1,K), bias (I)
    Linear x_proj;      // I -> R+2N, no bias
    Linear dt_proj;     // R -> I, bias
    Var A_log;          // (I,N)
    Var D;              // (I)
    Linear out_proj;    // I -> E, no bias
};

}  // namespace tt::model
