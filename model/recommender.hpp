// model/recommender.hpp — the interface every sequential recommender implements, with the
// dot-product defaults that most of them share. The models themselves are one file each in
// model/rec/, listed in the registry (model/registry.hpp).
//
// Input convention (data/batch.hpp): item ids (B, T), right-padded with 0, lengths (B) >= 1.
// A model maps a history to a user state h at each position (encode: (B, T, C)) and, by default,
// scores an item by the dot product of the state after the last real item with the item's row of
// item_table() (V, C): the tied item embeddings, or a function of them. Models that score
// differently (several interests, a network per candidate, a bias per item) override the hooks:
//
//   loss()              training loss of a batch. Default: cfg.loss = "ce" (softmax over all items,
//                       fused, the logits never stored) or "bce" (one sampled negative per target),
//                       on the states of the last position or of every position (cfg.every_position).
//   user_states()       (B, C) the state that scores the next item. Default: encode at lengths-1.
//   score_next()        (B, V) scores of every item. Default: user_states · item_tableᵀ.
//   score_candidates()  (B, M) scores of a candidate list per row. Default: dot with gathered rows.
//   start_stream(), advance(), score_stream(): incremental encoding for online serving (below).
//
// Legend: B = rows, T = positions, C = width, V = items + 1 (row 0 = padding), M = candidates.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/config.hpp"
#include "model/layers.hpp"
#include "model/module.hpp"

namespace tt::model {

// What the loss sees of a training batch (data::Batch without depending on data/).
struct TrainBatch {
    IntTensor items;             // (B, T) right-padded with 0
    IntTensor lengths;           // (B)
    IntTensor targets;           // (B) the next item after the last real position
    IntTensor position_targets;  // (B, T) every-position mode: next item at each position, 0 = none
    IntTensor negatives;         // (B, K) or (B, T, K): train_negatives() sampled negatives per target
};

// The carried state of B streams (users) for incremental encoding. The model owns its fields:
// named tensors with the B rows first (absent fields are undefined). One generic path saves and
// loads them (model/online.cpp); stream_layout() says which shape each must have.
struct StreamState {
    int64_t t = 0;   // items fed so far (the same for every row)
    std::vector<std::pair<std::string, Tensor>> fields;
    Tensor user;     // (B, Q) what score_stream() reads: the user state after the last item

    Tensor& field(const std::string& name);              // throws if absent from the list
    const Tensor& field(const std::string& name) const;
    void set(const std::string& name, Tensor value);     // adds or replaces
};

class Recommender {
public:
    virtual ~Recommender() = default;

    // User states at every position: items (B, T) -> (B, T, C).
    virtual Var encode(const IntTensor& items, const Ctx& ctx) const = 0;
    virtual void parameters(ParamList& out, const std::string& prefix = "") const = 0;

    // Item representations used for scoring: (V, C), row 0 = padding.
    virtual Var item_table(const Ctx& ctx) const;
    // The state that scores the item after each row's last real item: (B, C).
    virtual Var user_states(const IntTensor& items, const IntTensor& lengths, const Ctx& ctx) const;

    // Training loss of one batch (see the header comment for the default).
    virtual Var loss(const TrainBatch& batch, const Ctx& ctx) const;
    // Sampled negatives per target that loss() needs in TrainBatch::negatives (0: none).
    virtual int train_negatives() const { return cfg_.loss == "bce" ? 1 : 0; }

    // Evaluation (no tape, dropout off). Scores of every item for the next position: (B, V).
    virtual Tensor score_next(const IntTensor& items, const IntTensor& lengths) const;
    // Scores of candidates (B, M) (item ids 1..n_items) for the next position: (B, M).
    virtual Tensor score_candidates(const IntTensor& items, const IntTensor& lengths, const IntTensor& candidates) const;

    // Incremental encoding, evaluation mode, no tape. start_stream: the state of `batch` empty
    // histories. advance: feeds the next items of every row, items (B, T') with T' >= 1 and no
    // padding, and sets state.user. After it, score_stream(state) equals score_next() over the
    // whole history so far (over its last stream_window() items when that is > 0).
    virtual StreamState start_stream(int64_t batch) const = 0;
    virtual void advance(const IntTensor& items, StreamState& state) const = 0;
    // (B, V) scores of every item from state.user; `table` = item_table() computed once by the
    // caller. Default: dot products of state.user (B, C) with the rows of the table.
    virtual Tensor score_stream(const StreamState& state, const Tensor& table) const;
    // The shape each field of a one-row state must have after t items (numel 0 = absent), in the
    // order of start_stream's fields. Default: the fields of start_stream(1) (fixed-size states).
    virtual std::vector<std::pair<std::string, Shape>> stream_layout(int64_t t) const;
    // 0: the stream reads the whole history; W > 0: only its last W items (attention windows).
    virtual int64_t stream_window() const { return 0; }
    // One line for `recommend --help`: what a user's state carries and what an event costs.
    virtual std::string stream_summary() const = 0;
    // Checks the values of a state read from a file (the shapes are checked against
    // stream_layout() and every value is finite before this is called); throws std::invalid_argument
    // for anything the model could not use (e.g. an item id out of range). Default: nothing more.
    virtual void check_stream(const StreamState&) const {}

    // The TTT ablation of apps/eval --no-ttt: the inner learning rate is 0, so every TTT layer
    // keeps its learned initial state W0 (no adaptation to the history). No-op for other models.
    virtual void disable_ttt() {}

    const RecConfig& config() const { return cfg_; }

protected:
    explicit Recommender(RecConfig cfg) : cfg_(std::move(cfg)) {}
    RecConfig cfg_;
    std::unique_ptr<Embedding> item_emb_;  // (V, C); the defaults above score against it
};

// ---- pieces the model files share -------------------------------------------------------------

// h (B, T, C) at positions lengths-1 -> (B, C): the state after each row's last real item.
Var last_positions(const Var& h, const IntTensor& lengths);
// The last position of (B, T', C) -> (B, C).
Var last_row(const Var& x);
// advance(): the piece must be (B, T') real items for the B rows of the state.
void check_piece(const IntTensor& items, int64_t state_rows, int64_t n_items, const std::string& model);
// The rows of (B, T, C) that have a training target, and the targets/negatives that go with them:
// the last real position of each row (cfg.every_position false) or every position with a
// non-zero next item. states (N, C), targets (N), negatives (N, K) (undefined without negatives).
struct TargetRows {
    Var states;
    IntTensor targets;
    IntTensor negatives;
};
TargetRows target_rows(const Var& h, const TrainBatch& batch, bool every_position);
// Window streams (models that re-encode their last max_len items: attention, DIN, ComiRec, NARM's
// slid window): the state field "window" (B, W) holds item ids as floats, exact below 2^24, so that
// it saves like every other field. append_window appends items (B, T') keeping the last max_len
// and returns the new window as ids (B, min(max_len, W + T')); check_window_ids is check_stream's
// test that every entry is an item id 1..n_items.
IntTensor append_window(Tensor& window, const IntTensor& items, int64_t max_len);
void check_window_ids(const Tensor& window, int64_t n_items);
// log(1 + e^x), stable.
Var softplus(const Var& x);
// Binary cross-entropy of positive and negative scores, mean over rows: -log σ(pos) - log(1 - σ(neg)).
Var bce_pos_neg(const Var& pos, const Var& neg);
// Dot products of states (N, C) with the rows `ids` (N) of the table (V, C) -> (N).
Var score_rows(const Var& states, const Var& table, const IntTensor& ids);

}  // namespace tt::model
