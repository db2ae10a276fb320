// model/recommender.cpp — the default hooks of Recommender (dot-product scoring, the ce / bce
// losses) and the pieces the model files in model/rec/ share.
//
// Reading order for a training step: the model's encode() (model/rec/<name>.cpp), then
// Recommender::loss below (the states that have a target -> fused softmax cross-entropy against
// the item table, or binary cross-entropy against one sampled negative).
#include "model/recommender.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/kernels.hpp"

namespace tt::model {

using namespace tt::ad;

// ------------------------------------------------------------------------------------------------
// StreamState

Tensor& StreamState::field(const std::string& name) {
    for (auto& [n, t] : fields)
        if (n == name) return t;
    throw std::invalid_argument("stream state has no field '" + name + "' (not a state of this model)");
}

const Tensor& StreamState::field(const std::string& name) const { return const_cast<StreamState*>(this)->field(name); }

void StreamState::set(const std::string& name, Tensor value) {
    for (auto& [n, t] : fields)
        if (n == name) {
            t = std::move(value);
            return;
        }
    fields.emplace_back(name, std::move(value));
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

Var last_row(const Var& x) {
    const int64_t B = x.shape()[0], T = x.shape()[1], C = x.shape()[2];
    return reshape(slice(x, 1, T - 1, T), Shape{B, C});
}

void check_piece(const IntTensor& items, int64_t state_rows, int64_t n_items, const std::string& model) {
    TT_CHECK(items.shape().rank() == 2 && items.shape()[1] >= 1,
             model + " advance: items must be (B, T') with T' >= 1, got " + items.shape().str());
    TT_CHECK(items.shape()[0] == state_rows, model + " advance: " + std::to_string(items.shape()[0]) +
                                                 " rows of items for a state of " + std::to_string(state_rows));
    for (int64_t i = 0; i < items.numel(); ++i)
        TT_CHECK(items[i] >= 1 && items[i] <= n_items, model + " advance: item " + std::to_string(items[i]) +
                                                           " is not a real item (1.." + std::to_string(n_items) + ")");
}

IntTensor append_window(Tensor& win, const IntTensor& items, int64_t max_len) {
    // An empty window comes back from a states file as an absent (undefined) field.
    if (!win.defined() || win.numel() == 0) win = Tensor::zeros(Shape{items.shape()[0], 0});
    const int64_t B = win.dim(0), W = win.dim(1), T = items.shape()[1];
    const int64_t N = std::min(max_len, W + T), skip = W + T - N;
    std::vector<int32_t> ids(static_cast<std::size_t>(B * N));
    for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < N; ++j) {  // position j of the new window = element skip + j of [window; items]
            const int64_t k = skip + j;
            ids[static_cast<std::size_t>(b * N + j)] = k < W ? static_cast<int32_t>(win.data()[b * W + k]) : items[b * T + (k - W)];
        }
    Tensor next = Tensor::empty(Shape{B, N});  // (B, N)
    for (int64_t i = 0; i < B * N; ++i) next.data()[i] = static_cast<float>(ids[static_cast<std::size_t>(i)]);
    win = next;
    return IntTensor(Shape{B, N}, std::move(ids));
}

void check_window_ids(const Tensor& win, int64_t n_items) {
    if (!win.defined()) return;
    for (int64_t i = 0; i < win.numel(); ++i) {
        const float id = win.data()[i];
        if (!(id >= 1 && id <= static_cast<float>(n_items)) || id != std::floor(id))
            throw std::invalid_argument("window: " + std::to_string(id) + " is not an item id (1.." + std::to_string(n_items) + ")");
    }
}

TargetRows target_rows(const Var& h, const TrainBatch& batch, bool every_position) {
    const int64_t B = h.shape()[0], T = h.shape()[1], C = h.shape()[2];
    TargetRows out;
    std::vector<int32_t> tgt, neg;
    int64_t K = 0;
    if (!every_position) {
        out.states = last_positions(h, batch.lengths);  // (B, C)
        tgt.assign(batch.targets.data(), batch.targets.data() + B);
        if (batch.negatives.defined()) {
            K = batch.negatives.numel() / B;
            neg.assign(batch.negatives.data(), batch.negatives.data() + B * K);
        }
    } else {
        TT_CHECK(batch.position_targets.defined(), "every-position training needs position_targets");
        if (batch.negatives.defined()) K = batch.negatives.numel() / (B * T);
        std::vector<int32_t> rows;
        for (int64_t i = 0; i < B * T; ++i)
            if (batch.position_targets[i] != 0) {
                rows.push_back(static_cast<int32_t>(i));
                tgt.push_back(batch.position_targets[i]);
                for (int64_t k = 0; k < K; ++k) neg.push_back(batch.negatives[i * K + k]);
            }
        TT_CHECK(!rows.empty(), "loss: the batch has no target");
        const int64_t N = static_cast<int64_t>(rows.size());
        out.states = gather_rows(reshape(h, Shape{B * T, C}), IntTensor(Shape{N}, std::move(rows)));  // (N, C)
    }
    const int64_t N = static_cast<int64_t>(tgt.size());
    out.targets = IntTensor(Shape{N}, std::move(tgt));
    if (K > 0) out.negatives = IntTensor(Shape{N, K}, std::move(neg));
    return out;
}

Var softplus(const Var& x) {  // relu(x) + log(1 + e^{-|x|}) with |x| = 2 relu(x) - x
    Var abs_x = sub(mul(relu(x), 2.0f), x);
    return add(relu(x), log(add(exp(neg(abs_x)), 1.0f)));
}

Var bce_pos_neg(const Var& pos, const Var& neg) {  // (N), (N)
    return mean(add(softplus(ad::neg(pos)), softplus(neg)));
}

Var score_rows(const Var& states, const Var& table, const IntTensor& ids) {
    return sum(mul(states, gather_rows(table, ids)), -1);
}

// ------------------------------------------------------------------------------------------------
// default hooks

Var Recommender::item_table(const Ctx&) const { return item_emb_->weight; }

Var Recommender::user_states(const IntTensor& items, const IntTensor& lengths, const Ctx& ctx) const {
    return last_positions(encode(items, ctx), lengths);  // (B, C)
}

Var Recommender::loss(const TrainBatch& batch, const Ctx& ctx) const {
    TargetRows r = target_rows(encode(batch.items, ctx), batch, cfg_.every_position);
    Var table = item_table(ctx);  // (V, C)
    if (cfg_.loss == "ce") {
        // = cross_entropy(states tableᵀ (N, V), targets), fused: the (N, V) logits are never
        // stored (310 MB per step on Beauty with every-position training), and one pass over them
        // gives the loss and its gradient.
        return linear_cross_entropy(r.states, table, r.targets);
    }
    TT_CHECK(cfg_.loss == "bce", cfg_.model + ": unknown loss '" + cfg_.loss + "' (ce, bce)");
    TT_CHECK(r.negatives.defined() && r.negatives.numel() == r.targets.numel(),
             "the bce loss needs one sampled negative per target");
    IntTensor neg(Shape{r.targets.numel()}, std::vector<int32_t>(r.negatives.data(), r.negatives.data() + r.negatives.numel()));
    return bce_pos_neg(score_rows(r.states, table, r.targets), score_rows(r.states, table, neg));
}

Tensor Recommender::score_next(const IntTensor& items, const IntTensor& lengths) const {
    NoGradGuard no_grad;
    Ctx eval;
    Var s = user_states(items, lengths, eval);  // (B, C)
    return tt::matmul(s.value(), item_table(eval).value(), false, true);  // (B, V)
}

Tensor Recommender::score_candidates(const IntTensor& items, const IntTensor& lengths, const IntTensor& candidates) const {
    NoGradGuard no_grad;
    Ctx eval;
    const int64_t B = candidates.shape()[0], M = candidates.shape()[1];
    Tensor s = user_states(items, lengths, eval).value();  // (B, C)
    Tensor table = item_table(eval).value();               // (V, C)
    const int64_t C = s.dim(1), V = table.dim(0);
    Tensor out = Tensor::empty(Shape{B, M});  // (B, M)
    for (int64_t b = 0; b < B; ++b)
        for (int64_t m = 0; m < M; ++m) {
            const int32_t id = candidates[b * M + m];
            TT_CHECK(id >= 1 && id < V, "score_candidates: item " + std::to_string(id) + " outside 1.." + std::to_string(V - 1));
            out.data()[b * M + m] = kernels::dot(s.data() + b * C, table.data() + id * C, static_cast<std::size_t>(C));
        }
    return out;
}

// One user at a time: V dot products of length C with the SIMD dot kernel. (A (1, C) x (C, V)
// matmul would first pack — transpose-copy — the whole (V, C) table on every call, which costs
// more than the arithmetic for one user.)
Tensor Recommender::score_stream(const StreamState& st, const Tensor& table) const {
    TT_CHECK(st.user.defined(), cfg_.model + ": the stream has no item yet");
    const int64_t B = st.user.dim(0), C = st.user.dim(1), V = table.dim(0);
    TT_CHECK(table.dim(1) == C, "score_stream: a user state of width " + std::to_string(C) + " for a table of width " +
                                    std::to_string(table.dim(1)));
    Tensor s = Tensor::empty(Shape{B, V});  // (B, V)
    const float* e = table.data();
    for (int64_t b = 0; b < B; ++b) {
        float* row = s.data() + b * V;
        const float* h = st.user.data() + b * C;
        for (int64_t v = 1; v < V; ++v) row[v] = kernels::dot(h, e + v * C, static_cast<std::size_t>(C));
        row[0] = -std::numeric_limits<float>::infinity();  // the padding item is never recommended
    }
    return s;
}

std::vector<std::pair<std::string, Shape>> Recommender::stream_layout(int64_t) const {
    StreamState fresh = start_stream(1);
    std::vector<std::pair<std::string, Shape>> out;
    for (const auto& [name, t] : fresh.fields) out.emplace_back(name, t.defined() ? t.shape() : Shape{0});
    return out;
}

}  // namespace tt::model
