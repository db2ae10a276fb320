// model/recommender.hpp — the sequential recommenders: TTT4Rec (Yang et al.), TTT4Rec-FE (Zhan et
// al.), SASRec and GRU4Rec, behind one interface that the trainer and the evaluator use.
//
// Input convention (data/batch.hpp): item ids (B, T), right-padded with 0, lengths (B) >= 1.
// Every model maps a history to a user state h at each position (B, T, C) and scores items with a
// dot product against item representations (the tied item embeddings, or an MLP of them for
// TTT4Rec-FE). Two training modes:
//   last position  — one (history, next item) pair per row, as the TTT4Rec code trains;
//   every position — each prefix predicts its next item, as the SASRec/S3Rec code trains.
// Two losses: "ce" (softmax cross-entropy over all items, the TTT4Rec / RecBole choice) and
// "bce" (one sampled negative per target, binary cross-entropy, as the original SASRec).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/layers.hpp"
#include "model/module.hpp"
#include "model/ttt.hpp"

namespace tt::model {

struct RecConfig {
    std::string model = "ttt4rec";  // ttt4rec | ttt4rec-fe | sasrec | gru4rec
    int64_t n_items = 0;            // V - 1 (ids 1..n_items; 0 = padding)
    int64_t max_len = 50;           // T
    int64_t dim = 64;               // C
    int64_t heads = 4;
    int64_t blocks = 1;
    int64_t ffn_hidden = 256;       // SwiGLU / pointwise FFN width
    float dropout = 0.2f;
    float init_range = 0.02f;
    // TTT layer (TTT_SPEC §1, §2.1 defaults)
    std::string inner = "mlp";           // linear | mlp
    std::string backbone = "transformer";  // transformer | mamba
    std::string inner_loop = "fast";     // fast (dual form) | general (nested autodiff)
    int64_t mini_batch = 8;
    float base_lr = 1.0f;
    float rope_base = 1000.0f;
    // SASRec
    std::string loss = "ce";        // ce | bce
    bool every_position = false;    // training mode (see header)
    // GRU4Rec
    int64_t gru_hidden = 64;

    std::string describe() const;
};

// The defaults of each published model, before flags override them (TTT_SPEC §2, BASELINES §0).
RecConfig default_config(const std::string& model);

// The carried state of B sequences for incremental encoding (online serving, model/online.hpp):
// what each model needs to turn the next item into the next user state without re-reading the
// history. Every field holds constants; the fields a model does not use stay empty.
struct StreamState {
    int64_t t = 0;              // items fed so far (the same for every row)
    std::vector<TTTState> ttt;  // TTT4Rec / TTT4Rec-FE: per TTT layer, the inner weights at the start of
                                // the current mini-batch + its pending inputs (+ the share_qk conv history)
    std::vector<Var> pre_conv;  // TTT4Rec Mamba backbone: per block, the pre-conv's last k−1 inputs (B, k−1, C)
    Var gru_h;                  // GRU4Rec: the hidden state after the last item (B, H)
    IntTensor window;           // SASRec: the last <= max_len items (B, W); attention re-encodes them
};

class Recommender {
public:
    virtual ~Recommender() = default;

    // User states at every position: items (B, T) -> (B, T, C).
    virtual Var encode(const IntTensor& items, const Ctx& ctx) const = 0;
    // Item representations used for scoring: (V, C), row 0 = padding.
    virtual Var item_table(const Ctx& ctx) const;
    virtual void parameters(ParamList& out, const std::string& prefix = "") const = 0;

    // Training loss for one batch. `targets` (B) for the last-position mode; `position_targets`
    // (B, T) (0 = no target) for the every-position mode; `negatives` (B) or (B, T): one sampled
    // negative per target, needed by the bce loss.
    Var loss(const IntTensor& items, const IntTensor& lengths, const IntTensor& targets,
             const IntTensor& position_targets, const IntTensor& negatives, const Ctx& ctx) const;

    // Scores of every item for the next position after each row's last real item: (B, V).
    Tensor score_next(const IntTensor& items, const IntTensor& lengths) const;

    // Incremental encoding. start_stream: the state of `batch` empty histories. advance: feeds the
    // next items of every row, items (B, T') with T' >= 1 and no padding, and returns the user state
    // after the last of them (B, C) — the same as encode() over the whole history so far at its last
    // position (SASRec: over the last max_len items, its attention window). Evaluation mode, no tape.
    // Cost per item: O(layers · C²) for the TTT models and GRU4Rec, whatever the history length;
    // SASRec re-encodes its window, O(blocks · max_len · C · (C + max_len)).
    virtual StreamState start_stream(int64_t batch) const = 0;
    virtual Var advance(const IntTensor& items, StreamState& state) const = 0;

    // The TTT ablation of apps/eval --no-ttt: the inner learning rate is 0, so every TTT layer
    // keeps its learned initial state W0 (no adaptation to the history). No-op for other models.
    virtual void disable_ttt() {}

    const RecConfig& config() const { return cfg_; }

protected:
    explicit Recommender(RecConfig cfg) : cfg_(std::move(cfg)) {}
    RecConfig cfg_;
    std::unique_ptr<Embedding> item_emb_;  // (V, C), every model has one
};

std::unique_ptr<Recommender> make_recommender(const RecConfig& cfg, Rng& rng);

// h (B, T, C) at positions lengths-1 -> (B, C): the state after each row's last real item.
Var last_positions(const Var& h, const IntTensor& lengths);

}  // namespace tt::model
