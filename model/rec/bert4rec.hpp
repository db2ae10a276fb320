// model/rec/bert4rec.hpp — the two input constructions of BERT4Rec (model/rec/bert4rec.cpp), exposed
// so that the tests can check them without a model: the cloze masking of training batches and the
// evaluation input with the mask token appended.
//
// Legend: B = rows, T = positions, N = predictions in a batch. Inputs are right-padded with 0.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.hpp"

namespace tt::model {

struct ClozeBatch {
    IntTensor inputs;    // (B, T) the items with the masked positions replaced by the mask id
    IntTensor rows;      // (N) flat positions b * T + p that are predicted (weight 1)
    IntTensor targets;   // (N) the original items at those positions
    bool fine_tune = false;  // the whole batch masked its last items only
    int64_t masked = 0;      // positions replaced by the mask id (>= N: see the cap and position 0)
};

// RecBole's MaskItemSequence transform ("mask_itemseq"), applied to one batch of histories:
//   with probability ft_ratio the whole batch is "fine-tune": each row's last real item becomes
//     the mask and is its only prediction;
//   otherwise every real position is masked independently with probability mask_ratio (always
//     replaced by the mask id, no 80/10/10 rule).
// Per row only the last `max_predictions` masked positions are predicted (RecBole left-pads the
// index lists to that length and keeps the last entries); the earlier ones stay masked in the input.
// A masked position 0 is never predicted: RecBole's loss weight is 1[masked_index > 0], and index 0
// is also its padding value. The draws: one uniform for the batch, then (not fine-tune) one per real
// position in row-major order, all from `rng`.
ClozeBatch bert4rec_cloze(const IntTensor& items, const IntTensor& lengths, int32_t mask_id, int64_t max_predictions,
                          float mask_ratio, float ft_ratio, Rng& rng);

struct EvalInput {
    IntTensor items;    // (B, T) [x_1 .. x_{len-1}, M, 0 ...]
    IntTensor lengths;  // (B) = the input lengths: the mask sits at len - 1
};

// RecBole's BERT4Rec.reconstruct_test_data: append a 0, write the mask id at index len, drop
// column 0. The first item of every row is dropped, also when len < T, so [a,b,c,0,0] (len 3) ->
// [b,c,M,0,0], read at position 2.
EvalInput bert4rec_eval_input(const IntTensor& items, const IntTensor& lengths, int32_t mask_id);

}  // namespace tt::model
