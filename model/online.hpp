// model/online.hpp — online recommendation: one incremental state per user, advanced by each new
// interaction at a cost that does not grow with the user's history, scored against every item, and
// saved to / loaded from one file so that a service can restart without forgetting its users.
//
// A user's state is the model's StreamState for a batch of one (model/recommender.hpp): named
// tensors that the model owns (for the TTT models each layer's inner weights W, the learned model
// of this user, plus the pending part of the current TTT mini-batch; the GRU hidden state; SASRec's
// window of the last max_len items; Recommender::stream_summary() says what for each model).
// observe() feeds items through Recommender::advance(); the scores come from
// Recommender::score_stream with the item table computed once (by default V dot products of the
// user state with the table, on the SIMD dot kernel).
//
// Exactness: after any sequence of observe() calls, scores() equals recompute_scores() over the
// same history (Recommender::score_next on the whole history) up to float rounding —
// tests/model/test_online.cpp checks it for every model, across mini-batch boundaries and across a
// save/load. NOTE: the TTT models and GRU4Rec keep reading the whole history; apps/train and
// apps/eval cut histories to their last max_len items, so for histories longer than max_len the
// online scores are those of the model run on the whole sequence (what TTT is built for), not
// those of the max_len window that eval reports.
//
// The states file is a safetensors file (atomic write, validated on load, model/checkpoint.hpp):
//   tensors   one per state field ("user", then the model's fields: "ttt.0.W1", "ttt.0.XQ",
//             "gru_h", "window", ...), each the flat concatenation of that field over the users in
//             file order; one generic path for every model, whatever fields it has;
//   metadata  "format" = "tttrec-online-states", "version" = "2", "model" = the model fingerprint
//             (configuration + checksum of the weights), and "users" = a JSON array of
//             {"id", "t" (items seen), "seen" (distinct dense item ids)}.
// Every user's field shapes follow from the model and t (Recommender::stream_layout), so the loader
// checks each size, each id and each value (finite, then Recommender::check_stream) before it
// accepts anything.
//
// Legend: C = width, V = items + 1 (row 0 = padding), H = heads, D = head dim, P = pending tokens.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "model/recommender.hpp"

namespace tt::model {

struct UserState {
    StreamState stream;         // the model's carried state for this user (a batch of one); stream.user
                                // (1, Q) is what the scores are computed from, undefined before the first item
    std::vector<int32_t> seen;  // the distinct items of the history, sorted (left out of recommendations)
    int64_t events() const { return stream.t; }
};

struct Scored {
    int32_t item;  // dense id
    float score;
};

class OnlineModel {
public:
    // `model` must outlive this object (it is referenced, not copied).
    explicit OnlineModel(const Recommender& model);

    const Recommender& model() const { return model_; }
    UserState new_user() const;

    // Appends items (dense ids 1..n_items) to the user's history, all in one Recommender::advance
    // call: one item per event online, a whole stored history at once when seeding.
    void observe(UserState& u, std::span<const int32_t> items) const;
    void observe(UserState& u, int32_t item) const { observe(u, std::span<const int32_t>(&item, 1)); }

    // Scores of every item as the user's next one: (V), entry 0 (padding) = -inf. Needs >= 1 event.
    Tensor scores(const UserState& u) const;
    // The k best items, best first (ties: lower id first); seen items left out unless include_seen.
    std::vector<Scored> top_k(const UserState& u, int64_t k, bool include_seen) const;
    static std::vector<Scored> top_k(const Tensor& scores, int64_t k, std::span<const int32_t> exclude);

    // The reference that observe() + scores() must match: the whole history re-encoded from scratch
    // (Recommender::score_next; over its last stream_window() items when the model has a window),
    // entry 0 = -inf. Cost grows with the history.
    Tensor recompute_scores(std::span<const int32_t> history) const;

    // Model configuration + a checksum of every weight: a states file only loads into the model that wrote it.
    const std::string& fingerprint() const { return fingerprint_; }

private:
    const Recommender& model_;
    Tensor table_;  // (V, C) item representations (Recommender::item_table), computed once
    std::string fingerprint_;
};

using UserStates = std::map<std::string, UserState>;  // by user id (the original id, any string)

std::string encode_user_states(const OnlineModel& model, const UserStates& users);
// Throws CheckpointError naming `source_name` (and the user and field) for anything that does not
// fit the model: another model's file, truncated data, wrong sizes, ids out of range, NaN/inf.
UserStates decode_user_states(const OnlineModel& model, const std::string& bytes, const std::string& source_name);

void save_user_states(const std::string& path, const OnlineModel& model, const UserStates& users);  // atomic
UserStates load_user_states(const std::string& path, const OnlineModel& model);

}  // namespace tt::model
