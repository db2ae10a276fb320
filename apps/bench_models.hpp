// apps/bench_models.hpp — the benchmark models of the performance issue, built from model/ layers so
// that apps/bench measures exactly what the PyTorch peer (../shared/bench/ttt4rec_torch.py) runs:
// same layers, same sizes, same data layout, same loss, same optimizer, same timing policy.
//
// They are NOT the published recommenders (model/recommender.hpp), which differ on purpose (the
// TTT4Rec recommender right-pads, scores only positions with a target, has an embedding LayerNorm;
// our SASRec is the standard pre-norm block with a key padding mask). Here we copy the peer:
//
//   PeerTTT (--model ttt):  x = dropout(item_emb[seq] + pos_emb[0..L-1])          (p = 0.2)
//                           2 × [x += TTTLinear(RMSNorm(x)); x += SwiGLU(RMSNorm(x))]
//                           h = RMSNorm(x); logits = h E^T (tied, V = items + pad row)
//       TTT-Linear: 4 heads, mini-batch 16, base lr 1, no RoPE (the peer's default), post LayerNorm
//       and o_proj; the inner loop is ours: the dual form (--variant dual) or the general
//       nested-autodiff primal form (--variant primal).
//   PeerSASRec (--model sasrec, pmixer/SASRec.pytorch layout):
//                           x = dropout(item_emb*sqrt(C) + pos_emb) * keep        (keep = seq != 0)
//                           2 × [q = LN(x); x = q + MHA(q, x, x) (1 head, causal); x = LN(x);
//                                x = x + FFN(x) (C -> C ReLU, dropout); x *= keep]
//                           h = LN(x); logits = h E^T
// Both: cross-entropy over all items at every position (target 0 = left padding, ignored), Adam.
//
// Data: synthetic MovieLens-1M-shaped histories (6,040 users, 3,416 items, lognormal lengths with
// median 96, Zipf-like popularity), left-padded to L = 50 as the peer builds them.
//
// Legend: B = batch, L = sequence length, C = width, H = heads, D = C/H, F = FFN width,
// V = items + 1 (row 0 = padding), K = TTT mini-batch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/layers.hpp"
#include "model/recommender.hpp"
#include "model/ttt.hpp"

namespace tt::bench {

using ad::Var;

constexpr int64_t kUsers = 6040;
constexpr int64_t kItems = 3416;  // ids 1..kItems, 0 = padding

struct PeerConfig {
    std::string model = "ttt";      // ttt | sasrec
    std::string variant = "dual";   // ttt only: dual | primal
    int64_t L = 50, C = 64, heads = 4, blocks = 2, mini_batch = 16, ffn_hidden = 256;
    int64_t items = kItems;
    float dropout = 0.2f;
};

// Left-padded histories: inputs[u] (L) and next-item targets[u] (L), 0 = padding / no target.
struct PeerData {
    int64_t users = 0, L = 0;
    std::vector<int32_t> train_inputs, train_targets;  // (users, L) each: the last L+1 items shifted
    std::vector<int32_t> eval_inputs;                  // (users, L): the last L items (inference)
};
PeerData make_ml1m_like(int64_t L, uint64_t seed);

// The rows `users` of a (users, L) table as a (B, L) IntTensor.
IntTensor gather_users(const std::vector<int32_t>& table, int64_t L, const std::vector<int64_t>& users);

class PeerModel {
public:
    virtual ~PeerModel() = default;
    virtual Var encode(const IntTensor& seq, const model::Ctx& ctx) const = 0;  // (B, L) -> (B, L, C), final norm applied
    virtual void parameters(model::ParamList& out) const = 0;
    // Mean CE of the logits at every position (B*L, V) against targets (B*L), ignoring target 0.
    Var loss(const IntTensor& seq, const IntTensor& targets, const model::Ctx& ctx) const;
    // Full-ranking scores of the next item after the last position: (B, V). No tape.
    Tensor score_last(const IntTensor& seq) const;
    const Var& item_table() const { return item_emb_->weight; }

protected:
    std::unique_ptr<model::Embedding> item_emb_;  // (V, C)
};

std::unique_ptr<PeerModel> make_peer_model(const PeerConfig& cfg, Rng& rng);

// Model FLOPs, counted analytically (multiply-add = 2 flops, matmuls only; elementwise ops,
// norms, softmax and the optimizer are not counted). See bench_models.cpp for the formulas.
double forward_flops(const PeerConfig& cfg, int64_t B);         // encode + logits at every position
double train_step_flops(const PeerConfig& cfg, int64_t B);      // 3 × forward
double inference_flops(const PeerConfig& cfg, int64_t B);       // encode + logits at the last position

// ---- registry recommenders on the same data (apps/bench section train-rec) ---------------------
// Not the peer's models: any recommender of model/registry.hpp, trained by its own loss() on the
// same histories, to compare training throughput across the zoo (NARM, BERT4Rec, Mamba4Rec, ...).

// The model's published defaults with the benchmark's sizes: C 64, L 50, 3,416 items. Throws
// std::invalid_argument (naming the known models) for a name the registry does not have.
model::RecConfig rec_bench_config(const std::string& name);
// The rows `users` of the data as a registry TrainBatch: the same histories, right-padded as the
// recommenders expect (B, L), their lengths, the next item after each, the next item at every
// position (0 at padding), and `negatives` uniform negatives per target when the loss needs them:
// (B, K), or (B, L, K) with every_position (0 at padding).
model::TrainBatch rec_train_batch(const PeerData& d, const std::vector<int64_t>& users, int negatives,
                                  bool every_position, Rng& rng);

}  // namespace tt::bench
