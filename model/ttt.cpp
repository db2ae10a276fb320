// model/ttt.cpp — see ttt.hpp. The outer-loop parts of the TTT layer (model/TTT.md §2.1–§2.5 and
// §2.8–§2.10, §6.2); the inner loop per mini-batch is in ttt_ops.cpp.
#include "model/ttt.hpp"

#include <cmath>

#include "model/functional.hpp"

namespace tt::model {

using namespace tt::ad;

namespace {

// Interleaved-pair RoPE tables for the positions of tokens [t0, t0+T) (model/TTT.md §2.2): angle
// p · θ^(−2j/D), p = t mod b (ttt.py: position_ids % mini_batch_size) or the absolute t.
// cos, sin (T, D/2). The same tables as model/layers.hpp rope_tables(T, D, base, mod_b), which
// always starts at position 0; this one starts at t0, for forward_step's pieces.
std::pair<Tensor, Tensor> rope_tables(int64_t t0, int64_t T, int64_t D, float theta, int64_t mod) {
    const int64_t half = D / 2;
    Tensor cos = Tensor::empty(Shape{T, half}), sin = Tensor::empty(Shape{T, half});
    for (int64_t i = 0; i < T; ++i) {
        const int64_t p = mod > 0 ? (t0 + i) % mod : t0 + i;
        for (int64_t j = 0; j < half; ++j) {
            const double inv_freq = std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(j) / static_cast<double>(D));
            const double a = static_cast<double>(p) * inv_freq;
            cos.data()[i * half + j] = static_cast<float>(std::cos(a));
            sin.data()[i * half + j] = static_cast<float>(std::sin(a));
        }
    }
    return {cos, sin};
}

// W0 (H,r,c) tiled over the batch: (B,H,r,c). Tiling is a broadcast, so the gradients of all
// sequences sum into W0 (model/TTT.md §1: W0 is a learnable outer-loop parameter shared by all sequences).
Var tile(const Var& p, int64_t B) {
    if (!p.defined()) return Var();
    const Shape& s = p.shape();
    return broadcast_to(reshape(p, Shape{1, s[0], s[1], s[2]}), Shape{B, s[0], s[1], s[2]});
}

Var detach(const Var& v) { return v.defined() ? constant(v.value()) : Var(); }

}  // namespace

// ================================================================================================
// CausalConv

CausalConv::CausalConv(int64_t channels, int64_t kernel, Rng& rng) {
    TT_CHECK(channels > 0 && kernel >= 2, "CausalConv: need channels > 0 and kernel >= 2");
    // nn.Conv1d default init: U(±1/sqrt(fan_in)), fan_in = (C/groups)·k = k.
    const float bound = 1.0f / std::sqrt(static_cast<float>(kernel));
    weight = ad::parameter(Tensor::uniform(Shape{channels, 1, kernel}, rng, -bound, bound));
    bias = ad::parameter(Tensor::uniform(Shape{channels}, rng, -bound, bound));
}

namespace {
// [history; x] with zeros for a missing history.  (B, k−1+T, C)
Var padded_input(const Var& x, const Var& history, int64_t k) {
    const int64_t B = x.shape()[0], C = x.shape()[2];
    Var h = history.defined() ? history : constant(Tensor::zeros(Shape{B, k - 1, C}));
    TT_CHECK(h.shape() == Shape({B, k - 1, C}), "CausalConv: history " + h.shape().str() + " for x " + x.shape().str());
    return concat({h, x}, 1);
}
}  // namespace

Var CausalConv::forward(const Var& x, const Var& history) const {
    TT_CHECK(x.rank() == 3 && x.shape()[2] == weight.shape()[0],
             "CausalConv: x must be (B,T,C) with C = " + std::to_string(weight.shape()[0]) + ", got " + x.shape().str());
    const int64_t k = kernel(), T = x.shape()[1], C = x.shape()[2];
    Var xp = padded_input(x, history, k);              // (B,T+k−1,C)
    Var w = reshape(weight, Shape{C, k});              // (C,k)
    Var y = mul(slice(xp, 1, 0, T), reshape(slice(w, 1, 0, 1), Shape{C}));  // (B,T,C)
    for (int64_t j = 1; j < k; ++j) y = add(y, mul(slice(xp, 1, j, j + T), reshape(slice(w, 1, j, j + 1), Shape{C})));
    return add(y, bias);
}

Var CausalConv::next_history(const Var& x, const Var& history) const {
    const int64_t k = kernel(), T = x.shape()[1];
    return slice(padded_input(x, history, k), 1, T, T + k - 1);  // (B,k−1,C)
}

void CausalConv::parameters(ParamList& out, const std::string& prefix) const {
    add_param(out, prefix, "weight", weight);
    add_param(out, prefix, "bias", bias);
}

// ================================================================================================
// TTTState

TTTState TTTState::detached() const {
    TTTState s;
    s.W1 = detach(W1);
    s.b1 = detach(b1);
    s.W2 = detach(W2);
    s.b2 = detach(b2);
    s.t = t;
    s.XQ = detach(XQ);
    s.XK = detach(XK);
    s.XV = detach(XV);
    s.lr = detach(lr);
    s.conv_history = detach(conv_history);
    return s;
}

// ================================================================================================
// TTTLayer

TTTLayer::TTTLayer(const TTTConfig& c, Rng& rng) : cfg(c) {
    const int64_t C = c.width, H = c.heads, b = c.mini_batch;
    TT_CHECK(C > 0 && H > 0 && C % H == 0, "TTTLayer: width must be a positive multiple of heads");
    TT_CHECK(b >= 1, "TTTLayer: mini_batch must be >= 1");
    head_dim = C / H;
    const int64_t D = head_dim;
    TT_CHECK(!c.use_rope || D % 2 == 0, "TTTLayer: RoPE needs an even head dim");
    // model/TTT.md §1: projections N(0, initializer_range); the TTT-specific ones as in ttt.py.
    q_proj = normal_param(Shape{C, C}, rng, c.init_range);
    if (!c.share_qk) k_proj = normal_param(Shape{C, C}, rng, c.init_range);
    v_proj = normal_param(Shape{C, C}, rng, c.init_range);
    o_proj = normal_param(Shape{C, C}, rng, c.init_range);
    if (c.use_gate) g_proj = normal_param(Shape{C, C}, rng, c.init_range);
    if (c.share_qk) {
        conv_q = CausalConv(C, c.conv_kernel, rng);
        conv_k = CausalConv(C, c.conv_kernel, rng);
    }
    learnable_ttt_lr_weight = normal_param(Shape{H, 1, C}, rng, c.ttt_init_range);
    learnable_ttt_lr_bias = zeros_param(Shape{H, 1});
    learnable_token_idx = zeros_param(Shape{b});
    ttt_norm_weight = ones_param(Shape{H, D});
    ttt_norm_bias = zeros_param(Shape{H, D});
    post_norm_weight = ones_param(Shape{C});
    post_norm_bias = zeros_param(Shape{C});
    if (c.inner == InnerModel::Linear) {
        W1 = normal_param(Shape{H, D, D}, rng, c.ttt_init_range);
        b1 = zeros_param(Shape{H, 1, D});
    } else {
        const int64_t F = c.mlp_expansion * D;
        W1 = normal_param(Shape{H, D, F}, rng, c.ttt_init_range);
        b1 = zeros_param(Shape{H, 1, F});
        W2 = normal_param(Shape{H, F, D}, rng, c.ttt_init_range);
        b2 = zeros_param(Shape{H, 1, D});
    }
}

void TTTLayer::parameters(ParamList& out, const std::string& prefix) const {
    add_param(out, prefix, "q_proj.weight", q_proj);
    add_param(out, prefix, "k_proj.weight", k_proj);
    add_param(out, prefix, "v_proj.weight", v_proj);
    add_param(out, prefix, "o_proj.weight", o_proj);
    add_param(out, prefix, "g_proj.weight", g_proj);
    if (cfg.share_qk) {
        conv_q.parameters(out, prefix + "conv_q.");
        conv_k.parameters(out, prefix + "conv_k.");
    }
    add_param(out, prefix, "learnable_ttt_lr_weight", learnable_ttt_lr_weight);
    add_param(out, prefix, "learnable_ttt_lr_bias", learnable_ttt_lr_bias);
    add_param(out, prefix, "learnable_token_idx", learnable_token_idx);
    add_param(out, prefix, "ttt_norm_weight", ttt_norm_weight);
    add_param(out, prefix, "ttt_norm_bias", ttt_norm_bias);
    add_param(out, prefix, "post_norm.weight", post_norm_weight);
    add_param(out, prefix, "post_norm.bias", post_norm_bias);
    add_param(out, prefix, "W1", W1);
    add_param(out, prefix, "b1", b1);
    add_param(out, prefix, "W2", W2);
    add_param(out, prefix, "b2", b2);
}

InnerFn TTTLayer::inner_fn() const {
    if (custom_f_res) return custom_f_res;
    return cfg.inner == InnerModel::Linear ? InnerFn(ttt_linear_f_res) : InnerFn(ttt_mlp_f_res);
}

TTTState TTTLayer::initial_state(int64_t batch) const {
    TTTState s;
    s.W1 = tile(W1, batch);  // (B,H,D,D|F)
    s.b1 = tile(b1, batch);  // (B,H,1,D|F)
    s.W2 = tile(W2, batch);  // (B,H,F,D)
    s.b2 = tile(b2, batch);  // (B,H,1,D)
    return s;
}

Var TTTLayer::forward(const Var& x) const {
    TTTState s = initial_state(x.shape()[0]);
    return forward_step(x, s);
}

Var TTTLayer::forward_step(const Var& x, TTTState& st) const {
    const int64_t C = cfg.width, H = cfg.heads, D = head_dim, b = cfg.mini_batch;
    TT_CHECK(x.rank() == 3 && x.shape()[2] == C,
             "TTTLayer: x must be (B,T," + std::to_string(C) + "), got " + x.shape().str());
    const int64_t B = x.shape()[0], T = x.shape()[1];
    TT_CHECK(st.W1.defined() && st.W1.shape()[0] == B, "TTTLayer: state is not for a batch of " + std::to_string(B));
    if (T == 0) return x;

    // 1. projections (model/TTT.md §2.1; §6.2 share_qk: one θ_Q and two causal depthwise convolutions)
    Var XQ_lin = linear(x, q_proj);  // (B,T,C)
    Var XQ_c, XK_c;
    if (cfg.share_qk) {
        XQ_c = conv_q.forward(XQ_lin, st.conv_history);  // (B,T,C)
        XK_c = conv_k.forward(XQ_lin, st.conv_history);  // (B,T,C)
        st.conv_history = conv_q.next_history(XQ_lin, st.conv_history);
    } else {
        XQ_c = XQ_lin;
        XK_c = linear(x, k_proj);  // (B,T,C)
    }
    Var XV_c = linear(x, v_proj);  // (B,T,C)
    auto split_heads = [&](const Var& v) { return permute(reshape(v, Shape{B, T, H, D}), {0, 2, 1, 3}); };
    Var XQ = split_heads(XQ_c);  // (B,H,T,D)
    Var XK = split_heads(XK_c);  // (B,H,T,D)
    Var XV = split_heads(XV_c);  // (B,H,T,D)

    // 2. RoPE on Q and K at the absolute positions of this piece (mod b, §2.2)
    if (cfg.use_rope) {
        auto [cos, sin] = rope_tables(st.t, T, D, cfg.rope_theta, cfg.rope_mod_mini_batch ? b : 0);
        XQ = rope(XQ, cos, sin);
        XK = rope(XK, cos, sin);
    }

    // 3. inner learning rate from the full-width input, lr = base_lr · sigmoid(x·w_h + c_h) / D (§2.3)
    Var logits = add(matmul(x, reshape(learnable_ttt_lr_weight, Shape{H, C}), false, true),
                     reshape(learnable_ttt_lr_bias, Shape{H}));                       // (B,T,H)
    Var lr = mul(sigmoid(logits), cfg.base_lr / static_cast<float>(D));               // (B,T,H)
    lr = reshape(permute(lr, {0, 2, 1}), Shape{B, H, 1, T});                          // (B,H,1,T)

    // 4. token scale τ_i = max(0, 1/(i+1) + δ_i) (§2.4)
    Tensor token_idx = Tensor::empty(Shape{b});
    for (int64_t i = 0; i < b; ++i) token_idx.data()[i] = 1.0f / static_cast<float>(i + 1);
    Var tau = reshape(relu(add(learnable_token_idx, constant(token_idx))), Shape{b, 1});  // (b,1)

    // 5. the unfinished mini-batch of earlier pieces is recomputed together with the new tokens (§2.10)
    const int64_t P = st.pending(), N = P + T;
    if (P > 0) {
        XQ = concat({st.XQ, XQ}, 2);  // (B,H,N,D)
        XK = concat({st.XK, XK}, 2);
        XV = concat({st.XV, XV}, 2);
        lr = concat({st.lr, lr}, 3);  // (B,H,1,N)
    }
    Var gamma = reshape(ttt_norm_weight, Shape{H, 1, D});  // (H,1,D)
    Var beta = reshape(ttt_norm_bias, Shape{H, 1, D});     // (H,1,D)

    // 6. mini-batch TTT: scan over mini-batches carrying the inner state (§2.5–§2.8, §2.10)
    InnerParams s = st.inner();
    std::vector<Var> outs;
    st.XQ = st.XK = st.XV = st.lr = Var();
    for (int64_t s0 = 0; s0 < N; s0 += b) {
        const int64_t K = std::min(b, N - s0);
        auto part = [&](const Var& v, int axis) { return K == N ? v : slice(v, axis, s0, s0 + K); };
        ChunkIn in{part(XQ, 2), part(XK, 2), part(XV, 2), part(lr, 3), K == b ? tau : slice(tau, 0, 0, K),
                   gamma, beta, kTTTNormEps};
        ChunkOut r;
        if (cfg.loop == InnerLoop::Fast && !custom_f_res) {
            r = cfg.inner == InnerModel::Linear ? ttt_linear_dual_chunk(s, in) : ttt_mlp_dual_chunk(s, in);
        } else {
            GeneralChunkOut g = ttt_general_chunk(inner_fn(), s.list(), in);
            r = {g.O, InnerParams::from(g.next)};
        }
        outs.push_back(r.O);  // (B,H,K,D)
        if (K == b) {
            s = r.next;  // a finished mini-batch: W⁽ⁿ⁺¹⁾
        } else {         // unfinished: keep W⁽ⁿ⁾ and its inputs for the next piece
            st.XQ = in.XQ;
            st.XK = in.XK;
            st.XV = in.XV;
            st.lr = in.lr;
        }
    }
    st.W1 = s.W1;
    st.b1 = s.b1;
    st.W2 = s.W2;
    st.b2 = s.b2;
    st.t += T;

    Var O = outs.size() == 1 ? outs[0] : concat(outs, 2);  // (B,H,N,D)
    if (P > 0) O = slice(O, 2, P, N);                        // (B,H,T,D): only the new tokens
    O = reshape(permute(O, {0, 2, 1, 3}), Shape{B, T, C});  // (B,T,C)

    // 7. post_norm, gate (§2.9, §6.2), o_proj
    O = layer_norm(O, post_norm_weight, post_norm_bias, 1e-6f);  // (B,T,C)
    if (cfg.use_gate) O = mul(gelu_tanh(linear(x, g_proj)), O);
    return linear(O, o_proj);  // (B,T,C)
}

}  // namespace tt::model
