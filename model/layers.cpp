// model/layers.cpp — see layers.hpp. Every forward is a composition of autodiff ops, so the
// backward (of any order) comes from the ops; nothing here computes a gradient by hand.
#include "model/layers.hpp"

#include <cmath>
#include <vector>

namespace tt::model {

using namespace tt::ad;

// ================================================================================================
// Embedding

Embedding::Embedding(int64_t num_embeddings, int64_t dim, Rng& rng, float init_range, int32_t padding_idx_,
                     bool zero_padding_row)
    : weight(normal_param(Shape{num_embeddings, dim}, rng, init_range)), padding_idx(padding_idx_) {
    if (zero_padding_row && padding_idx >= 0 && padding_idx < num_embeddings) {
        float* row = weight.mutable_value().data() + static_cast<int64_t>(padding_idx) * dim;
        for (int64_t c = 0; c < dim; ++c) row[c] = 0.0f;
    }
}

Var Embedding::forward(const IntTensor& ids) const {
    return gather_rows(weight, ids, padding_idx);  // ids.shape + (C)
}

void Embedding::parameters(ParamList& out, const std::string& prefix) const { add_param(out, prefix, "weight", weight); }

// ================================================================================================
// Linear

Linear::Linear(int64_t in_features, int64_t out_features, Rng& rng, float init_range, bool with_bias)
    : weight(normal_param(Shape{out_features, in_features}, rng, init_range)),
      bias(with_bias ? zeros_param(Shape{out_features}) : Var()) {}

Var Linear::forward(const Var& x) const { return linear(x, weight, bias); }

void Linear::parameters(ParamList& out, const std::string& prefix) const {
    add_param(out, prefix, "weight", weight);
    add_param(out, prefix, "bias", bias);
}

// ================================================================================================
// norms

LayerNorm::LayerNorm(int64_t dim, float eps_) : weight(ones_param(Shape{dim})), bias(zeros_param(Shape{dim})), eps(eps_) {}

Var LayerNorm::forward(const Var& x) const { return layer_norm(x, weight, bias, eps); }

void LayerNorm::parameters(ParamList& out, const std::string& prefix) const {
    add_param(out, prefix, "weight", weight);
    add_param(out, prefix, "bias", bias);
}

RMSNorm::RMSNorm(int64_t dim, float eps_) : weight(ones_param(Shape{dim})), eps(eps_) {}

Var RMSNorm::forward(const Var& x) const { return rms_norm(x, weight, eps); }

void RMSNorm::parameters(ParamList& out, const std::string& prefix) const { add_param(out, prefix, "weight", weight); }

// ================================================================================================
// feed-forward

SwiGLU::SwiGLU(int64_t dim, int64_t hidden, Rng& rng, float init_range)
    : gate_proj(dim, hidden, rng, init_range, false),
      up_proj(dim, hidden, rng, init_range, false),
      down_proj(hidden, dim, rng, init_range, false) {}

Var SwiGLU::forward(const Var& x) const {
    Var gated = swiglu(gate_proj.forward(x), up_proj.forward(x));  // silu(gate) ⊙ up, (..., F)
    return down_proj.forward(gated);                                  // (..., C)
}

void SwiGLU::parameters(ParamList& out, const std::string& prefix) const {
    gate_proj.parameters(out, prefix + "gate_proj.");
    up_proj.parameters(out, prefix + "up_proj.");
    down_proj.parameters(out, prefix + "down_proj.");
}

Dropout::Dropout(float p_) : p(p_) { TT_CHECK(p >= 0.0f && p < 1.0f, "Dropout: p must be in [0, 1), got " + std::to_string(p)); }

Var Dropout::forward(const Var& x, const Ctx& ctx) const {
    if (!ctx.training || p == 0.0f) return x;
    TT_CHECK(ctx.rng != nullptr, "Dropout: training needs ctx.rng (the seeded generator for masks)");
    // The mask drawn and scaled in one pass: 1/(1 − p) where u ~ U[0, 1) is >= p (probability 1 − p),
    // else 0; the inverted scaling keeps E[out] = x. One draw of the run's generator keys a
    // counter-based stream (tensor keep_mask), so the mask is filled in parallel and is the same for
    // any thread count; drawing every element from the sequential generator was a serial pass of
    // ~5% of a one-thread SASRec step, more with two threads.
    const Tensor mask = keep_mask(x.shape(), ctx.rng->next_u64(), p, 1.0f / (1.0f - p));
    return mul(x, constant(std::move(mask)));
}

PointwiseFeedForward::PointwiseFeedForward(int64_t dim, int64_t hidden, Rng& rng, float init_range, Activation act_,
                                           float dropout_p)
    : fc1(dim, hidden, rng, init_range, true), fc2(hidden, dim, rng, init_range, true), act(act_), dropout(dropout_p) {}

Var PointwiseFeedForward::forward(const Var& x, const Ctx& ctx) const {
    Var h = fc1.forward(x);  // (..., F)
    h = act == Activation::ReLU ? relu(h) : gelu_tanh(h);
    return fc2.forward(dropout.forward(h, ctx));  // (..., C)
}

void PointwiseFeedForward::parameters(ParamList& out, const std::string& prefix) const {
    fc1.parameters(out, prefix + "fc1.");
    fc2.parameters(out, prefix + "fc2.");
}

// ================================================================================================
// rotary tables

RopeTables rope_tables(int64_t T, int64_t D, float base, int mod_b) {
    TT_CHECK(D > 0 && D % 2 == 0, "rope_tables: head dim must be even, got " + std::to_string(D));
    const int64_t half = D / 2;
    RopeTables tab{Tensor::empty(Shape{T, half}), Tensor::empty(Shape{T, half})};
    for (int64_t t = 0; t < T; ++t) {
        const int64_t pos = mod_b > 0 ? t % mod_b : t;
        for (int64_t j = 0; j < half; ++j) {
            // NOTE: in double, so the tables are exact to float rounding even for long sequences.
            double inv_freq = std::pow(static_cast<double>(base), -2.0 * static_cast<double>(j) / static_cast<double>(D));
            double angle = static_cast<double>(pos) * inv_freq;
            tab.cos.data()[t * half + j] = static_cast<float>(std::cos(angle));
            tab.sin.data()[t * half + j] = static_cast<float>(std::sin(angle));
        }
    }
    return tab;
}

// ================================================================================================
// attention

Tensor valid_mask(const IntTensor& ids, int32_t padding_idx) {
    Tensor valid = Tensor::empty(ids.shape());
    for (int64_t i = 0; i < ids.numel(); ++i) valid.data()[i] = ids[i] != padding_idx ? 1.0f : 0.0f;
    return valid;
}

namespace {

// hidden[b, 0, i, j] = 1 where query i must not see key j: the future (j > i), or a padding key
// (valid[b, j] == 0) other than the query itself. (B, 1, T, T), broadcast over heads.
Tensor attention_hidden_mask(const Tensor& valid, int64_t B, int64_t T) {
    if (valid.defined())
        TT_CHECK(valid.shape() == (Shape{B, T}), "attention: valid mask " + valid.shape().str() + ", expected (" +
                                                     std::to_string(B) + ", " + std::to_string(T) + ")");
    Tensor hidden = Tensor::empty(Shape{B, 1, T, T});
    float* h = hidden.data();
    for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j) {
                bool padding_key = valid.defined() && valid.data()[b * T + j] == 0.0f;
                h[(b * T + i) * T + j] = (j > i || (padding_key && j != i)) ? 1.0f : 0.0f;
            }
    return hidden;
}

// NOTE: finite, not -inf: exp(-1e9 - max) is exactly 0 in float, and a masked score can never
// produce inf - inf = NaN in the softmax or its backward.
constexpr float kMaskedScore = -1e9f;

}  // namespace

CausalSelfAttention::CausalSelfAttention(int64_t dim, int64_t n_heads_, Rng& rng, float init_range, bool bias,
                                         float attn_dropout_p)
    : n_heads(n_heads_),
      q_proj(dim, dim, rng, init_range, bias),
      k_proj(dim, dim, rng, init_range, bias),
      v_proj(dim, dim, rng, init_range, bias),
      o_proj(dim, dim, rng, init_range, bias),
      attn_dropout(attn_dropout_p) {
    TT_CHECK(n_heads > 0 && dim % n_heads == 0,
             "CausalSelfAttention: width " + std::to_string(dim) + " not divisible by " + std::to_string(n_heads) + " heads");
}

Var CausalSelfAttention::forward(const Var& x, const Tensor& valid, const Ctx& ctx, const RopeTables* rope_tab) const {
    TT_CHECK(x.rank() == 3, "CausalSelfAttention: x must be (B, T, C), got " + x.shape().str());
    const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2), H = n_heads, D = C / H;
    auto split_heads = [&](const Var& y) { return permute(reshape(y, Shape{B, T, H, D}), {0, 2, 1, 3}); };
    Var q = split_heads(q_proj.forward(x));  // (B, H, T, D)
    Var k = split_heads(k_proj.forward(x));  // (B, H, T, D)
    Var v = split_heads(v_proj.forward(x));  // (B, H, T, D)
    if (rope_tab != nullptr) {
        TT_CHECK(rope_tab->cos.rank() == 2 && rope_tab->cos.dim(0) >= T && rope_tab->cos.dim(1) == D / 2,
                 "CausalSelfAttention: rope tables " + rope_tab->cos.shape().str() + " for T = " + std::to_string(T) +
                     ", D = " + std::to_string(D));
        Tensor cos = rope_tab->cos.rows(0, T), sin = rope_tab->sin.rows(0, T);  // (T, D/2), no copy
        q = rope(q, cos, sin);
        k = rope(k, cos, sin);
    }
    Var scores = mul(matmul(q, k, false, true), 1.0f / std::sqrt(static_cast<float>(D)));  // (B, H, T, T)
    scores = masked_fill(scores, attention_hidden_mask(valid, B, T), kMaskedScore);
    Var probs = attn_dropout.forward(softmax(scores), ctx);  // (B, H, T, T)
    Var y = matmul(probs, v);                                // (B, H, T, D)
    y = reshape(permute(y, {0, 2, 1, 3}), Shape{B, T, C});   // heads side by side: (B, T, C)
    return o_proj.forward(y);
}

void CausalSelfAttention::parameters(ParamList& out, const std::string& prefix) const {
    q_proj.parameters(out, prefix + "q_proj.");
    k_proj.parameters(out, prefix + "k_proj.");
    v_proj.parameters(out, prefix + "v_proj.");
    o_proj.parameters(out, prefix + "o_proj.");
}

// ================================================================================================
// Transformer block

Norm::Norm(NormKind kind, int64_t dim, float eps) {
    if (kind == NormKind::LayerNorm)
        ln.emplace(dim, eps);
    else
        rms.emplace(dim, eps);
}

Var Norm::forward(const Var& x) const { return ln ? ln->forward(x) : rms->forward(x); }

void Norm::parameters(ParamList& out, const std::string& prefix) const {
    if (ln) ln->parameters(out, prefix);
    if (rms) rms->parameters(out, prefix);
}

TransformerBlock::TransformerBlock(const TransformerBlockConfig& cfg_, Rng& rng)
    : cfg(cfg_),
      seq_norm(cfg.norm, cfg.dim, cfg.norm_eps),
      attn(cfg.dim, cfg.n_heads, rng, cfg.init_range, cfg.attn_bias, cfg.attn_dropout),
      ffn_norm(cfg.norm, cfg.dim, cfg.norm_eps),
      residual_dropout(cfg.dropout) {
    if (cfg.ffn == FfnKind::SwiGLU)
        swiglu.emplace(cfg.dim, cfg.ffn_hidden, rng, cfg.init_range);
    else
        pointwise.emplace(cfg.dim, cfg.ffn_hidden, rng, cfg.init_range,
                          cfg.ffn == FfnKind::PointwiseReLU ? Activation::ReLU : Activation::GELU, cfg.dropout);
}

Var TransformerBlock::forward(const Var& x, const Tensor& valid, const Ctx& ctx, const RopeTables* rope_tab) const {
    Var a = attn.forward(seq_norm.forward(x), valid, ctx, rope_tab);                         // (B, T, C)
    Var h = add(x, residual_dropout.forward(a, ctx));                                        // (B, T, C)
    Var hn = ffn_norm.forward(h);                                                            // (B, T, C)
    Var f = swiglu ? swiglu->forward(hn) : pointwise->forward(hn, ctx);                      // (B, T, C)
    return add(h, residual_dropout.forward(f, ctx));
}

void TransformerBlock::parameters(ParamList& out, const std::string& prefix) const {
    seq_norm.parameters(out, prefix + "seq_norm.");
    attn.parameters(out, prefix + "attn.");
    ffn_norm.parameters(out, prefix + "ffn_norm.");
    if (swiglu) swiglu->parameters(out, prefix + "ffn.");
    if (pointwise) pointwise->parameters(out, prefix + "ffn.");
}

PositionalEmbedding::PositionalEmbedding(int64_t max_len, int64_t dim, Rng& rng, float init_range)
    : weight(normal_param(Shape{max_len, dim}, rng, init_range)) {}

Var PositionalEmbedding::forward(const Var& x) const {
    TT_CHECK(x.rank() == 3 && x.dim(2) == weight.dim(1) && x.dim(1) <= weight.dim(0),
             "PositionalEmbedding: x " + x.shape().str() + " vs table " + weight.shape().str());
    const int64_t T = x.dim(1);
    Var pos = T == weight.dim(0) ? weight : slice(weight, 0, 0, T);  // (T, C)
    return add(x, pos);                                              // broadcast over B: (B, T, C)
}

void PositionalEmbedding::parameters(ParamList& out, const std::string& prefix) const {
    add_param(out, prefix, "weight", weight);
}

// ================================================================================================
// GRU

GRU::GRU(int64_t input_size, int64_t hidden_size_, Rng& rng, bool bias) : hidden_size(hidden_size_) {
    const float k = 1.0f / std::sqrt(static_cast<float>(hidden_size));
    auto uniform_param = [&](const Shape& s) { return parameter(Tensor::uniform(s, rng, -k, k)); };
    weight_ih = uniform_param(Shape{3 * hidden_size, input_size});
    weight_hh = uniform_param(Shape{3 * hidden_size, hidden_size});
    if (bias) {
        bias_ih = uniform_param(Shape{3 * hidden_size});
        bias_hh = uniform_param(Shape{3 * hidden_size});
    }
}

Var GRU::forward(const Var& x, const Var& h0) const {
    TT_CHECK(x.rank() == 3 && x.dim(2) == weight_ih.dim(1),
             "GRU: x must be (B, T, " + std::to_string(weight_ih.dim(1)) + "), got " + x.shape().str());
    const int64_t B = x.dim(0), T = x.dim(1), H = hidden_size;
    // The input half of every gate does not depend on h: one matmul for all steps, then
    // time-major so that step t is a contiguous slice.
    Var gi = transpose(linear(x, weight_ih, bias_ih), 0, 1);  // (T, B, 3H)
    Var h = h0.defined() ? h0 : constant(Tensor::zeros(Shape{B, H}));
    TT_CHECK(h.shape() == (Shape{B, H}), "GRU: h0 must be (B, H), got " + h.shape().str());
    std::vector<Var> outputs;
    outputs.reserve(static_cast<std::size_t>(T));
    for (int64_t t = 0; t < T; ++t) {
        Var gi_t = reshape(slice(gi, 0, t, t + 1), Shape{B, 3 * H});  // (B, 3H)
        Var gh_t = linear(h, weight_hh, bias_hh);                     // (B, 3H)
        Var r = sigmoid(add(slice(gi_t, 1, 0, H), slice(gh_t, 1, 0, H)));                            // (B, H)
        Var z = sigmoid(add(slice(gi_t, 1, H, 2 * H), slice(gh_t, 1, H, 2 * H)));                    // (B, H)
        Var n = tanh(add(slice(gi_t, 1, 2 * H, 3 * H), mul(r, slice(gh_t, 1, 2 * H, 3 * H))));       // (B, H)
        h = add(n, mul(z, sub(h, n)));  // (1 − z) ⊙ n + z ⊙ h, (B, H)
        outputs.push_back(reshape(h, Shape{1, B, H}));
    }
    return transpose(concat(outputs, 0), 0, 1);  // (B, T, H)
}

void GRU::parameters(ParamList& out, const std::string& prefix) const {
    add_param(out, prefix, "weight_ih", weight_ih);
    add_param(out, prefix, "weight_hh", weight_hh);
    add_param(out, prefix, "bias_ih", bias_ih);
    add_param(out, prefix, "bias_hh", bias_hh);
}

}  // namespace tt::model
