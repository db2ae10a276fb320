// model/rec/din.cpp — DIN, the Deep Interest Network (Zhou et al., KDD 2018), in RecBole's version
// (its DIN model with SequenceAttLayer and MLPLayers), applied to next-item prediction:
//
//   local activation unit: w_j = MLP_att([q, k_j, q − k_j, q ⊙ k_j]) for each history item k_j and
//     candidate q, MLP_att = [4H -> F -> F -> F] with sigmoid after every layer, then F -> 1; padded
//     positions get w = 0 (no softmax), and every weight is divided by √H;
//   pooling: v = Σ_j w_j k_j;
//   output: logit = MLP_out([v, q, v ⊙ q]), MLP_out = [3H -> F -> F -> F] each Linear -> norm ->
//     Dice, then F -> 1; trained with binary cross-entropy against sampled negatives (label 1 for
//     the target, 0 for each negative, mean over all of them, as RecBole's repeated rows).
//
// A user has no vector of its own: each candidate is scored by running the network on (history,
// candidate). Choices, and where they deviate:
//   - dim defaults to 10, RecBole's embedding_size (not tttrec's 64): the attention runs an
//     F x F MLP per (candidate, position) pair, so its cost and the published parameter count
//     (283,650 non-embedding parameters at H = 10, F = 256) are RecBole's.
//   - norm: RecBole puts BatchNorm1d after each output Linear. Here each is a learnable
//     per-feature affine map γ x + β (γ = 1, β = 0 at init) without normalisation: what the
//     official TF code's batch norms reduce to (they never run in training mode, so they apply
//     their never-updated moving statistics), and the parameter count is RecBole's with its BN
//     affine parameters. Why not true BatchNorm: batch statistics make a row's score depend on the
//     other rows of its batch (score_candidates vs score_next vs streaming would differ), and
//     running statistics would add non-parameter state to every checkpoint.
//   - Dice is RecBole's, whose α is never trained: Dice(x) = x σ(x) (SiLU). The paper's Dice with
//     batch statistics is not offered (no --activation option).
//   - --dropout (default 0, RecBole's dropout_prob) drops the inputs of each output Linear, as
//     RecBole's MLPLayers, and also the history embeddings (the attention's keys), which RecBole
//     does not: it regularises the embeddings the attention reads, as SASRec's embedding dropout.
//   - init: RecBole's _init_weights (xavier-normal item table and Linear weights, zero biases).
//   - training on each example's last position only (the every-prefix examples; --positions every
//     would need one re-run of the attention per prefix and is refused).
// Serving cost, the reason DIN is usually evaluated on sampled candidates: scoring every item
// for one user runs the attention on V x T pairs, ≈ V · T · (F·H + 2F²) multiply-adds: with the
// RecBole sizes (H 10, F 256) and T 50 that is 6.6·10⁶ per item, 8·10¹⁰ per Beauty user.
//
// Legend: B = rows, T = positions, H = width (dim), F = MLP width, M = candidates per row,
// K = negatives per target, V = items + 1.
#include "model/rec/din.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "model/rec/comirec.hpp"  // append_window / check_window (the re-encoded stream window)
#include "model/rec/common.hpp"

namespace tt::model {

using namespace tt::ad;

namespace din {

Var lau_first_layer_concat(const Var& q, const Var& k, const Linear& layer) {
    const int64_t N = q.dim(0), M = q.dim(1), T = k.dim(1), H = q.dim(2);
    const Shape pair{N, M, T, H};
    Var qb = broadcast_to(reshape(q, Shape{N, M, 1, H}), pair);
    Var kb = broadcast_to(reshape(k, Shape{N, 1, T, H}), pair);
    return layer.forward(concat({qb, kb, sub(qb, kb), mul(qb, kb)}, -1));  // (N, M, T, 4H) -> (N, M, T, F)
}

Var lau_first_layer_split(const Var& q, const Var& k, const Linear& layer) {
    const int64_t N = q.dim(0), M = q.dim(1), T = k.dim(1), H = q.dim(2);
    const Var& W = layer.weight;  // (F, 4H)
    const int64_t F = W.dim(0);
    Var Wq = slice(W, 1, 0, H), Wk = slice(W, 1, H, 2 * H), Wd = slice(W, 1, 2 * H, 3 * H), Wp = slice(W, 1, 3 * H, 4 * H);
    Var aq = linear_bias(q, add(Wq, Wd), layer.bias);                                 // (N, M, F)
    Var ak = matmul(k, sub(Wk, Wd), false, true);                                      // (N, T, F)
    Var qk = mul(reshape(q, Shape{N, M, 1, H}), reshape(k, Shape{N, 1, T, H}));        // (N, M, T, H)
    Var ap = matmul(qk, Wp, false, true);                                              // (N, M, T, F)
    return add(add(ap, reshape(aq, Shape{N, M, 1, F})), reshape(ak, Shape{N, 1, T, F}));
}

Var dice_recbole(const Var& x) { return silu(x); }

}  // namespace din

namespace {

struct DINOptions final : Options<DINOptions> {
    int64_t mlp_hidden = 256;  // F: every hidden layer of both MLPs (RecBole reuses mlp_hidden_size)
    int64_t mlp_layers = 3;
    int64_t negatives = 1;     // sampled negatives per target (RecBole's default neg_sample_num)
    void visit(FieldVisitor& v) override {
        v.field("mlp_hidden", mlp_hidden, "hidden width of the attention and output MLPs");
        v.field("mlp_layers", mlp_layers, "hidden layers of each MLP");
        v.field("train_negatives", negatives, "sampled negatives per training target (binary cross-entropy)");
    }
};

RecConfig defaults() {  // RecBole DIN.yaml: embedding 10, MLP [256, 256, 256], dropout 0, one negative
    RecConfig c;
    c.model = "din";
    c.dim = 10, c.max_len = 50, c.dropout = 0.0f, c.loss = "bce", c.every_position = false;
    c.options = std::make_unique<DINOptions>();
    return c;
}

RecConfig tiny(int64_t n_items) {
    RecConfig c = defaults();
    c.n_items = n_items, c.dim = 6, c.max_len = 10, c.dropout = 0.2f;
    c.opts<DINOptions>().mlp_hidden = 12;
    c.opts<DINOptions>().mlp_layers = 2;
    return c;
}

void validate(const RecConfig& c) {
    const auto& o = c.opts<DINOptions>();
    check_loss(c, {"bce"});
    check_positive("mlp-hidden", o.mlp_hidden);
    check_positive("mlp-layers", o.mlp_layers);
    check_positive("train-negatives", o.negatives);
    if (c.every_position) throw std::invalid_argument("din scores each target with its own attention pass: use --positions last");
}

// xavier_normal as PyTorch: N(0, 2 / (fan_in + fan_out)); for a 2-D weight the two dims.
void xavier_normal(Var& w, Rng& rng) {
    const float std = std::sqrt(2.0f / static_cast<float>(w.dim(0) + w.dim(1)));
    w.mutable_value() = Tensor::randn(w.shape(), rng, 0.0f, std);
}

// The per-feature affine map that stands in for RecBole's BatchNorm1d (see the header).
struct FeatureAffine {
    explicit FeatureAffine(int64_t dim) : weight(ones_param(Shape{dim})), bias(zeros_param(Shape{dim})) {}
    Var forward(const Var& x) const { return add(mul(x, weight), bias); }
    void parameters(ParamList& out, const std::string& prefix) const {
        add_param(out, prefix, "weight", weight);
        add_param(out, prefix, "bias", bias);
    }
    Var weight, bias;  // (F)
};

class DIN final : public Recommender {
public:
    DIN(const RecConfig& c, Rng& rng) : Recommender(c), dropout_(c.dropout) {
        const auto& o = c.opts<DINOptions>();
        const int64_t H = c.dim, F = o.mlp_hidden;
        item_emb_ = std::make_unique<Embedding>(c.n_items + 1, H, rng, c.init_range, 0, false);
        xavier_normal(item_emb_->weight, rng);
        for (int64_t l = 0; l < o.mlp_layers; ++l) {
            att_.emplace_back(l == 0 ? 4 * H : F, F, rng);
            dnn_.emplace_back(l == 0 ? 3 * H : F, F, rng);
            norm_.emplace_back(F);
        }
        att_out_.emplace(F, 1, rng);
        dnn_out_.emplace(F, 1, rng);
        ParamList ps;
        parameters(ps, "");
        for (auto& [name, p] : ps)  // xavier-normal Linear weights (the biases start at 0), RecBole _init_weights
            if (p.rank() == 2 && name.find("item_embedding") == std::string::npos) xavier_normal(p, rng);
    }

    // The network's logits: history items (N, T) right-padded, candidates (N, M) -> (N, M).
    Var logits(const IntTensor& items, const IntTensor& candidates, const Ctx& ctx) const {
        const int64_t N = items.shape()[0], T = items.shape()[1], M = candidates.shape()[1], H = cfg_.dim;
        TT_CHECK(candidates.shape()[0] == N, "din: candidates must have one row per history");
        Var k = encode(items, ctx);              // (N, T, H)
        Var q = item_emb_->forward(candidates);  // (N, M, H)
        // Local activation unit: sigmoid MLP over [q, k, q − k, q ⊙ k], first layer in split form.
        Var a = sigmoid(din::lau_first_layer_split(q, k, att_[0]));  // (N, M, T, F)
        for (std::size_t l = 1; l < att_.size(); ++l) a = sigmoid(att_[l].forward(a));
        Var w = reshape(att_out_->forward(a), Shape{N, M, T});  // (N, M, T)
        // Padded positions weigh 0 (RecBole's softmax_stag = False), then everything / √H.
        w = mul(where(valid_mask(items).reshape(Shape{N, 1, T}), w, constant(Tensor::scalar(0.0f))),
                1.0f / std::sqrt(static_cast<float>(H)));
        Var v = matmul(w, k);  // (N, M, H) = Σ_j w_j k_j
        Var x = concat({v, q, mul(v, q)}, -1);  // (N, M, 3H)
        for (std::size_t l = 0; l < dnn_.size(); ++l)
            x = din::dice_recbole(norm_[l].forward(dnn_[l].forward(dropout_.forward(x, ctx))));  // (N, M, F)
        return reshape(dnn_out_->forward(x), Shape{N, M});
    }

    // The history embeddings (B, T, H) after dropout, the attention's keys: DIN has no
    // per-position user state.
    Var encode(const IntTensor& items, const Ctx& ctx) const override { return dropout_.forward(item_emb_->forward(items), ctx); }
    // What a stream's state.user holds: the history window as right-padded ids (B, max_len).
    Var user_states(const IntTensor& items, const IntTensor&, const Ctx&) const override {
        const int64_t B = items.shape()[0], T = items.shape()[1], L = cfg_.max_len;
        Tensor u = Tensor::zeros(Shape{B, L});
        for (int64_t b = 0; b < B; ++b)
            for (int64_t t = 0; t < std::min(T, L); ++t) u.data()[b * L + t] = static_cast<float>(items[b * T + t]);
        return constant(u);
    }

    void parameters(ParamList& out, const std::string& prefix) const override {
        item_emb_->parameters(out, prefix + "item_embedding.");
        for (std::size_t l = 0; l < att_.size(); ++l) att_[l].parameters(out, prefix + "attention.mlp." + std::to_string(l) + ".");
        att_out_->parameters(out, prefix + "attention.dense.");
        for (std::size_t l = 0; l < dnn_.size(); ++l) {
            dnn_[l].parameters(out, prefix + "dnn.mlp." + std::to_string(l) + ".");
            norm_[l].parameters(out, prefix + "dnn.norm." + std::to_string(l) + ".");
        }
        dnn_out_->parameters(out, prefix + "dnn.predict.");
    }

    int train_negatives() const override { return static_cast<int>(cfg_.opts<DINOptions>().negatives); }

    // Binary cross-entropy over [target, negatives] per row: label 1, then 0s; mean over all.
    Var loss(const TrainBatch& batch, const Ctx& ctx) const override {
        TT_CHECK(cfg_.loss == "bce", "din: unknown loss '" + cfg_.loss + "' (bce)");
        const int64_t B = batch.items.shape()[0], K = train_negatives();
        TT_CHECK(batch.negatives.defined() && batch.negatives.numel() == B * K,
                 "din: the loss needs " + std::to_string(K) + " sampled negatives per target, (B, K)");
        std::vector<int32_t> cands(static_cast<std::size_t>(B * (1 + K)));
        Tensor labels = Tensor::zeros(Shape{B, 1 + K});
        for (int64_t b = 0; b < B; ++b) {
            cands[static_cast<std::size_t>(b * (1 + K))] = batch.targets[b];
            labels.data()[b * (1 + K)] = 1.0f;
            for (int64_t j = 0; j < K; ++j) cands[static_cast<std::size_t>(b * (1 + K) + 1 + j)] = batch.negatives[b * K + j];
        }
        // Every row's labels are [1, 0, ..., 0], so the rows may be scored in any order: by length.
        const IntTensor candidates(Shape{B, 1 + K}, std::move(cands));
        std::vector<Var> parts;
        for (const LengthChunk& ch : length_chunks(batch.items, 1 + K))
            parts.push_back(logits(select_rows(batch.items, ch.rows, ch.t_max), select_rows(candidates, ch.rows, 1 + K), ctx));
        return bce_with_logits(parts.size() == 1 ? parts[0] : concat(parts, 0), labels);  // (B, 1+K) in chunk order
    }

    Tensor score_candidates(const IntTensor& items, const IntTensor&, const IntTensor& candidates) const override {
        NoGradGuard no_grad;
        const int64_t V = cfg_.n_items + 1;
        for (int64_t i = 0; i < candidates.numel(); ++i)
            TT_CHECK(candidates[i] >= 1 && candidates[i] < V, "score_candidates: item " + std::to_string(candidates[i]) +
                                                                  " outside 1.." + std::to_string(V - 1));
        const int64_t N = items.shape()[0], M = candidates.shape()[1];
        TT_CHECK(candidates.shape()[0] == N, "din: candidates must have one row per history");
        Tensor out = Tensor::empty(Shape{N, M});  // (N, M), rows back in the caller's order
        for (const LengthChunk& ch : length_chunks(items, M)) {
            Tensor s = logits(select_rows(items, ch.rows, ch.t_max), select_rows(candidates, ch.rows, M), Ctx{}).value();
            for (std::size_t r = 0; r < ch.rows.size(); ++r)
                std::copy_n(s.data() + static_cast<int64_t>(r) * M, M, out.data() + ch.rows[r] * M);
        }
        return out;
    }

    // The network for every item (cost in the header), chunked over the items so that the
    // (B, chunk, T, F) activations stay near 4M floats whatever V.
    Tensor score_next(const IntTensor& items, const IntTensor&) const override { return score_all(trimmed(items)); }

    StreamState start_stream(int64_t batch) const override {
        StreamState st;
        st.set("window", Tensor::zeros(Shape{batch, 0}));
        return st;
    }

    void advance(const IntTensor& items, StreamState& st) const override {
        NoGradGuard no_grad;
        Tensor& win = st.field("window");  // (B, W)
        TT_CHECK(win.defined() && win.shape().rank() == 2, "din advance: the state is not from this model's start_stream");
        check_piece(items, win.dim(0), cfg_.n_items, "din");
        IntTensor ids = append_window(win, items, cfg_.max_len);
        st.t += items.shape()[1];
        st.user = user_states(ids, IntTensor(), Ctx{}).value();  // (B, max_len) the window, 0-padded
    }

    // Runs the network over all items for the window held in state.user (the table is not used:
    // the network reads its own embeddings).
    Tensor score_stream(const StreamState& st, const Tensor&) const override {
        TT_CHECK(st.user.defined(), "din: the stream has no item yet");
        const int64_t B = st.user.dim(0), L = st.user.dim(1);
        std::vector<int32_t> ids(static_cast<std::size_t>(B * L));
        for (int64_t i = 0; i < B * L; ++i) ids[static_cast<std::size_t>(i)] = static_cast<int32_t>(st.user.data()[i]);
        Tensor s = score_all(trimmed(IntTensor(Shape{B, L}, std::move(ids))));
        for (int64_t b = 0; b < B; ++b) s.data()[b * s.dim(1)] = -std::numeric_limits<float>::infinity();  // padding
        return s;
    }

    std::vector<std::pair<std::string, Shape>> stream_layout(int64_t t) const override {
        return {{"window", Shape{1, std::min(t, cfg_.max_len)}}};
    }
    int64_t stream_window() const override { return cfg_.max_len; }
    void check_stream(const StreamState& st) const override { check_window_ids(st.field("window"), cfg_.n_items); }

    std::string stream_summary() const override {
        return "the last max_len items (DIN has no compact user state: every score runs the attention over the "
               "window); an event only appends, a query costs O(V * max_len * F * (H + F))";
    }

private:
    // Why rows are scored by length. The attention costs T x F^2 per (row, candidate) for the
    // batch's longest history T, whatever each row's own length: padding never changes a logit,
    // but it is computed. On Beauty (histories of 9 items on average, up to 50) a batch in data
    // order pays for ~50 positions per row where ~7 are real, and an epoch took ~7 minutes, most of
    // it evaluating the validation candidates. So rows are sorted by length (longest first, ties in
    // the batch's order) and cut into chunks whose rows are at least 4/5 as long as the chunk's
    // longest, each trimmed to that length: at most 1/4 of a chunk's positions are padding. A chunk
    // also holds at most kChunkPairs (row, candidate, position) triples, which bounds the
    // (pairs, F) activations of an evaluation (a 512-row batch of 100 candidates and 50 positions
    // would be 2.6 GB per layer at F = 256). Each row's logits are the same function of its own
    // inputs in any chunk (the network is row-wise), so only the order of the loss's sum changes.
    struct LengthChunk {
        std::vector<int64_t> rows;  // batch rows, longest history first
        int64_t t_max = 1;          // positions kept: the longest history of the chunk (>= 1)
    };
    static constexpr int64_t kChunkPairs = int64_t{1} << 15;

    // Each row's history length of right-padded items (B, T): one past its last non-padding id.
    static std::vector<int64_t> history_lengths(const IntTensor& items) {
        const int64_t B = items.shape()[0], T = items.shape()[1];
        std::vector<int64_t> len(static_cast<std::size_t>(B), 0);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t t = T - 1; t >= 0; --t)
                if (items[b * T + t] != 0) {
                    len[static_cast<std::size_t>(b)] = t + 1;
                    break;
                }
        return len;
    }

    // items (B, T) right-padded; M = candidates per row.
    static std::vector<LengthChunk> length_chunks(const IntTensor& items, int64_t M) {
        const std::vector<int64_t> len = history_lengths(items);
        std::vector<int64_t> order(len.size());
        std::iota(order.begin(), order.end(), int64_t{0});
        std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return len[static_cast<std::size_t>(x)] > len[static_cast<std::size_t>(y)]; });
        std::vector<LengthChunk> chunks;
        for (int64_t r : order) {
            const int64_t l = len[static_cast<std::size_t>(r)];
            const bool fits = !chunks.empty() && 5 * l >= 4 * chunks.back().t_max &&
                              static_cast<int64_t>(chunks.back().rows.size() + 1) * M * chunks.back().t_max <= kChunkPairs;
            if (!fits) chunks.push_back(LengthChunk{{}, std::max<int64_t>(l, 1)});
            chunks.back().rows.push_back(r);
        }
        return chunks;
    }

    // The first `width` columns of the given rows of x (B, T) -> (rows, width). (Ids, not a graph
    // op: not ad::gather_rows.)
    static IntTensor select_rows(const IntTensor& x, const std::vector<int64_t>& rows, int64_t width) {
        const int64_t T = x.shape()[1];
        std::vector<int32_t> out(rows.size() * static_cast<std::size_t>(width));
        for (std::size_t r = 0; r < rows.size(); ++r)
            for (int64_t t = 0; t < width; ++t) out[r * static_cast<std::size_t>(width) + static_cast<std::size_t>(t)] = x[rows[r] * T + t];
        return IntTensor(Shape{static_cast<int64_t>(rows.size()), width}, std::move(out));
    }

    // Drops the all-padding columns at the right: padding never changes a logit.
    static IntTensor trimmed(const IntTensor& items) {
        const std::vector<int64_t> len = history_lengths(items);
        int64_t Tm = 1;  // at least one position, even for a batch of empty histories
        for (int64_t l : len) Tm = std::max(Tm, l);
        if (Tm == items.shape()[1]) return items;
        std::vector<int64_t> all(len.size());
        std::iota(all.begin(), all.end(), int64_t{0});
        return select_rows(items, all, Tm);
    }

    Tensor score_all(const IntTensor& items) const {
        NoGradGuard no_grad;
        const int64_t B = items.shape()[0], T = items.shape()[1], V = cfg_.n_items + 1;
        const int64_t F = cfg_.opts<DINOptions>().mlp_hidden;
        const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 22) / std::max<int64_t>(1, B * T * F), 1, V);
        Tensor out = Tensor::empty(Shape{B, V});  // (B, V)
        for (int64_t v0 = 0; v0 < V; v0 += chunk) {
            const int64_t M = std::min(chunk, V - v0);
            std::vector<int32_t> cands(static_cast<std::size_t>(B * M));
            for (int64_t b = 0; b < B; ++b)
                for (int64_t m = 0; m < M; ++m) cands[static_cast<std::size_t>(b * M + m)] = static_cast<int32_t>(v0 + m);
            Tensor s = logits(items, IntTensor(Shape{B, M}, std::move(cands)), Ctx{}).value();  // (B, M)
            for (int64_t b = 0; b < B; ++b) std::copy_n(s.data() + b * M, M, out.data() + b * V + v0);
        }
        return out;
    }

    Dropout dropout_;                 // on the history embeddings and before each output Linear
    std::vector<Linear> att_;         // 4H -> F, F -> F, ...
    std::optional<Linear> att_out_;   // F -> 1
    std::vector<Linear> dnn_;         // 3H -> F, F -> F, ...
    std::vector<FeatureAffine> norm_; // (F) each
    std::optional<Linear> dnn_out_;   // F -> 1
};

std::unique_ptr<Recommender> make(const RecConfig& c, Rng& rng) { return std::make_unique<DIN>(c, rng); }

}  // namespace

ModelEntry din_entry() {
    return {"din", "DIN (Zhou et al. 2018, RecBole variant): target attention over the history, a network per candidate",
            &defaults, &validate, &make, &tiny};
}

}  // namespace tt::model
