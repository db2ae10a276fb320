// model/rec/gru4rec.cpp — GRU4Rec (Hidasi et al., ICLR 2016; RecBole's variant): item embedding ->
// dropout -> one GRU layer without biases -> linear back to C, scored against the item embeddings.
#include "model/rec/common.hpp"

namespace tt::model {

using namespace tt::ad;

namespace {

struct GRU4RecOptions final : Options<GRU4RecOptions> {
    int64_t gru_hidden = 64;
    void visit(FieldVisitor& v) override { v.field("gru_hidden", gru_hidden, "GRU hidden size"); }
};

RecConfig defaults() {  // RecBole GRU4Rec: embedding 64, hidden 64, one layer, dropout 0.3, CE
    RecConfig c;
    c.model = "gru4rec";
    c.dim = 64, c.dropout = 0.3f, c.loss = "ce", c.every_position = false;
    c.options = std::make_unique<GRU4RecOptions>();
    return c;
}

RecConfig tiny(int64_t n_items) {
    RecConfig c = defaults();
    c.n_items = n_items, c.dim = 8, c.max_len = 12;
    c.opts<GRU4RecOptions>().gru_hidden = 8;
    return c;
}

void validate(const RecConfig& c) {
    check_loss(c, {"ce", "bce"});
    check_positive("gru-hidden", c.opts<GRU4RecOptions>().gru_hidden);
}

class GRU4Rec final : public Recommender {
public:
    GRU4Rec(const RecConfig& c, Rng& rng)
        : Recommender(c), emb_dropout_(c.dropout), gru_(c.dim, c.opts<GRU4RecOptions>().gru_hidden, rng, /*bias=*/false),
          dense_(c.opts<GRU4RecOptions>().gru_hidden, c.dim, rng, c.init_range) {
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
        st.set("gru_h", Tensor::zeros(Shape{batch, gru_.hidden_size}));  // h0 = 0, as encode()
        return st;
    }

    void advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        Tensor& h = st.field("gru_h");  // (B, H)
        check_piece(items, h.dim(0), cfg_.n_items, "gru4rec");
        h = last_row(gru_.forward(item_emb_->forward(items), constant(h))).value();
        st.t += items.shape()[1];
        st.user = dense_.forward(constant(h)).value();  // (B, C)
    }

    std::string stream_summary() const override {
        return "the GRU hidden state after the last item; an event costs O(C * H + H^2), whatever the history length";
    }

private:
    Dropout emb_dropout_;
    GRU gru_;
    Linear dense_;
};

std::unique_ptr<Recommender> make(const RecConfig& c, Rng& rng) { return std::make_unique<GRU4Rec>(c, rng); }

}  // namespace

ModelEntry gru4rec_entry() {
    return {"gru4rec", "GRU4Rec (Hidasi et al. 2016, RecBole variant): a GRU over the history", &defaults, &validate, &make, &tiny};
}

}  // namespace tt::model
