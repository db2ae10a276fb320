// model/ttt.hpp — the TTT layers: TTT-Linear and TTT-MLP (model/TTT.md §1–§5) with the Mamba
// backbone options of model/TTT.md §6.2 (gate, shared Q/K with causal depthwise convolutions,
// pre-conv piece).
//
// The layer is cut as the official ttt.py's TTTBase: projections θ_Q θ_K θ_V θ_O, RoPE on
// Q and K, the learnable inner learning rate lr = base_lr · sigmoid(x·w_h + c_h) / D, the token
// scale τ_i = max(0, 1/(i+1) + δ_i), the inner LN shared with the output, post_norm, gate, o_proj.
// The inner model only supplies a per-mini-batch step (model/ttt_ops.hpp), selectable per layer:
//   InnerLoop::Fast    the dual form with the fused closed-form gradient Φ (default for training);
//   InnerLoop::General the primal form with the inner gradient from nested autodiff.
// Both compute the same function (tests/model/test_ttt.cpp checks outputs and all gradients).
//
// Incremental use: a TTTState holds the inner weights at the start of the current, unfinished
// mini-batch plus that mini-batch's pending inputs, so a sequence can be fed in pieces of any
// length (down to one token) and gives exactly the outputs of the whole-sequence forward. Token i
// of a mini-batch only uses tokens j ≤ i of it (η is causal, model/TTT.md §2.5, §2.10), so re-running a partial
// mini-batch with more tokens never changes the outputs already produced.
//
// Padding must come after the real tokens (right-padding): the layer has no mask (model/TTT.md §6.3).
//
// Legend (model/TTT.md §0): B = batch, T = sequence length, C = width, H = heads, D = head dim
// (C / H), b = TTT mini-batch size (K = tokens in the current one), F = inner MLP width (4D).
#pragma once

#include <string>
#include <vector>

#include "model/module.hpp"
#include "model/ttt_ops.hpp"

namespace tt::model {

enum class InnerModel { Linear, MLP };
enum class InnerLoop { General, Fast };

struct TTTConfig {
    int64_t width = 64;          // C (--dim, RecConfig::dim; ttt.py hidden_size; names: model/TTT.md §0)
    int64_t heads = 4;           // H; head_dim D = C / H must be even (RoPE pairs)
    int64_t mini_batch = 16;     // b (ttt.py mini_batch_size; 16 = its LM default, TTT4Rec uses 8)
    float base_lr = 1.0f;        // ttt_base_lr (1.0 for Linear; the LM uses 0.1 for MLP)
    InnerModel inner = InnerModel::Linear;
    int64_t mlp_expansion = 4;   // TTT-MLP hidden width F = mlp_expansion · D
    InnerLoop loop = InnerLoop::Fast;
    bool use_rope = true;
    float rope_theta = 10000.0f;      // RoPE base (--rope-base): 1000 in TTT4Rec, 10000 in ttt.py and TTT4Rec-FE
    bool rope_mod_mini_batch = true;  // position t mod b (ttt.py) or the absolute t
    bool use_gate = false;       // Mamba backbone: out = gelu_tanh(x θ_g) ⊙ post_norm(·)
    bool share_qk = false;       // Mamba backbone: XQ = conv_q(x θ_Q), XK = conv_k(x θ_Q)
    int64_t conv_kernel = 4;
    float init_range = 0.02f;      // N(0, ·) for q/k/v/o/g projections (initializer_range)
    float ttt_init_range = 0.02f;  // N(0, ·) for W1, W2 and the lr gate weight (a fixed 0.02 in ttt.py)
};

// Causal depthwise Conv1d (groups = C, kernel k, bias), as nn.Conv1d(C, C, k, groups=C,
// padding=k−1)[..., :T]: out[t, c] = bias[c] + Σ_j weight[c, 0, j] · x[t − (k−1) + j, c].
// Used for share_qk inside the layer, and by blocks for the Mamba pre-conv
// (h = h + conv(RMSNorm(h)), model/TTT.md §6.2). Parameters "weight" (C,1,k) and "bias" (C).
struct CausalConv {
    Var weight;  // (C,1,k)
    Var bias;    // (C)
    CausalConv() = default;
    CausalConv(int64_t channels, int64_t kernel, Rng& rng);  // PyTorch default init U(±1/sqrt(k))
    int64_t kernel() const { return weight.shape()[2]; }
    // x (B,T,C); history (B,k−1,C) = the k−1 inputs before x (undefined = zeros, a sequence start).
    Var forward(const Var& x, const Var& history = Var()) const;
    // The history after x: the last k−1 rows of [history; x].  (B,k−1,C)
    Var next_history(const Var& x, const Var& history = Var()) const;
    void parameters(ParamList& out, const std::string& prefix) const;
};

// The carried state of one layer for one batch of sequences.
struct TTTState {
    // Inner weights at the start of the current mini-batch, per (B,H): W1 (B,H,D,D|F), b1
    // (B,H,1,D|F), W2 (B,H,F,D), b2 (B,H,1,D) (W2/b2 only for TTT-MLP).
    Var W1, b1, W2, b2;
    int64_t t = 0;  // tokens consumed so far: the absolute position of the next token
    // Pending inputs of the unfinished mini-batch (P = t mod b tokens; undefined when P = 0):
    Var XQ, XK, XV;  // (B,H,P,D), after RoPE
    Var lr;          // (B,H,1,P)
    Var conv_history;  // share_qk: the last k−1 rows of x θ_Q (B,k−1,C); undefined = zeros
    int64_t pending() const { return XK.defined() ? XK.shape()[2] : 0; }
    InnerParams inner() const { return {W1, b1, W2, b2}; }
    // The same state as constants (no gradient flows back into the past): for online serving.
    TTTState detached() const;
};

struct TTTLayer {
    TTTConfig cfg;
    int64_t head_dim = 0;
    Var q_proj, k_proj, v_proj, o_proj, g_proj;  // PyTorch layout (out, in) = (C,C); k_proj/g_proj optional
    Var learnable_ttt_lr_weight;  // (H,1,C)  w_h
    Var learnable_ttt_lr_bias;    // (H,1)    c_h
    Var learnable_token_idx;      // (b)      δ
    Var ttt_norm_weight;          // (H,D)    γ
    Var ttt_norm_bias;            // (H,D)    β
    Var post_norm_weight, post_norm_bias;  // (C)
    Var W1, b1, W2, b2;           // W0: (H,D,D|F), (H,1,D|F), (H,F,D), (H,1,D)
    CausalConv conv_q, conv_k;    // share_qk only
    // Optional: any other inner model for the general loop, f_res(x, {W1, b1[, W2, b2]}) built from
    // engine ops; W1..b2 then hold its initial state (H, r, c). Empty = TTT-Linear/TTT-MLP by cfg.inner.
    InnerFn custom_f_res;

    TTTLayer() = default;
    TTTLayer(const TTTConfig& cfg, Rng& rng);

    // Names as ttt.py: q_proj.weight, ..., learnable_ttt_lr_weight, W1, b1, post_norm.weight, ...
    void parameters(ParamList& out, const std::string& prefix = "") const;

    // Whole sequences: x (B,T,C), right-padded -> (B,T,C).
    Var forward(const Var& x) const;

    // Incremental: the state of a fresh sequence (W0 tiled over the batch), then any number of
    // pieces x (B,T',C) -> (B,T',C) that advance `state`. forward(x) == pieces concatenated.
    TTTState initial_state(int64_t batch) const;
    Var forward_step(const Var& x, TTTState& state) const;

    // The inner model's residual branch f_res (for the general loop): custom_f_res if set, else
    // ttt_linear_f_res / ttt_mlp_f_res; parameters in the order W1, b1, W2, b2.
    InnerFn inner_fn() const;
};

}  // namespace tt::model
