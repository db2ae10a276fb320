// apps/serving.hpp — the service behind apps/recommend: a trained run, the per-user online states of
// model/online.hpp keyed by the original user ids, and the event protocol.
//
// Input, one line each (fields separated by spaces or tabs; blank lines and '#' comments ignored):
//   user item [timestamp]   an event: the user interacted with the item (original ids of the run's
//                           idmap.json); the timestamp, when given, must be a number and is only
//                           checked: events are applied in the order they arrive.
//   ? user                  a query: print the user's recommendations now, without an event.
// Output, one line per recommendation (after every event, or only for queries with print_each off):
//   text  user<TAB>item:score item:score ...      (best first; nothing after the tab if the user has
//                                                   no history yet)
//   json  {"user": ..., "events": n, "items": [...], "scores": [...]}
// Problems: a malformed line stops with "file:line: what: the line" (DataError); an item the run
// has never seen is skipped with such a warning on `log`, or stops when unknown_stop is set.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/data.hpp"
#include "model/online.hpp"

namespace tt::app {

// idmap.json of a run directory (written by apps/train): dense id <-> original id.
data::IdMap read_idmap(const std::string& path);

struct ServeOptions {
    int64_t top_k = 10;
    bool include_seen = false;  // recommend items the user has already interacted with
    bool print_each = true;     // print after every event (else only for "? user" queries)
    bool unknown_stop = false;  // an unknown item stops the run (else: warning, event skipped)
    bool json = false;          // JSON lines instead of text
    int64_t save_every = 0;     // save the states every N events (0: only at the end)
    std::string save_path;      // where (empty: never)
};

struct ServeCounts {
    int64_t lines = 0, events = 0, queries = 0, skipped = 0, new_users = 0, seeded_users = 0;
};

class Service {
public:
    // `model` must outlive the service.
    Service(const model::Recommender& model, data::IdMap ids, ServeOptions opt);

    // Seeds users lazily from a dataset: a user's first event or query starts from its history
    // there (one Recommender::advance over the whole history), so users who never show up cost
    // nothing. Ids are matched by name; items the run does not know are dropped (counted in the
    // returned message). Users already holding a state (--load-states) keep it.
    std::string add_histories(const data::Dataset& ds);
    void load_states(const std::string& path);  // throws model::CheckpointError
    void save_states(const std::string& path) const;

    // Processes `in` to its end; `source` names it in messages. Results go to `out` (flushed per
    // line when `flush`), warnings to `log`.
    void run(std::istream& in, const std::string& source, std::ostream& out, std::ostream& log, bool flush);

    const ServeCounts& counts() const { return counts_; }
    const model::UserStates& users() const { return users_; }
    const model::OnlineModel& online() const { return online_; }

private:
    model::UserState* user(const std::string& id, bool create);
    void print(const std::string& id, const model::UserState* u, std::ostream& out, bool flush) const;

    model::OnlineModel online_;
    data::IdMap ids_;
    ServeOptions opt_;
    model::UserStates users_;
    std::unordered_map<std::string, std::vector<int32_t>> histories_;  // not yet materialised
    ServeCounts counts_;
};

// ---- benchmark (apps/recommend --bench) ---------------------------------------------------------
// For each history length L: a random history of L items seeds a user's state (not timed); then
// `events` new random items arrive, and each is handled twice, alternately, so that both see the
// same machine load: incremental (OnlineModel::observe + top-K) and full recompute (re-encode the
// whole history so far + top-K). Prints one JSON line per (mode, L) with events/s and latency
// percentiles, and one line with the ratios recompute / incremental.
struct OnlineBenchOptions {
    std::vector<int64_t> lengths = {50, 200, 1000};
    int64_t events = 200;
    int64_t top_k = 10;
    uint64_t seed = 1;
};
void bench_online(const model::Recommender& model, const std::string& label, const OnlineBenchOptions& opt, std::ostream& out);

}  // namespace tt::app
