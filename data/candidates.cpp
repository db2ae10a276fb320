// data/candidates.cpp — drawing, checking, writing and reading fixed candidate lists. The rules
// and the file format are in the header.
#include "data/candidates.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/checksum.hpp"

namespace tt::data {

namespace {

// Whose checksum it is (see tensor/checksum.hpp): candidate files and dataset fingerprints.
constexpr uint64_t kCandidatesChecksumSeed = 0x6a09e667f3bcc909ull;
constexpr const char* kMagic = "tttrec-candidates 1";
constexpr int64_t kHeaderLines = 7;  // magic + 6 "key value" lines; example r is on line kHeaderLines + 1 + r

uint64_t splitmix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// The Rng seed of one list: a function of (seed, user, end) only, so a list never depends on
// which other lists are drawn or in what order. The constant keeps these streams apart from the
// other users of the same seed (NegativeSampler, shuffling).
uint64_t list_seed(uint64_t seed, int32_t user, int32_t end) {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(user)) << 32) | static_cast<uint32_t>(end);
    return splitmix(splitmix(seed ^ 0xC4A1D1DA7E5EED00ull) ^ key);
}

std::string hex16(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// What is wrong with one list (empty when nothing): ids in range, negatives distinct and != positive.
std::string row_problem(std::span<const int32_t> row, int32_t n_items) {
    for (std::size_t j = 0; j < row.size(); ++j)
        if (row[j] < 1 || row[j] > n_items)
            return (j == 0 ? "positive " : "negative ") + std::to_string(row[j]) + " outside the items 1.." + std::to_string(n_items);
    std::vector<int32_t> negs(row.begin() + 1, row.end());
    std::sort(negs.begin(), negs.end());
    for (std::size_t j = 0; j < negs.size(); ++j) {
        if (negs[j] == row[0]) return "the positive " + std::to_string(row[0]) + " is also a negative";
        if (j > 0 && negs[j] == negs[j - 1]) return "negative " + std::to_string(negs[j]) + " appears twice";
    }
    return {};
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
    namespace fs = std::filesystem;
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) throw DataError(path + ": cannot write: cannot create " + tmp + ": " + std::strerror(errno));
    int err = 0;  // the first failure's errno
    const char* p = bytes.data();
    std::size_t n = bytes.size();
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            err = errno;
            break;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err == 0 && std::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
    if (err != 0) {
        std::remove(tmp.c_str());
        throw DataError(path + ": cannot write: " + std::strerror(err));
    }
    // Make the rename itself durable (best effort: some file systems refuse to fsync a directory).
    fs::path dir = fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
}

template <class T>
bool parse_int(std::string_view s, T& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

uint64_t dataset_fingerprint(const Dataset& ds) {
    const int64_t head[3] = {ds.n_users, ds.n_items, ds.n_interactions()};
    uint64_t h = checksum64(head, sizeof head, kCandidatesChecksumSeed);
    h = checksum64(ds.offsets.data(), ds.offsets.size() * sizeof(int64_t), h);
    return checksum64(ds.items.data(), ds.items.size() * sizeof(int32_t), h);
}

// ---------------------------------------------------------------------------------------------
// CandidateSet

CandidateSet::CandidateSet(int32_t n_users, int32_t n_items, int n_negatives, uint64_t seed, uint64_t fingerprint,
                           std::vector<Key> keys, std::vector<int32_t> lists)
    : n_users_(n_users), n_items_(n_items), n_negatives_(n_negatives), seed_(seed), fingerprint_(fingerprint),
      keys_(std::move(keys)), lists_(std::move(lists)) {
    TT_CHECK(n_users >= 0 && n_items >= 1, "CandidateSet: needs n_users >= 0 and n_items >= 1");
    TT_CHECK(n_negatives >= 1, "CandidateSet: n_negatives must be >= 1, got " + std::to_string(n_negatives));
    TT_CHECK(lists_.size() == keys_.size() * static_cast<std::size_t>(width()),
             "CandidateSet: " + std::to_string(lists_.size()) + " ids for " + std::to_string(keys_.size()) + " lists of " +
                 std::to_string(width()));
    for (std::size_t r = 0; r < keys_.size(); ++r) {
        TT_CHECK(keys_[r].user >= 0 && keys_[r].user < n_users && keys_[r].end >= 0,
                 "CandidateSet: list " + std::to_string(r) + " has user " + std::to_string(keys_[r].user) + ", end " +
                     std::to_string(keys_[r].end));
        std::string why = row_problem(row(static_cast<int64_t>(r)), n_items_);
        TT_CHECK(why.empty(), "CandidateSet: list " + std::to_string(r) + ": " + why);
    }
    by_key_.resize(keys_.size());
    for (std::size_t r = 0; r < by_key_.size(); ++r) by_key_[r] = static_cast<int64_t>(r);
    auto less = [&](int64_t a, int64_t b) {
        const Key &x = keys_[static_cast<std::size_t>(a)], &y = keys_[static_cast<std::size_t>(b)];
        return x.user != y.user ? x.user < y.user : x.end < y.end;
    };
    std::sort(by_key_.begin(), by_key_.end(), less);
    for (std::size_t i = 1; i < by_key_.size(); ++i) {
        const Key& k = keys_[static_cast<std::size_t>(by_key_[i])];
        TT_CHECK(less(by_key_[i - 1], by_key_[i]),
                 "CandidateSet: two lists for user " + std::to_string(k.user) + ", end " + std::to_string(k.end));
    }
}

std::span<const int32_t> CandidateSet::row(int64_t r) const {
    TT_CHECK(r >= 0 && r < size(), "CandidateSet::row: " + std::to_string(r) + " outside 0.." + std::to_string(size() - 1));
    return {lists_.data() + r * width(), static_cast<std::size_t>(width())};
}

int64_t CandidateSet::find(int32_t user, int32_t end) const {
    auto it = std::lower_bound(by_key_.begin(), by_key_.end(), Key{user, end}, [&](int64_t a, const Key& k) {
        const Key& x = keys_[static_cast<std::size_t>(a)];
        return x.user != k.user ? x.user < k.user : x.end < k.end;
    });
    if (it == by_key_.end()) return -1;
    const Key& x = keys_[static_cast<std::size_t>(*it)];
    return x.user == user && x.end == end ? *it : -1;
}

IntTensor CandidateSet::for_batch(std::span<const Example> rows) const {
    const auto B = static_cast<int64_t>(rows.size());
    std::vector<int32_t> out(static_cast<std::size_t>(B * width()));
    for (int64_t b = 0; b < B; ++b) {
        const Example& ex = rows[static_cast<std::size_t>(b)];
        const int64_t r = find(ex.user, ex.end);
        if (r < 0)
            throw DataError("candidates: no list for the example of user " + std::to_string(ex.user) + " with history end " +
                            std::to_string(ex.end) + " (the candidate file was made for another split or dataset)");
        auto lst = row(r);
        if (lst[0] != ex.target)
            throw DataError("candidates: the list of user " + std::to_string(ex.user) + ", end " + std::to_string(ex.end) +
                            " has positive " + std::to_string(lst[0]) + " but the example's target is " + std::to_string(ex.target));
        std::copy(lst.begin(), lst.end(), out.begin() + b * width());
    }
    return IntTensor(Shape{B, static_cast<int64_t>(width())}, std::move(out));
}

void CandidateSet::validate_against(const Dataset& ds, const std::string& source) const {
    if (fingerprint_ != dataset_fingerprint(ds) || n_users_ != ds.n_users || n_items_ != ds.n_items)
        throw DataError(source + ": the candidate lists were made for another dataset (" + std::to_string(n_users_) + " users, " +
                        std::to_string(n_items_) + " items, fingerprint " + hex16(fingerprint_) + "; this one has " +
                        std::to_string(ds.n_users) + ", " + std::to_string(ds.n_items) + ", " + hex16(dataset_fingerprint(ds)) +
                        "): a different file, filtering or k-core; make the lists again");
    std::vector<int32_t> owned;
    for (int64_t r = 0; r < size(); ++r) {
        const Key& k = keys_[static_cast<std::size_t>(r)];
        const std::string where = source + ":" + std::to_string(kHeaderLines + 1 + r) + ": ";
        auto seq = ds.sequence(k.user);
        if (k.end >= static_cast<int32_t>(seq.size()))
            throw DataError(where + "history end " + std::to_string(k.end) + " but user " + std::to_string(k.user) + " has only " +
                            std::to_string(seq.size()) + " items");
        auto lst = row(r);
        if (lst[0] != seq[static_cast<std::size_t>(k.end)])
            throw DataError(where + "positive " + std::to_string(lst[0]) + " is not the user's item at " + std::to_string(k.end) +
                            " (" + std::to_string(seq[static_cast<std::size_t>(k.end)]) + ")");
        owned.assign(seq.begin(), seq.end());
        std::sort(owned.begin(), owned.end());
        for (std::size_t j = 1; j < lst.size(); ++j)
            if (std::binary_search(owned.begin(), owned.end(), lst[j]))
                throw DataError(where + "negative " + std::to_string(lst[j]) + " is one of user " + std::to_string(k.user) + "'s items");
    }
}

bool CandidateSet::operator==(const CandidateSet& o) const {
    if (n_users_ != o.n_users_ || n_items_ != o.n_items_ || n_negatives_ != o.n_negatives_ || seed_ != o.seed_ ||
        fingerprint_ != o.fingerprint_ || lists_ != o.lists_ || keys_.size() != o.keys_.size())
        return false;
    for (std::size_t i = 0; i < keys_.size(); ++i)
        if (keys_[i].user != o.keys_[i].user || keys_[i].end != o.keys_[i].end) return false;
    return true;
}

Tensor gather_candidate_scores(const Tensor& full_scores, const IntTensor& candidates) {
    TT_CHECK(full_scores.defined() && full_scores.rank() == 2 && candidates.defined() && candidates.shape().rank() == 2 &&
                 candidates.shape()[0] == full_scores.dim(0),
             "gather_candidate_scores: need scores (B, n_items+1) and candidates (B, M), got " +
                 (full_scores.defined() ? full_scores.shape().str() : std::string("undefined")) + " and " +
                 (candidates.defined() ? candidates.shape().str() : std::string("undefined")));
    const int64_t B = candidates.shape()[0], M = candidates.shape()[1], V = full_scores.dim(1);
    Tensor out = Tensor::empty(Shape{B, M});
    const float* s = full_scores.data();
    const int32_t* c = candidates.data();
    float* o = out.data();
    for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < M; ++j) {
            const int32_t it = c[b * M + j];
            TT_CHECK(it >= 0 && it < V, "gather_candidate_scores: candidate " + std::to_string(it) + " outside the score row of " +
                                            std::to_string(V));
            o[b * M + j] = s[b * V + it];
        }
    return out;
}

MetricValues evaluate_candidates(const Dataset& ds, std::span<const Example> examples, const CandidateSet& cs,
                                 const BatchOptions& opt, const CandidateScorer& score, const GroupMetricOptions& metrics,
                                 std::vector<GroupRecord>* groups) {
    BatchOptions bo = opt;
    bo.shuffle = false;
    bo.negatives = 0;
    bo.every_position = false;
    bo.drop_last = false;
    GroupMetrics gm(metrics);
    BatchIterator it(ds, examples, bo);
    Batch b;
    while (it.next(b)) {
        IntTensor cand = cs.for_batch(b.examples);
        Tensor s = score(b, cand);
        TT_CHECK(s.defined() && s.rank() == 2 && s.dim(0) == cand.shape()[0] && s.dim(1) == cand.shape()[1],
                 "evaluate_candidates: the scorer returned " + (s.defined() ? s.shape().str() : std::string("nothing")) +
                     " for candidates " + cand.shape().str());
        std::vector<GroupValues> values;  // stays empty unless the caller keeps records
        gm.add_candidates(s, groups ? &values : nullptr);
        for (std::size_t r = 0; r < values.size(); ++r)
            groups->push_back({b.examples[r].user, b.examples[r].end, std::move(values[r])});
    }
    return gm.result();
}

// ---------------------------------------------------------------------------------------------
// Drawing

CandidateSet make_candidates(const Dataset& ds, std::span<const Example> examples, int n_negatives, uint64_t seed) {
    TT_CHECK(n_negatives >= 1, "make_candidates: n_negatives must be >= 1, got " + std::to_string(n_negatives));
    const int32_t n_items = ds.n_items;
    std::vector<CandidateSet::Key> keys;
    std::vector<int32_t> lists;
    keys.reserve(examples.size());
    lists.reserve(examples.size() * static_cast<std::size_t>(1 + n_negatives));
    std::vector<std::pair<int32_t, int32_t>> seen;  // (user, end) already drawn, sorted
    std::vector<int32_t> owned, chosen, pool;
    for (const Example& ex : examples) {
        TT_CHECK(ex.user >= 0 && ex.user < ds.n_users, "make_candidates: user " + std::to_string(ex.user) + " out of range");
        auto seq = ds.sequence(ex.user);
        TT_CHECK(ex.end >= 0 && ex.end < static_cast<int32_t>(seq.size()) && seq[static_cast<std::size_t>(ex.end)] == ex.target,
                 "make_candidates: the example of user " + std::to_string(ex.user) + " (end " + std::to_string(ex.end) + ", target " +
                     std::to_string(ex.target) + ") is not 'predict sequence[end]'");
        auto at = std::lower_bound(seen.begin(), seen.end(), std::pair{ex.user, ex.end});
        if (at != seen.end() && *at == std::pair{ex.user, ex.end}) continue;  // same key, same list
        seen.insert(at, {ex.user, ex.end});

        owned.assign(seq.begin(), seq.end());
        std::sort(owned.begin(), owned.end());
        owned.erase(std::unique(owned.begin(), owned.end()), owned.end());
        const int64_t available = static_cast<int64_t>(n_items) - static_cast<int64_t>(owned.size());
        if (available < n_negatives)
            throw DataError(ds.name + ": user " + std::string(ds.ids.n_users() > ex.user ? ds.ids.user_name(ex.user) : "?") +
                            " (dense id " + std::to_string(ex.user) + ") has interacted with " + std::to_string(owned.size()) + " of the " +
                            std::to_string(n_items) + " items: only " + std::to_string(available) + " are left, fewer than the " +
                            std::to_string(n_negatives) + " distinct negatives asked for");

        Rng rng(list_seed(seed, ex.user, ex.end));
        chosen.clear();
        if (available >= 2 * static_cast<int64_t>(n_negatives)) {
            // Rejection: at most half of the draws are wasted, and the list is the first N distinct
            // unowned items of the stream.
            std::vector<int32_t> sorted_chosen;
            while (static_cast<int>(chosen.size()) < n_negatives) {
                auto it = static_cast<int32_t>(1 + rng.below(static_cast<uint64_t>(n_items)));
                if (std::binary_search(owned.begin(), owned.end(), it)) continue;
                auto pos = std::lower_bound(sorted_chosen.begin(), sorted_chosen.end(), it);
                if (pos != sorted_chosen.end() && *pos == it) continue;
                sorted_chosen.insert(pos, it);
                chosen.push_back(it);
            }
        } else {
            // Few items left: a partial Fisher-Yates over the unowned items.
            pool.clear();
            for (int32_t it = 1, o = 0; it <= n_items; ++it) {
                while (o < static_cast<int32_t>(owned.size()) && owned[static_cast<std::size_t>(o)] < it) ++o;
                if (o < static_cast<int32_t>(owned.size()) && owned[static_cast<std::size_t>(o)] == it) continue;
                pool.push_back(it);
            }
            for (int j = 0; j < n_negatives; ++j) {
                auto k = static_cast<std::size_t>(j) + rng.below(pool.size() - static_cast<std::size_t>(j));
                std::swap(pool[static_cast<std::size_t>(j)], pool[k]);
                chosen.push_back(pool[static_cast<std::size_t>(j)]);
            }
        }
        keys.push_back({ex.user, ex.end});
        lists.push_back(ex.target);
        lists.insert(lists.end(), chosen.begin(), chosen.end());
    }
    return CandidateSet(ds.n_users, n_items, n_negatives, seed, dataset_fingerprint(ds), std::move(keys), std::move(lists));
}

CandidateSet make_split_candidates(const Dataset& ds, const Split& split, int n_negatives, uint64_t seed) {
    std::vector<Example> all(split.valid.begin(), split.valid.end());
    all.insert(all.end(), split.test.begin(), split.test.end());
    return make_candidates(ds, all, n_negatives, seed);
}

// ---------------------------------------------------------------------------------------------
// File

std::string encode_candidates(const CandidateSet& cs) {
    std::string body;
    body.reserve(static_cast<std::size_t>(cs.size()) * static_cast<std::size_t>(cs.width()) * 7);
    char buf[16];
    for (int64_t r = 0; r < cs.size(); ++r) {
        const auto& k = cs.keys()[static_cast<std::size_t>(r)];
        body += std::to_string(k.user);
        body += '\t';
        body += std::to_string(k.end);
        body += '\t';
        auto lst = cs.row(r);
        for (std::size_t j = 0; j < lst.size(); ++j) {
            auto [p, ec] = std::to_chars(buf, buf + sizeof buf, lst[j]);
            if (j) body += ' ';
            body.append(buf, p);
        }
        body += '\n';
    }
    std::string out;
    out += kMagic;
    out += "\nn_users " + std::to_string(cs.n_users());
    out += "\nn_items " + std::to_string(cs.n_items());
    out += "\nn_negatives " + std::to_string(cs.n_negatives());
    out += "\nseed " + std::to_string(cs.seed());
    out += "\ndataset " + hex16(cs.fingerprint());
    out += "\nexamples " + std::to_string(cs.size()) + "\n";
    out += body;
    out += "end " + hex16(checksum64(out.data(), out.size(), kCandidatesChecksumSeed)) + "\n";
    return out;
}

CandidateSet decode_candidates(const std::string& text, const std::string& source) {
    std::size_t pos = 0;
    int64_t line_no = 0;
    std::string_view line;
    // Next '\n'-terminated line; false at the end of the text. An unterminated last line is a
    // truncated file.
    auto next = [&]() -> bool {
        if (pos >= text.size()) return false;
        std::size_t nl = text.find('\n', pos);
        ++line_no;
        if (nl == std::string::npos)
            throw DataError(format_error(source, line_no, "truncated file (the last line has no newline)", std::string_view(text).substr(pos)));
        line = std::string_view(text).substr(pos, nl - pos);
        pos = nl + 1;
        return true;
    };
    auto fail = [&](const std::string& what) { throw DataError(format_error(source, line_no, what, line)); };

    if (!next()) throw DataError(source + ": empty file, not a candidate file");
    if (line != kMagic) fail(std::string("not a tttrec candidate file (expected the first line '") + kMagic + "')");
    auto header = [&](std::string_view name, auto& value) {
        if (!next()) throw DataError(source + ": truncated file (the header ends before '" + std::string(name) + "')");
        std::string_view want = name;
        if (line.size() <= want.size() + 1 || line.substr(0, want.size()) != want || line[want.size()] != ' ' ||
            !parse_int(line.substr(want.size() + 1), value))
            fail("expected '" + std::string(name) + " <number>'");
    };
    int32_t n_users = 0, n_items = 0;
    int n_negatives = 0;
    uint64_t seed = 0, fingerprint = 0;
    int64_t n_examples = 0;
    header("n_users", n_users);
    if (n_users < 0) fail("n_users must be >= 0");
    header("n_items", n_items);
    if (n_items < 1) fail("n_items must be >= 1");
    header("n_negatives", n_negatives);
    if (n_negatives < 1 || n_negatives >= n_items) fail("impossible header value (need 1 <= n_negatives < n_items)");
    header("seed", seed);
    if (!next()) throw DataError(source + ": truncated file (the header ends before 'dataset')");
    if (line.size() != 8 + 16 || line.substr(0, 8) != "dataset " ||
        std::from_chars(line.data() + 8, line.data() + line.size(), fingerprint, 16).ptr != line.data() + line.size())
        fail("expected 'dataset <16 hex digits>'");
    header("examples", n_examples);
    if (n_examples < 0) fail("examples must be >= 0");
    const int width = 1 + n_negatives;

    std::vector<CandidateSet::Key> keys;
    std::vector<int32_t> lists;
    keys.reserve(static_cast<std::size_t>(std::min<int64_t>(n_examples, 1 << 24)));
    for (int64_t r = 0; r < n_examples; ++r) {
        if (!next()) throw DataError(source + ": truncated file: " + std::to_string(r) + " of " + std::to_string(n_examples) + " example lines");
        if (line.substr(0, 4) == "end ") fail("the end line comes after " + std::to_string(r) + " of " + std::to_string(n_examples) + " example lines");
        std::size_t t1 = line.find('\t'), t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
        if (t2 == std::string_view::npos || line.find('\t', t2 + 1) != std::string_view::npos)
            fail("expected 'user<TAB>end<TAB>positive negatives...'");
        CandidateSet::Key k;
        if (!parse_int(line.substr(0, t1), k.user) || k.user < 0 || k.user >= n_users)
            fail("user is not an integer in 0.." + std::to_string(n_users - 1));
        if (!parse_int(line.substr(t1 + 1, t2 - t1 - 1), k.end) || k.end < 0) fail("history end is not a non-negative integer");
        std::string_view ids = line.substr(t2 + 1);
        const std::size_t first = lists.size();
        std::size_t p = 0;
        while (p <= ids.size()) {
            std::size_t sp = ids.find(' ', p);
            if (sp == std::string_view::npos) sp = ids.size();
            int32_t v = 0;
            if (!parse_int(ids.substr(p, sp - p), v)) fail("item ids must be integers separated by single spaces");
            lists.push_back(v);
            p = sp + 1;
        }
        if (lists.size() - first != static_cast<std::size_t>(width))
            fail("expected " + std::to_string(width) + " item ids (1 positive + " + std::to_string(n_negatives) + " negatives), found " +
                 std::to_string(lists.size() - first));
        std::string why = row_problem({lists.data() + first, static_cast<std::size_t>(width)}, n_items);
        if (!why.empty()) fail(why);
        keys.push_back(k);
    }
    const std::size_t checked_end = pos;  // the checksum covers everything before the end line
    if (!next()) throw DataError(source + ": truncated file (no end line after the " + std::to_string(n_examples) + " example lines)");
    uint64_t stored = 0;
    if (line.size() != 4 + 16 || line.substr(0, 4) != "end " ||
        std::from_chars(line.data() + 4, line.data() + line.size(), stored, 16).ptr != line.data() + line.size())
        fail("expected 'end <16 hex digits>' after " + std::to_string(n_examples) + " example lines (is the examples count right?)");
    const uint64_t actual = checksum64(text.data(), checked_end, kCandidatesChecksumSeed);
    if (stored != actual) fail("checksum mismatch (stored " + hex16(stored) + ", computed " + hex16(actual) + "): the file was damaged or edited");
    if (pos != text.size()) {
        next();
        fail("data after the end line");
    }
    // Two lists for one example would make find() ambiguous: name the line of the second.
    std::vector<int64_t> order(keys.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    auto key_less = [&](int64_t a, int64_t b) {
        const auto &x = keys[static_cast<std::size_t>(a)], &y = keys[static_cast<std::size_t>(b)];
        return x.user != y.user ? x.user < y.user : (x.end != y.end ? x.end < y.end : a < b);
    };
    std::sort(order.begin(), order.end(), key_less);
    for (std::size_t i = 1; i < order.size(); ++i) {
        const auto &x = keys[static_cast<std::size_t>(order[i - 1])], &y = keys[static_cast<std::size_t>(order[i])];
        if (x.user == y.user && x.end == y.end)
            throw DataError(source + ":" + std::to_string(kHeaderLines + 1 + order[i]) + ": a second list for user " +
                            std::to_string(y.user) + ", end " + std::to_string(y.end) + " (first on line " +
                            std::to_string(kHeaderLines + 1 + order[i - 1]) + ")");
    }
    return CandidateSet(n_users, n_items, n_negatives, seed, fingerprint, std::move(keys), std::move(lists));
}

void save_candidates(const CandidateSet& cs, const std::string& path) { write_file_atomic(path, encode_candidates(cs)); }

CandidateSet load_candidates(const std::string& path, const Dataset* ds) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DataError(path + ": cannot open: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw DataError(path + ": cannot read: " + std::strerror(errno));
    CandidateSet cs = decode_candidates(ss.str(), path);
    if (ds) cs.validate_against(*ds, path);
    return cs;
}

}  // namespace tt::data
