// model/rec/sasrec.cpp — SASRec (Kang & McAuley, ICDM 2018): scaled item embedding + learned
// positions, causal self-attention blocks (pre-LayerNorm, pointwise ReLU FFN), final LayerNorm,
// scored against the item embeddings. NOTE: the blocks are the standard pre-norm residual form;
// pmixer/SASRec.pytorch adds the attention output to the *normed* query.
#include <algorithm>
#include <cmath>

#include "model/rec/common.hpp"

namespace tt::model {

using namespace tt::ad;

namespace {

struct SASRecOptions final : Options<SASRecOptions> {
    int64_t heads = 2;
    int64_t blocks = 2;
    int64_t ffn_hidden = 64;
    void visit(FieldVisitor& v) override {
        v.field("heads", heads, "attention heads");
        v.field("blocks", blocks, "self-attention blocks");
        v.field("ffn_hidden", ffn_hidden, "pointwise feed-forward width", "ffn");
    }
};

RecConfig defaults() {  // the S3Rec-family SASRec: C 64, 2 blocks x 2 heads, dropout 0.5, BCE, every position
    RecConfig c;
    c.model = "sasrec";
    c.dim = 64, c.dropout = 0.5f, c.loss = "bce", c.every_position = true;
    c.options = std::make_unique<SASRecOptions>();
    return c;
}

RecConfig tiny(int64_t n_items) {
    RecConfig c = defaults();
    c.n_items = n_items, c.dim = 8, c.max_len = 12, c.dropout = 0.2f;
    c.opts<SASRecOptions>().ffn_hidden = 8;
    return c;
}

void validate(const RecConfig& c) {
    const auto& o = c.opts<SASRecOptions>();
    check_loss(c, {"ce", "bce"});
    check_heads(c, o.heads, false);
    check_positive("blocks", o.blocks);
    check_positive("ffn", o.ffn_hidden);
}

class SASRec final : public Recommender {
public:
    SASRec(const RecConfig& c, Rng& rng) : Recommender(c), pos_emb_(c.max_len, c.dim, rng, c.init_range),
                                           emb_dropout_(c.dropout), final_norm_(c.dim, 1e-8f) {
        const auto& o = c.opts<SASRecOptions>();
        item_emb_ = std::make_unique<Embedding>(c.n_items + 1, c.dim, rng, c.init_range, 0, /*zero_padding_row=*/true);
        TransformerBlockConfig b;
        b.dim = c.dim, b.n_heads = o.heads, b.ffn_hidden = o.ffn_hidden, b.ffn = FfnKind::PointwiseReLU;
        b.norm = NormKind::LayerNorm, b.norm_eps = 1e-8f, b.dropout = c.dropout, b.attn_dropout = c.dropout;
        b.init_range = c.init_range;
        for (int64_t i = 0; i < o.blocks; ++i) blocks_.emplace_back(b, rng);
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
    // The window is a float field (B, W) so that it saves like every other field; item ids are
    // exact in float32 below 2^24.
    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        st.set("window", Tensor::zeros(Shape{batch, 0}));
        return st;
    }

    void advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        Tensor& win = st.field("window");  // (B, W); undefined when empty (read back from a states file)
        TT_CHECK(!win.defined() || win.shape().rank() == 2, "sasrec advance: the state is not from this model's start_stream");
        const int64_t B = win.defined() && win.numel() > 0 ? win.dim(0) : items.shape()[0];
        check_piece(items, B, cfg_.n_items, "sasrec");
        const int64_t T = items.shape()[1];
        IntTensor ids = append_window(win, items, cfg_.max_len);  // (B, N)
        st.t += T;
        st.user = last_row(encode(ids, Ctx{})).value();  // (B, C)
    }

    std::vector<std::pair<std::string, Shape>> stream_layout(int64_t t) const override {
        return {{"window", Shape{1, std::min(t, cfg_.max_len)}}};
    }
    int64_t stream_window() const override { return cfg_.max_len; }

    void check_stream(const StreamState& st) const override { check_window_ids(st.field("window"), cfg_.n_items); }

    std::string stream_summary() const override {
        return "the last max_len items (attention has no carried state); an event re-encodes them, "
               "O(blocks * max_len * C * (C + max_len))";
    }

private:
    PositionalEmbedding pos_emb_;
    Dropout emb_dropout_;
    std::vector<TransformerBlock> blocks_;
    LayerNorm final_norm_;
};

std::unique_ptr<Recommender> make(const RecConfig& c, Rng& rng) { return std::make_unique<SASRec>(c, rng); }

}  // namespace

ModelEntry sasrec_entry() {
    return {"sasrec", "SASRec (Kang & McAuley 2018): causal self-attention, learned positions", &defaults, &validate, &make, &tiny};
}

}  // namespace tt::model
