// data/split.cpp — leave-one-out and ratio splits (protocol references in split.hpp).
#include "data/split.hpp"

#include <sstream>

namespace tt::data {

std::string Split::describe() const {
    std::ostringstream os;
    os << (kind == SplitKind::LeaveOneOut ? "leave-one-out" : "ratio") << " split: " << train.size() << " train / "
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
    for (double& r : ratios) r /= tot;  // RecBole normalises the same way
    Split s;
    s.kind = SplitKind::Ratio;
    for (int32_t u = 0; u < ds.n_users; ++u) {
        auto n = static_cast<int32_t>(ds.length(u));
        auto seq = ds.sequence(u);
        int64_t samples = n - 1;  // augmented samples: targets at positions 1..n-1
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

}  // namespace tt::data
