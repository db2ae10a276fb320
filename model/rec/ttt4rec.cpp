// model/rec/ttt4rec.cpp — TTT4Rec (Yang, Wang, Ge, arXiv 2409.19142): item embedding -> dropout ->
// LayerNorm -> blocks of [RMSNorm -> TTT layer -> residual; RMSNorm -> SwiGLU -> residual] ->
// RMSNorm, scored against the tied item embeddings with softmax cross-entropy.
//
// The TTT layer (model/ttt.hpp; the math in model/TTT.md) keeps a small inner model per user and
// head and takes a gradient step on it every mini-batch of b items, so the user state adapts to
// the history as it is read. Backbone "mamba" adds the paper's Mamba-style pieces: a causal
// depthwise pre-convolution before each block, a gate, and Q/K shared through two convolutions.
#include <optional>

#include "model/rec/common.hpp"
#include "model/rec/ttt_common.hpp"

namespace tt::model {

using namespace tt::ad;

namespace {

struct TTT4RecOptions final : Options<TTT4RecOptions> {
    int64_t heads = 4;
    int64_t blocks = 1;
    int64_t ffn_hidden = 256;          // SwiGLU width
    std::string inner = "mlp";         // linear | mlp
    std::string backbone = "transformer";  // transformer | mamba
    std::string inner_loop = "fast";   // fast (dual form) | general (nested autodiff)
    int64_t mini_batch = 8;            // TTT mini-batch b
    float base_lr = 1.0f;              // base inner learning rate
    float rope_base = 1000.0f;         // RoPE base θ (positions are t mod b)

    void visit(FieldVisitor& v) override {
        v.field("heads", heads, "heads (TTT: the head width C/H must be even)");
        v.field("blocks", blocks, "blocks");
        v.field("ffn_hidden", ffn_hidden, "feed-forward width (SwiGLU in TTT4Rec)", "ffn");
        v.field("inner", inner, "TTT inner model: linear | mlp");
        v.field("backbone", backbone, "TTT backbone: transformer | mamba");
        v.field("inner_loop", inner_loop, "TTT inner loop: fast (dual form) | general (nested autodiff)");
        v.field("mini_batch", mini_batch, "TTT mini-batch size b");
        v.field("base_lr", base_lr, "TTT base inner learning rate");
        v.field("rope_base", rope_base, "TTT RoPE base");
    }
};

RecConfig defaults() {  // the official TTT4Rec config: C 64, 4 heads, 1 block, SwiGLU 256, b 8
    RecConfig c;
    c.model = "ttt4rec";
    c.dim = 64, c.dropout = 0.2f, c.loss = "ce", c.every_position = false;
    c.options = std::make_unique<TTT4RecOptions>();
    return c;
}

RecConfig tiny(int64_t n_items) {
    RecConfig c = defaults();
    c.n_items = n_items, c.dim = 8, c.max_len = 12;
    auto& o = c.opts<TTT4RecOptions>();
    o.heads = 2, o.ffn_hidden = 16, o.mini_batch = 4;
    return c;
}

void validate(const RecConfig& c) {
    const auto& o = c.opts<TTT4RecOptions>();
    check_loss(c, {"ce", "bce"});
    check_heads(c, o.heads, true);
    check_positive("blocks", o.blocks);
    check_positive("ffn", o.ffn_hidden);
    check_positive("mini-batch", o.mini_batch);
    check_choice("inner", o.inner, {"linear", "mlp"});
    check_choice("backbone", o.backbone, {"transformer", "mamba"});
    check_choice("inner-loop", o.inner_loop, {"fast", "general"});
    check_ttt_rates(o.base_lr, o.rope_base);
}

class TTT4Rec final : public Recommender {
public:
    TTT4Rec(const RecConfig& c, Rng& rng) : Recommender(c), emb_dropout_(c.dropout), emb_norm_(c.dim, 1e-12f), final_norm_(c.dim) {
        const auto& o = c.opts<TTT4RecOptions>();
        item_emb_ = std::make_unique<Embedding>(c.n_items + 1, c.dim, rng, c.init_range);
        for (int64_t i = 0; i < o.blocks; ++i) blocks_.emplace_back(c, o, rng);
    }

    Var encode(const IntTensor& items, const Ctx& ctx) const override {
        Var x = item_emb_->forward(items);  // (B, T, C)
        x = emb_norm_.forward(emb_dropout_.forward(x, ctx));
        for (const Block& blk : blocks_) {
            if (blk.pre_conv) x = add(x, blk.pre_conv->forward(blk.pre_conv_norm->forward(x)));  // Mamba pre-conv
            x = add(x, blk.ttt.forward(blk.seq_norm.forward(x)));  // h = h + TTT(RMSNorm(h))
            x = add(x, blk.ffn.forward(blk.ffn_norm.forward(x)));  // h = h + SwiGLU(RMSNorm(h))
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

    // The same layers as encode(), fed a piece at a time: each TTT layer carries its inner weights
    // and pending mini-batch (TTTLayer::forward_step), the Mamba pre-conv its last k−1 inputs; the
    // norms and the SwiGLU are per position. Dropout is the identity in evaluation.
    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            const Block& blk = blocks_[i];
            TTTState s = blk.ttt.initial_state(batch).detached();
            if (blk.ttt.cfg.share_qk)  // explicit zeros = a sequence start, so every state has the same fields
                s.conv_history = constant(Tensor::zeros(Shape{batch, blk.ttt.cfg.conv_kernel - 1, cfg_.dim}));
            pack_ttt_state(st, "ttt." + std::to_string(i) + ".", s);
            if (blk.pre_conv)
                st.set("pre_conv." + std::to_string(i), Tensor::zeros(Shape{batch, blk.pre_conv->kernel() - 1, cfg_.dim}));
        }
        return st;
    }

    void advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        const int64_t B = items.shape().rank() == 2 ? items.shape()[0] : 0;
        TT_CHECK(!blocks_.empty() && st.field("ttt.0.W1").defined() && st.field("ttt.0.W1").dim(0) == B,
                 "ttt4rec advance: the state is not from this model's start_stream for " + std::to_string(B) + " rows");
        check_piece(items, B, cfg_.n_items, "ttt4rec");
        Var x = emb_norm_.forward(item_emb_->forward(items));  // (B, T', C)
        for (std::size_t i = 0; i < blocks_.size(); ++i) {
            const Block& blk = blocks_[i];
            if (blk.pre_conv) {
                Var n = blk.pre_conv_norm->forward(x);
                Tensor& history = st.field("pre_conv." + std::to_string(i));  // (B, k−1, C)
                Var h = constant(history);
                x = add(x, blk.pre_conv->forward(n, h));
                history = blk.pre_conv->next_history(n, h).value();
            }
            const std::string p = "ttt." + std::to_string(i) + ".";
            TTTState s = unpack_ttt_state(st, p);
            s.t = st.t;
            x = add(x, blk.ttt.forward_step(blk.seq_norm.forward(x), s));
            pack_ttt_state(st, p, s);
            x = add(x, blk.ffn.forward(blk.ffn_norm.forward(x)));
        }
        st.t += items.shape()[1];
        st.user = final_norm_.forward(last_row(x)).value();  // (B, C)
    }

    std::vector<std::pair<std::string, Shape>> stream_layout(int64_t t) const override {
        auto layout = Recommender::stream_layout(0);
        for (std::size_t i = 0; i < blocks_.size(); ++i)
            set_pending_layout(layout, "ttt." + std::to_string(i) + ".", blocks_[i].ttt, t);
        return layout;
    }

    std::string stream_summary() const override {
        return "per TTT layer the inner weights W (the user's model that test-time training updates) and the "
               "unfinished mini-batch; an event costs O(layers * C^2), whatever the history length";
    }

    void disable_ttt() override {
        for (Block& b : blocks_) b.ttt.cfg.base_lr = 0.0f;
    }

private:
    struct Block {
        Block(const RecConfig& c, const TTT4RecOptions& o, Rng& rng)
            : seq_norm(c.dim), ttt(layer_config(c, o), rng), ffn_norm(c.dim), ffn(c.dim, o.ffn_hidden, rng, c.init_range) {
            if (o.backbone == "mamba") {  // h = h + CausalConv_k4(RMSNorm(h)) before the block
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

    static TTTConfig layer_config(const RecConfig& c, const TTT4RecOptions& o) {
        TTTConfig t = ttt_layer_config(c.dim, o.heads, o.mini_batch, o.base_lr, o.inner, o.inner_loop, o.rope_base, c.init_range);
        t.use_gate = t.share_qk = o.backbone == "mamba";
        return t;
    }

    Dropout emb_dropout_;
    LayerNorm emb_norm_;
    std::vector<Block> blocks_;
    RMSNorm final_norm_;
};

std::unique_ptr<Recommender> make(const RecConfig& c, Rng& rng) { return std::make_unique<TTT4Rec>(c, rng); }

}  // namespace

ModelEntry ttt4rec_entry() {
    return {"ttt4rec", "TTT4Rec (Yang, Wang, Ge 2024): TTT-Linear/MLP blocks with SwiGLU, softmax CE", &defaults, &validate, &make,
            &tiny};
}

}  // namespace tt::model
