// model/ttt_ops.hpp — the inner loop of the TTT layers, per mini-batch ("chunk"), in two forms
// that compute the same function (model/TTT.md §2–§5):
//
//   fast    : the dual form (§3) built from batched matmuls over (B, H) with tril masks, and
//             the closed-form inner gradient Φ = ln_fused_l2_grad (§4.1) as ONE fused op whose
//             backward rule is the §4.2 VJP written with differentiable ops (so second order works).
//   general : the primal form (§2.7, §5.2): every token's weights W_i are materialised, and the inner
//             gradient is computed by the engine itself (ad::inner_grad, nested autodiff) for any
//             inner model f_res built from engine ops.
//
// Both take the state at the start of the mini-batch and return the chunk's outputs and the state
// at its last token, so the layer (model/ttt.hpp) can scan over mini-batches.
//
// Legend: B = batch, H = heads, K = tokens in this mini-batch (b, or fewer for the last one),
// D = head dim, F = hidden width of the inner MLP (4D). Inner state tensors are per (B, H):
// W1 (B,H,D,D) b1 (B,H,1,D) for TTT-Linear; W1 (B,H,D,F) b1 (B,H,1,F) W2 (B,H,F,D) b2 (B,H,1,D)
// for TTT-MLP. Row-vector convention: z = x W + b.
#pragma once

#include <functional>
#include <vector>

#include "autodiff/grad.hpp"
#include "autodiff/ops.hpp"

namespace tt::model {

using ad::Var;

// LayerNorm eps of the TTT inner norm (ttt.py ln_fwd / ln_fused_l2_bwd), model/TTT.md §2.6.
constexpr float kTTTNormEps = 1e-6f;

// Φ(Z, target; γ, β) = d/dZ of ½‖LN(Z) − target‖² per row (last axis), model/TTT.md §4.1:
//   ẑ = (Z − μ)/σ, σ = sqrt(var_biased + eps), ĝ = (γ ẑ + β − target) ⊙ γ,
//   Φ = (ĝ − mean(ĝ) − ẑ · mean(ĝ ⊙ ẑ)) / σ.
// Z, target (..., D); gamma, beta broadcastable to Z (e.g. (H,1,D) against (B,H,K,D)).
// One fused kernel forward; backward = the §4.2 VJP in differentiable ops (any order).
Var ln_fused_l2_grad(const Var& Z, const Var& target, const Var& gamma, const Var& beta, float eps = kTTTNormEps);

// gelu_tanh'(x) (ttt.py gelu_bwd) is the engine op ad::gelu_tanh_grad (one kernel, and its rule
// one kernel too: the dual form below differentiates it in every training step).

// The inner model's state, per (B, H) (or any leading dims): W2/b2 undefined for TTT-Linear.
struct InnerParams {
    Var W1, b1, W2, b2;
    std::vector<Var> list() const;                         // the defined ones, in order W1 b1 W2 b2
    static InnerParams from(const std::vector<Var>& list);  // inverse of list()
};

// Outputs of one mini-batch and the inner state after its last token (model/TTT.md §2.7: W⁽ⁿ⁺¹⁾ = W_{last}).
struct ChunkOut {
    Var O;             // (B,H,K,D): q + LN(f_res(q; W_i)) for every token i of the chunk
    InnerParams next;  // state after the chunk
};

// Inputs of one mini-batch. The step sizes are η[i, j] = τ_i · lr_j (model/TTT.md §2.5).
struct ChunkIn {
    Var XQ, XK, XV;     // (B,H,K,D), RoPE already applied to XQ and XK
    Var lr;             // (B,H,1,K): base_lr · sigmoid(x_j·w_h + c_h) / D  (§2.3)
    Var tau;            // (K,1): max(0, 1/(i+1) + δ_i)                     (§2.4)
    Var gamma, beta;    // (H,1,D): the inner LN, shared with the output LN (§2.6)
    float eps = kTTTNormEps;
};

// ---- fast: dual form (§3) -----------------------------------------------------------------------
ChunkOut ttt_linear_dual_chunk(const InnerParams& s, const ChunkIn& in);
ChunkOut ttt_mlp_dual_chunk(const InnerParams& s, const ChunkIn& in);

// ---- general: primal form with the inner gradient from nested autodiff (§5.2) -------------------
// f_res(x, params): the inner model's residual branch. x (..., N, D) and params with the same
// leading dims (..., r, c); must be built from engine ops. Used with leading dims (B,H,K) and
// N = 1, i.e. one set of weights per token.
using InnerFn = std::function<Var(const Var& x, const std::vector<Var>& params)>;
Var ttt_linear_f_res(const Var& x, const std::vector<Var>& p);  // x W1 + b1
Var ttt_mlp_f_res(const Var& x, const std::vector<Var>& p);     // gelu_tanh(x W1 + b1) W2 + b2

// Per mini-batch: per-token gradients g_j = lr_j ∇ℓ_j(W⁽ⁿ⁾) from grad(Σ_j lr_j ℓ_j, W expanded per
// token, create_graph), then W_i = W⁽ⁿ⁾ − τ_i Σ_{j≤i} g_j and o_i = q_i + LN(f_res(q_i; W_i)).
// `state` holds (B,H,r,c) tensors in f_res's parameter order.
struct GeneralChunkOut {
    Var O;                    // (B,H,K,D)
    std::vector<Var> next;    // (B,H,r,c) each
};
GeneralChunkOut ttt_general_chunk(const InnerFn& f_res, const std::vector<Var>& state, const ChunkIn& in);

}  // namespace tt::model
