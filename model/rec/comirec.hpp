// model/rec/comirec.hpp — the pieces of ComiRec (Cen et al., KDD 2020; THUDM/ComiRec) that the
// tests check on their own: the two multi-interest extractors (dynamic routing, self-attention),
// squash, TF's log-uniform candidate sampler and the sampled softmax built on it. The models
// themselves (comirec-sa, comirec-dr) are in comirec.cpp; din.cpp shares the window helper.
//
// Legend: B = rows, T = positions, C = width (d), K = interests, V = items + 1 (row 0 = padding),
// S = sampled candidates, N = rows of the loss.
#pragma once

#include <cstdint>
#include <vector>

#include "model/layers.hpp"

namespace tt::model::comirec {

// A stop-gradient: the same value, no path back to x (tf.stop_gradient).
Var detach(const Var& x);

// squash(s) = ‖s‖² / (1 + ‖s‖²) · s / √(‖s‖² + 1e-9) over the last axis (the capsule nonlinearity).
Var squash(const Var& s);

// Dynamic routing of ComiRec-DR (CapsuleNetwork with one bilinear map per position):
// e_hat (B, K, T, C) the per-interest predictions ê[k, t] = (W_t e_t)_k, mask (B, T) 1 at real items.
// Routing logits b (B, K, T) start at 0; each iteration c = softmax over the K interests of b, set
// to 0 at padded positions, s_k = Σ_t c[k, t] ê[k, t], v = squash(s); between iterations
// b += <ê[k, t], v_k>. All iterations but the last read ê and b with the gradient stopped, so
// gradients reach ê only through the last one, with its c a constant. -> v (B, K, C).
// c_trace, when given, receives c (B, K, T) of every iteration.
Var dynamic_routing(const Var& e_hat, const Tensor& mask, int iterations, std::vector<Tensor>* c_trace = nullptr);

// Self-attentive extraction of ComiRec-SA: x (B, T, C) the history embeddings, already zero at
// padded positions; pos (T, C) position embeddings; mask (B, T).
//   H₁ = tanh(W₁ (x + pos))  (B, T, F);  S = W₂ H₁ -> (B, K, T);  padded positions -2³² + 1;
//   A = softmax over T;  interests U = A x  (B, K, C)  (positions enter only the attention).
// attention, when given, receives A (B, K, T).
Var self_attentive_interests(const Var& x, const Var& pos, const Tensor& mask, const Linear& w1, const Linear& w2,
                             Tensor* attention = nullptr);

// TF's LogUniformCandidateSampler over ids [0, range_max):
// P(c) = (ln(c + 2) − ln(c + 1)) / ln(range_max + 1). Id 0 is the most likely.
double log_uniform_prob(int64_t c, int64_t range_max);

// S distinct ids drawn from the log-uniform distribution without replacement (TF unique=True:
// draw with replacement until S distinct values have appeared; num_tries counts every draw), with
// ln Q of each, Q(j) = 1 − (1 − P(j))^num_tries the expected count of j in that many draws (S P(j)
// when no draw was repeated, as TF). The same draws as data::LogUniformSampler for one Rng state
// (the model keeps its own copy so that model/ does not depend on data/).
struct SampledCandidates {
    std::vector<int32_t> ids;     // (S)
    std::vector<float> log_q;     // (S)
    int64_t num_tries = 0;
    int64_t range_max = 0;
};
SampledCandidates sample_log_uniform(int64_t num_sampled, int64_t range_max, Rng& rng);
// ln Q(j) for an id that was not necessarily drawn (the true classes).
float log_expected_count(int64_t id, const SampledCandidates& s);

// tf.nn.sampled_softmax_loss with a zero bias: for each row n, logits over [target_n, samples]
// of <u_n, e_j> − ln Q(j); a sample equal to target_n (an accidental hit) gets a large negative
// logit; softmax cross-entropy with the true class first, mean over rows.
// u (N, C), table (V, C), targets (N) -> scalar.
Var sampled_softmax_loss(const Var& u, const Var& table, const IntTensor& targets, const SampledCandidates& s);


}  // namespace tt::model::comirec
