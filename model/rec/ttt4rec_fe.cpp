// model/rec/ttt4rec_fe.cpp — TTT4Rec-FE (Zhan, Lv, Zhang, Li, arXiv 2411.15186): one TTT-Linear
// layer as a feature extractor (RMSNorm -> TTT -> RMSNorm, no residual, no feed-forward), items
// scored through a two-layer target MLP t = fc2(tanh(fc1(e))), binary cross-entropy with one
// sampled negative per target.
#include <cmath>

#include "model/rec/common.hpp"
#include "model/rec/ttt_common.hpp"

namespace tt::model {

using namespace tt::ad;

namespace {

struct TTT4RecFEOptions final : Options<TTT4RecFEOptions> {
    int64_t heads = 4;
    std::string inner = "linear";
    std::string inner_loop = "fast";
    int64_t mini_batch = 10;
    float base_lr = 1.0f;
    float rope_base = 10000.0f;

    void visit(FieldVisitor& v) override {
        v.field("heads", heads, "TTT heads H (head width C/H, even)");
        v.field("inner", inner, "TTT inner model: linear | mlp");
        v.field("inner_loop", inner_loop, "TTT inner loop: fast (dual form) | general (nested autodiff)");
        v.field("mini_batch", mini_batch, "TTT mini-batch size b");
        v.field("base_lr", base_lr, "TTT base inner learning rate");
        v.field("rope_base", rope_base, "TTT RoPE base");
    }
};

RecConfig defaults() {  // Zhan et al. (model/TTT.md §8.2): C 64, 4 heads, TTT-Linear, b 10, no dropout, BCE
    RecConfig c;
    c.model = "ttt4rec-fe";
    c.dim = 64, c.dropout = 0.0f, c.loss = "bce", c.every_position = false;
    c.options = std::make_unique<TTT4RecFEOptions>();
    return c;
}

RecConfig tiny(int64_t n_items) {
    RecConfig c = defaults();
    c.n_items = n_items, c.dim = 8, c.max_len = 12, c.dropout = 0.1f;
    auto& o = c.opts<TTT4RecFEOptions>();
    o.heads = 2, o.mini_batch = 4;
    return c;
}

void validate(const RecConfig& c) {
    const auto& o = c.opts<TTT4RecFEOptions>();
    check_loss(c, {"ce", "bce"});
    check_heads(c, o.heads, true);
    check_positive("mini-batch", o.mini_batch);
    check_choice("inner", o.inner, {"linear", "mlp"});
    check_choice("inner-loop", o.inner_loop, {"fast", "general"});
    check_ttt_rates(o.base_lr, o.rope_base);
}

class TTT4RecFE final : public Recommender {
public:
    TTT4RecFE(const RecConfig& c, Rng& rng)
        : Recommender(c), emb_dropout_(c.dropout), seq_norm_(c.dim), ttt_(layer_config(c), rng), final_norm_(c.dim),
          target_fc1_(c.dim, c.dim, rng), target_fc2_(c.dim, c.dim, rng) {
        item_emb_ = std::make_unique<Embedding>(c.n_items + 1, c.dim, rng, c.init_range);
        // StackedDense in CoCorrRec (the first author's closest public code) is xavier_uniform: U(±sqrt(6 / (in + out))).
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
        pack_ttt_state(st, "ttt.0.", ttt_.initial_state(batch).detached());
        return st;
    }

    void advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        const int64_t B = items.shape().rank() == 2 ? items.shape()[0] : 0;
        TT_CHECK(st.field("ttt.0.W1").defined() && st.field("ttt.0.W1").dim(0) == B,
                 "ttt4rec-fe advance: the state is not from this model's start_stream for " + std::to_string(B) + " rows");
        check_piece(items, B, cfg_.n_items, "ttt4rec-fe");
        TTTState s = unpack_ttt_state(st, "ttt.0.");
        Var x = ttt_.forward_step(seq_norm_.forward(item_emb_->forward(items)), s);  // (B, T', C)
        pack_ttt_state(st, "ttt.0.", s);
        st.t += items.shape()[1];
        st.user = final_norm_.forward(last_row(x)).value();  // (B, C)
    }

    std::vector<std::pair<std::string, Shape>> stream_layout(int64_t t) const override {
        auto layout = Recommender::stream_layout(0);
        set_pending_layout(layout, "ttt.0.", ttt_, t);
        return layout;
    }

    std::string stream_summary() const override {
        return "the TTT layer's inner weights W and its unfinished mini-batch; an event costs O(C^2), whatever the history length";
    }

    void disable_ttt() override { ttt_.cfg.base_lr = 0.0f; }

private:
    static TTTConfig layer_config(const RecConfig& c) {
        const auto& o = c.opts<TTT4RecFEOptions>();
        return ttt_layer_config(c.dim, o.heads, o.mini_batch, o.base_lr, o.inner, o.inner_loop, o.rope_base, c.init_range);
    }

    Dropout emb_dropout_;  // identity at the published dropout 0
    RMSNorm seq_norm_;
    TTTLayer ttt_;
    RMSNorm final_norm_;
    Linear target_fc1_, target_fc2_;
};

std::unique_ptr<Recommender> make(const RecConfig& c, Rng& rng) { return std::make_unique<TTT4RecFE>(c, rng); }

}  // namespace

ModelEntry ttt4rec_fe_entry() {
    return {"ttt4rec-fe", "TTT4Rec-FE (Zhan, Lv, Zhang, Li 2024): a TTT-Linear feature extractor, target MLP, BCE",
            &defaults, &validate, &make, &tiny};
}

}  // namespace tt::model
