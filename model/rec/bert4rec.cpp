// model/rec/bert4rec.cpp — BERT4Rec (Sun, Liu, Wu, Pei, Lin, Ou, Jiang: "BERT4Rec: Sequential
// Recommendation with Bidirectional Encoder Representations from Transformer", CIKM 2019) as RecBole's
// BERT4Rec model, its TransformerEncoder layers and its MaskItemSequence transform compute it:
//   x = dropout(LayerNorm(E[ids] + P[0..T-1]))           learned absolute positions, LN eps 1e-12
//   2 x post-LN Transformer layer, bidirectional:
//       a = LN(x + dropout(W_o MHA(x)))                  MHA with biases; pad keys get -10000 added
//       x = LN(a + dropout(W_2 gelu(W_1 a + b_1) + b_2)) exact (erf) GELU, no dropout between W_1, W_2
//   out = LN(gelu(W_out x + b_out))
//   logits = out E[:V]ᵀ + bias                           tied to the item rows, the mask row left out
// Training is the cloze task (bert4rec_cloze in model/rec/bert4rec.hpp): masked items are predicted
// with a softmax over the V ids (padding 0 included, as RecBole). Evaluation appends the mask token
// after the history and reads the output there (bert4rec_eval_input).
//
// The per-item bias rides along as one more column: the user state is [out ; 1] (C + 1) and the
// item table [E[:V] ; bias] (V, C + 1), so the default scoring hooks (score_next, score_candidates,
// score_stream) and the fused softmax cross-entropy all include it without a special case.
//
// Ids: 0 = padding, 1..n_items = items, M = n_items + 1 = the mask token; the embedding has
// n_items + 2 rows. Legend: B = rows, T = positions, C = width, Hd = heads, D = C / Hd,
// F = FFN width, V = n_items + 1 (the scored ids), N = predicted positions.
#include "model/rec/bert4rec.hpp"

#include <algorithm>
#include <cmath>

#include "model/rec/common.hpp"

namespace tt::model {

using namespace tt::ad;

ClozeBatch bert4rec_cloze(const IntTensor& items, const IntTensor& lengths, int32_t mask_id, int64_t max_predictions,
                          float mask_ratio, float ft_ratio, Rng& rng) {
    TT_CHECK(items.shape().rank() == 2 && lengths.numel() == items.shape()[0], "bert4rec_cloze: items (B, T) and lengths (B) expected");
    const int64_t B = items.shape()[0], T = items.shape()[1];
    ClozeBatch out;
    std::vector<int32_t> inputs(items.data(), items.data() + B * T), rows, targets;
    out.fine_tune = rng.uniform() < ft_ratio;  // one draw decides for the whole batch (RecBole's ft_ratio)
    std::vector<int64_t> masked;               // this row's masked positions, in order
    for (int64_t b = 0; b < B; ++b) {
        masked.clear();
        if (out.fine_tune) {
            const int64_t len = lengths[b];
            TT_CHECK(len >= 1 && len <= T, "bert4rec_cloze: length " + std::to_string(len) + " at row " + std::to_string(b));
            masked.push_back(len - 1);
        } else {
            for (int64_t p = 0; p < T && items[b * T + p] != 0; ++p)  // the real items end at the first 0
                if (rng.uniform() < mask_ratio) masked.push_back(p);
        }
        for (int64_t p : masked) inputs[static_cast<std::size_t>(b * T + p)] = mask_id;
        out.masked += static_cast<int64_t>(masked.size());
        // Only the last max_predictions are predicted; a mask at position 0 has the index of
        // RecBole's padding value and gets weight 0.
        const std::size_t first = masked.size() > static_cast<std::size_t>(max_predictions)
                                      ? masked.size() - static_cast<std::size_t>(max_predictions)
                                      : 0;
        for (std::size_t k = first; k < masked.size(); ++k) {
            const int64_t p = masked[k];
            if (p == 0) continue;
            rows.push_back(static_cast<int32_t>(b * T + p));
            targets.push_back(items[b * T + p]);
        }
    }
    out.inputs = IntTensor(Shape{B, T}, std::move(inputs));
    const auto N = static_cast<int64_t>(rows.size());
    out.rows = IntTensor(Shape{N}, std::move(rows));
    out.targets = IntTensor(Shape{N}, std::move(targets));
    return out;
}

EvalInput bert4rec_eval_input(const IntTensor& items, const IntTensor& lengths, int32_t mask_id) {
    TT_CHECK(items.shape().rank() == 2 && lengths.numel() == items.shape()[0],
             "bert4rec_eval_input: items (B, T) and lengths (B) expected");
    const int64_t B = items.shape()[0], T = items.shape()[1];
    std::vector<int32_t> out(static_cast<std::size_t>(B * T), 0);
    for (int64_t b = 0; b < B; ++b) {
        const int64_t len = lengths[b];
        TT_CHECK(len >= 1 && len <= T, "bert4rec_eval_input: length " + std::to_string(len) + " outside [1, " +
                                           std::to_string(T) + "] at row " + std::to_string(b));
        // [x_0 .. x_{len-1}, M] without x_0, left-aligned: x_k moves to k - 1, M to len - 1.
        for (int64_t k = 1; k < len; ++k) out[static_cast<std::size_t>(b * T + k - 1)] = items[b * T + k];
        out[static_cast<std::size_t>(b * T + len - 1)] = mask_id;
    }
    return {IntTensor(Shape{B, T}, std::move(out)), lengths};
}

namespace {

// RecBole's "gelu" is the exact erf form: ad::gelu_erf.

constexpr float kLnEps = 1e-12f;
// RecBole's extended attention mask: 0 for a real key, -10000 for a padding key (not -inf: a row of
// padding queries still has finite scores; exp(-10000) is exactly 0 in float next to a real key).
constexpr float kPadKeyScore = -10000.0f;

struct BERT4RecOptions final : Options<BERT4RecOptions> {
    int64_t heads = 2;
    int64_t layers = 2;
    int64_t ffn_hidden = 256;  // RecBole inner_size
    float attn_dropout = 0.2f;  // on the attention probabilities; --dropout is the hidden dropout
    float mask_ratio = 0.2f;
    float ft_ratio = 0.5f;
    void visit(FieldVisitor& v) override {
        v.field("heads", heads, "attention heads");
        v.field("layers", layers, "layers (NARM: stacked GRU layers; BERT4Rec: Transformer layers)");
        v.field("ffn_hidden", ffn_hidden, "feed-forward width", "ffn");
        v.field("attn_dropout", attn_dropout, "dropout on the attention probabilities");
        v.field("mask_ratio", mask_ratio, "BERT4Rec cloze: probability that a position is masked");
        v.field("ft_ratio", ft_ratio, "BERT4Rec cloze: probability that a batch masks only each row's last item");
    }
};

RecConfig defaults() {  // RecBole BERT4Rec.yaml: C 64, 2 layers x 2 heads, FFN 256, dropout 0.2 / 0.2, CE
    RecConfig c;
    c.model = "bert4rec";
    c.dim = 64, c.dropout = 0.2f, c.init_range = 0.02f, c.loss = "ce";
    // The cloze transform reads each training row's items and ignores its target, as RecBole's does
    // on its ordinary (prefix, next item) rows: last-position rows, one per training target, are the
    // RecBole pipeline (each epoch sees ~n differently masked prefixes per user). --positions every
    // gives one row per user (its longest training history) instead: fewer, longer rows.
    c.every_position = false;
    c.options = std::make_unique<BERT4RecOptions>();
    return c;
}

RecConfig tiny(int64_t n_items) {
    RecConfig c = defaults();
    c.n_items = n_items, c.dim = 8, c.max_len = 12;
    c.opts<BERT4RecOptions>().ffn_hidden = 16;
    return c;
}

int64_t max_predictions(const RecConfig& c) {  // RecBole: int(mask_ratio * MAX_ITEM_LIST_LENGTH)
    return static_cast<int64_t>(static_cast<double>(c.opts<BERT4RecOptions>().mask_ratio) * static_cast<double>(c.max_len));
}

void validate(const RecConfig& c) {
    const auto& o = c.opts<BERT4RecOptions>();
    check_loss(c, {"ce"});
    check_heads(c, o.heads, false);
    check_positive("layers", o.layers);
    check_positive("ffn", o.ffn_hidden);
    check_unit_interval("attn-dropout", o.attn_dropout);
    if (!(o.mask_ratio > 0 && o.mask_ratio < 1)) throw std::invalid_argument("--mask-ratio must be in (0, 1)");
    if (!(o.ft_ratio >= 0 && o.ft_ratio <= 1)) throw std::invalid_argument("--ft-ratio must be in [0, 1]");
    if (max_predictions(c) < 1)
        throw std::invalid_argument("--mask-ratio * --max-len must be >= 1 (it is the number of predictions per row)");
}

// One post-LN layer of RecBole's TransformerEncoder, bidirectional.
struct PostLNLayer {
    PostLNLayer(int64_t C, int64_t heads_, int64_t F, float dropout, float attn_dropout_p, float init, Rng& rng)
        : heads(heads_), q_proj(C, C, rng, init), k_proj(C, C, rng, init), v_proj(C, C, rng, init), o_proj(C, C, rng, init),
          attn_norm(C, kLnEps), fc1(C, F, rng, init), fc2(F, C, rng, init), ffn_norm(C, kLnEps),
          hidden_dropout(dropout), attn_dropout(attn_dropout_p) {}

    // x (B, T, C), key_bias (B, 1, 1, T): 0 or -10000 per key -> (B, T, C)
    Var forward(const Var& x, const Var& key_bias, const Ctx& ctx) const {
        const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2), D = C / heads;
        auto split_heads = [&](const Var& y) { return permute(reshape(y, Shape{B, T, heads, D}), {0, 2, 1, 3}); };
        Var q = split_heads(q_proj.forward(x));  // (B, Hd, T, D)
        Var k = split_heads(k_proj.forward(x));  // (B, Hd, T, D)
        Var v = split_heads(v_proj.forward(x));  // (B, Hd, T, D)
        Var scores = add(mul(matmul(q, k, false, true), 1.0f / std::sqrt(static_cast<float>(D))), key_bias);  // (B, Hd, T, T)
        Var probs = attn_dropout.forward(softmax(scores), ctx);                                                // (B, Hd, T, T)
        Var y = reshape(permute(matmul(probs, v), {0, 2, 1, 3}), Shape{B, T, C});                              // (B, T, C)
        Var a = attn_norm.forward(add(hidden_dropout.forward(o_proj.forward(y), ctx), x));                    // (B, T, C)
        Var f = fc2.forward(gelu_erf(fc1.forward(a)));                                                         // (B, T, C)
        return ffn_norm.forward(add(hidden_dropout.forward(f, ctx), a));
    }

    void parameters(ParamList& out, const std::string& prefix) const {
        q_proj.parameters(out, prefix + "attn.q_proj.");
        k_proj.parameters(out, prefix + "attn.k_proj.");
        v_proj.parameters(out, prefix + "attn.v_proj.");
        o_proj.parameters(out, prefix + "attn.o_proj.");
        attn_norm.parameters(out, prefix + "attn_norm.");
        fc1.parameters(out, prefix + "ffn.fc1.");
        fc2.parameters(out, prefix + "ffn.fc2.");
        ffn_norm.parameters(out, prefix + "ffn_norm.");
    }

    int64_t heads;
    Linear q_proj, k_proj, v_proj, o_proj;  // C -> C, with biases
    LayerNorm attn_norm;
    Linear fc1;  // C -> F
    Linear fc2;  // F -> C
    LayerNorm ffn_norm;
    Dropout hidden_dropout;
    Dropout attn_dropout;
};

class BERT4Rec final : public Recommender {
public:
    BERT4Rec(const RecConfig& c, Rng& rng)
        : Recommender(c), mask_id_(static_cast<int32_t>(c.n_items + 1)), pos_emb_(c.max_len, c.dim, rng, c.init_range),
          input_norm_(c.dim, kLnEps), input_dropout_(c.dropout), output_ffn_(c.dim, c.dim, rng, c.init_range),
          output_norm_(c.dim, kLnEps), output_bias_(zeros_param(Shape{c.n_items + 1})) {
        const auto& o = c.opts<BERT4RecOptions>();
        // N(0, 0.02) on every row, the padding row too (RecBole's _init_weights overwrites it); the
        // lookup gives row 0 no gradient, the tied output does.
        item_emb_ = std::make_unique<Embedding>(c.n_items + 2, c.dim, rng, c.init_range, 0, false);
        for (int64_t i = 0; i < o.layers; ++i)
            layers_.emplace_back(c.dim, o.heads, o.ffn_hidden, c.dropout, o.attn_dropout, c.init_range, rng);
    }

    // The output head at every position of the tokens as given (items may hold the mask id): (B, T, C).
    Var encode(const IntTensor& items, const Ctx& ctx) const override {
        TT_CHECK(items.shape().rank() == 2 && items.shape()[1] <= cfg_.max_len,
                 "bert4rec: items must be (B, T) with T <= max_len " + std::to_string(cfg_.max_len) + ", got " +
                     items.shape().str());
        const int64_t B = items.shape()[0], T = items.shape()[1];
        Tensor key_bias = Tensor::empty(Shape{B, 1, 1, T});  // (B, 1, 1, T)
        for (int64_t i = 0; i < B * T; ++i) key_bias.data()[i] = items[i] != 0 ? 0.0f : kPadKeyScore;
        Var x = input_dropout_.forward(input_norm_.forward(pos_emb_.forward(item_emb_->forward(items))), ctx);  // (B, T, C)
        Var bias = constant(key_bias);
        for (const PostLNLayer& layer : layers_) x = layer.forward(x, bias, ctx);
        return output_norm_.forward(gelu_erf(output_ffn_.forward(x)));  // (B, T, C)
    }

    // [E[:V] ; bias]: (V, C + 1), the mask row left out.
    Var item_table(const Ctx&) const override {
        const int64_t V = cfg_.n_items + 1;
        return concat({rows(item_emb_->weight, 0, V), reshape(output_bias_, Shape{V, 1})}, 1);
    }

    // The output at the appended mask token, as [out ; 1]: (B, C + 1).
    Var user_states(const IntTensor& items, const IntTensor& lengths, const Ctx& ctx) const override {
        EvalInput in = bert4rec_eval_input(items, lengths, mask_id_);
        return with_one(last_positions(encode(in.items, ctx), in.lengths));
    }

    // The cloze loss: mean softmax cross-entropy at the predicted masked positions. The masks come
    // from ctx.rng (the trainer's seeded generator, so runs are reproducible and resumable); without
    // a generator the batch is a fine-tune batch (each row's last item masked), which is deterministic.
    Var loss(const TrainBatch& batch, const Ctx& ctx) const override {
        const auto& o = cfg_.opts<BERT4RecOptions>();
        Rng fixed(0);
        Rng& rng = ctx.rng != nullptr ? *ctx.rng : fixed;
        const float ft_ratio = ctx.rng != nullptr ? o.ft_ratio : 1.0f;
        ClozeBatch cb = bert4rec_cloze(batch.items, batch.lengths, mask_id_, max_predictions(cfg_), o.mask_ratio, ft_ratio, rng);
        Var h = encode(cb.inputs, ctx);  // (B, T, C)
        const int64_t B = h.dim(0), T = h.dim(1), C = h.dim(2);
        // No prediction in the batch (possible: nothing forces a mask, position 0 is ignored): a zero
        // loss that is still on the tape, so a training step is a no-op instead of 0/0 as in RecBole.
        if (cb.rows.numel() == 0) return mul(sum(h), 0.0f);
        Var states = gather_rows(reshape(h, Shape{B * T, C}), cb.rows);  // (N, C): only masked positions, never padding
        return linear_cross_entropy(with_one(states), item_table(ctx), cb.targets);
    }
    int train_negatives() const override { return 0; }

    void parameters(ParamList& out, const std::string& prefix) const override {
        item_emb_->parameters(out, prefix + "item_embedding.");
        pos_emb_.parameters(out, prefix + "position_embedding.");
        input_norm_.parameters(out, prefix + "input_norm.");
        for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i].parameters(out, prefix + "layers." + std::to_string(i) + ".");
        output_ffn_.parameters(out, prefix + "output_ffn.");
        output_norm_.parameters(out, prefix + "output_norm.");
        add_param(out, prefix, "output_bias", output_bias_);
    }

    // Bidirectional attention has no carried state: keep what an evaluation batch row holds, the
    // last max_len items, and rebuild the evaluation input from them on every event (the first kept
    // item is dropped and the mask appended, so the encoder reads the last max_len - 1 items + M).
    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        st.set("window", Tensor::zeros(Shape{batch, 0}));  // item ids as floats (exact below 2^24)
        return st;
    }

    void advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        Tensor& win = st.field("window");  // (B, W)
        // An empty window may come back from a states file as an absent (undefined) field.
        if (!win.defined()) win = Tensor::zeros(Shape{items.shape().rank() == 2 ? items.shape()[0] : 0, 0});
        TT_CHECK(win.rank() == 2, "bert4rec advance: the state is not from this model's start_stream");
        const int64_t B = win.dim(0);
        check_piece(items, B, cfg_.n_items, "bert4rec");
        const int64_t T = items.shape()[1];
        IntTensor ids = append_window(win, items, cfg_.max_len);  // (B, N)
        const int64_t N = ids.shape()[1];
        st.t += T;
        st.user = user_states(ids, IntTensor(Shape{B}, std::vector<int32_t>(static_cast<std::size_t>(B), static_cast<int32_t>(N))), Ctx{})
                      .value();  // (B, C + 1)
    }

    std::vector<std::pair<std::string, Shape>> stream_layout(int64_t t) const override {
        return {{"window", Shape{1, std::min(t, cfg_.max_len)}}};
    }
    int64_t stream_window() const override { return cfg_.max_len; }

    void check_stream(const StreamState& st) const override { check_window_ids(st.field("window"), cfg_.n_items); }

    std::string stream_summary() const override {
        return "the last max_len items (bidirectional attention has no carried state); an event rebuilds the "
               "evaluation input (first kept item dropped, mask appended) and re-encodes it, "
               "O(layers * max_len * C * (C + F + max_len))";
    }

private:
    // [x ; 1]: (N, C) -> (N, C + 1), the column that meets the item bias in item_table().
    static Var with_one(const Var& x) { return concat({x, constant(Tensor::ones(Shape{x.dim(0), 1}))}, 1); }

    int32_t mask_id_;
    PositionalEmbedding pos_emb_;
    LayerNorm input_norm_;
    Dropout input_dropout_;
    std::vector<PostLNLayer> layers_;
    Linear output_ffn_;
    LayerNorm output_norm_;
    Var output_bias_;  // (V) zeros
};

std::unique_ptr<Recommender> make(const RecConfig& c, Rng& rng) { return std::make_unique<BERT4Rec>(c, rng); }

}  // namespace

ModelEntry bert4rec_entry() {
    return {"bert4rec", "BERT4Rec (Sun et al. 2019, RecBole variant): bidirectional post-LN Transformer, cloze training", &defaults,
            &validate, &make, &tiny};
}

}  // namespace tt::model
