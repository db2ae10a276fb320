// data/split.cpp — leave-one-out and ratio splits (protocol references in split.hpp).
#include "data/split.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace tt::data {

std::string Split::describe() const {
    std::ostringstream os;
    if (kind == SplitKind::LeaveOneOut)
        os << "leave-one-out";
    else  // the shares as RecBole uses them, e.g. "ratio 0.3:0.2:0.5"
        os << "ratio " << ratios[0] << ":" << ratios[1] << ":" << ratios[2];
    os << " split: " << train.size() << " train / "
       << valid.size() << " valid / " << test.size() << " test examples";
    if (users_train_only) os << "; " << users_train_only << " users too short for valid/test (train only)";
    if (users_without_sample) os << "; " << users_without_sample << " users with a single interaction (no example)";
    return os.str();
}

namespace {

// Emits the training examples for targets at positions [first, last] of user u's sequence.
void emit_train(const Dataset& ds, int32_t u, int32_t first, int32_t last, TrainExamples mode, std::vector<Example>& out) {
    if (first > last) return;
    auto seq = ds.sequence(u);
    if (mode == TrainExamples::LongestPerUser) {
        out.push_back({u, 0, last, seq[static_cast<std::size_t>(last)]});
        return;
    }
    for (int32_t i = first; i <= last; ++i) out.push_back({u, 0, i, seq[static_cast<std::size_t>(i)]});
}

}  // namespace

Split make_leave_one_out(const Dataset& ds, TrainExamples mode) {
    Split s;
    s.kind = SplitKind::LeaveOneOut;
    s.train.reserve(static_cast<std::size_t>(ds.n_interactions()));
    s.valid.reserve(static_cast<std::size_t>(ds.n_users));
    s.test.reserve(static_cast<std::size_t>(ds.n_users));
    for (int32_t u = 0; u < ds.n_users; ++u) {
        auto n = static_cast<int32_t>(ds.length(u));
        auto seq = ds.sequence(u);
        if (n < 2) {
            ++s.users_without_sample;
            continue;
        }
        if (n < 3) {  // SASRec: too short to hold out two items, so all of it trains
            ++s.users_train_only;
            emit_train(ds, u, 1, n - 1, mode, s.train);
            continue;
        }
        emit_train(ds, u, 1, n - 3, mode, s.train);
        s.valid.push_back({u, 0, n - 2, seq[static_cast<std::size_t>(n - 2)]});
        s.test.push_back({u, 0, n - 1, seq[static_cast<std::size_t>(n - 1)]});
    }
    return s;
}

std::array<int64_t, 3> ratio_split_counts(int64_t n, std::array<double, 3> ratios) {
    // Double arithmetic exactly as Python's: int(ratio * tot) truncates toward zero.
    std::array<int64_t, 3> cnt{};
    for (std::size_t i = 0; i < 3; ++i) cnt[i] = static_cast<int64_t>(ratios[i] * static_cast<double>(n));
    cnt[0] = n - cnt[1] - cnt[2];
    for (std::size_t i = 1; i < 3; ++i) {
        if (cnt[0] <= 1) break;
        double part = ratios[3 - i] * static_cast<double>(n);
        if (0 < part && part < 1) {
            cnt[3 - i] += 1;
            cnt[0] -= 1;
        }
    }
    return cnt;
}

Split make_ratio_split(const Dataset& ds, std::array<double, 3> ratios, TrainExamples mode) {
    double tot = ratios[0] + ratios[1] + ratios[2];
    if (!(tot > 0) || ratios[0] < 0 || ratios[1] < 0 || ratios[2] < 0)
        throw DataError("ratio split: ratios must be non-negative with a positive sum");
    // RecBole's split_by_ratio divides each ratio by their sum (summed left to right, as Python's
    // sum()), so "3:2:5" and "0.3:0.2:0.5" give the very same doubles 0.3, 0.2, 0.5.
    for (double& r : ratios) r /= tot;
    Split s;
    s.kind = SplitKind::Ratio;
    s.ratios = ratios;
    for (int32_t u = 0; u < ds.n_users; ++u) {
        auto n = static_cast<int32_t>(ds.length(u));
        auto seq = ds.sequence(u);
        // Augmentation comes first: targets at positions 1..n-1 are the user's n-1 samples, and the
        // split cuts that list (not the n interactions) in time order.
        int64_t samples = n - 1;
        if (samples <= 0) {
            ++s.users_without_sample;
            continue;
        }
        auto cnt = ratio_split_counts(samples, ratios);
        auto t_end = static_cast<int32_t>(cnt[0]);  // targets 1..t_end train
        auto v_end = static_cast<int32_t>(cnt[0] + cnt[1]);
        if (cnt[1] == 0 && cnt[2] == 0) ++s.users_train_only;
        emit_train(ds, u, 1, t_end, mode, s.train);
        for (int32_t i = t_end + 1; i <= v_end; ++i) s.valid.push_back({u, 0, i, seq[static_cast<std::size_t>(i)]});
        for (int32_t i = v_end + 1; i <= static_cast<int32_t>(samples); ++i)
            s.test.push_back({u, 0, i, seq[static_cast<std::size_t>(i)]});
    }
    return s;
}

namespace {

// One ratio field: a finite decimal number > 0, the whole field (no "3a", no "").
double parse_ratio_field(std::string_view text, std::string_view field, const char* part) {
    const std::string where = "--split '" + std::string(text) + "': ";
    if (field.empty()) throw std::invalid_argument(where + "the " + part + " ratio is empty");
    double v = 0;
    const char* first = field.data();
    const char* last = field.data() + field.size();
    if (*first == '+') ++first;  // from_chars refuses a leading '+', people write it
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || ptr != last)
        throw std::invalid_argument(where + "'" + std::string(field) + "' (the " + part + " ratio) is not a number");
    if (!std::isfinite(v)) throw std::invalid_argument(where + "the " + part + " ratio must be finite");
    if (v < 0) throw std::invalid_argument(where + "the " + part + " ratio " + std::string(field) + " is negative");
    // Zero is refused too: an empty training part cannot train, an empty valid part cannot stop
    // early, an empty test part cannot be reported. RecBole would accept it and fail later.
    if (v == 0) throw std::invalid_argument(where + "the " + part + " ratio is 0: every part needs a positive share");
    return v;
}

std::string ratio_text(double v) {
    // Shortest text that reads back to the same double ("3", "0.3", "6.5").
    char buf[64];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, ec == std::errc() ? ptr : buf);
}

}  // namespace

SplitSpec parse_split(std::string_view text) {
    SplitSpec spec;
    if (text == "loo") {
        spec.kind = SplitKind::LeaveOneOut;
        return spec;
    }
    spec.kind = SplitKind::Ratio;
    if (text == "ratio") return spec;  // the TTT4Rec default 3:2:5
    constexpr std::string_view prefix = "ratio:";
    if (text.substr(0, prefix.size()) != prefix)
        throw std::invalid_argument("--split '" + std::string(text) +
                                    "': expected loo, ratio (= ratio:3:2:5) or ratio:TRAIN:VALID:TEST such as ratio:6:2:2");
    std::string_view rest = text.substr(prefix.size());
    std::array<std::string_view, 3> fields;
    const char* parts[3] = {"train", "valid", "test"};
    for (std::size_t i = 0; i < 3; ++i) {
        const std::size_t colon = rest.find(':');
        if (i < 2 && colon == std::string_view::npos)
            throw std::invalid_argument("--split '" + std::string(text) + "': needs three ratios TRAIN:VALID:TEST, got " +
                                        std::to_string(i + 1));
        if (i == 2 && colon != std::string_view::npos)
            throw std::invalid_argument("--split '" + std::string(text) + "': needs exactly three ratios TRAIN:VALID:TEST");
        fields[i] = rest.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    }
    for (std::size_t i = 0; i < 3; ++i) spec.ratios[i] = parse_ratio_field(text, fields[i], parts[i]);
    return spec;
}

std::string SplitSpec::str() const {
    if (kind == SplitKind::LeaveOneOut) return "loo";
    return "ratio:" + ratio_text(ratios[0]) + ":" + ratio_text(ratios[1]) + ":" + ratio_text(ratios[2]);
}

double SplitSpec::train_share() const {
    if (kind == SplitKind::LeaveOneOut) return std::numeric_limits<double>::quiet_NaN();
    return ratios[0] / (ratios[0] + ratios[1] + ratios[2]);
}

std::vector<Example> window_rows(const Dataset& ds, std::span<const Example> rows, int64_t max_len, int64_t stride) {
    if (!(max_len >= 1 && stride >= 1 && stride <= max_len))
        throw std::invalid_argument("window stride " + std::to_string(stride) + " outside [1, max_len = " +
                                    std::to_string(max_len) + "]");
    std::vector<Example> out;
    out.reserve(rows.size());
    const auto L = static_cast<int32_t>(max_len), S = static_cast<int32_t>(stride);
    for (const Example& ex : rows) {
        // Windows ending at e = end, end − S, ...; the one that reaches back to ex.begin is the last.
        for (int32_t e = ex.end; e > ex.begin; e -= S) {
            const int32_t b = std::max(ex.begin, e - L);
            // the item after the window's last input: the row's own target, then the training items at e
            const int32_t target = e == ex.end ? ex.target : ds.sequence(ex.user)[static_cast<std::size_t>(e)];
            if (b == ex.begin) {
                out.push_back({ex.user, b, e, target, ex.first_scored});
                break;
            }
            out.push_back({ex.user, b, e, target, std::max(ex.first_scored, e - S + 1)});
        }
    }
    return out;
}

Split split_dataset(const Dataset& ds, const SplitSpec& spec, TrainExamples mode) {
    if (spec.kind == SplitKind::LeaveOneOut) return make_leave_one_out(ds, mode);
    return make_ratio_split(ds, spec.ratios, mode);
}

}  // namespace tt::data
