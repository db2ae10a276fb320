// model/rec/din.hpp — the first layer of DIN's local activation unit (Zhou et al., KDD 2018), in
// the two forms the tests compare: the network's definition, a Linear over the concatenation
// [q, k, q − k, q ⊙ k], and the split form the model runs, which never builds the (·, 4H) input.
//
// Legend: N = rows, M = candidates per row, T = history positions, H = embedding width,
// F = attention width.
#pragma once

#include "model/layers.hpp"

namespace tt::model::din {

// q (N, M, H) candidates, k (N, T, H) history -> (N, M, T, F) = W [q, k, q − k, q ⊙ k] + b, with
// W (F, 4H) the Linear's weight, built as the concatenation.
Var lau_first_layer_concat(const Var& q, const Var& k, const Linear& layer);
// The same value, split along W's input blocks W = [W_q | W_k | W_d | W_p]:
//   (W_q + W_d) q + b  per candidate,  (W_k − W_d) k  per position,  W_p (q ⊙ k)  per pair.
Var lau_first_layer_split(const Var& q, const Var& k, const Linear& layer);

// RecBole's Dice: its α is a plain tensor of zeros (never a parameter), so Dice(x) = x σ(x), SiLU.
Var dice_recbole(const Var& x);

}  // namespace tt::model::din
