// data/split.hpp — train/valid/test examples for next-item prediction.
//
// An Example is one prediction: "given the user's items [begin, end), predict `target`". The
// history is a range of the user's chronological sequence (no copy); batching keeps only its most
// recent max_len items. Two protocols:
//
//   leave-one-out (S3Rec/SASRec code, data/README.md §P1): last item = test, second-to-last = valid,
//     the rest = training. Users with fewer than 3 interactions go entirely to training (SASRec).
//   ratio split (TTT4Rec / RecBole, data/README.md §P2): each user's n-1 augmented samples (every
//     prefix -> next item) are split chronologically 3:2:5 with RecBole's exact rounding.
//
// In both, valid/test histories contain all earlier true items (teacher forcing).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace tt::data {

struct Example {
    int32_t user = 0;
    int32_t begin = 0;   // history = ds.sequence(user)[begin, end)
    int32_t end = 0;
    int32_t target = 0;  // the item to predict (ds.sequence(user)[end] in the splits below)
};

// Which training examples a split emits.
enum class TrainExamples {
    EveryPrefix,   // one example per training target (RecBole-style augmentation; last-position loss)
    LongestPerUser // one example per user, its whole training part; for the every-position loss
                   // (S3Rec: input items[:-3] predicting items[1:-2]) set BatchOptions::every_position
};

enum class SplitKind { LeaveOneOut, Ratio };

struct Split {
    SplitKind kind = SplitKind::LeaveOneOut;
    std::vector<Example> train, valid, test;
    int64_t users_train_only = 0;     // users too short for valid/test (their items only train)
    int64_t users_without_sample = 0; // users with a single interaction: nothing to predict
    std::string describe() const;     // one line of counts, for logs
};

// Leave-one-out, as the S3Rec/SASRec code.
Split make_leave_one_out(const Dataset& ds, TrainExamples mode = TrainExamples::EveryPrefix);

// Chronological per-user ratio split of the augmented samples (TTT4Rec default 3:2:5).
// Ratios are normalised to sum 1 as RecBole does.
Split make_ratio_split(const Dataset& ds, std::array<double, 3> ratios = {0.3, 0.2, 0.5},
                       TrainExamples mode = TrainExamples::EveryPrefix);

// RecBole _calcu_split_ids: how many of a user's n samples go to train/valid/test.
// cnt = [int(r*n) for r]; cnt[0] = n - cnt[1] - cnt[2]; then for i = 1, 2 while cnt[0] > 1:
// if 0 < ratios[-i]*n < 1, move one sample from train to that part. n = 4 gives {1, 1, 2}.
std::array<int64_t, 3> ratio_split_counts(int64_t n, std::array<double, 3> ratios);

}  // namespace tt::data
