// model/layers.hpp — the standard layers the recommenders are assembled from: embeddings, linear
// maps, norms, feed-forward blocks, dropout, rotary tables, causal self-attention, a pre-norm
// Transformer block, a learned positional embedding and a GRU.
//
// Conventions (model/module.hpp): every layer is a small struct owning its parameters as
// ad::Var leaves, with a constructor taking sizes (+ Rng and init range where it has random
// weights), a `forward(...)` built only from differentiable ops (so every layer is differentiable
// to any order), and `parameters(list, prefix)` listing PyTorch-style names (`weight`, `bias`,
// `q_proj.weight`, ...). Layouts follow PyTorch (Linear weight is (out, in)), so weights can be
// exchanged with reference implementations.
//
// Legend: B = batch, T = sequence length, C = width, H = heads, D = head dim (C / H),
// F = feed-forward hidden width, V = number of items (row 0 = padding).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/functional.hpp"
#include "model/module.hpp"

namespace tt::model {

// ---- Embedding --------------------------------------------------------------------------------
// A (V, C) table looked up by id. Row `padding_idx` (item 0 by default) gets no gradient through
// the lookup. NOTE: the row is initialised like the others (N(0, init_range)), as TTT4Rec's
// `_init_weights` does (model/TTT.md §7.3); pass zero_padding_row = true for PyTorch's nn.Embedding
// default (zero row), which SASRec implementations use.
struct Embedding {
    Embedding(int64_t num_embeddings, int64_t dim, Rng& rng, float init_range = 0.02f, int32_t padding_idx = 0,
              bool zero_padding_row = false);
    Var forward(const IntTensor& ids) const;  // ids (...) -> (..., C)
    void parameters(ParamList& out, const std::string& prefix) const;

    Var weight;  // (V, C)
    int32_t padding_idx;
};

// ---- Linear -----------------------------------------------------------------------------------
// y = x Wᵀ + b; W (out, in) ~ N(0, init_range), b zeros (TTT4Rec / HF `_init_weights`).
struct Linear {
    Linear(int64_t in_features, int64_t out_features, Rng& rng, float init_range = 0.02f, bool bias = true);
    Var forward(const Var& x) const;  // (..., in) -> (..., out)
    void parameters(ParamList& out, const std::string& prefix) const;

    Var weight;  // (out, in)
    Var bias;    // (out), undefined when bias = false
};

// ---- norms ------------------------------------------------------------------------------------
struct LayerNorm {
    explicit LayerNorm(int64_t dim, float eps = 1e-5f);
    Var forward(const Var& x) const;  // (..., C) -> (..., C)
    void parameters(ParamList& out, const std::string& prefix) const;

    Var weight;  // (C) ones
    Var bias;    // (C) zeros
    float eps;
};

struct RMSNorm {
    explicit RMSNorm(int64_t dim, float eps = 1e-6f);
    Var forward(const Var& x) const;  // (..., C) -> (..., C)
    void parameters(ParamList& out, const std::string& prefix) const;

    Var weight;  // (C) ones
    float eps;
};

// ---- feed-forward -----------------------------------------------------------------------------
// SwiGLU(x) = W_down (silu(W_gate x) ⊙ W_up x), no biases (ttt.py SwiGluMLP, model/TTT.md §6.1).
struct SwiGLU {
    SwiGLU(int64_t dim, int64_t hidden, Rng& rng, float init_range = 0.02f);
    Var forward(const Var& x) const;  // (..., C) -> (..., C)
    void parameters(ParamList& out, const std::string& prefix) const;

    Linear gate_proj;  // C -> F
    Linear up_proj;    // C -> F
    Linear down_proj;  // F -> C
};

// ---- Dropout ----------------------------------------------------------------------------------
// Inverted dropout: in training each element is kept with probability 1 − p and scaled by
// 1 / (1 − p), so E[out] = x; in evaluation (or p == 0) it is the identity. The mask is drawn from
// ctx.rng (the trainer's seeded generator) and enters the graph as a constant.
struct Dropout {
    explicit Dropout(float p = 0.0f);
    Var forward(const Var& x, const Ctx& ctx) const;

    float p;
};

// Pointwise feed-forward of SASRec: fc2(dropout(act(fc1 x))), with biases; act = ReLU (the
// original SASRec) or GELU-tanh (BERT4Rec-style).
enum class Activation { ReLU, GELU };
struct PointwiseFeedForward {
    PointwiseFeedForward(int64_t dim, int64_t hidden, Rng& rng, float init_range = 0.02f,
                         Activation act = Activation::ReLU, float dropout = 0.0f);
    Var forward(const Var& x, const Ctx& ctx) const;  // (..., C) -> (..., C)
    void parameters(ParamList& out, const std::string& prefix) const;

    Linear fc1;  // C -> F
    Linear fc2;  // F -> C
    Activation act;
    Dropout dropout;
};

// ---- rotary position embedding ----------------------------------------------------------------
// Tables for ad::rope(x, cos, sin) on interleaved pairs (2j, 2j+1) of the last axis:
// angle[t, j] = p_t · base^(−2j/D) with p_t = t, or t mod b when mod_b > 0 (TTT4Rec restarts the
// positions every TTT mini-batch: pos = t mod b, b = 8 in TTT4Rec, model/TTT.md §2.2).
struct RopeTables {
    Tensor cos;  // (T, D/2)
    Tensor sin;  // (T, D/2)
};
RopeTables rope_tables(int64_t T, int64_t D, float base, int mod_b = 0);

// ---- attention --------------------------------------------------------------------------------
// Key mask from ids: (B, T) with 1 where ids != padding_idx (a real item), 0 at padding.
Tensor valid_mask(const IntTensor& ids, int32_t padding_idx = 0);

// Causal multi-head self-attention: softmax(q kᵀ / √D + mask) v, heads concatenated, o_proj.
// Key j is visible to query i iff j <= i and key j is a real token. NOTE: the diagonal is always
// visible, so a query at a padding position still has one key and never turns into 0/0 = NaN;
// its output is meaningless and left for the caller to ignore (or zero, as SASRec does).
struct CausalSelfAttention {
    CausalSelfAttention(int64_t dim, int64_t n_heads, Rng& rng, float init_range = 0.02f, bool bias = true,
                        float attn_dropout = 0.0f);
    // x (B, T, C); valid (B, T) from valid_mask(), or undefined = no padding; rope: optional
    // tables (>= T rows, D/2) whose first T rows rotate q and k of every head. -> (B, T, C)
    Var forward(const Var& x, const Tensor& valid, const Ctx& ctx, const RopeTables* rope = nullptr) const;
    void parameters(ParamList& out, const std::string& prefix) const;

    int64_t n_heads;
    Linear q_proj, k_proj, v_proj, o_proj;  // C -> C each
    Dropout attn_dropout;                   // on the attention probabilities
};

// ---- Transformer block ------------------------------------------------------------------------
enum class NormKind { LayerNorm, RMSNorm };
enum class FfnKind { SwiGLU, PointwiseReLU, PointwiseGELU };

// LayerNorm or RMSNorm, chosen at construction (parameter names `weight` [, `bias`]).
struct Norm {
    Norm(NormKind kind, int64_t dim, float eps);
    Var forward(const Var& x) const;
    void parameters(ParamList& out, const std::string& prefix) const;

    std::optional<LayerNorm> ln;  // NormKind::LayerNorm
    std::optional<RMSNorm> rms;   // NormKind::RMSNorm
};

struct TransformerBlockConfig {
    int64_t dim = 64;
    int64_t n_heads = 2;
    int64_t ffn_hidden = 256;
    FfnKind ffn = FfnKind::SwiGLU;
    NormKind norm = NormKind::RMSNorm;
    float norm_eps = 1e-6f;
    float dropout = 0.0f;       // on each residual branch, and inside the pointwise FFN
    float attn_dropout = 0.0f;  // on the attention probabilities
    bool attn_bias = true;      // q/k/v/o biases
    float init_range = 0.02f;
};

// Pre-norm block (ttt.py Block with attention as the sequence mixer):
//   x = x + drop(attn(seq_norm(x)));   x = x + drop(ffn(ffn_norm(x)))
// Parameter names: seq_norm.*, attn.{q,k,v,o}_proj.*, ffn_norm.*, ffn.{gate,up,down}_proj.* or ffn.fc{1,2}.*
struct TransformerBlock {
    TransformerBlock(const TransformerBlockConfig& cfg, Rng& rng);
    // x (B, T, C), valid (B, T) or undefined -> (B, T, C)
    Var forward(const Var& x, const Tensor& valid, const Ctx& ctx, const RopeTables* rope = nullptr) const;
    void parameters(ParamList& out, const std::string& prefix) const;

    TransformerBlockConfig cfg;
    Norm seq_norm;
    CausalSelfAttention attn;
    Norm ffn_norm;
    std::optional<SwiGLU> swiglu;                   // cfg.ffn == SwiGLU
    std::optional<PointwiseFeedForward> pointwise;  // cfg.ffn == Pointwise*
    Dropout residual_dropout;
};

// Learned absolute positions (SASRec): weight (L, C) ~ N(0, init_range); forward adds rows 0..T-1.
struct PositionalEmbedding {
    PositionalEmbedding(int64_t max_len, int64_t dim, Rng& rng, float init_range = 0.02f);
    Var forward(const Var& x) const;  // x (B, T, C), T <= L -> x + weight[:T]
    void parameters(ParamList& out, const std::string& prefix) const;

    Var weight;  // (L, C)
};

// ---- GRU --------------------------------------------------------------------------------------
// One GRU layer with PyTorch's gate layout (rows of the weights: r, z, n):
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)
//   z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//   h' = (1 − z) ⊙ n + z ⊙ h
// Init as PyTorch: every weight and bias ~ U(−1/√H, 1/√H). bias = false as in RecBole's GRU4Rec.
// Sequences are right-padded: outputs past a sequence's length are computed but to be ignored.
struct GRU {
    GRU(int64_t input_size, int64_t hidden_size, Rng& rng, bool bias = true);
    // x (B, T, in), h0 (B, H) or undefined = zeros -> (B, T, H)
    Var forward(const Var& x, const Var& h0 = Var()) const;
    void parameters(ParamList& out, const std::string& prefix) const;

    int64_t hidden_size;
    Var weight_ih;  // (3H, in)
    Var weight_hh;  // (3H, H)
    Var bias_ih;    // (3H) or undefined
    Var bias_hh;    // (3H) or undefined
};

}  // namespace tt::model
