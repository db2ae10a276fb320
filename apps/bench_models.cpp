// apps/bench_models.cpp — see bench_models.hpp: the PyTorch peer's benchmark models and data,
// rebuilt from model/ layers, and their FLOP counts.
#include "apps/bench_models.hpp"

#include <algorithm>
#include <cmath>

#include "model/functional.hpp"
#include "model/registry.hpp"

namespace tt::bench {

using namespace tt::ad;
using model::Ctx;
using model::ParamList;

// ------------------------------------------------------------------------------------------------
// data: the peer's make_ml1m_like + build_train_tensors / build_eval_tensors, with our Rng

PeerData make_ml1m_like(int64_t L, uint64_t seed) {
    Rng rng(seed);
    // Popularity of the item at rank r (1-based): 1 / (r + 10)^0.9, as a cumulative table.
    std::vector<double> cdf(static_cast<std::size_t>(kItems));
    double total = 0;
    for (int64_t r = 1; r <= kItems; ++r) {
        total += 1.0 / std::pow(static_cast<double>(r) + 10.0, 0.9);
        cdf[static_cast<std::size_t>(r - 1)] = total;
    }
    auto draw_item = [&] {
        const double u = rng.uniform() * total;
        const auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
        return static_cast<int32_t>(std::min<std::ptrdiff_t>(it - cdf.begin(), kItems - 1) + 1);  // 1..kItems
    };
    PeerData d;
    d.users = kUsers;
    d.L = L;
    const auto cells = static_cast<std::size_t>(kUsers * L);
    d.train_inputs.assign(cells, 0);
    d.train_targets.assign(cells, 0);
    d.eval_inputs.assign(cells, 0);
    std::vector<int32_t> tail;
    for (int64_t u = 0; u < kUsers; ++u) {
        // Lognormal length, median 96, clamped to [20, 2314]. Items are i.i.d., so only the last
        // L + 1 of them are drawn: the rest would never be read.
        const double len = std::exp(std::log(96.0) + 1.04 * static_cast<double>(rng.normal()));
        const auto n = static_cast<int64_t>(std::clamp(std::round(len), 20.0, 2314.0));
        const int64_t keep = std::min(n, L + 1);
        tail.resize(static_cast<std::size_t>(keep));
        for (auto& item : tail) item = draw_item();
        int32_t* in = d.train_inputs.data() + u * L;
        int32_t* tg = d.train_targets.data() + u * L;
        const int64_t pairs = keep - 1;  // x = tail[:-1], y = tail[1:], left-padded
        for (int64_t i = 0; i < pairs; ++i) {
            in[L - pairs + i] = tail[static_cast<std::size_t>(i)];
            tg[L - pairs + i] = tail[static_cast<std::size_t>(i + 1)];
        }
        int32_t* ev = d.eval_inputs.data() + u * L;  // the last min(n, L) items, left-padded
        const int64_t last = std::min(n, L);
        for (int64_t i = 0; i < last; ++i) ev[L - last + i] = tail[static_cast<std::size_t>(keep - last + i)];
    }
    return d;
}

IntTensor gather_users(const std::vector<int32_t>& table, int64_t L, const std::vector<int64_t>& users) {
    std::vector<int32_t> out;
    out.reserve(users.size() * static_cast<std::size_t>(L));
    for (int64_t u : users) out.insert(out.end(), table.begin() + u * L, table.begin() + (u + 1) * L);
    return IntTensor(Shape{static_cast<int64_t>(users.size()), L}, std::move(out));
}

// ------------------------------------------------------------------------------------------------
// shared head: tied logits at every position, CE ignoring padding

Var PeerModel::loss(const IntTensor& seq, const IntTensor& targets, const Ctx& ctx) const {
    Var h = encode(seq, ctx);  // (B, L, C)
    const int64_t B = h.dim(0), L = h.dim(1), C = h.dim(2);
    // = cross_entropy(h Eᵀ (B*L, V), targets): fused, the (B*L, V) logits are never stored
    return linear_cross_entropy(reshape(h, Shape{B * L, C}), item_emb_->weight, targets.reshape(Shape{B * L}),
                                /*ignore_index=*/0);
}

Tensor PeerModel::score_last(const IntTensor& seq) const {
    NoGradGuard no_grad;
    Var h = encode(seq, Ctx{});  // (B, L, C)
    const int64_t B = h.dim(0), L = h.dim(1), C = h.dim(2);
    Var last = reshape(slice(h, 1, L - 1, L), Shape{B, C});                       // (B, C)
    return tt::matmul(last.value(), item_emb_->weight.value(), false, true);  // (B, V)
}

namespace {

// ------------------------------------------------------------------------------------------------
// TTT model (the peer's TTT4Rec class)

model::TTTConfig ttt_layer_config(const PeerConfig& c) {
    model::TTTConfig t;
    t.width = c.C;
    t.heads = c.heads;
    t.mini_batch = c.mini_batch;
    t.base_lr = 1.0f;
    t.inner = model::InnerModel::Linear;
    t.loop = c.variant == "primal" ? model::InnerLoop::General : model::InnerLoop::Fast;
    t.use_rope = false;  // the peer's default (--rope off)
    return t;
}

class PeerTTT final : public PeerModel {
public:
    PeerTTT(const PeerConfig& c, Rng& rng) : pos_(c.L, c.C, rng), drop_(c.dropout), norm_(c.C) {
        item_emb_ = std::make_unique<model::Embedding>(c.items + 1, c.C, rng, 0.02f, 0, /*zero_padding_row=*/true);
        for (int64_t i = 0; i < c.blocks; ++i) blocks_.emplace_back(c, rng);
    }

    Var encode(const IntTensor& seq, const Ctx& ctx) const override {
        Var x = drop_.forward(pos_.forward(item_emb_->forward(seq)), ctx);  // (B, L, C)
        for (const Block& b : blocks_) {
            x = add(x, b.ttt.forward(b.seq_norm.forward(x)));  // x + TTT(RMSNorm(x))
            x = add(x, b.mlp.forward(b.ffn_norm.forward(x)));  // x + SwiGLU(RMSNorm(x))
        }
        return norm_.forward(x);
    }

    void parameters(ParamList& out) const override {
        item_emb_->parameters(out, "item_emb.");
        pos_.parameters(out, "pos_emb.");
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            const std::string p = "blocks." + std::to_string(i) + ".";
            blocks_[i].seq_norm.parameters(out, p + "seq_norm.");
            blocks_[i].ttt.parameters(out, p + "ttt.");
            blocks_[i].ffn_norm.parameters(out, p + "ffn_norm.");
            blocks_[i].mlp.parameters(out, p + "mlp.");
        }
        norm_.parameters(out, "norm.");
    }

private:
    struct Block {
        Block(const PeerConfig& c, Rng& rng)
            : seq_norm(c.C), ttt(ttt_layer_config(c), rng), ffn_norm(c.C), mlp(c.C, c.ffn_hidden, rng) {}
        model::RMSNorm seq_norm;
        model::TTTLayer ttt;
        model::RMSNorm ffn_norm;
        model::SwiGLU mlp;
    };
    model::PositionalEmbedding pos_;
    model::Dropout drop_;
    std::vector<Block> blocks_;
    model::RMSNorm norm_;
};

// ------------------------------------------------------------------------------------------------
// SASRec (the peer's SASRec class: pmixer's layout, one head, attention from the normed query)

class PeerSASRec final : public PeerModel {
public:
    PeerSASRec(const PeerConfig& c, Rng& rng) : C_(c.C), pos_(c.L, c.C, rng), drop_(c.dropout), last_ln_(c.C, 1e-8f) {
        item_emb_ = std::make_unique<model::Embedding>(c.items + 1, c.C, rng, 0.02f, 0, /*zero_padding_row=*/true);
        for (int64_t i = 0; i < c.blocks; ++i) blocks_.emplace_back(c, rng);
    }

    Var encode(const IntTensor& seq, const Ctx& ctx) const override {
        const int64_t B = seq.shape()[0], L = seq.shape()[1];
        Var keep = constant(model::valid_mask(seq).reshape(Shape{B, L, 1}));  // (B, L, 1): 1 at real items
        Var x = mul(item_emb_->forward(seq), std::sqrt(static_cast<float>(C_)));  // (B, L, C)
        x = mul(drop_.forward(pos_.forward(x), ctx), keep);
        for (const Block& b : blocks_) {
            Var q = b.attn_ln.forward(x);                                                  // (B, L, C)
            Var scores = matmul(b.q_proj.forward(q), b.k_proj.forward(x), false, true);    // (B, L, L)
            // softmax(tril(scores / sqrt(C), 0, -inf)): causal, key j <= query i, in one op
            Var probs = b.attn_drop.forward(causal_softmax(scores, 1.0f / std::sqrt(static_cast<float>(C_))), ctx);  // (B, L, L)
            x = add(q, b.o_proj.forward(matmul(probs, b.v_proj.forward(x))));              // q + MHA(q, x, x)
            x = b.ffn_ln.forward(x);
            x = add(x, b.ffn_drop.forward(b.ffn.forward(x, ctx), ctx));
            x = mul(x, keep);
        }
        return last_ln_.forward(x);  // (B, L, C)
    }

    void parameters(ParamList& out) const override {
        item_emb_->parameters(out, "item_emb.");
        pos_.parameters(out, "pos_emb.");
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            const std::string p = "blocks." + std::to_string(i) + ".";
            const Block& b = blocks_[i];
            b.attn_ln.parameters(out, p + "attn_ln.");
            b.q_proj.parameters(out, p + "attn.q_proj.");
            b.k_proj.parameters(out, p + "attn.k_proj.");
            b.v_proj.parameters(out, p + "attn.v_proj.");
            b.o_proj.parameters(out, p + "attn.o_proj.");
            b.ffn_ln.parameters(out, p + "ffn_ln.");
            b.ffn.parameters(out, p + "ffn.");
        }
        last_ln_.parameters(out, "last_ln.");
    }

private:
    struct Block {
        Block(const PeerConfig& c, Rng& rng)
            : attn_ln(c.C, 1e-8f), q_proj(c.C, c.C, rng), k_proj(c.C, c.C, rng), v_proj(c.C, c.C, rng),
              o_proj(c.C, c.C, rng), attn_drop(c.dropout), ffn_ln(c.C, 1e-8f),
              ffn(c.C, c.C, rng, 0.02f, model::Activation::ReLU, c.dropout), ffn_drop(c.dropout) {}
        model::LayerNorm attn_ln;
        model::Linear q_proj, k_proj, v_proj, o_proj;  // MHA in/out projections, with biases
        model::Dropout attn_drop;
        model::LayerNorm ffn_ln;
        model::PointwiseFeedForward ffn;  // C -> C (ReLU, dropout) -> C
        model::Dropout ffn_drop;
    };
    int64_t C_;
    model::PositionalEmbedding pos_;
    model::Dropout drop_;
    std::vector<Block> blocks_;
    model::LayerNorm last_ln_;
};

// Encoder FLOPs without the logits, N = B·L tokens (2 flops per multiply-add, matmuls only):
//   ttt, per block:    q,k,v,o projections 4·2NC² + inner-lr gate 2NCH + SwiGLU 3·2NCF
//                      + dual-form inner loop, per (sequence, head) and mini-batch of K tokens:
//                        3 products K×D×D (XK W, XQ W, XKᵀ(e⊙G)) + 3 products K×K×D (XQ XKᵀ,
//                        (P⊙A) G, P G) = 6KD² + 6K²D
//   sasrec, per block: q,k,v,o projections 4·2NC² + scores and P·V 2·2BL²C + FFN 2·2NC²
// The primal variant is counted with the same (dual) formula: it computes the same function, so
// GFLOP/s compares the two loops on the same model work.
double encoder_flops(const PeerConfig& c, int64_t B) {
    const double N = static_cast<double>(B * c.L), C = static_cast<double>(c.C);
    double per_block = 0;
    if (c.model == "ttt") {
        const double H = static_cast<double>(c.heads), D = C / H, F = static_cast<double>(c.ffn_hidden);
        per_block = 4 * 2 * N * C * C + 2 * N * C * H + 3 * 2 * N * C * F;
        for (int64_t s = 0; s < c.L; s += c.mini_batch) {
            const double K = static_cast<double>(std::min(c.mini_batch, c.L - s));
            per_block += static_cast<double>(B) * H * (6 * K * D * D + 6 * K * K * D);
        }
    } else {
        const double L = static_cast<double>(c.L);
        per_block = 4 * 2 * N * C * C + 2 * 2 * static_cast<double>(B) * L * L * C + 2 * 2 * N * C * C;
    }
    return static_cast<double>(c.blocks) * per_block;
}

}  // namespace

std::unique_ptr<PeerModel> make_peer_model(const PeerConfig& cfg, Rng& rng) {
    TT_CHECK(cfg.model == "ttt" || cfg.model == "sasrec", "bench: unknown model '" + cfg.model + "' (ttt, sasrec)");
    TT_CHECK(cfg.variant == "dual" || cfg.variant == "primal",
             "bench: unknown variant '" + cfg.variant + "' (dual, primal)");
    if (cfg.model == "ttt") return std::make_unique<PeerTTT>(cfg, rng);
    return std::make_unique<PeerSASRec>(cfg, rng);
}

// Forward: encoder + logits at every position, 2·N·C·V (V = items + 1, the pad row included).
// A training step (forward, backward, Adam) is counted as 3 × forward: the backward of each matmul
// is two matmuls of the same size (dA and dB).
double forward_flops(const PeerConfig& c, int64_t B) {
    return encoder_flops(c, B) + 2.0 * static_cast<double>(B * c.L) * static_cast<double>(c.C * (c.items + 1));
}
double train_step_flops(const PeerConfig& c, int64_t B) { return 3.0 * forward_flops(c, B); }
// Inference: encoder on all L positions + logits of the last position only, 2·B·C·V.
double inference_flops(const PeerConfig& c, int64_t B) {
    return encoder_flops(c, B) + 2.0 * static_cast<double>(B) * static_cast<double>(c.C * (c.items + 1));
}

// ------------------------------------------------------------------------------------------------
// registry recommenders: configuration and batches

model::RecConfig rec_bench_config(const std::string& name) {
    model::RecConfig c = model::default_config(name);  // throws for an unknown name
    c.n_items = kItems;
    c.dim = 64;
    c.max_len = 50;
    return c;
}

model::TrainBatch rec_train_batch(const PeerData& d, const std::vector<int64_t>& users, int negatives,
                                  bool every_position, Rng& rng) {
    const int64_t B = static_cast<int64_t>(users.size()), L = d.L, K = negatives;
    std::vector<int32_t> items(static_cast<std::size_t>(B * L), 0), pos(static_cast<std::size_t>(B * L), 0);
    std::vector<int32_t> lengths(static_cast<std::size_t>(B)), targets(static_cast<std::size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
        // The peer's rows are left-padded (inputs and next-item targets aligned): move the real part
        // to the front.
        const int32_t* in = d.train_inputs.data() + users[static_cast<std::size_t>(b)] * L;
        const int32_t* tg = d.train_targets.data() + users[static_cast<std::size_t>(b)] * L;
        int64_t start = 0;
        while (start < L && in[start] == 0) ++start;
        const int64_t n = L - start;
        TT_CHECK(n >= 1, "rec_train_batch: an empty history");
        for (int64_t j = 0; j < n; ++j) {
            items[static_cast<std::size_t>(b * L + j)] = in[start + j];
            pos[static_cast<std::size_t>(b * L + j)] = tg[start + j];
        }
        lengths[static_cast<std::size_t>(b)] = static_cast<int32_t>(n);
        targets[static_cast<std::size_t>(b)] = tg[L - 1];
    }
    model::TrainBatch batch;
    if (K > 0) {  // uniform over the real items; the models only read them next to a target
        const int64_t rows = every_position ? B * L : B;
        std::vector<int32_t> neg(static_cast<std::size_t>(rows * K), 0);
        for (int64_t r = 0; r < rows; ++r) {
            if (every_position && pos[static_cast<std::size_t>(r)] == 0) continue;
            for (int64_t k = 0; k < K; ++k)
                neg[static_cast<std::size_t>(r * K + k)] = static_cast<int32_t>(rng.below(kItems) + 1);
        }
        batch.negatives = every_position ? IntTensor(Shape{B, L, K}, std::move(neg)) : IntTensor(Shape{B, K}, std::move(neg));
    }
    batch.items = IntTensor(Shape{B, L}, std::move(items));
    batch.lengths = IntTensor(Shape{B}, std::move(lengths));
    batch.targets = IntTensor(Shape{B}, std::move(targets));
    batch.position_targets = IntTensor(Shape{B, L}, std::move(pos));
    return batch;
}

}  // namespace tt::bench
