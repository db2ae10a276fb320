// tests/data/test_splits.cpp — leave-one-out and ratio splits (3:2:5, 6:2:2, 1:2:7, 8:1:1) on
// hand-computed cases and against tests/data/recbole_split_ref.py (an independent Python statement
// of RecBole's rule, run when python3 is present), --split parsing, RecBole's k-core filter,
// sample-averaged metrics under the ratio protocol; right-padded batches, seeded shuffling and
// negative sampling.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "data/batch.hpp"
#include "data/metrics.hpp"
#include "data/split.hpp"
#include "data_test_util.hpp"

using namespace tt::data;

namespace {

// Items are named by their number so that dense id == name (numeric ids are kept in order).
Dataset make(const std::vector<std::vector<int>>& seqs) {
    std::vector<std::pair<std::string, std::vector<std::string>>> named;
    for (std::size_t u = 0; u < seqs.size(); ++u) {
        std::vector<std::string> items;
        for (int i : seqs[u]) items.push_back(std::to_string(i));
        named.emplace_back(std::to_string(u + 1), items);
    }
    return dataset_from_sequences(named);
}

std::vector<int32_t> vec(const tt::IntTensor& t) { return std::vector<int32_t>(t.data(), t.data() + t.numel()); }

bool eq(const Example& a, const Example& b) {
    return a.user == b.user && a.begin == b.begin && a.end == b.end && a.target == b.target;
}

}  // namespace

TEST_SUITE("data/splits") {

TEST_CASE("leave-one-out: last = test, second-to-last = valid, prefixes train (S3Rec/SASRec)") {
    // user 0: 1 2 3 4 5 | user 1: 6 7 (too short: train only) | user 2: 8 (no sample) | user 3: 1 6 8
    Dataset ds = make({{1, 2, 3, 4, 5}, {6, 7}, {8}, {1, 6, 8}});
    REQUIRE(ds.n_items == 8);
    Split s = make_leave_one_out(ds);
    REQUIRE(s.test.size() == 2);
    CHECK(eq(s.test[0], {0, 0, 4, 5}));   // history 1 2 3 4 -> 5
    CHECK(eq(s.valid[0], {0, 0, 3, 4}));  // history 1 2 3   -> 4
    CHECK(eq(s.test[1], {3, 0, 2, 8}));
    CHECK(eq(s.valid[1], {3, 0, 1, 6}));
    // train: user 0 predicts 2, 3 (items[1:-2]); user 1 (n = 2) predicts 7; user 3 (n = 3) nothing
    REQUIRE(s.train.size() == 3);
    CHECK(eq(s.train[0], {0, 0, 1, 2}));
    CHECK(eq(s.train[1], {0, 0, 2, 3}));
    CHECK(eq(s.train[2], {1, 0, 1, 7}));
    CHECK(s.users_train_only == 1);
    CHECK(s.users_without_sample == 1);
    CHECK(s.describe() == "leave-one-out split: 3 train / 2 valid / 2 test examples; 1 users too short for valid/test (train only); "
                          "1 users with a single interaction (no example)");

    // Every-position mode: one example per user whose history is items[:-3] and target items[-3].
    Split l = make_leave_one_out(ds, TrainExamples::LongestPerUser);
    REQUIRE(l.train.size() == 2);
    CHECK(eq(l.train[0], {0, 0, 2, 3}));
    CHECK(eq(l.train[1], {1, 0, 1, 7}));
}

TEST_CASE("window_rows: every training target scored exactly once, with a history of >= max_len - stride + 1") {
    // user 0: items 1..23 (leave-one-out: targets at sequence indices 1..20 train); user 1: 5 items.
    std::vector<int> long_user, short_user = {30, 31, 32, 33, 34};
    for (int i = 1; i <= 23; ++i) long_user.push_back(i);
    Dataset ds = make({long_user, short_user});
    Split l = make_leave_one_out(ds, TrainExamples::LongestPerUser);
    REQUIRE(l.train.size() == 2);
    const int64_t L = 8, S = 3;
    std::vector<Example> w = window_rows(ds, l.train, L, S);
    // Windows end at 20, 17, 14, 11, 8; the one ending at 8 starts at 0 and scores all its targets.
    REQUIRE(w.size() == 6);
    const int want[5][3] = {{12, 20, 18}, {9, 17, 15}, {6, 14, 12}, {3, 11, 9}, {0, 8, 0}};  // begin, end, first_scored
    for (int k = 0; k < 5; ++k) {
        CAPTURE(k);
        CHECK(w[k].user == 0);
        CHECK(w[k].begin == want[k][0]);
        CHECK(w[k].end == want[k][1]);
        CHECK(w[k].first_scored == want[k][2]);
        CHECK(w[k].target == long_user[static_cast<std::size_t>(want[k][1])]);  // the item after the window
    }
    CHECK(eq(w[5], l.train[1]));  // a row no longer than max_len is kept as it is
    CHECK(w[5].first_scored == 0);

    // Batched every-position: the scored targets are exactly indices 1..20, once each, and target j
    // sees the items [begin, j): the whole prefix for j <= 8, at least L - S + 1 = 6 items after.
    BatchOptions opt;
    opt.max_len = L;
    opt.every_position = true;
    Batch b = make_batch(ds, std::span<const Example>(w.data(), 5), opt);
    std::map<int, int> history_of;  // target item (= its sequence index + 1) -> history length
    for (int64_t r = 0; r < 5; ++r)
        for (int64_t t = 0; t < L; ++t) {
            const int32_t tgt = b.position_targets[r * L + t];
            if (tgt == 0) continue;
            CHECK(history_of.count(tgt) == 0);
            history_of[tgt] = static_cast<int>(t + 1);
        }
    REQUIRE(history_of.size() == 20);
    for (int j = 1; j <= 20; ++j) {  // item j + 1 sits at sequence index j
        CAPTURE(j);
        REQUIRE(history_of.count(j + 1) == 1);
        if (j <= L) CHECK(history_of[j + 1] == j);
        else CHECK(history_of[j + 1] >= L - S + 1);
    }
    // Without windows the same row loses the targets before its last max_len items.
    Batch plain = make_batch(ds, std::span<const Example>(l.train.data(), 1), opt);
    int scored = 0;
    for (int64_t t = 0; t < L; ++t) scored += plain.position_targets[t] != 0;
    CHECK(scored == 8);

    CHECK(window_rows(ds, l.train, L, L).size() == 4);  // stride = max_len: disjoint windows (20, 12, 4)
    CHECK_THROWS_AS(window_rows(ds, l.train, L, 0), std::invalid_argument);
    CHECK_THROWS_AS(window_rows(ds, l.train, L, L + 1), std::invalid_argument);
}

TEST_CASE("ratio split counts follow RecBole _calcu_split_ids exactly") {
    // The example of data/README.md §P2: N = 4 gives [1, 1, 2].
    CHECK(ratio_split_counts(4, {0.3, 0.2, 0.5}) == std::array<int64_t, 3>{1, 1, 2});
    // Table from the Python function for N = 0..20 (note N = 9 -> [4,1,4] but N = 10 -> [3,2,5]).
    const std::array<int64_t, 3> want_325[21] = {{0, 0, 0}, {1, 0, 0}, {1, 0, 1}, {1, 1, 1}, {1, 1, 2}, {2, 1, 2}, {2, 1, 3},
                                                 {3, 1, 3}, {3, 1, 4}, {4, 1, 4}, {3, 2, 5}, {4, 2, 5}, {4, 2, 6}, {5, 2, 6},
                                                 {5, 2, 7}, {5, 3, 7}, {5, 3, 8}, {6, 3, 8}, {6, 3, 9}, {7, 3, 9}, {6, 4, 10}};
    const std::array<int64_t, 3> want_622[21] = {{0, 0, 0}, {1, 0, 0}, {1, 0, 1}, {1, 1, 1}, {2, 1, 1}, {3, 1, 1}, {4, 1, 1},
                                                 {5, 1, 1}, {6, 1, 1}, {7, 1, 1}, {6, 2, 2}, {7, 2, 2}, {8, 2, 2}, {9, 2, 2},
                                                 {10, 2, 2}, {9, 3, 3}, {10, 3, 3}, {11, 3, 3}, {12, 3, 3}, {13, 3, 3}, {12, 4, 4}};
    for (int n = 0; n <= 20; ++n) {
        CAPTURE(n);
        CHECK(ratio_split_counts(n, {0.3, 0.2, 0.5}) == want_325[n]);
        CHECK(ratio_split_counts(n, {0.6, 0.2, 0.2}) == want_622[n]);
    }
}

TEST_CASE("ratio split over augmented samples, chronological per user") {
    // user 0 has 5 items -> 4 samples (targets at positions 1..4) -> [1, 1, 2]
    Dataset ds = make({{1, 2, 3, 4, 5}, {6}, {7, 8}});
    Split s = make_ratio_split(ds, {3, 2, 5});  // normalised to 0.3/0.2/0.5
    REQUIRE(s.train.size() == 2);
    CHECK(eq(s.train[0], {0, 0, 1, 2}));
    CHECK(eq(s.train[1], {2, 0, 1, 8}));  // user 2: one sample -> train
    REQUIRE(s.valid.size() == 1);
    CHECK(eq(s.valid[0], {0, 0, 2, 3}));  // history includes every earlier true item
    REQUIRE(s.test.size() == 2);
    CHECK(eq(s.test[0], {0, 0, 3, 4}));
    CHECK(eq(s.test[1], {0, 0, 4, 5}));   // teacher forcing: the earlier test item is in the history
    CHECK(s.users_without_sample == 1);
    CHECK(s.users_train_only == 1);
    CHECK_THROWS_AS(make_ratio_split(ds, {0, 0, 0}), DataError);
}

namespace {

// (part, original user, target position, original target item) of every example of a split.
using Row = std::tuple<std::string, std::string, int32_t, std::string>;
std::vector<Row> rows_of(const Dataset& ds, const Split& s) {
    std::vector<Row> out;
    auto add = [&](const char* part, const std::vector<Example>& v) {
        for (const Example& e : v) {
            CHECK(e.begin == 0);                     // the whole earlier history, never a window
            CHECK(e.target == ds.sequence(e.user)[static_cast<std::size_t>(e.end)]);  // the next true item
            out.emplace_back(part, std::string(ds.ids.user_name(e.user)), e.end, std::string(ds.ids.item_name(e.target)));
        }
    };
    add("train", s.train);
    add("valid", s.valid);
    add("test", s.test);
    std::sort(out.begin(), out.end());
    return out;
}

// Runs tests/data/recbole_split_ref.py; "" when python3 is not available.
std::string run_reference(const std::string& args) {
    const std::string script = (tt::data::testing::source_root() / "tests" / "data" / "recbole_split_ref.py").string();
    if (std::system("command -v python3 >/dev/null 2>&1") != 0) return "";
    std::FILE* p = ::popen(("python3 '" + script + "' " + args).c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    REQUIRE(::pclose(p) == 0);
    return out;
}

// A hand-made log: users with 10, 2, 3, 4 and 1 interactions, interleaved in time, lines out of
// order, one timestamp tie inside a user (c's 13 and 14 at t = 2: file order decides).
const char* const kLog =
    "user_id,item_id,timestamp\n"
    "a,5,5\nb,11,5\na,1,1\nc,13,2\nd,16,4\na,2,2\nc,14,2\na,3,3\nb,12,3\na,4,4\ne,20,6\n"
    "d,17,8\na,6,6\nc,15,7\na,7,7\nd,18,9\na,8,8\na,9,9\na,10,10\nd,19,11\n";

}  // namespace

TEST_CASE("ratio split of a hand-made log: augmentation first, then RecBole's counts per user") {
    tt::data::testing::TempDir dir;
    LoadOptions o;
    o.path = dir.write("log.csv", kLog);
    o.format = Format::Csv;
    Dataset ds = load_dataset(o);
    REQUIRE(ds.n_users == 5);
    // Sorted by (user, time): b = 12 11 (t 3, 5), c = 13 14 15 (the tie keeps file order).
    auto names = [&](const std::string& user) {
        std::vector<std::string> v;
        for (int32_t i : ds.sequence(*ds.ids.user_id(user))) v.emplace_back(ds.ids.item_name(i));
        return v;
    };
    CHECK(names("b") == std::vector<std::string>{"12", "11"});
    CHECK(names("c") == std::vector<std::string>{"13", "14", "15"});

    // Samples per user = interactions - 1: a 9, b 1, c 2, d 3, e 0. By hand, 3:2:5:
    //   a: int(2.7)=2, int(1.8)=1, int(4.5)=4 -> train 9-1-4 = 4; 1.8 and 4.5 are not in (0,1) -> [4,1,4]
    //   b: [0,0,0] -> train 1; train must keep more than one sample to give any away -> [1,0,0]
    //   c: int(0.6)=0, int(0.4)=0, int(1.0)=1 -> [1,0,1]; train has 1 -> no move
    //   d: [0,0,int(1.5)=1] -> train 2; test 1.5 no; valid 0.6 in (0,1) -> [1,1,1]
    const std::vector<Row> want_325 = {
        {"test", "a", 6, "7"},  {"test", "a", 7, "8"},   {"test", "a", 8, "9"},   {"test", "a", 9, "10"},
        {"test", "c", 2, "15"}, {"test", "d", 3, "19"},  {"train", "a", 1, "2"},  {"train", "a", 2, "3"},
        {"train", "a", 3, "4"}, {"train", "a", 4, "5"},  {"train", "b", 1, "11"}, {"train", "c", 1, "14"},
        {"train", "d", 1, "17"}, {"valid", "a", 5, "6"}, {"valid", "d", 2, "18"}};
    Split s325 = split_dataset(ds, parse_split("ratio"));
    CHECK(rows_of(ds, s325) == want_325);
    CHECK(s325.users_without_sample == 1);  // e
    CHECK(s325.users_train_only == 1);      // b
    // 6:2:2: a: int(5.4)=5, int(1.8)=1, 1 -> [7,1,1]; b [1,0,0]; c: test 0.4 in (0,1) -> [1,0,1];
    //   d: int(1.8)=1, 0, 0 -> train 3; test 0.6 -> [2,0,1]; valid 0.6 -> [1,1,1]
    const std::vector<Row> want_622 = {
        {"test", "a", 9, "10"}, {"test", "c", 2, "15"}, {"test", "d", 3, "19"},  {"train", "a", 1, "2"},
        {"train", "a", 2, "3"}, {"train", "a", 3, "4"}, {"train", "a", 4, "5"},  {"train", "a", 5, "6"},
        {"train", "a", 6, "7"}, {"train", "a", 7, "8"}, {"train", "b", 1, "11"}, {"train", "c", 1, "14"},
        {"train", "d", 1, "17"}, {"valid", "a", 8, "9"}, {"valid", "d", 2, "18"}};
    CHECK(rows_of(ds, split_dataset(ds, parse_split("ratio:6:2:2"))) == want_622);

    // The same log through the Python statement of RecBole's pipeline (its own sort, augmentation,
    // global time sort, grouping and _calcu_split_ids), for every protocol of the paper's sweep.
    for (const char* spec : {"3:2:5", "6:2:2", "1:2:7", "8:1:1", "0.3:0.2:0.5"}) {
        CAPTURE(spec);
        const std::string ref = run_reference("log '" + o.path + "' " + spec);
        if (ref.empty()) {
            MESSAGE("python3 not found: the cross-check against recbole_split_ref.py is skipped");
            break;
        }
        std::vector<Row> want;
        std::istringstream in(ref);
        std::string part, user, item;
        int32_t pos = 0;
        while (in >> part >> user >> pos >> item) want.emplace_back(part, user, pos, item);
        std::sort(want.begin(), want.end());
        CHECK(rows_of(ds, split_dataset(ds, parse_split(std::string("ratio:") + spec))) == want);
        if (std::string(spec) == "3:2:5") CHECK(want == want_325);
        if (std::string(spec) == "6:2:2") CHECK(want == want_622);
    }
}

TEST_CASE("ratio counts for 0..300 samples equal the Python reference for 3:2:5, 6:2:2, 1:2:7, 8:1:1") {
    // Users with 2, 3, 4 and 10 interactions (1, 2, 3, 9 samples), by hand as in the log test:
    CHECK(ratio_split_counts(1, {0.3, 0.2, 0.5}) == std::array<int64_t, 3>{1, 0, 0});
    CHECK(ratio_split_counts(2, {0.3, 0.2, 0.5}) == std::array<int64_t, 3>{1, 0, 1});
    CHECK(ratio_split_counts(3, {0.3, 0.2, 0.5}) == std::array<int64_t, 3>{1, 1, 1});
    CHECK(ratio_split_counts(9, {0.3, 0.2, 0.5}) == std::array<int64_t, 3>{4, 1, 4});
    CHECK(ratio_split_counts(1, {0.6, 0.2, 0.2}) == std::array<int64_t, 3>{1, 0, 0});
    CHECK(ratio_split_counts(2, {0.6, 0.2, 0.2}) == std::array<int64_t, 3>{1, 0, 1});
    CHECK(ratio_split_counts(3, {0.6, 0.2, 0.2}) == std::array<int64_t, 3>{1, 1, 1});
    CHECK(ratio_split_counts(9, {0.6, 0.2, 0.2}) == std::array<int64_t, 3>{7, 1, 1});
    CHECK(ratio_split_counts(9, {0.1, 0.2, 0.7}) == std::array<int64_t, 3>{2, 1, 6});
    CHECK(ratio_split_counts(9, {0.8, 0.1, 0.1}) == std::array<int64_t, 3>{7, 1, 1});

    const std::string ref = run_reference("counts 300 3:2:5 6:2:2 1:2:7 8:1:1 0.6:0.2:0.2");
    if (ref.empty()) {
        MESSAGE("python3 not found: the cross-check against recbole_split_ref.py is skipped");
        return;
    }
    std::istringstream in(ref);
    std::string spec;
    int64_t n = 0, c0 = 0, c1 = 0, c2 = 0, lines = 0;
    while (in >> spec >> n >> c0 >> c1 >> c2) {
        SplitSpec sp = parse_split("ratio:" + spec);
        const double tot = sp.ratios[0] + sp.ratios[1] + sp.ratios[2];  // normalised as make_ratio_split does
        CAPTURE(spec);
        CAPTURE(n);
        CHECK(ratio_split_counts(n, {sp.ratios[0] / tot, sp.ratios[1] / tot, sp.ratios[2] / tot}) ==
              std::array<int64_t, 3>{c0, c1, c2});
        ++lines;
    }
    CHECK(lines == 5 * 301);
}

TEST_CASE("parse_split: loo, ratio (= 3:2:5), ratio:A:B:C, and clear errors") {
    CHECK(parse_split("loo").kind == SplitKind::LeaveOneOut);
    CHECK(parse_split("loo").str() == "loo");
    CHECK(std::isnan(parse_split("loo").train_share()));
    SplitSpec r = parse_split("ratio");
    CHECK(r.kind == SplitKind::Ratio);
    CHECK(r.ratios == std::array<double, 3>{3, 2, 5});
    CHECK(r.str() == "ratio:3:2:5");
    CHECK(parse_split("ratio:6:2:2").ratios == std::array<double, 3>{6, 2, 2});
    CHECK(parse_split("ratio:1:2:7").train_share() == doctest::Approx(0.1));
    CHECK(parse_split("ratio:8:1:1").train_share() == doctest::Approx(0.8));
    CHECK(parse_split("ratio:0.3:0.2:0.5").str() == "ratio:0.3:0.2:0.5");
    CHECK(parse_split(parse_split("ratio:6.5:2:1.5").str()).ratios == std::array<double, 3>{6.5, 2, 1.5});
    auto err = [](const char* text) {
        try {
            parse_split(text);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(err("ratio:3:x:5") == "--split 'ratio:3:x:5': 'x' (the valid ratio) is not a number");
    CHECK(err("ratio:3:-2:5") == "--split 'ratio:3:-2:5': the valid ratio -2 is negative");
    CHECK(err("ratio:0:0:0") == "--split 'ratio:0:0:0': the train ratio is 0: every part needs a positive share");
    CHECK(err("ratio:3:2") == "--split 'ratio:3:2': needs three ratios TRAIN:VALID:TEST, got 2");
    CHECK(err("ratio:3:2:5:1") == "--split 'ratio:3:2:5:1': needs exactly three ratios TRAIN:VALID:TEST");
    CHECK(err("ratio:3::5") == "--split 'ratio:3::5': the valid ratio is empty");
    CHECK(err("ratio:3:2:5x") == "--split 'ratio:3:2:5x': '5x' (the test ratio) is not a number");
    CHECK(err("ratio:inf:2:5") == "--split 'ratio:inf:2:5': the train ratio must be finite");
    CHECK(err("ratio:nan:2:5") == "--split 'ratio:nan:2:5': the train ratio must be finite");
    CHECK(err("3:2:5").find("expected loo, ratio") != std::string::npos);
    CHECK(err("LOO").find("expected loo, ratio") != std::string::npos);
    CHECK(err("") .find("expected loo, ratio") != std::string::npos);
    // The split records the normalised shares it used.
    Dataset ds = make({{1, 2, 3, 4, 5}});
    CHECK(split_dataset(ds, parse_split("ratio:6:2:2")).describe().rfind("ratio 0.6:0.2:0.2 split: ", 0) == 0);
    CHECK(split_dataset(ds, parse_split("loo")).kind == SplitKind::LeaveOneOut);
}

TEST_CASE("k-core as RecBole's _filter_by_inter_num: lower bounds re-checked until stable") {
    // RecBole drops, in each round, every user and every item under its bound (counted on the
    // interactions left, duplicates included), until a round drops nothing. With lower bounds only
    // the result is the unique largest sub-log meeting both bounds, whatever the order of removal:
    // an independent naive fixpoint here must give the same log as load_dataset.
    std::mt19937 gen(5);
    std::ostringstream csv;
    csv << "user_id,item_id,timestamp\n";
    std::vector<std::tuple<int, int, int>> log;
    for (int k = 0; k < 600; ++k) {
        // skewed: a few busy users and popular items, many rare ones
        int u = static_cast<int>(std::min<double>(60, std::exp(std::uniform_real_distribution<>(0, 4.1)(gen))));
        int i = static_cast<int>(std::min<double>(80, std::exp(std::uniform_real_distribution<>(0, 4.4)(gen))));
        log.emplace_back(u, i, k);
        csv << "u" << u << ",i" << i << "," << k << "\n";
    }
    for (auto [mu, mi] : {std::pair{5, 5}, std::pair{3, 7}, std::pair{10, 2}}) {
        CAPTURE(mu);
        CAPTURE(mi);
        std::vector<std::tuple<int, int, int>> left = log;
        for (bool changed = true; changed;) {  // the naive loop: recount, drop both kinds at once
            std::map<int, int> uc, ic;
            for (auto [u, i, t] : left) ++uc[u], ++ic[i];
            std::vector<std::tuple<int, int, int>> next;
            for (auto e : left)
                if (uc[std::get<0>(e)] >= mu && ic[std::get<1>(e)] >= mi) next.push_back(e);
            changed = next.size() != left.size();
            left = next;
        }
        tt::data::testing::TempDir dir;
        LoadOptions o;
        o.path = dir.write("log.csv", csv.str());
        o.format = Format::Csv;
        o.min_user_interactions = mu;
        o.min_item_interactions = mi;
        if (left.empty()) {
            CHECK_THROWS_AS(load_dataset(o), DataError);
            continue;
        }
        Dataset ds = load_dataset(o);
        std::multiset<std::pair<std::string, std::string>> got, want;
        for (auto [u, i, t] : left) {  // (std::string("u") += ...: gcc 12 warns falsely on "u" + std::string)
            std::string un = "u", in = "i";
            want.emplace(un += std::to_string(u), in += std::to_string(i));
        }
        for (int32_t u = 0; u < ds.n_users; ++u)
            for (int32_t it : ds.sequence(u)) got.emplace(std::string(ds.ids.user_name(u)), std::string(ds.ids.item_name(it)));
        CHECK(got == want);
        CHECK(ds.n_interactions() > 20);  // the case is not vacuous
        CHECK(ds.report.kcore_rounds >= 2);  // and needed more than one round
    }
}

TEST_CASE("under the ratio protocol metrics average over samples, not users") {
    // a: 9 samples -> 4 test; d: 3 samples -> 1 test; c: 2 samples -> 1 test (see the log test).
    Dataset ds = make({{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {11, 12, 13}, {14, 15, 16, 17}});
    Split s = split_dataset(ds, parse_split("ratio:3:2:5"));
    REQUIRE(s.test.size() == 6);
    MetricOptions mo;
    mo.ks = {1};
    mo.per_user = mo.per_sample = true;
    RankingMetrics m(mo);
    // The first user hits every test target (rank 1), the others miss (rank 100).
    std::vector<float> scores(18, 0.0f);
    for (const Example& e : s.test) {
        std::fill(scores.begin(), scores.end(), 0.0f);
        scores[static_cast<std::size_t>(e.target)] = e.user == 0 ? 1.0f : -1.0f;
        auto hist = ds.sequence(e.user).subspan(0, static_cast<std::size_t>(e.end));
        m.add(e.user, scores.data(), 17, e.target, hist);
    }
    CHECK(m.result().count == 6);
    CHECK(m.result().get("HR@1") == doctest::Approx(4.0 / 6.0));      // RecBole: over the 6 samples
    CHECK(m.user_averaged().get("HR@1") == doctest::Approx(1.0 / 3.0)); // not (1 + 0 + 0) / 3
    auto users = m.per_user();
    REQUIRE(users.size() == 3);
    CHECK(users[0].values.count == 4);
    CHECK(users[0].history_len == 6);  // a's first test target is at position 6
    CHECK(users[1].history_len == 2);
    CHECK(users[2].history_len == 3);
    // Per-sample records: one per test sample, keyed by (user, history length = target position).
    auto samples = m.per_sample();
    REQUIRE(samples.size() == 6);
    CHECK(samples[0].user == 0);
    CHECK(samples[0].history_len == 6);
    CHECK(samples[3].history_len == 9);
    CHECK(samples[3].rank == 1);
    CHECK(samples[4].rank == 17);  // every item ties at 0 above -1: ties count against the target
    CHECK(m.sample_values(samples[0]).get("HR@1") == 1.0);
    CHECK(m.sample_values(samples[0]).count == 1);
    // Weighting the per-user means by their counts gives back the sample mean (what the
    // significance test of data/significance.hpp relies on).
    double num = 0, den = 0;
    for (const auto& u : users) num += u.values.get("HR@1") * static_cast<double>(u.values.count), den += static_cast<double>(u.values.count);
    CHECK(num / den == doctest::Approx(m.result().get("HR@1")));
}

}  // TEST_SUITE

TEST_SUITE("data/batches") {

TEST_CASE("right-padded (B, L) batches keep the most recent max_len items") {
    Dataset ds = make({{1, 2, 3, 4, 5, 6}, {7, 8}});
    std::vector<Example> ex = {{0, 0, 5, 6}, {1, 0, 1, 8}, {0, 0, 0, 1}};
    BatchOptions o;
    o.max_len = 3;
    Batch b = make_batch(ds, ex, o);
    CHECK(b.items.shape() == tt::Shape{3, 3});
    CHECK(vec(b.items) == std::vector<int32_t>{3, 4, 5, /**/ 7, 0, 0, /**/ 0, 0, 0});
    CHECK(vec(b.lengths) == std::vector<int32_t>{3, 1, 0});
    CHECK(vec(b.targets) == std::vector<int32_t>{6, 8, 1});
    CHECK(vec(b.users) == std::vector<int32_t>{0, 1, 0});
    CHECK_FALSE(b.position_targets.defined());

    SUBCASE("every position predicts the next item (S3Rec: items[:-1] -> items[1:])") {
        o.every_position = true;
        Batch e = make_batch(ds, ex, o);
        CHECK(vec(e.position_targets) == std::vector<int32_t>{4, 5, 6, /**/ 8, 0, 0, /**/ 0, 0, 0});
    }
    SUBCASE("pad to the longest row") {
        o.max_len = 50;
        o.pad_to_longest = true;
        Batch e = make_batch(ds, std::vector<Example>{{0, 0, 2, 3}, {1, 0, 1, 8}}, o);
        CHECK(e.items.shape() == tt::Shape{2, 2});
        CHECK(vec(e.items) == std::vector<int32_t>{1, 2, 7, 0});
    }
    SUBCASE("an out-of-range example is refused") {
        CHECK_THROWS_AS(make_batch(ds, std::vector<Example>{{1, 0, 5, 1}}, o), std::invalid_argument);
    }
}

TEST_CASE("seeded shuffling: every example once per epoch, reproducible, different per epoch") {
    Dataset ds = make({{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}});
    Split s = make_ratio_split(ds, {1, 0, 0});
    REQUIRE(s.train.size() == 10);
    BatchOptions o;
    o.batch_size = 4;
    o.seed = 7;
    auto epoch_targets = [&](BatchIterator& it, int64_t e) {
        it.start_epoch(e);
        std::vector<int32_t> t;
        Batch b;
        while (it.next(b))
            for (int32_t x : vec(b.targets)) t.push_back(x);
        return t;
    };
    BatchIterator a(ds, s.train, o), b(ds, s.train, o);
    CHECK(a.num_batches() == 3);
    auto a0 = epoch_targets(a, 0), a1 = epoch_targets(a, 1);
    CHECK(a0 == epoch_targets(b, 0));  // same seed, same order
    CHECK(a1 == epoch_targets(b, 1));
    CHECK(a0 != a1);
    auto sorted = a0;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<int32_t>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    o.shuffle = false;
    BatchIterator c(ds, s.train, o);
    CHECK(epoch_targets(c, 3) == std::vector<int32_t>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    o.drop_last = true;
    BatchIterator d(ds, s.train, o);
    CHECK(d.num_batches() == 2);
    CHECK(epoch_targets(d, 0).size() == 8);
}

TEST_CASE("negative sampling: uniform, never the user's items, seeded") {
    // 10 items; user 0 has items 1..5, user 1 has 6.
    Dataset ds = make({{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}});
    NegativeSampler ns(ds, 123);
    std::vector<int> hits(11, 0);
    for (int k = 0; k < 5000; ++k) ++hits[static_cast<std::size_t>(ns.sample(0))];
    for (int i = 1; i <= 5; ++i) CHECK(hits[static_cast<std::size_t>(i)] == 0);
    for (int i = 6; i <= 10; ++i) CHECK(hits[static_cast<std::size_t>(i)] > 850);  // ~1000 each
    CHECK(ns.is_users(1, 7));
    CHECK_FALSE(ns.is_users(1, 5));
    CHECK_THROWS_AS(ns.sample(2), DataError);  // user 2 has every item

    std::vector<int32_t> x(100), y(100), z(100);
    ns.sample_fixed(0, 4, x);
    NegativeSampler(ds, 123).sample_fixed(0, 4, y);  // a fresh sampler, same (seed, user, key)
    CHECK(x == y);
    ns.sample_fixed(0, 5, z);
    CHECK(x != z);

    SUBCASE("in batches: (B, K) fixed for evaluation, (B, L, K) for every position") {
        BatchOptions o;
        o.max_len = 4;
        o.negatives = 3;
        o.fixed_negatives = true;
        std::vector<Example> ex = {{0, 0, 4, 5}, {1, 0, 2, 8}};
        NegativeSampler s1(ds, 9), s2(ds, 9);
        Batch b1 = make_batch(ds, ex, o, &s1), b2 = make_batch(ds, ex, o, &s2);
        CHECK(b1.negatives.shape() == tt::Shape{2, 3});
        CHECK(vec(b1.negatives) == vec(b2.negatives));
        for (int k = 0; k < 3; ++k) CHECK(b1.negatives[k] > 5);
        o.every_position = true;
        o.fixed_negatives = false;
        Batch e = make_batch(ds, ex, o, &s1);
        CHECK(e.negatives.shape() == tt::Shape{2, 4, 3});
        auto n = vec(e.negatives);
        for (int k = 12; k < 18; ++k) CHECK(((n[static_cast<std::size_t>(k)] >= 1 && n[static_cast<std::size_t>(k)] <= 5)));
        for (int k = 18; k < 24; ++k) CHECK(n[static_cast<std::size_t>(k)] == 0);  // padding positions
        CHECK_THROWS_AS(make_batch(ds, ex, o, nullptr), std::invalid_argument);
    }
}

}  // TEST_SUITE
