// tests/data/test_preprocess.cpp — implicit feedback, repeats, iterative k-core, the binary
// cache (hit, stale, corrupt), and the real datasets of ../shared/data against their SOURCE.md.
#include <doctest/doctest.h>

#include "tests/skip.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cache.hpp"
#include "data/dataset.hpp"
#include "data/split.hpp"
#include "data/throughput.hpp"
#include "tests/data/data_test_util.hpp"

using namespace tt::data;
using tt::data::testing::TempDir;
namespace fs = std::filesystem;

namespace {

using Seqs = std::vector<std::pair<std::string, std::vector<std::string>>>;

Seqs as_names(const Dataset& ds) {
    Seqs out;
    for (int32_t u = 0; u < ds.n_users; ++u) {
        std::vector<std::string> items;
        for (int32_t i : ds.sequence(u)) items.emplace_back(ds.ids.item_name(i));
        out.emplace_back(ds.ids.user_name(u), items);
    }
    return out;
}

bool same_data(const Dataset& a, const Dataset& b) {
    return a.n_users == b.n_users && a.n_items == b.n_items && a.offsets == b.offsets && a.items == b.items &&
           a.timestamps == b.timestamps && a.ids == b.ids;
}

}  // namespace

TEST_SUITE("data/preprocess") {

TEST_CASE("rating threshold keeps rating >= threshold (implicit feedback)") {
    TempDir dir;
    LoadOptions o;
    o.path = dir.write("r.csv", "user_id,item_id,rating,timestamp\nalice,i3,5,300\nbob,i1,3,100\nalice,i1,4,100\n"
                                "alice,i2,2,200\nbob,i2,5,50\ncarol,i9,1,10\n");
    o.rating_threshold = 4.0f;
    Dataset ds = load_dataset(o);
    CHECK(as_names(ds) == Seqs{{"alice", {"i1", "i3"}}, {"bob", {"i2"}}});
    CHECK(ds.report.below_threshold == 3);
    CHECK(ds.n_items == 3);  // i9 disappeared with carol; ids stay dense
    CHECK(ds.report.summary().find("below the rating threshold: 3 interactions dropped") != std::string::npos);
    o.rating_threshold = 9.0f;
    CHECK_THROWS_WITH_AS(load_dataset(o), (o.path + ": no interactions left after preprocessing (threshold/k-core removed everything)").c_str(),
                         DataError);
}

TEST_CASE("repeats: keep, drop consecutive, keep first") {
    TempDir dir;
    LoadOptions o;
    o.path = dir.write("rep.txt", "u a\nu a\nu b\nu a\nu c\nu c\n");
    CHECK(as_names(load_dataset(o)) == Seqs{{"u", {"a", "a", "b", "a", "c", "c"}}});
    o.repeats = Repeats::DropConsecutive;
    Dataset d1 = load_dataset(o);
    CHECK(as_names(d1) == Seqs{{"u", {"a", "b", "a", "c"}}});
    CHECK(d1.report.repeats_removed == 2);
    o.repeats = Repeats::KeepFirst;
    Dataset d2 = load_dataset(o);
    CHECK(as_names(d2) == Seqs{{"u", {"a", "b", "c"}}});
    CHECK(d2.report.repeats_removed == 3);
}

TEST_CASE("k-core is repeated until stable") {
    // Hand-worked with min 2/2. Round 1: u4 has 1 interaction -> its c goes. Round 2: c now has one
    // interaction (u3's) -> it goes. Round 3: u3 is left with 1 interaction -> a goes. Round 4: stable.
    TempDir dir;
    LoadOptions o;
    o.path = dir.write("k.txt", "u1 a\nu1 b\nu2 a\nu2 b\nu3 a\nu3 c\nu4 c\n");
    o.min_user_interactions = 2;
    o.min_item_interactions = 2;
    Dataset ds = load_dataset(o);
    CHECK(as_names(ds) == Seqs{{"u1", {"a", "b"}}, {"u2", {"a", "b"}}});
    CHECK(ds.report.kcore_rounds == 3);
    CHECK(ds.report.kcore_removed == 3);
    CHECK(ds.n_items == 2);
    // Every survivor meets both minimums.
    auto st = ds.stats();
    CHECK(st.min_len >= 2);
    o.min_user_interactions = 3;
    CHECK_THROWS_AS(load_dataset(o), DataError);
}

TEST_CASE("dataset_from_sequences and write_sequences round trip") {
    Dataset ds = dataset_from_sequences({{"x", {"p", "q"}}, {"y", {"q", "r", "p"}}});
    TempDir dir;
    std::string p = (dir.path / "out.txt").string();
    write_sequences(ds, p);
    LoadOptions o;
    o.path = p;
    CHECK(as_names(load_dataset(o)) == as_names(ds));
    auto st = ds.stats();
    CHECK(st.n_interactions == 5);
    CHECK(st.max_len == 3);
    CHECK(st.str().starts_with("2 users, 3 items, 5 interactions"));
}

}  // TEST_SUITE

TEST_SUITE("data/cache") {

TEST_CASE("a second load comes from the cache; stale and corrupt caches are rebuilt") {
    TempDir dir;
    LoadOptions o;
    o.path = dir.write("log.csv", "user_id,item_id,timestamp\nalice,i3,300\nbob,i1,100\nalice,i1,100\nbob,i2,50\n");
    o.use_cache = true;
    o.cache_dir = (dir.path / "cache").string();

    Dataset cold = load_dataset(o);
    CHECK_FALSE(cold.report.from_cache);
    CHECK(cold.report.cache_note.find("no cache yet; written to " + cache_path_for(o)) != std::string::npos);
    REQUIRE(fs::exists(cache_path_for(o)));

    Dataset warm = load_dataset(o);
    CHECK(warm.report.from_cache);
    CHECK(same_data(cold, warm));
    CHECK(warm.report.format == Format::Csv);
    CHECK(warm.report.format_reason == cold.report.format_reason);
    CHECK(warm.report.lines == 4);
    CHECK(warm.ids.item_id("i3") == cold.ids.item_id("i3"));

    SUBCASE("options are part of the key") {
        LoadOptions o2 = o;
        o2.repeats = Repeats::KeepFirst;
        CHECK(cache_path_for(o2) != cache_path_for(o));
        CHECK_FALSE(load_dataset(o2).report.from_cache);
    }
    SUBCASE("a changed source makes the cache stale") {
        std::ofstream(o.path, std::ios::app) << "carol,i9,10\n";
        Dataset d = load_dataset(o);
        CHECK_FALSE(d.report.from_cache);
        CHECK(d.report.cache_note.starts_with("stale (source file changed): rebuilt"));
        CHECK(d.n_users == 3);
        CHECK(load_dataset(o).report.from_cache);
    }
    SUBCASE("a flipped payload byte fails the checksum") {
        std::fstream f(cache_path_for(o), std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(-3, std::ios::end);
        char c;
        f.get(c);
        f.seekp(-3, std::ios::end);
        f.put(static_cast<char>(c ^ 0x5A));
        f.close();
        Dataset d = load_dataset(o);
        CHECK_FALSE(d.report.from_cache);
        CHECK(d.report.cache_note.starts_with("corrupt (checksum mismatch): rebuilt"));
        CHECK(same_data(d, cold));
    }
    SUBCASE("a truncated cache") {
        fs::resize_file(cache_path_for(o), fs::file_size(cache_path_for(o)) - 10);
        CHECK(load_dataset(o).report.cache_note.starts_with("corrupt (truncated payload): rebuilt"));
        fs::resize_file(cache_path_for(o), 7);
        CHECK(load_dataset(o).report.cache_note.starts_with("corrupt (truncated header): rebuilt"));
    }
    SUBCASE("not a cache at all") {
        std::ofstream(cache_path_for(o), std::ios::binary) << std::string(200, 'z');
        CHECK(load_dataset(o).report.cache_note.starts_with("corrupt (bad magic): rebuilt"));
    }
    SUBCASE("an unwritable cache dir never fails the load") {
        LoadOptions o3 = o;
        o3.cache_dir = o.path + "/sub";  // a path under a regular file
        Dataset d = load_dataset(o3);
        CHECK(same_data(d, cold));
        CHECK(d.report.cache_note.find("not written") != std::string::npos);
    }
}

}  // TEST_SUITE

// ---------------------------------------------------------------------------------------------
// Real datasets: counts from each SOURCE.md. Skipped (with a message) when the folder is absent.

namespace {

struct RealCase {
    std::string rel;       // path under the shared data dir
    Format format;         // what auto-detection must choose
    int32_t users, items;
    int64_t interactions;
    int64_t min_len, max_len;
    bool timestamps;
};

}  // namespace

TEST_SUITE("data/real") {

TEST_CASE("shared datasets reproduce the counts of their SOURCE.md") {
    const fs::path root = tt::data::testing::shared_data_dir();
    const RealCase cases[] = {
        {"amazon-beauty/Beauty.txt", Format::Sequences, 22363, 12101, 198502, 5, 204, false},
        {"amazon-video-games/Video.txt", Format::Pairs, 31013, 23715, 287107, 1, 860, false},
        {"ml-100k/u.data", Format::MLData, 943, 1682, 100000, 20, 737, true},
        {"amazon-grocery-rechorus/train.csv", Format::Csv, 14681, 8687, 121892, 3, 202, true},
    };
    int checked = 0;
    for (const auto& c : cases) {
        CAPTURE(c.rel);
        fs::path p = root / c.rel;
        if (!fs::exists(p)) {
            MESSAGE("not checked: " << p.string() << " is absent");
            continue;
        }
        ++checked;
        LoadOptions o;
        o.path = p.string();
        Dataset ds = load_dataset(o);
        CHECK(ds.report.format == c.format);
        CHECK(ds.n_users == c.users);
        CHECK(ds.n_items == c.items);
        CHECK(ds.n_interactions() == c.interactions);
        CHECK(ds.report.skipped_lines == 0);
        CHECK(ds.report.duplicate_lines == 0);
        CHECK(ds.has_timestamps() == c.timestamps);
        auto st = ds.stats();
        CHECK(st.min_len == c.min_len);
        CHECK(st.max_len == c.max_len);
        ds.validate();
        // Ids 1..N in the source keep their value as dense ids (items here; users too).
        CHECK(ds.ids.item_name(1) == "1");
        CHECK(ds.ids.user_name(0) == "1");
        if (c.timestamps)
            for (int32_t u = 0; u < ds.n_users; ++u) {
                auto t = ds.times(u);
                if (!std::is_sorted(t.begin(), t.end())) FAIL("user " << u << " not in time order");
            }
    }
    if (checked == 0) tt::testing::skip_test("none of the datasets is in " + root.string());
}

TEST_CASE("Beauty: median length, first user, and the leave-one-out sizes") {
    fs::path p = tt::data::testing::shared_data_dir() / "amazon-beauty/Beauty.txt";
    if (!fs::exists(p)) {
        return tt::testing::skip_test(p.string() + " is absent");
    }
    LoadOptions o;
    o.path = p.string();
    Dataset ds = load_dataset(o);
    CHECK(ds.stats().median_len == 6);
    // Line 1 of Beauty.txt: "1 1 2 3 4 5"
    auto s0 = ds.sequence(0);
    CHECK(std::vector<int32_t>(s0.begin(), s0.end()) == std::vector<int32_t>{1, 2, 3, 4, 5});
    Split s = make_leave_one_out(ds);
    CHECK(s.test.size() == 22363);
    CHECK(s.valid.size() == 22363);
    CHECK(static_cast<int64_t>(s.train.size()) == 198502 - 3 * 22363);  // n-3 prefixes per user
}

TEST_CASE("ml-100k: implicit feedback with rating >= 4 and a 5-core") {
    fs::path p = tt::data::testing::shared_data_dir() / "ml-100k/u.data";
    if (!fs::exists(p)) {
        return tt::testing::skip_test(p.string() + " is absent");
    }
    LoadOptions o;
    o.path = p.string();
    o.rating_threshold = 4.0f;
    Dataset ds = load_dataset(o);
    CHECK(ds.report.below_threshold == 6110 + 11370 + 27145);  // ratings 1..3 from SOURCE.md
    CHECK(ds.n_interactions() == 34174 + 21201);
    o.min_user_interactions = o.min_item_interactions = 5;
    Dataset k = load_dataset(o);
    CHECK(k.report.kcore_rounds >= 1);
    auto st = k.stats();
    CHECK(st.min_len >= 5);
    std::vector<int64_t> item_count(static_cast<std::size_t>(k.n_items) + 1, 0);
    for (int32_t i : k.items) ++item_count[static_cast<std::size_t>(i)];
    CHECK(*std::min_element(item_count.begin() + 1, item_count.end()) >= 5);
}

TEST_CASE("load throughput on the largest shared file, cold and from cache") {
    const fs::path root = tt::data::testing::shared_data_dir();
    if (!fs::exists(root)) {
        return tt::testing::skip_test(root.string() + " is absent");
    }
    std::string path = largest_interaction_file(root.string());
    CHECK(fs::path(path).filename() == "Video.txt");  // 3.2 MB, the largest of the four
    LoadThroughput t = measure_load_throughput(path, 0.0);
    CHECK(t.lines == 287107);
    CHECK(t.interactions == 287107);
    CHECK(t.runs >= 3);
    // Speed is reported, not asserted (no wall-clock assertion in a unit test: it fails on a loaded
    // machine or under a sanitizer); apps/bench --only data measures it.
    MESSAGE("cold " << t.cold_s << " s (" << t.cold_lines_per_s() << " lines/s), from cache " << t.cache_s << " s");
}

}  // TEST_SUITE
