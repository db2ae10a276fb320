// data/split.hpp — train/valid/test examples for next-item prediction.
//
// An Example is one prediction: "given the user's items [begin, end), predict `target`". The
// history is a range of the user's chronological sequence (no copy); batching keeps only its most
// recent max_len items. Two protocols:
//
//   leave-one-out (S3Rec/SASRec code, data/README.md §P1): last item = test, second-to-last = valid,
//     the rest = training. Users with fewer than 3 interactions go entirely to training (SASRec).
//   ratio split (data/README.md §P2; TTT4Rec on RecBole: SequentialDataset.data_augmentation, then
//     Dataset.split_by_ratio(group_by=user) with _calcu_split_ids): every interaction after a
//     user's first one becomes a sample (its whole earlier history -> it), BEFORE splitting; each
//     user's n-1 samples, in time order, are then cut into train/valid/test by the counts of
//     ratio_split_counts below. TTT4Rec uses 3:2:5; 6:2:2, 1:2:7, 8:1:1 are the same rule.
//
// In both, valid/test histories contain all earlier true items (teacher forcing), including the
// items of earlier valid/test samples: only the model is frozen at evaluation, not the history.
//
// Why per-user order equals RecBole's: RecBole stable-sorts the augmented samples by the target's
// timestamp before grouping them by user. Within one user the targets are already in
// non-decreasing time order (load_dataset stable-sorts by (user, timestamp), as RecBole sorts
// before augmenting), so a stable sort cannot reorder them, and grouping keeps that order.
#pragma once

#include <array>
#include <span>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.hpp"

namespace tt::data {

struct Example {
    int32_t user = 0;
    int32_t begin = 0;   // history = ds.sequence(user)[begin, end)
    int32_t end = 0;
    int32_t target = 0;  // the item to predict (ds.sequence(user)[end] in the splits below)
    // Every-position rows only: the targets at sequence indices < first_scored carry no loss (a later
    // window already scores them, with a longer history). 0: every target in the row is scored.
    int32_t first_scored = 0;
};

// Which training examples a split emits.
enum class TrainExamples {
    EveryPrefix,   // one example per training target (RecBole-style augmentation; last-position loss)
    LongestPerUser // one example per user, its whole training part; for the every-position loss
                   // (S3Rec: input items[:-3] predicting items[1:-2]) set BatchOptions::every_position
};

enum class SplitKind { LeaveOneOut, Ratio };

// A split protocol as named on the command line:
//   "loo"                    leave-one-out
//   "ratio"                  the TTT4Rec default, 3:2:5
//   "ratio:A:B:C"            train:valid:test weights, e.g. "ratio:6:2:2", "ratio:0.3:0.2:0.5";
//                            each a finite number > 0 (normalised to sum 1 by make_ratio_split)
struct SplitSpec {
    SplitKind kind = SplitKind::LeaveOneOut;
    std::array<double, 3> ratios = {3, 2, 5};  // as given (not normalised); unused for loo
    std::string str() const;                   // "loo" | "ratio:3:2:5" (parse_split(str()) gives it back)
    double train_share() const;                // ratios[0] / sum; NaN for loo (it varies per user)
};
// Throws std::invalid_argument naming the bad part, e.g. "--split 'ratio:3:x:5': 'x' is not a number".
SplitSpec parse_split(std::string_view text);

struct Split {
    SplitKind kind = SplitKind::LeaveOneOut;
    std::array<double, 3> ratios{};   // ratio split: the normalised train/valid/test shares
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

// The split a spec names.
Split split_dataset(const Dataset& ds, const SplitSpec& spec, TrainExamples mode = TrainExamples::EveryPrefix);

// Every-position rows that keep every training target, for training parts longer than max_len.
// A LongestPerUser row {u, begin, end} is batched as its most recent max_len items only, so the
// targets before them are lost (on ml-100k under 3:2:5, 20% of the targets; 45% under 6:2:2).
// This replaces each such row by windows of max_len items ending at end, end − stride, end − 2·stride,
// ...: each window scores only its last `stride` targets (first_scored), so every target is scored
// exactly once, with at least max_len − stride + 1 items of history; the earliest window starts at
// `begin` and scores all of its targets, whose histories are then the whole prefix, as in
// RecBole's one row per augmented sample. Rows no longer than max_len are left as they are.
// Needs 1 <= stride <= max_len.
std::vector<Example> window_rows(const Dataset& ds, std::span<const Example> rows, int64_t max_len, int64_t stride);

// RecBole _calcu_split_ids: how many of a user's n samples go to train/valid/test, for ratios
// already normalised to sum 1. In words: valid and test get floor(ratio * n) each (a double
// product, truncated), train gets the rest; then, test first and valid second, a part whose exact
// share ratio * n lies strictly between 0 and 1 (so it got nothing) takes one sample from train,
// but only while train still has more than one. So train keeps at least one sample, a user with a
// single sample is train-only, and small users get one valid/test sample before the floor would
// give them one. With 3:2:5: n = 1 {1,0,0}, 2 {1,0,1}, 3 {1,1,1}, 4 {1,1,2}, 9 {4,1,4}, 10 {3,2,5}
// (train shrinks from 9 to 10: the floors catch up). tests/data/recbole_split_ref.py is an
// independent Python statement of the rule that the tests compare against.
std::array<int64_t, 3> ratio_split_counts(int64_t n, std::array<double, 3> ratios);

}  // namespace tt::data
