// model/recommender.cpp — TTT4Rec, TTT4Rec-FE, SASRec and GRU4Rec, and the losses they share.
//
// Reading order for a TTT4Rec training step: TTT4Rec::encode (embedding -> dropout -> LayerNorm ->
// blocks of [RMSNorm -> TTTLayer -> residual; RMSNorm -> SwiGLU -> residual] -> RMSNorm), then
// Recommender::loss (state at the last real item -> logits against the tied item embeddings ->
// cross-entropy). The TTT layer itself is model/ttt.cpp.
#include "model/recommender.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

namespace tt::model {

using namespace tt::ad;

// ------------------------------------------------------------------------------------------------
// configuration

std::string RecConfig::describe() const {
    std::ostringstream os;
    os << model << " C=" << dim << " heads=" << heads << " blocks=" << blocks << " max_len=" << max_len
       << " dropout=" << dropout << " loss=" << loss << (every_position ? " every-position" : " last-position");
    if (model == "ttt4rec" || model == "ttt4rec-fe")
        os << " inner=" << inner << " backbone=" << backbone << " loop=" << inner_loop << " b=" << mini_batch
           << " base_lr=" << base_lr << " rope_base=" << rope_base;
    return os.str();
}

RecConfig default_config(const std::string& model) {
    RecConfig c;
    c.model = model;
    if (model == "ttt4rec") {  // TTT_SPEC §2.1: the official TTT4Rec config
        c.dim = 64, c.heads = 4, c.blocks = 1, c.ffn_hidden = 256, c.dropout = 0.2f;
        c.inner = "mlp", c.mini_batch = 8, c.base_lr = 1.0f, c.rope_base = 1000.0f, c.loss = "ce";
    } else if (model == "ttt4rec-fe") {  // TTT_SPEC §2.2: Zhan et al. (via the S4 code)
        c.dim = 64, c.heads = 4, c.blocks = 1, c.dropout = 0.0f, c.inner = "linear", c.mini_batch = 10;
        c.base_lr = 1.0f, c.rope_base = 10000.0f, c.loss = "bce";
    } else if (model == "sasrec") {  // BASELINES §0: S3Rec-family SASRec
        c.dim = 64, c.heads = 2, c.blocks = 2, c.ffn_hidden = 64, c.dropout = 0.5f, c.loss = "bce";
        c.every_position = true;
    } else if (model == "gru4rec") {  // RecBole GRU4Rec: embedding 64, one GRU layer, dropout 0.3
        c.dim = 64, c.gru_hidden = 64, c.dropout = 0.3f, c.loss = "ce";
    } else {
        TT_CHECK(false, "unknown model '" + model + "' (ttt4rec, ttt4rec-fe, sasrec, gru4rec)");
    }
    return c;
}

// ------------------------------------------------------------------------------------------------
// shared pieces

Var last_positions(const Var& h, const IntTensor& lengths) {
    const int64_t B = h.shape()[0], T = h.shape()[1], C = h.shape()[2];
    std::vector<int32_t> rows(static_cast<std::size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
        int32_t len = lengths[b];
        TT_CHECK(len >= 1 && len <= T, "last_positions: length " + std::to_string(len) + " outside [1, " +
                                           std::to_string(T) + "] at row " + std::to_string(b));
        rows[static_cast<std::size_t>(b)] = static_cast<int32_t>(b * T + len - 1);
    }
    return gather_rows(reshape(h, Shape{B * T, C}), IntTensor(Shape{B}, std::move(rows)));  // (B, C)
}

Var Recommender::item_table(const Ctx&) const { return item_emb_->weight; }

namespace {

// advance(): the piece must be (B, T') real items for the B rows of the state.
void check_piece(const IntTensor& items, int64_t state_rows, int64_t n_items, const std::string& model) {
    TT_CHECK(items.shape().rank() == 2 && items.shape()[1] >= 1,
             model + " advance: items must be (B, T') with T' >= 1, got " + items.shape().str());
    TT_CHECK(items.shape()[0] == state_rows, model + " advance: " + std::to_string(items.shape()[0]) +
                                                 " rows of items for a state of " + std::to_string(state_rows));
    for (int64_t i = 0; i < items.numel(); ++i)
        TT_CHECK(items[i] >= 1 && items[i] <= n_items, model + " advance: item " + std::to_string(items[i]) +
                                                           " is not a real item (1.." + std::to_string(n_items) + ")");
}

// The last position of (B, T', C) -> (B, C).
Var last_row(const Var& x) {
    const int64_t B = x.shape()[0], T = x.shape()[1], C = x.shape()[2];
    return reshape(slice(x, 1, T - 1, T), Shape{B, C});
}

// log(1 + e^x), stable: relu(x) + log(1 + e^{-|x|}) with |x| = 2 relu(x) - x.
Var softplus(const Var& x) {
    Var abs_x = sub(mul(relu(x), 2.0f), x);
    return add(relu(x), log(add(exp(neg(abs_x)), 1.0f)));
}

// Binary cross-entropy of positive and negative scores, mean over rows: -log σ(pos) - log(1 - σ(neg)).
Var bce_pos_neg(const Var& pos, const Var& neg) {  // (N), (N)
    return mean(add(softplus(ad::neg(pos)), softplus(neg)));
}

// Dot products of states (N, C) with the rows `ids` (N) of the item table (V, C) -> (N).
Var score_rows(const Var& states, const Var& table, const IntTensor& ids) {
    return sum(mul(states, gather_rows(table, ids)), -1);
}

}  // namespace

Var Recommender::loss(const IntTensor& items, const IntTensor& lengths, const IntTensor& targets,
                      const IntTensor& position_targets, const IntTensor& negatives, const Ctx& ctx) const {
    Var h = encode(items, ctx);  // (B, T, C)
    Var table = item_table(ctx);  // (V, C)
    const int64_t B = h.shape()[0], T = h.shape()[1], C = h.shape()[2];

    // Select the states that have a target: the last real position of each row, or every
    // position with a non-zero next item. Scoring only those rows keeps the (N, V) logits small.
    Var states;
    std::vector<int32_t> tgt, neg;
    if (!cfg_.every_position) {
        states = last_positions(h, lengths);  // (B, C)
        tgt.assign(targets.data(), targets.data() + B);
        if (negatives.defined()) neg.assign(negatives.data(), negatives.data() + B);
    } else {
        TT_CHECK(position_targets.defined(), "every-position training needs position_targets");
        std::vector<int32_t> rows;
        for (int64_t i = 0; i < B * T; ++i)
            if (position_targets[i] != 0) {
                rows.push_back(static_cast<int32_t>(i));
                tgt.push_back(position_targets[i]);
                if (negatives.defined()) neg.push_back(negatives[i]);
            }
        TT_CHECK(!rows.empty(), "loss: the batch has no target");
        const int64_t N = static_cast<int64_t>(rows.size());
        states = gather_rows(reshape(h, Shape{B * T, C}), IntTensor(Shape{N}, std::move(rows)));  // (N, C)
    }
    const int64_t N = static_cast<int64_t>(tgt.size());
    IntTensor target_ids(Shape{N}, std::move(tgt));
    if (cfg_.loss == "ce") {
        // = cross_entropy(states tableᵀ (N, V), target_ids), fused: the (N, V) logits are never
        // stored (310 MB per step on Beauty with every-position training), and one pass over them
        // gives the loss and its gradient.
        return linear_cross_entropy(states, table, target_ids);
    }
    TT_CHECK(cfg_.loss == "bce", "unknown loss '" + cfg_.loss + "' (ce, bce)");
    TT_CHECK(static_cast<int64_t>(neg.size()) == N, "the bce loss needs one sampled negative per target");
    IntTensor negative_ids(Shape{N}, std::move(neg));
    return bce_pos_neg(score_rows(states, table, target_ids), score_rows(states, table, negative_ids));
}

Tensor Recommender::score_next(const IntTensor& items, const IntTensor& lengths) const {
    NoGradGuard no_grad;
    Ctx eval;
    Var s = last_positions(encode(items, eval), lengths);  // (B, C)
    return tt::matmul(s.value(), item_table(eval).value(), false, true);  // (B, V)
}

// ------------------------------------------------------------------------------------------------
// TTT4Rec (Yang, Wang, Ge; TTT_SPEC §2.1)

namespace {

TTTConfig ttt_config(const RecConfig& c, bool fe) {
    TTTConfig t;
    t.width = c.dim;
    t.heads = c.heads;
    t.mini_batch = c.mini_batch;
    t.base_lr = c.base_lr;
    t.inner = c.inner == "mlp" ? InnerModel::MLP : InnerModel::Linear;
    TT_CHECK(c.inner == "mlp" || c.inner == "linear", "unknown inner model '" + c.inner + "' (linear, mlp)");
    TT_CHECK(c.inner_loop == "fast" || c.inner_loop == "general",
             "unknown inner loop '" + c.inner_loop + "' (fast, general)");
    t.loop = c.inner_loop == "general" ? InnerLoop::General : InnerLoop::Fast;
    t.rope_theta = c.rope_base;
    t.rope_mod_mini_batch = true;
    TT_CHECK(c.backbone == "transformer" || c.backbone == "mamba",
             "unknown backbone '" + c.backbone + "' (transformer, mamba)");
    t.use_gate = !fe && c.backbone == "mamba";
    t.share_qk = !fe && c.backbone == "mamba";
    t.init_range = c.init_range;
    return t;
}

class TTT4Rec final : public Recommender {
public:
    TTT4Rec(const RecConfig& c, Rng& rng) : Recommender(c), emb_dropout_(c.dropout), emb_norm_(c.dim, 1e-12f), final_norm_(c.dim) {
        TT_CHECK(c.dim % c.heads == 0, "ttt4rec: width " + std::to_string(c.dim) + " is not divisible by " +
                                           std::to_string(c.heads) + " heads");
        item_emb_ = std::make_unique<Embedding>(c.n_items + 1, c.dim, rng, c.init_range);
        for (int64_t i = 0; i < c.blocks; ++i) blocks_.emplace_back(c, rng);
    }

    Var encode(const IntTensor& items, const Ctx& ctx) const override {
        Var x = item_emb_->forward(items);              // (B, T, C)
        x = emb_norm_.forward(emb_dropout_.forward(x, ctx));
        for (const Block& blk : blocks_) {
            if (blk.pre_conv) x = add(x, blk.pre_conv->forward(blk.pre_conv_norm->forward(x)));  // Mamba pre-conv
            x = add(x, blk.ttt.forward(blk.seq_norm.forward(x)));   // h = h + TTT(RMSNorm(h))
            x = add(x, blk.ffn.forward(blk.ffn_norm.forward(x)));   // h = h + SwiGLU(RMSNorm(h))
        }
        return final_norm_.forward(x);  // (B, T, C)
    }

    void parameters(ParamList& out, const std::string& prefix) const override {
        item_emb_->parameters(out, prefix + "item_embedding.");
        emb_norm_.parameters(out, prefix + "emb_norm.");
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            std::string p = prefix + "blocks." + std::to_string(i) + ".";
            const Block& b = blocks_[i];
            if (b.pre_conv) {
                b.pre_conv_norm->parameters(out, p + "pre_conv_norm.");
                b.pre_conv->parameters(out, p + "pre_conv.");
            }
            b.seq_norm.parameters(out, p + "seq_norm.");
            b.ttt.parameters(out, p + "ttt.");
            b.ffn_norm.parameters(out, p + "ffn_norm.");
            b.ffn.parameters(out, p + "ffn.");
        }
        final_norm_.parameters(out, prefix + "final_norm.");
    }

    // The same layers as encode(), fed a piece at a time: the TTT layers carry their inner weights
    // and pending mini-batch (TTTLayer::forward_step), the Mamba pre-conv its last k−1 inputs; the
    // norms and the SwiGLU are per position. Dropout is the identity in evaluation.
    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        for (const Block& blk : blocks_) {
            TTTState s = blk.ttt.initial_state(batch).detached();
            if (blk.ttt.cfg.share_qk)  // explicit zeros = a sequence start, so every state has the same fields
                s.conv_history = constant(Tensor::zeros(Shape{batch, blk.ttt.cfg.conv_kernel - 1, cfg_.dim}));
            st.ttt.push_back(std::move(s));
            if (blk.pre_conv) st.pre_conv.push_back(constant(Tensor::zeros(Shape{batch, blk.pre_conv->kernel() - 1, cfg_.dim})));
        }
        return st;
    }

    Var advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        TT_CHECK(st.ttt.size() == blocks_.size(), "ttt4rec advance: the state is not from this model's start_stream");
        check_piece(items, st.ttt[0].W1.shape()[0], cfg_.n_items, "ttt4rec");
        Var x = emb_norm_.forward(item_emb_->forward(items));  // (B, T', C)
        std::size_t conv = 0;
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            const Block& blk = blocks_[i];
            if (blk.pre_conv) {
                Var n = blk.pre_conv_norm->forward(x);
                Var& history = st.pre_conv.at(conv++);  // (B, k−1, C)
                x = add(x, blk.pre_conv->forward(n, history));
                history = blk.pre_conv->next_history(n, history);
            }
            x = add(x, blk.ttt.forward_step(blk.seq_norm.forward(x), st.ttt[i]));
            x = add(x, blk.ffn.forward(blk.ffn_norm.forward(x)));
        }
        st.t += items.shape()[1];
        return final_norm_.forward(last_row(x));  // (B, C)
    }

    void disable_ttt() override {
        for (Block& b : blocks_) b.ttt.cfg.base_lr = 0.0f;
    }

private:
    struct Block {
        Block(const RecConfig& c, Rng& rng)
            : seq_norm(c.dim), ttt(ttt_config(c, false), rng), ffn_norm(c.dim), ffn(c.dim, c.ffn_hidden, rng, c.init_range) {
            if (c.backbone == "mamba") {  // TTT_SPEC §1.7: h = h + CausalConv_k4(RMSNorm(h)) before the block
                pre_conv_norm.emplace(c.dim);
                pre_conv.emplace(c.dim, 4, rng);
            }
        }
        std::optional<RMSNorm> pre_conv_norm;
        std::optional<CausalConv> pre_conv;
        RMSNorm seq_norm;
        TTTLayer ttt;
        RMSNorm ffn_norm;
        SwiGLU ffn;
    };
    Dropout emb_dropout_;
    LayerNorm emb_norm_;
    std::vector<Block> blocks_;
    RMSNorm final_norm_;
};

// ------------------------------------------------------------------------------------------------
// TTT4Rec-FE (Zhan, Lv, Zhang, Li; TTT_SPEC §2.2): a TTT-Linear feature extractor without residual
// or FFN, and items scored through a two-layer target MLP.

class TTT4RecFE final : public Recommender {
public:
    TTT4RecFE(const RecConfig& c, Rng& rng)
        : Recommender(c), emb_dropout_(c.dropout), seq_norm_(c.dim), ttt_(ttt_config(c, true), rng), final_norm_(c.dim),
          target_fc1_(c.dim, c.dim, rng), target_fc2_(c.dim, c.dim, rng) {
        item_emb_ = std::make_unique<Embedding>(c.n_items + 1, c.dim, rng, c.init_range);
        // StackedDense in S4 initialises with xavier_uniform: U(±sqrt(6 / (in + out))).
        float a = std::sqrt(6.0f / static_cast<float>(2 * c.dim));
        target_fc1_.weight.mutable_value() = Tensor::uniform(Shape{c.dim, c.dim}, rng, -a, a);
        target_fc2_.weight.mutable_value() = Tensor::uniform(Shape{c.dim, c.dim}, rng, -a, a);
    }

    Var encode(const IntTensor& items, const Ctx& ctx) const override {
        // The published model has no dropout (--dropout 0, its default); with --dropout p > 0 the
        // embedded sequence gets the same dropout as TTT4Rec's and SASRec's inputs.
        Var x = emb_dropout_.forward(item_emb_->forward(items), ctx);  // (B, T, C)
        return final_norm_.forward(ttt_.forward(seq_norm_.forward(x)));  // no residual, no FFN
    }

    Var item_table(const Ctx&) const override {  // t = fc2(tanh(fc1(E)))  (V, C)
        return target_fc2_.forward(tanh(target_fc1_.forward(item_emb_->weight)));
    }

    void parameters(ParamList& out, const std::string& prefix) const override {
        item_emb_->parameters(out, prefix + "item_embedding.");
        seq_norm_.parameters(out, prefix + "seq_norm.");
        ttt_.parameters(out, prefix + "ttt.");
        final_norm_.parameters(out, prefix + "final_norm.");
        target_fc1_.parameters(out, prefix + "target_mlp.0.");
        target_fc2_.parameters(out, prefix + "target_mlp.2.");
    }

    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        st.ttt.push_back(ttt_.initial_state(batch).detached());
        return st;
    }

    Var advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        TT_CHECK(st.ttt.size() == 1, "ttt4rec-fe advance: the state is not from this model's start_stream");
        check_piece(items, st.ttt[0].W1.shape()[0], cfg_.n_items, "ttt4rec-fe");
        Var x = ttt_.forward_step(seq_norm_.forward(item_emb_->forward(items)), st.ttt[0]);  // (B, T', C)
        st.t += items.shape()[1];
        return final_norm_.forward(last_row(x));  // (B, C)
    }

    void disable_ttt() override { ttt_.cfg.base_lr = 0.0f; }

private:
    Dropout emb_dropout_;  // identity at the published dropout 0
    RMSNorm seq_norm_;
    TTTLayer ttt_;
    RMSNorm final_norm_;
    Linear target_fc1_, target_fc2_;
};

// ------------------------------------------------------------------------------------------------
// SASRec (Kang & McAuley 2018): scaled item embedding + learned positions, causal self-attention
// blocks (pre-LayerNorm, pointwise ReLU FFN), final LayerNorm. NOTE: the blocks are the standard
// pre-norm residual form; pmixer/SASRec.pytorch adds the attention output to the *normed* query.

class SASRec final : public Recommender {
public:
    SASRec(const RecConfig& c, Rng& rng) : Recommender(c), pos_emb_(c.max_len, c.dim, rng, c.init_range),
                                           emb_dropout_(c.dropout), final_norm_(c.dim, 1e-8f) {
        TT_CHECK(c.dim % c.heads == 0, "sasrec: width " + std::to_string(c.dim) + " is not divisible by " +
                                           std::to_string(c.heads) + " heads");
        item_emb_ = std::make_unique<Embedding>(c.n_items + 1, c.dim, rng, c.init_range, 0, /*zero_padding_row=*/true);
        TransformerBlockConfig b;
        b.dim = c.dim, b.n_heads = c.heads, b.ffn_hidden = c.ffn_hidden, b.ffn = FfnKind::PointwiseReLU;
        b.norm = NormKind::LayerNorm, b.norm_eps = 1e-8f, b.dropout = c.dropout, b.attn_dropout = c.dropout;
        b.init_range = c.init_range;
        for (int64_t i = 0; i < c.blocks; ++i) blocks_.emplace_back(b, rng);
    }

    Var encode(const IntTensor& items, const Ctx& ctx) const override {
        TT_CHECK(items.shape()[1] <= cfg_.max_len, "sasrec: sequence length " + std::to_string(items.shape()[1]) +
                                                       " exceeds max_len " + std::to_string(cfg_.max_len));
        Tensor valid = valid_mask(items);  // (B, T)
        Var x = mul(item_emb_->forward(items), std::sqrt(static_cast<float>(cfg_.dim)));  // (B, T, C)
        x = emb_dropout_.forward(pos_emb_.forward(x), ctx);
        for (const TransformerBlock& blk : blocks_) x = blk.forward(x, valid, ctx);
        return final_norm_.forward(x);
    }

    void parameters(ParamList& out, const std::string& prefix) const override {
        item_emb_->parameters(out, prefix + "item_embedding.");
        pos_emb_.parameters(out, prefix + "position_embedding.");
        for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].parameters(out, prefix + "blocks." + std::to_string(i) + ".");
        final_norm_.parameters(out, prefix + "final_norm.");
    }

    // Attention has no carried state: keep the last max_len items and re-encode them (the model
    // never sees more than max_len items, so this is exactly what encode() gives for the window).
    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        st.window = IntTensor(Shape{batch, 0}, {});
        return st;
    }

    Var advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        TT_CHECK(st.window.defined() && st.window.shape().rank() == 2,
                 "sasrec advance: the state is not from this model's start_stream");
        const int64_t B = st.window.shape()[0], W = st.window.shape()[1];
        check_piece(items, B, cfg_.n_items, "sasrec");
        const int64_t T = items.shape()[1], N = std::min(cfg_.max_len, W + T), skip = W + T - N;
        std::vector<int32_t> window(static_cast<std::size_t>(B * N));
        for (int64_t b = 0; b < B; ++b)
            for (int64_t j = 0; j < N; ++j) {  // position j of the new window = item skip + j of [window; items]
                const int64_t k = skip + j;
                window[static_cast<std::size_t>(b * N + j)] = k < W ? st.window[b * W + k] : items[b * T + (k - W)];
            }
        st.window = IntTensor(Shape{B, N}, std::move(window));
        st.t += T;
        return last_row(encode(st.window, Ctx{}));  // (B, C)
    }

private:
    PositionalEmbedding pos_emb_;
    Dropout emb_dropout_;
    std::vector<TransformerBlock> blocks_;
    LayerNorm final_norm_;
};

// ------------------------------------------------------------------------------------------------
// GRU4Rec (Hidasi et al.; RecBole's variant): embedding -> dropout -> GRU -> linear back to C.

class GRU4Rec final : public Recommender {
public:
    GRU4Rec(const RecConfig& c, Rng& rng)
        : Recommender(c), emb_dropout_(c.dropout), gru_(c.dim, c.gru_hidden, rng, /*bias=*/false),
          dense_(c.gru_hidden, c.dim, rng, c.init_range) {
        item_emb_ = std::make_unique<Embedding>(c.n_items + 1, c.dim, rng, c.init_range, 0, true);
    }

    Var encode(const IntTensor& items, const Ctx& ctx) const override {
        Var x = emb_dropout_.forward(item_emb_->forward(items), ctx);  // (B, T, C)
        return dense_.forward(gru_.forward(x));                         // (B, T, H) -> (B, T, C)
    }

    void parameters(ParamList& out, const std::string& prefix) const override {
        item_emb_->parameters(out, prefix + "item_embedding.");
        gru_.parameters(out, prefix + "gru.");
        dense_.parameters(out, prefix + "dense.");
    }

    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        st.gru_h = constant(Tensor::zeros(Shape{batch, gru_.hidden_size}));  // h0 = 0, as encode()
        return st;
    }

    Var advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        TT_CHECK(st.gru_h.defined() && st.gru_h.rank() == 2, "gru4rec advance: the state is not from this model's start_stream");
        check_piece(items, st.gru_h.shape()[0], cfg_.n_items, "gru4rec");
        st.gru_h = last_row(gru_.forward(item_emb_->forward(items), st.gru_h));  // (B, H)
        st.t += items.shape()[1];
        return dense_.forward(st.gru_h);  // (B, C)
    }

private:
    Dropout emb_dropout_;
    GRU gru_;
    Linear dense_;
};

}  // namespace

std::unique_ptr<Recommender> make_recommender(const RecConfig& cfg, Rng& rng) {
    TT_CHECK(cfg.n_items > 0, "make_recommender: the dataset has no items");
    TT_CHECK(cfg.dim > 0 && cfg.heads > 0 && cfg.blocks >= 0 && cfg.max_len > 0 && cfg.mini_batch > 0,
             "make_recommender: sizes must be positive (" + cfg.describe() + ")");
    TT_CHECK(cfg.dropout >= 0.0f && cfg.dropout < 1.0f, "make_recommender: dropout must be in [0, 1)");
    if (cfg.model == "ttt4rec") return std::make_unique<TTT4Rec>(cfg, rng);
    if (cfg.model == "ttt4rec-fe") return std::make_unique<TTT4RecFE>(cfg, rng);
    if (cfg.model == "sasrec") return std::make_unique<SASRec>(cfg, rng);
    if (cfg.model == "gru4rec") return std::make_unique<GRU4Rec>(cfg, rng);
    TT_CHECK(false, "unknown model '" + cfg.model + "' (ttt4rec, ttt4rec-fe, sasrec, gru4rec)");
    return nullptr;
}

}  // namespace tt::model
