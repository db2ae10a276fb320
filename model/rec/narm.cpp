// model/rec/narm.cpp — NARM (Li, Ren, Chen, Ren, Lian, Ma: "Neural Attentive Session-based
// Recommendation", CIKM 2017) as RecBole's NARM model computes it:
//   item embedding -> dropout(p0) -> GRU without biases (PyTorch gate convention, h0 = 0)
//   global encoder  c_g = G at the last real item
//   local encoder   α_j = vᵀ(m_j · σ(A₁ G_j + A₂ c_g))  (no softmax; the padding mask m before v)
//                   c_l = Σ_j α_j G_j
//   c = dropout(p1)([c_l ; c_g]),  s = B c  (2H -> E, the bilinear decoder)
// scored against the item embeddings (softmax over every id, the padding id 0 included, as RecBole).
// Initialisation as RecBole's _init_weights: xavier_normal for the embedding (the padding row too)
// and for A₁, A₂, v, B; the GRU keeps PyTorch's default U(±1/√H).
//
// NOTE: the authors' Theano code differs (hard-sigmoid gates, a masked softmax over α); RecBole and
// the paper's equations use the plain unnormalised sum, which is what this file does.
//
// Legend: B = rows, T = positions, E = embedding width (--dim), H = GRU hidden size, V = items + 1.
#include "model/rec/narm.hpp"

#include <algorithm>
#include <cmath>

#include "model/rec/common.hpp"

namespace tt::model {

using namespace tt::ad;

NarmAttention narm_attention(const Var& G, const Var& cg, const Tensor& mask, const Var& a1, const Var& a2, const Var& v) {
    TT_CHECK(G.rank() == 3 && cg.rank() == 3 && G.dim(0) == cg.dim(0) && G.dim(2) == cg.dim(2),
             "narm_attention: G (B, T, H) and cg (B, Q, H) expected, got " + G.shape().str() + " and " + cg.shape().str());
    const int64_t B = G.dim(0), T = G.dim(1), H = G.dim(2), Q = cg.dim(1);
    TT_CHECK(mask.shape() == (Shape{B, Q, T}), "narm_attention: mask " + mask.shape().str() + ", expected (B, Q, T)");
    Var keys = reshape(linear(G, a1), Shape{B, 1, T, H});      // A₁ G_j, shared by every query: (B, 1, T, H)
    Var queries = reshape(linear(cg, a2), Shape{B, Q, 1, H});  // A₂ c_g: (B, Q, 1, H)
    Var gate = sigmoid(add(keys, queries));                    // (B, Q, T, H)
    // The mask multiplies the gate before v (RecBole's order); v has no bias, so a masked key gets
    // α = vᵀ0 = 0 exactly.
    gate = mul(gate, constant(mask.reshape(Shape{B, Q, T, 1})));
    NarmAttention out;
    out.alpha = reshape(linear(gate, v), Shape{B, Q, T});  // (B, Q, T)
    Var c_local = matmul(out.alpha, G);                    // Σ_j α_qj G_j: (B, Q, H)
    out.c = concat({c_local, cg}, -1);                     // (B, Q, 2H)
    return out;
}

namespace {

struct NARMOptions final : Options<NARMOptions> {
    int64_t hidden = 128;     // H
    int64_t layers = 1;       // stacked GRU layers (PyTorch nn.GRU num_layers, no dropout between them)
    float dropout2 = 0.5f;    // on [c_l ; c_g]; the embedding dropout is RecConfig::dropout
    void visit(FieldVisitor& v) override {
        v.field("hidden", hidden, "NARM GRU hidden size H");
        v.field("layers", layers, "layers (NARM: stacked GRU layers; BERT4Rec: Transformer layers)");
        v.field("dropout2", dropout2, "NARM dropout on the concatenated encoder [c_l; c_g] (--dropout is on the embedding)");
    }
};

RecConfig defaults() {  // RecBole NARM.yaml: embedding 64, hidden 128, 1 layer, dropout [0.25, 0.5], CE
    RecConfig c;
    c.model = "narm";
    c.dim = 64, c.dropout = 0.25f, c.loss = "ce", c.every_position = false;
    c.options = std::make_unique<NARMOptions>();
    return c;
}

RecConfig tiny(int64_t n_items) {
    RecConfig c = defaults();
    c.n_items = n_items, c.dim = 8, c.max_len = 12;
    c.opts<NARMOptions>().hidden = 8;
    return c;
}

void validate(const RecConfig& c) {
    const auto& o = c.opts<NARMOptions>();
    check_loss(c, {"ce", "bce"});
    check_positive("hidden", o.hidden);
    check_positive("layers", o.layers);
    check_unit_interval("dropout2", o.dropout2);
    // The attention is conditioned on c_g, the state after the *last* item, so each prefix needs its
    // own attention over all earlier states: T queries x T keys x H per row in training. encode()
    // computes exactly that (it is correct), but it is too large for training batches, and RecBole
    // trains NARM on the last position of each prefix row only.
    if (c.every_position)
        throw std::invalid_argument("narm: --positions every is not supported (NARM's attention depends on the last state, "
                                    "so every prefix needs its own O(T^2 H) attention); use --positions last, as RecBole does");
}

// xavier_normal_ for a (fan_out, fan_in) weight: N(0, 2 / (fan_in + fan_out)).
float xavier_std(int64_t fan_in, int64_t fan_out) { return std::sqrt(2.0f / static_cast<float>(fan_in + fan_out)); }

class NARM final : public Recommender {
public:
    NARM(const RecConfig& c, Rng& rng)
        : Recommender(c), hidden_(c.opts<NARMOptions>().hidden), emb_dropout_(c.dropout), ct_dropout_(c.opts<NARMOptions>().dropout2),
          a1_(hidden_, hidden_, rng, xavier_std(hidden_, hidden_), false),
          a2_(hidden_, hidden_, rng, xavier_std(hidden_, hidden_), false),
          v_(hidden_, 1, rng, xavier_std(hidden_, 1), false),
          b_(2 * hidden_, c.dim, rng, xavier_std(2 * hidden_, c.dim), false) {
        // RecBole builds nn.Embedding(padding_idx=0), then xavier_normal_ overwrites every row, the
        // padding row included (it still gets no gradient through the lookup).
        item_emb_ = std::make_unique<Embedding>(c.n_items + 1, c.dim, rng, xavier_std(c.dim, c.n_items + 1), 0, false);
        const int64_t layers = c.opts<NARMOptions>().layers;
        for (int64_t l = 0; l < layers; ++l) gru_.emplace_back(l == 0 ? c.dim : hidden_, hidden_, rng, /*bias=*/false);
    }

    // s at every position p, computed as if the history ended at p: c_g = G_p and the attention over
    // the real items j <= p (every prefix has its own attention: (B, T, T, H) — see validate()).
    Var encode(const IntTensor& items, const Ctx& ctx) const override {
        check_window(items);
        const int64_t B = items.shape()[0], T = items.shape()[1];
        Var G = gru_states(items, ctx);  // (B, T, H)
        Tensor mask = Tensor::zeros(Shape{B, T, T});
        for (int64_t b = 0; b < B; ++b)
            for (int64_t p = 0; p < T; ++p)
                for (int64_t j = 0; j <= p; ++j) mask.data()[(b * T + p) * T + j] = items[b * T + j] != 0 ? 1.0f : 0.0f;
        return decode(narm_attention(G, G, mask, a1_.weight, a2_.weight, v_.weight).c, ctx);  // (B, T, E)
    }

    // The state after each row's last real item, with one query per row (what RecBole computes).
    Var user_states(const IntTensor& items, const IntTensor& lengths, const Ctx& ctx) const override {
        check_window(items);
        const int64_t B = items.shape()[0], T = items.shape()[1];
        Var G = gru_states(items, ctx);                                      // (B, T, H)
        Var cg = reshape(last_positions(G, lengths), Shape{B, 1, hidden_});  // c_g = G[len - 1]: (B, 1, H)
        Tensor mask = valid_mask(items).reshape(Shape{B, 1, T});             // m_j = 1[x_j > 0]
        Var s = decode(narm_attention(G, cg, mask, a1_.weight, a2_.weight, v_.weight).c, ctx);  // (B, 1, E)
        return reshape(s, Shape{B, cfg_.dim});
    }

    // Last-position training only (validate() rejects every-position): one state per row.
    Var loss(const TrainBatch& batch, const Ctx& ctx) const override {
        Var s = user_states(batch.items, batch.lengths, ctx);  // (B, E)
        Var table = item_table(ctx);                           // (V, E)
        if (cfg_.loss == "ce") return linear_cross_entropy(s, table, batch.targets);  // softmax over all V ids
        TT_CHECK(batch.negatives.defined() && batch.negatives.numel() == batch.targets.numel(),
                 "narm: the bce loss needs one sampled negative per target");
        IntTensor neg(Shape{batch.targets.numel()},
                      std::vector<int32_t>(batch.negatives.data(), batch.negatives.data() + batch.negatives.numel()));
        return bce_pos_neg(score_rows(s, table, batch.targets), score_rows(s, table, neg));
    }

    void parameters(ParamList& out, const std::string& prefix) const override {
        item_emb_->parameters(out, prefix + "item_embedding.");
        for (std::size_t l = 0; l < gru_.size(); ++l) gru_[l].parameters(out, prefix + "gru." + std::to_string(l) + ".");
        a1_.parameters(out, prefix + "a_1.");
        a2_.parameters(out, prefix + "a_2.");
        v_.parameters(out, prefix + "v_t.");
        b_.parameters(out, prefix + "b.");
    }

    // The model reads the last max_len items (as the batches give them), and the GRU starts from
    // h0 = 0 at the first of them. The state keeps those items, the GRU state after them (per
    // layer) and their top-layer outputs G. While the history fits in max_len an event is one GRU
    // step; once it is longer, every event slides the window, which changes where the GRU starts,
    // so the window is re-encoded. Then the attention of the new last state reads all kept G_j.
    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        st.set("window", Tensor::zeros(Shape{batch, 0}));  // item ids as floats (exact below 2^24)
        st.set("gru_h", Tensor::zeros(Shape{batch, static_cast<int64_t>(gru_.size()), hidden_}));  // (B, layers, H)
        st.set("G", Tensor::zeros(Shape{batch, 0, hidden_}));                                        // (B, W, H)
        return st;
    }

    void advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        Tensor& win = st.field("window");  // (B, W)
        Tensor& h = st.field("gru_h");     // (B, layers, H)
        Tensor& G = st.field("G");         // (B, W, H)
        // An empty window may come back from a states file as an absent (undefined) field.
        const int64_t rows = items.shape().rank() == 2 ? items.shape()[0] : 0;
        if (!win.defined()) win = Tensor::zeros(Shape{rows, 0});
        if (!G.defined()) G = Tensor::zeros(Shape{rows, 0, hidden_});
        TT_CHECK(win.rank() == 2 && h.defined() && h.rank() == 3 && G.rank() == 3 && G.dim(1) == win.dim(1),
                 "narm advance: the state is not from this model's start_stream");
        const int64_t B = win.dim(0), W = win.dim(1), L = static_cast<int64_t>(gru_.size()), H = hidden_;  // W: kept items
        check_piece(items, B, cfg_.n_items, "narm");
        const int64_t T = items.shape()[1], N = std::min(cfg_.max_len, W + T), skip = W + T - N;
        Tensor kept = win;  // the window before the items, for append_window below
        const IntTensor window = append_window(kept, items, cfg_.max_len);  // (B, N)
        Ctx eval;
        Var x;              // the new top-layer outputs: (B, T or N, H)
        std::vector<Var> h_out(static_cast<std::size_t>(L));
        if (skip == 0) {    // the window only grows: continue every layer from its state
            x = item_emb_->forward(items);  // (B, T, E)
            for (int64_t l = 0; l < L; ++l) {
                Tensor h0 = Tensor::empty(Shape{B, H});  // layer l's state: (B, H)
                for (int64_t b = 0; b < B; ++b)
                    std::copy_n(h.data() + (b * L + l) * H, H, h0.data() + b * H);
                x = gru_[static_cast<std::size_t>(l)].forward(x, constant(h0));
                h_out[static_cast<std::size_t>(l)] = reshape(last_row(x), Shape{B, 1, H});
            }
            G = W == 0 ? x.value() : concat({constant(G), x}, 1).value();  // (B, N, H)
        } else {            // the window slid: the GRU restarts at its new first item
            x = item_emb_->forward(window);  // (B, N, E)
            for (int64_t l = 0; l < L; ++l) {
                x = gru_[static_cast<std::size_t>(l)].forward(x);
                h_out[static_cast<std::size_t>(l)] = reshape(last_row(x), Shape{B, 1, H});
            }
            G = x.value();  // (B, N, H)
        }
        h = concat(h_out, 1).value();  // (B, layers, H)
        win = kept;
        st.t += T;
        // Every kept item is real, so the mask is all ones; c_g is the last state.
        Var Gv = constant(G);
        Var cg = reshape(last_row(Gv), Shape{B, 1, H});
        Var s = decode(narm_attention(Gv, cg, Tensor::ones(Shape{B, 1, N}), a1_.weight, a2_.weight, v_.weight).c, eval);
        st.user = s.value().reshape(Shape{B, cfg_.dim});  // (B, E)
    }

    std::vector<std::pair<std::string, Shape>> stream_layout(int64_t t) const override {
        const int64_t W = std::min(t, cfg_.max_len);
        return {{"window", Shape{1, W}}, {"gru_h", Shape{1, static_cast<int64_t>(gru_.size()), hidden_}}, {"G", Shape{1, W, hidden_}}};
    }
    int64_t stream_window() const override { return cfg_.max_len; }

    void check_stream(const StreamState& st) const override { check_window_ids(st.field("window"), cfg_.n_items); }

    std::string stream_summary() const override {
        return "the last max_len items, the GRU state after them and their GRU outputs G; an event costs one GRU step "
               "O(layers * (E + H) * H) plus the attention over the kept states O(max_len * H^2), and once the history "
               "is longer than max_len the window slides and is re-encoded, O(max_len * layers * (E + H) * H)";
    }

private:
    void check_window(const IntTensor& items) const {
        TT_CHECK(items.shape().rank() == 2 && items.shape()[1] <= cfg_.max_len,
                 "narm: items must be (B, T) with T <= max_len " + std::to_string(cfg_.max_len) + ", got " + items.shape().str());
    }

    // G: the top GRU layer's output at every position, from h0 = 0 (padding steps included: their
    // outputs are never read, since c_g is taken at len - 1 and the mask zeroes their α).
    Var gru_states(const IntTensor& items, const Ctx& ctx) const {
        Var x = emb_dropout_.forward(item_emb_->forward(items), ctx);  // (B, T, E)
        for (const GRU& g : gru_) x = g.forward(x);                     // (B, T, H)
        return x;
    }

    // s = B dropout([c_l ; c_g]): (..., 2H) -> (..., E)
    Var decode(const Var& c, const Ctx& ctx) const { return b_.forward(ct_dropout_.forward(c, ctx)); }

    int64_t hidden_;
    Dropout emb_dropout_;
    Dropout ct_dropout_;
    std::vector<GRU> gru_;
    Linear a1_;  // A₁ (H, H)
    Linear a2_;  // A₂ (H, H)
    Linear v_;   // vᵀ (1, H)
    Linear b_;   // B (E, 2H)
};

std::unique_ptr<Recommender> make(const RecConfig& c, Rng& rng) { return std::make_unique<NARM>(c, rng); }

}  // namespace

ModelEntry narm_entry() {
    return {"narm", "NARM (Li et al. 2017, RecBole variant): GRU + attention conditioned on the last state", &defaults, &validate,
            &make, &tiny};
}

}  // namespace tt::model
