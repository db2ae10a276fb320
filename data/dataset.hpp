// data/dataset.hpp — the processed interaction dataset and how to load it.
//
// A Dataset is what every trainer and evaluator consumes: for each user, the item ids it
// interacted with in time order (CSR layout: one flat item array plus per-user offsets).
//
// Id conventions (used throughout data/ and by the models):
//   users  are dense 0 .. n_users-1   (they index sequences; no padding needed)
//   items  are dense 1 .. n_items     (0 is the padding item, never a real item)
// IdMap keeps the original string id of every dense id, so outputs can be given in the ids of the
// input file.
//
// load_dataset() runs the whole pipeline: read (streamed) -> implicit feedback (optional rating
// threshold) -> stable sort by (user, timestamp) -> optional removal of repeats -> iterative
// k-core -> dense renumbering. Its LoadReport says what was done (format chosen, lines skipped,
// interactions removed at each step, cache use) in words a user can act on.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "data/interner.hpp"

namespace tt::data {

// Every input problem is reported as a DataError whose message is
//   "path:line: what is wrong: the line"      (for a problem on one line; the line is truncated)
//   "path: what is wrong"                     (for a problem with the whole file)
// Apps print what() and exit non-zero.
class DataError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Builds the one-line message above (the offending line is cut to ~160 characters).
std::string format_error(std::string_view path, int64_t line, std::string_view what, std::string_view text);

// Input file layouts. Names (for --format) are in parentheses.
enum class Format {
    Auto,       // (auto)       detect from the file name and first lines
    Pairs,      // (pairs)      SASRec: "user item" per line, lines in time order
    Sequences,  // (sequences)  S3Rec: "user i1 i2 ..." one user per line, items in time order
    MLData,     // (ml-100k)    MovieLens u.data: user \t item \t rating \t timestamp
    MLDat,      // (ml-dat)     MovieLens ratings.dat: user::item::rating::timestamp
    Csv,        // (csv)        delimited with a header (tab, comma or semicolon), columns mapped by name
    Inter,      // (inter)      RecBole atomic file: tab-separated, typed header "user_id:token ..."
};
std::string_view format_name(Format f);
Format parse_format(std::string_view name);  // throws DataError listing the valid names

// How duplicated (user, item) interactions are treated after sorting.
enum class Repeats {
    Keep,             // keep every interaction (RecBole default, rm_dup_inter: ~)
    DropConsecutive,  // drop an item equal to the user's previous item
    KeepFirst,        // keep only the first interaction of each (user, item) (RecBole rm_dup_inter: first)
};

// Column names for Csv/Inter files. Empty = use the usual names: user_id/user/userId/uid,
// item_id/item/itemId/iid/movieId, timestamp/time/ts, rating/score. In Inter headers the ":type"
// suffix is ignored when matching.
struct ColumnMap {
    std::string user, item, timestamp, rating;
};

struct LoadOptions {
    std::string path;
    Format format = Format::Auto;
    ColumnMap columns;
    bool numeric_ids = false;   // ids must be non-negative integers (so "007" == "7"); overflow is an error
    std::optional<float> rating_threshold;  // implicit feedback: keep rating >= threshold (needs a rating column)
    Repeats repeats = Repeats::Keep;
    int min_user_interactions = 0;  // k-core: repeated until every user and item meets its minimum
    int min_item_interactions = 0;
    bool skip_bad_lines = false;    // skip malformed lines (counted in the report) instead of stopping
    bool use_cache = false;         // binary cache of the processed dataset
    std::string cache_dir;          // empty: $TTTREC_CACHE_DIR, else $XDG_CACHE_HOME/tttrec, else ~/.cache/tttrec
};

// What load_dataset() did, for logs and for the user.
struct LoadReport {
    std::string path;
    Format format = Format::Auto;     // the format actually used
    std::string format_reason;        // "detected: ..." or "given"
    int64_t lines = 0;                // data lines read (header and blank lines excluded)
    int64_t skipped_lines = 0;        // malformed lines skipped (skip_bad_lines only)
    std::vector<std::string> skipped_examples;  // the first few skipped lines' messages
    int64_t below_threshold = 0;      // interactions dropped by the rating threshold
    int64_t duplicate_lines = 0;      // identical (user, item, timestamp) records (counted, not removed)
    int64_t repeats_removed = 0;      // removed by the Repeats policy
    int64_t kcore_removed = 0;        // interactions removed by the k-core filter
    int kcore_rounds = 0;
    int64_t single_interaction_users = 0;  // in the final dataset; they yield no training sample
    bool from_cache = false;
    std::string cache_path;
    std::string cache_note;           // e.g. "cache stale (source changed): rebuilt"
    double seconds = 0.0;             // wall time of load_dataset
    std::string summary() const;      // a few human-readable lines
};

// Dense id <-> original id. Users: dense u <-> users.name(u); items: dense i (>= 1) <-> items.name(i-1);
// item 0 is the padding item, shown as "<pad>". Names are stored in interners (one arena each).
class IdMap {
public:
    IdMap() = default;
    IdMap(Interner users, Interner items) : users_(std::move(users)), items_(std::move(items)) {}
    // From names in dense order (items without the padding entry). Throws DataError on a repeated name.
    static IdMap from_names(const std::vector<std::string>& users, const std::vector<std::string>& items);
    std::string_view user_name(int32_t u) const { return users_.name(static_cast<uint32_t>(u)); }
    std::string_view item_name(int32_t i) const { return i == 0 ? std::string_view("<pad>") : items_.name(static_cast<uint32_t>(i - 1)); }
    std::optional<int32_t> user_id(std::string_view name) const;  // original -> dense
    std::optional<int32_t> item_id(std::string_view name) const;  // never 0
    int64_t n_users() const { return static_cast<int64_t>(users_.size()); }
    int64_t n_items() const { return static_cast<int64_t>(items_.size()); }
    bool operator==(const IdMap& o) const;

private:
    Interner users_, items_;
};

struct DatasetStats {
    int64_t n_users = 0, n_items = 0, n_interactions = 0;
    int64_t min_len = 0, median_len = 0, max_len = 0;  // per-user sequence length
    double avg_per_user = 0, avg_per_item = 0, density = 0;
    bool has_timestamps = false;
    std::string str() const;
};

struct Dataset {
    std::string name;                // source path, or "synthetic"
    int32_t n_users = 0;
    int32_t n_items = 0;             // real items are 1..n_items; 0 = padding
    std::vector<int64_t> offsets;    // (n_users+1): user u owns items[offsets[u], offsets[u+1])
    std::vector<int32_t> items;      // (n_interactions) dense item ids, time order within each user
    std::vector<double> timestamps;  // (n_interactions) or empty when the source has none
    IdMap ids;
    LoadReport report;

    int64_t n_interactions() const { return static_cast<int64_t>(items.size()); }
    bool has_timestamps() const { return !timestamps.empty(); }
    int64_t length(int32_t u) const { return offsets[static_cast<std::size_t>(u) + 1] - offsets[static_cast<std::size_t>(u)]; }
    std::span<const int32_t> sequence(int32_t u) const {
        return {items.data() + offsets[static_cast<std::size_t>(u)], static_cast<std::size_t>(length(u))};
    }
    std::span<const double> times(int32_t u) const;  // empty span when there are no timestamps
    DatasetStats stats() const;
    void validate() const;  // checks the invariants above; throws DataError
};

// Reads, preprocesses and (optionally) caches. Throws DataError on bad input.
Dataset load_dataset(const LoadOptions& opt);

// Builds a Dataset from in-memory per-user sequences given in original ids (tests, generators).
// Items keep the given order; user/item names become the ids.
Dataset dataset_from_sequences(const std::vector<std::pair<std::string, std::vector<std::string>>>& seqs,
                               std::string name = "memory");

// Writes the dataset in original ids, one user per line ("user i1 i2 ..."), for inspection and
// round trips. Throws DataError if the file cannot be written.
void write_sequences(const Dataset& ds, const std::string& path);

}  // namespace tt::data
