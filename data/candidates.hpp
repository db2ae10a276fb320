// data/candidates.hpp — fixed candidate lists for the candidate-ranking protocol (the CTR-style
// evaluation of Zhan et al.'s TTT4Rec, AAAI'25 student abstract, and of DIN-family models): each
// evaluation example is scored on its held-out positive plus N sampled negatives instead of on all
// items, and every model must be scored on THE SAME lists, so the lists are drawn once, written to
// a file and read back.
//
// Rules of a candidate list (our choices; the generator behind Zhan et al.'s files is not public,
// and a public DUET reproduction on MovieLens-1M uses the same "1 positive + 99 unseen" layout):
//   - column 0 is the positive (the example's target), columns 1..N the negatives (N = 99 default);
//   - negatives are uniform over the real items 1..n_items minus EVERY item of the user's whole
//     sequence (as NegativeSampler: a later valid/test item is never a negative of an earlier
//     example), and DISTINCT within a list (a repeated negative would count twice in HR/NDCG/AUC);
//   - a list depends only on (seed, user, history end, dataset), never on the order examples are
//     given in or on which other examples are drawn, so valid and test lists can be made together
//     or apart and a re-run gives the same file;
//   - a user who has fewer than N items left to draw from is an error, not a shorter list.
// The position of the positive does not matter to the metrics: data/group_metrics.hpp ranks ties
// against the positive, so a model cannot gain from it being in column 0.
//
// File format (text, so a list can be inspected or produced by another tool; ids are tttrec's
// dense ids, tied to the dataset by a fingerprint):
//     tttrec-candidates 1
//     n_users <int>
//     n_items <int>
//     n_negatives <int>
//     seed <uint64>
//     dataset <16 hex digits: dataset_fingerprint()>
//     examples <int>
//     <user>\t<end>\t<positive> <neg_1> ... <neg_N>     (one line per example, `examples` lines)
//     end <16 hex digits: tt::checksum64 of every byte before this line, header included>
// The header order is fixed. A file that does not follow it exactly, that is truncated (no end
// line) or damaged (checksum), or whose lists break the rules above, is refused with a DataError
// "path:line: what is wrong: the line". Files are written atomically (temporary file, fsync,
// rename): a reader sees the old file or the complete new one.
//
// Training data for the same protocol (BCE with sampled negatives) needs nothing new: make the
// training batches with BatchOptions::negatives = K and a running NegativeSampler (fixed_negatives
// = false); batch.targets are the label-1 items and batch.negatives (B, K) — (B, L, K) with
// every_position — the label-0 items, fresh each epoch, uniform over the items the user never
// interacted with, with replacement. K = 1 is SASRec's and DIN's recipe, K = 4 the DUET
// reproduction's.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "data/batch.hpp"
#include "data/dataset.hpp"
#include "data/group_metrics.hpp"
#include "data/split.hpp"
#include "tensor/tensor.hpp"

namespace tt::data {

// 64-bit fingerprint of a dataset's content (user/item counts, offsets, item sequence): a
// candidate file made for one dataset is refused for another, e.g. after a different k-core.
uint64_t dataset_fingerprint(const Dataset& ds);

class CandidateSet {
public:
    struct Key {
        int32_t user = 0;
        int32_t end = 0;  // the example's history end: identifies an example within its user
    };

    CandidateSet() = default;
    // From its parts (used by make_candidates and load_candidates). `lists` is (keys.size(), 1+N),
    // row-major. Checks shapes, id ranges, distinct negatives, negatives != positive, unique keys.
    CandidateSet(int32_t n_users, int32_t n_items, int n_negatives, uint64_t seed, uint64_t fingerprint,
                 std::vector<Key> keys, std::vector<int32_t> lists);

    int64_t size() const { return static_cast<int64_t>(keys_.size()); }
    int width() const { return 1 + n_negatives_; }  // M = 1 + N candidates per list
    int n_negatives() const { return n_negatives_; }
    int32_t n_users() const { return n_users_; }
    int32_t n_items() const { return n_items_; }
    uint64_t seed() const { return seed_; }
    uint64_t fingerprint() const { return fingerprint_; }
    const std::vector<Key>& keys() const { return keys_; }
    std::span<const int32_t> row(int64_t r) const;  // the r-th list: positive, then negatives

    int64_t find(int32_t user, int32_t end) const;  // row of that example, -1 if absent
    // The candidate ids of a batch, (B, 1+N), row b for rows[b], column 0 = the positive. Throws
    // DataError when an example has no list or its target is not the list's positive (a candidate
    // file made for another split).
    IntTensor for_batch(std::span<const Example> rows) const;

    // Checks that this set belongs to `ds` (fingerprint, counts) and that every list follows the
    // rules against the data: the positive is ds.sequence(user)[end] and no negative is one of the
    // user's items. `source` names the set in the message (a path, or "candidates").
    void validate_against(const Dataset& ds, const std::string& source) const;

    bool operator==(const CandidateSet& o) const;

private:
    int32_t n_users_ = 0, n_items_ = 0;
    int n_negatives_ = 0;
    uint64_t seed_ = 0, fingerprint_ = 0;
    std::vector<Key> keys_;
    std::vector<int32_t> lists_;       // (size, width) row-major
    std::vector<int64_t> by_key_;      // row indices sorted by (user, end), for find()
};

// For a model that only scores every item: picks the candidates' columns out of full scores
// (B, n_items+1) -> (B, M), so it can be evaluated under this protocol without a
// score_candidates() of its own (and a score_candidates() can be checked against it).
Tensor gather_candidate_scores(const Tensor& full_scores, const IntTensor& candidates);

// The whole evaluation loop of the protocol, without knowing the model: batches the examples in
// order (opt.batch_size, opt.max_len, opt.pad_to_longest are used; no shuffling, no negatives),
// asks `score` for the (B, M) scores of each batch's candidate ids (B, M) — a model's
// score_candidates(batch.items, batch.lengths, candidates) — and accumulates GroupMetrics, one
// group per example. Throws DataError if an example has no list, std::invalid_argument if the
// scores do not have the candidates' shape.
// With `groups`, one record per example is appended, in the order of `examples`: the example's
// (user, end) and its group's own values (data/significance.hpp writes them for compare_runs).
struct GroupRecord {
    int32_t user = 0;
    int32_t end = 0;  // the target's position in the user's sequence = the length of its history
    GroupValues values;
};
using CandidateScorer = std::function<Tensor(const Batch& batch, const IntTensor& candidates)>;
MetricValues evaluate_candidates(const Dataset& ds, std::span<const Example> examples, const CandidateSet& cs,
                                 const BatchOptions& opt, const CandidateScorer& score, const GroupMetricOptions& metrics = {},
                                 std::vector<GroupRecord>* groups = nullptr);

// One list per example (examples with the same (user, end) share one). Throws DataError when a
// user has fewer than n_negatives items to draw from, std::invalid_argument on bad arguments.
CandidateSet make_candidates(const Dataset& ds, std::span<const Example> examples, int n_negatives = 99,
                             uint64_t seed = 0);
// The valid and test examples of a split, in that order.
CandidateSet make_split_candidates(const Dataset& ds, const Split& split, int n_negatives = 99, uint64_t seed = 0);

// The file format in the header. save_candidates throws DataError if the file cannot be written
// (the previous file, if any, is left as it was). load_candidates throws DataError naming the
// file and line; with `ds` it also runs validate_against(*ds).
void save_candidates(const CandidateSet& cs, const std::string& path);
CandidateSet load_candidates(const std::string& path, const Dataset* ds = nullptr);
// The file's bytes, and parsing from bytes (`source` is the name used in messages).
std::string encode_candidates(const CandidateSet& cs);
CandidateSet decode_candidates(const std::string& text, const std::string& source);

}  // namespace tt::data
