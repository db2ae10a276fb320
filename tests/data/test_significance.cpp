// tests/data/test_significance.cpp — the paired bootstrap / sign-flip comparison of two
// evaluations (data/significance.hpp) and its history-length breakdown (data/breakdown.hpp), on
// constructed per-unit results whose answer is known: identical runs, a constant shift, a normal
// sample against the textbook interval, seeds; the per-unit file reader's error messages (the
// files in tests/data/compare/, also used by the apps/compare exit-code tests).
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "data/breakdown.hpp"
#include "data/significance.hpp"
#include "data_test_util.hpp"

using namespace tt::data;

namespace {

// "u7". (Appending, not "u" + std::to_string(i): gcc 12 gives a false -Wrestrict on the latter.)
std::string uid(int i) {
    std::string s = "u";
    s += std::to_string(i);
    return s;
}

// n users, one NDCG-like and one HR-like metric each, weights 1..3; b = f(a).
PairedUnits constructed(int n, double shift, uint32_t seed = 3, bool weighted = true) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> u(0, 1);
    PairedUnits d;
    d.metrics = {"NDCG@10", "HR@10"};
    for (int i = 0; i < n; ++i) {
        const double nd = u(gen) < 0.3 ? u(gen) : 0.0, hr = nd > 0 ? 1.0 : 0.0;
        d.add(uid(i), weighted ? 1.0 + i % 3 : 1.0, {nd, hr}, {nd + shift, hr + shift}, 1 + i % 40);
    }
    return d;
}

std::string error_of(const std::string& path) {
    try {
        read_unit_file(path);
    } catch (const DataError& e) {
        return e.what();
    }
    return "no error";
}

std::string compare_dir() { return (tt::data::testing::source_root() / "tests" / "data" / "compare").string(); }

}  // namespace

TEST_SUITE("data/significance") {

TEST_CASE("identical runs: difference 0, CI [0, 0], p = 1") {
    PairedUnits d = constructed(200, 0.0);
    PairedTestOptions o;
    o.resamples = 2000;
    PairedReport r = paired_test(d, o);
    CHECK(r.rows == 200);
    CHECK(r.clusters == 200);
    CHECK(r.samples == doctest::Approx(399));  // weights 1, 2, 3, ... (67 + 67 + 66 ones/twos/threes)
    REQUIRE(r.stats.size() == 2);
    for (const PairedStat& s : r.stats) {
        CAPTURE(s.metric);
        CHECK(s.diff == 0.0);
        CHECK(s.mean_a == s.mean_b);
        CHECK(s.ci_low <= 0.0);
        CHECK(s.ci_high >= 0.0);
        CHECK(s.p_value == 1.0);
    }
}

TEST_CASE("a run shifted by a constant: CI = the shift, p as small as the test allows") {
    PairedUnits d = constructed(60, 0.05);
    PairedTestOptions o;
    o.resamples = 2000;
    PairedReport r = paired_test(d, o);
    for (const PairedStat& s : r.stats) {
        CAPTURE(s.metric);
        CHECK(s.diff == doctest::Approx(0.05).epsilon(1e-12));
        CHECK(s.mean_b - s.mean_a == doctest::Approx(0.05).epsilon(1e-12));
        CHECK(s.ci_low == doctest::Approx(0.05).epsilon(1e-12));
        CHECK(s.ci_high == doctest::Approx(0.05).epsilon(1e-12));
        CHECK(s.ci_low > 0);
        // Only the all-same-sign flips (probability 2^-59) are as extreme: p = 1 / (R + 1).
        CHECK(s.p_value == doctest::Approx(1.0 / 2001));
    }
    // A negative shift: the same, mirrored.
    PairedReport n = paired_test(constructed(60, -0.02), o);
    CHECK(n.stats[0].ci_high == doctest::Approx(-0.02).epsilon(1e-12));
    CHECK(n.stats[0].p_value == doctest::Approx(1.0 / 2001));
}

TEST_CASE("a normal sample: the bootstrap CI matches mean +- 1.96 sd / sqrt(n), the p-value the z-test") {
    // 2000 users, difference ~ N(0.01, 0.1^2): standard error 0.00224, z = 4.5 -> p ~ 1e-5; and
    // the same with mean 0.003: z = 1.34, two-sided p = 0.18.
    for (double mu : {0.01, 0.003}) {
        CAPTURE(mu);
        std::mt19937 gen(11);
        std::normal_distribution<double> nd(mu, 0.1);
        PairedUnits d;
        d.metrics = {"x"};
        double sum = 0, sq = 0;
        const int n = 2000;
        std::vector<double> diffs;
        for (int i = 0; i < n; ++i) {
            const double x = nd(gen);
            diffs.push_back(x);
            sum += x;
            d.add(uid(i), 1.0, {0.5}, {0.5 + x});
        }
        const double mean = sum / n;
        for (double x : diffs) sq += (x - mean) * (x - mean);
        const double se = std::sqrt(sq / (n - 1) / n);
        PairedTestOptions o;
        o.resamples = 4000;
        PairedReport r = paired_test(d, o);
        const PairedStat& s = r.stats[0];
        CHECK(s.diff == doctest::Approx(mean).epsilon(1e-9));
        CHECK(s.ci_low == doctest::Approx(mean - 1.96 * se).epsilon(0.08 * se / std::fabs(mean - 1.96 * se)));
        CHECK(s.ci_high == doctest::Approx(mean + 1.96 * se).epsilon(0.08 * se / std::fabs(mean + 1.96 * se)));
        const double z = std::fabs(mean) / se;
        const double p_normal = std::erfc(z / std::sqrt(2.0));
        if (p_normal > 0.01)
            CHECK(s.p_value == doctest::Approx(p_normal).epsilon(0.15));
        else
            CHECK(s.p_value < 0.002);
    }
}

TEST_CASE("reproducible with its seed; another seed gives a close but different interval") {
    PairedUnits d = constructed(300, 0.0, 5);
    // perturb b so that the difference varies per user
    std::mt19937 gen(9);
    std::normal_distribution<double> nd(0.0, 0.05);
    for (double& v : d.b) v += nd(gen);
    PairedTestOptions o;
    o.resamples = 3000;
    o.seed = 42;
    PairedReport r1 = paired_test(d, o), r2 = paired_test(d, o);
    o.seed = 43;
    PairedReport r3 = paired_test(d, o);
    for (std::size_t m = 0; m < 2; ++m) {
        CHECK(r1.stats[m].ci_low == r2.stats[m].ci_low);
        CHECK(r1.stats[m].ci_high == r2.stats[m].ci_high);
        CHECK(r1.stats[m].p_value == r2.stats[m].p_value);
        CHECK(r1.stats[m].diff == r3.stats[m].diff);  // the point estimate does not depend on the seed
        CHECK(r1.stats[m].ci_low != r3.stats[m].ci_low);
        const double width = r1.stats[m].ci_high - r1.stats[m].ci_low;
        CHECK(width > 0);
        CHECK(std::fabs(r1.stats[m].ci_low - r3.stats[m].ci_low) < 0.1 * width);
        CHECK(std::fabs(r1.stats[m].ci_high - r3.stats[m].ci_high) < 0.1 * width);
        CHECK(std::fabs(r1.stats[m].p_value - r3.stats[m].p_value) < 0.05);
    }
}

TEST_CASE("per-sample rows resampled by user equal the per-user rows with counts") {
    // Three samples of u0 and one of u1 ... against the per-user means with count.
    PairedUnits samples, users;
    samples.metrics = users.metrics = {"m"};
    std::mt19937 gen(2);
    std::uniform_real_distribution<double> u(0, 1);
    for (int i = 0; i < 80; ++i) {
        const int k = 1 + i % 4;
        double sa = 0, sb = 0;
        for (int j = 0; j < k; ++j) {
            const double a = u(gen), b = u(gen) * 1.1;
            sa += a, sb += b;
            samples.add(uid(i), 1.0, {a}, {b}, 10 + j, 10 + j);
        }
        users.add(uid(i), k, {sa / k}, {sb / k}, 10);
    }
    PairedTestOptions o;
    o.resamples = 1000;
    PairedReport rs = paired_test(samples, o), ru = paired_test(users, o);
    CHECK(rs.clusters == 80);
    CHECK(rs.rows == 200);
    CHECK(rs.samples == ru.samples);
    CHECK(rs.stats[0].mean_a == doctest::Approx(ru.stats[0].mean_a).epsilon(1e-12));
    CHECK(rs.stats[0].diff == doctest::Approx(ru.stats[0].diff).epsilon(1e-12));
    CHECK(rs.stats[0].ci_low == doctest::Approx(ru.stats[0].ci_low).epsilon(1e-9));  // same draws, same clusters
    CHECK(rs.stats[0].ci_high == doctest::Approx(ru.stats[0].ci_high).epsilon(1e-9));
    CHECK(rs.stats[0].p_value == ru.stats[0].p_value);
    // Resampling the samples one by one ignores that they come in users: a narrower interval here
    // only by chance, but a different one.
    o.cluster_by_user = false;
    PairedReport rr = paired_test(samples, o);
    CHECK(rr.clusters == 200);
    CHECK(rr.stats[0].diff == doctest::Approx(rs.stats[0].diff).epsilon(1e-12));
    CHECK(rr.stats[0].ci_low != rs.stats[0].ci_low);
}

TEST_CASE("bad options are refused") {
    PairedUnits d = constructed(10, 0.0);
    PairedTestOptions o;
    o.resamples = 0;
    CHECK_THROWS_AS(paired_test(d, o), std::invalid_argument);
    o.resamples = 10;
    o.alpha = 1.0;
    CHECK_THROWS_AS(paired_test(d, o), std::invalid_argument);
    o.alpha = 0.05;
    std::vector<std::size_t> none;
    PairedReport e = paired_test(d, o, &none);
    CHECK(e.rows == 0);
    CHECK(std::isnan(e.stats[0].diff));
}

TEST_CASE("per-unit files: read, paired by user, the weighted means; malformed files name file:line") {
    const std::string dir = compare_dir();
    UnitFile a = read_unit_file(dir + "/a.jsonl"), b = read_unit_file(dir + "/b.jsonl");
    CHECK_FALSE(a.per_sample);
    CHECK(a.metrics == std::vector<std::string>{"HR@10", "NDCG@10"});
    REQUIRE(a.rows.size() == 4);
    CHECK(a.rows[1].user == "u2");
    CHECK(a.rows[1].weight == 2);
    CHECK(a.rows[1].history_len == 12);
    CHECK(a.rows[1].line == 2);
    PairedUnits d = pair_unit_files(a, b, {"NDCG@10"});  // b lists the users in another order
    REQUIRE(d.size() == 4);
    PairedTestOptions o;
    o.resamples = 500;
    PairedReport r = paired_test(d, o);
    CHECK(r.samples == 7);
    CHECK(r.stats[0].mean_a == doctest::Approx(3.25 / 7));  // (0.5 + 2 * 0.25 + 0 + 3 * 0.75) / 7
    CHECK(r.stats[0].mean_b == doctest::Approx(4.4 / 7));   // (1 + 2 * 0.25 + 0.5 + 3 * 0.8) / 7
    CHECK(r.stats[0].diff == doctest::Approx(1.15 / 7));
    CHECK(pair_unit_files(a, b).metrics == std::vector<std::string>{"HR@10", "NDCG@10"});

    CHECK(error_of(dir + "/missing_field.jsonl") ==
          dir + "/missing_field.jsonl:3: no 'NDCG@10' field (line 1 has one): {\"user\":\"u3\",\"count\":1,\"HR@10\":0.0}");
    CHECK(error_of(dir + "/not_number.jsonl") ==
          dir + "/not_number.jsonl:2: 'NDCG@10' is not a number: {\"user\":\"u2\",\"count\":2,\"HR@10\":0.5,\"NDCG@10\":\"0.25\"}");
    CHECK(error_of(dir + "/not_json.jsonl") == dir + "/not_json.jsonl:2: not a JSON object: HR@10=0.5 NDCG@10=0.25");
    CHECK(error_of(dir + "/nonexistent.jsonl") == dir + "/nonexistent.jsonl: cannot open");

    UnitFile other = read_unit_file(dir + "/other_users.jsonl");
    try {
        pair_unit_files(a, other);
        FAIL("mismatched users were accepted");
    } catch (const DataError& e) {
        CHECK(std::string(e.what()) == dir + "/a.jsonl:4: user 'u4' is not in " + dir +
                                           "/other_users.jsonl: the two files must cover the same evaluation samples "
                                           "(same data, split, part and filters)");
    }
    try {
        pair_unit_files(a, b, {"MRR"});
        FAIL("a missing metric was accepted");
    } catch (const DataError& e) {
        CHECK(std::string(e.what()) == dir + "/a.jsonl: no metric 'MRR' (it has: HR@10, NDCG@10)");
    }

    tt::data::testing::TempDir tmp;
    auto err = [&](const std::string& text) { return error_of(tmp.write("x.jsonl", text)); };
    const std::string x = (tmp.path / "x.jsonl").string();
    CHECK(err("") == x + ": no rows (expected one JSON object per line, as apps/eval --per-user writes)");
    CHECK(err("{\"count\":1,\"m\":1}\n") == x + ":1: no 'user' field: {\"count\":1,\"m\":1}");
    CHECK(err("{\"user\":\"a\"}\n") == x + ":1: no metric field (such as NDCG@10): {\"user\":\"a\"}");
    CHECK(err("{\"user\":\"a\",\"m\":1}\n{\"user\":\"a\",\"m\":0}\n") == x + ":2: user 'a' again (first on line 1): {\"user\":\"a\",\"m\":0}");
    CHECK(err("{\"user\":\"a\",\"m\":1}\n{\"user\":\"b\",\"m\":0,\"z\":1}\n") == x + ":2: field 'z' is not on line 1: {\"user\":\"b\",\"m\":0,\"z\":1}");
    CHECK(err("{\"user\":\"a\",\"count\":0,\"m\":1}\n") == x + ":1: 'count' must be at least 1: {\"user\":\"a\",\"count\":0,\"m\":1}");
    CHECK(err("{\"user\":\"a\",\"count\":1.5,\"m\":1}\n") == x + ":1: 'count' must be a non-negative integer: {\"user\":\"a\",\"count\":1.5,\"m\":1}");
    CHECK(err("{\"user\":\"a\",\"m\":null}\n") == x + ":1: 'm' is not a number: {\"user\":\"a\",\"m\":null}");
    CHECK(err("{\"user\":\"a\",\"pos\":3,\"m\":1}\n{\"user\":\"a\",\"m\":1}\n")
              .find(":2: no 'pos' in a per-sample file (line 1 has one)") != std::string::npos);
    // Blank lines are skipped; integer user ids are accepted.
    UnitFile ok = read_unit_file(tmp.write("ok.jsonl", "\n{\"user\":7,\"m\":1}\n\n{\"user\":\"8\",\"m\":0}\n"));
    CHECK(ok.rows.size() == 2);
    CHECK(ok.rows[0].user == "7");
    CHECK(ok.rows[1].line == 4);

    // Same users but a different count: not the same evaluation.
    UnitFile c1 = read_unit_file(tmp.write("c1.jsonl", "{\"user\":\"a\",\"count\":2,\"m\":1}\n"));
    UnitFile c2 = read_unit_file(tmp.write("c2.jsonl", "{\"user\":\"a\",\"count\":3,\"m\":1}\n"));
    CHECK_THROWS_WITH_AS(pair_unit_files(c1, c2),
                         (c2.path + ":1: user 'a' has count 3 but " + c1.path +
                          ":1 has 2: the two files must cover the same evaluation samples (same data, split, part and filters)")
                             .c_str(),
                         DataError);
}

TEST_CASE("per-sample rows written from RankingMetrics read back and pair by (user, pos)") {
    MetricOptions mo;
    mo.ks = {1, 10};
    mo.per_sample = true;
    RankingMetrics m(mo);
    m.add_rank(1, 1, 5);
    m.add_rank(0, 3, 7);
    m.add_rank(1, 20, 6);
    IdMap ids = IdMap::from_names({"alice", "bob"}, {"x"});
    tt::data::testing::TempDir tmp;
    const std::string path = tmp.write("s.jsonl", per_sample_jsonl(m, ids));
    UnitFile f = read_unit_file(path);
    CHECK(f.per_sample);
    REQUIRE(f.rows.size() == 3);
    CHECK(f.rows[0].user == "alice");
    CHECK(f.rows[0].pos == 7);
    CHECK(f.rows[1].user == "bob");
    CHECK(f.rows[1].pos == 5);
    CHECK(f.rows[2].history_len == 6);
    CHECK(f.metrics == std::vector<std::string>{"HR@1", "HR@10", "MRR", "NDCG@1", "NDCG@10"});  // the writer sorts keys
    CHECK(f.rows[0].values[1] == 1.0);  // rank 3: HR@10
    CHECK(f.rows[0].values[2] == doctest::Approx(1.0 / 3));
    PairedUnits d = pair_unit_files(f, f);
    CHECK(d.size() == 3);
    CHECK(d.pos[1] == 5);
    // A per-user file does not pair with a per-sample one.
    UnitFile pu = read_unit_file(tmp.write("u.jsonl", "{\"user\":\"alice\",\"HR@1\":0}\n"));
    CHECK_THROWS_AS(pair_unit_files(pu, f), DataError);
}

TEST_CASE("history-length buckets: parsing, assignment, each bucket its own test") {
    auto b = parse_buckets("1-5,6-10,11-20,21-50,51-");
    REQUIRE(b.size() == 5);
    CHECK(b[0].label() == "1-5");
    CHECK(b[4].label() == "51-");
    CHECK(b[4].contains(100000));
    CHECK_FALSE(b[0].contains(0));
    CHECK(parse_buckets("3").front().label() == "3");
    CHECK(parse_buckets("1-2,5-").size() == 2);  // gaps allowed
    for (const char* bad : {"", "1-5,,6-10", "5-1", "1-5,5-10", "1-,6-10", "1-x", "-3", "a"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_buckets(bad), std::invalid_argument);
    }

    // B gains 0.1 on histories 1..10, nothing beyond, on 40 users of lengths 1..40.
    PairedUnits d;
    d.metrics = {"m"};
    for (int i = 1; i <= 40; ++i) d.add(uid(i), 1.0, {0.2}, {i <= 10 ? 0.3 : 0.2}, i);
    PairedTestOptions o;
    o.resamples = 500;
    LengthBreakdown r = breakdown_by_length(d, parse_buckets("1-10,11-20,21-30,41-"), o);
    REQUIRE(r.buckets.size() == 4);
    CHECK(r.unbucketed == 10);  // lengths 31..40
    CHECK(r.buckets[0].report.rows == 10);
    CHECK(r.buckets[0].report.stats[0].diff == doctest::Approx(0.1));
    CHECK(r.buckets[0].report.stats[0].ci_low == doctest::Approx(0.1));
    CHECK(r.buckets[0].report.stats[0].p_value < 0.02);  // only 2 of the 2^10 sign patterns are as extreme
    CHECK(r.buckets[1].report.stats[0].diff == 0.0);
    CHECK(r.buckets[1].report.stats[0].p_value == 1.0);
    CHECK(r.buckets[3].report.rows == 0);
    CHECK(std::isnan(r.buckets[3].report.stats[0].diff));
    // Reproducible.
    LengthBreakdown again = breakdown_by_length(d, parse_buckets("1-10,11-20,21-30,41-"), o);
    CHECK(again.buckets[0].report.stats[0].p_value == r.buckets[0].report.stats[0].p_value);

    // Rows without a history length cannot be bucketed.
    PairedUnits no_len;
    no_len.metrics = {"m"};
    no_len.path_a = "a.jsonl";
    no_len.add("u1", 1.0, {0.0}, {0.0});
    CHECK_THROWS_WITH_AS(breakdown_by_length(no_len, b, o),
                         "a.jsonl:0: user 'u1' has no history_len: --by-length needs per-sample files, or per-user files "
                         "whose rows carry \"history_len\"",
                         DataError);
}

}  // TEST_SUITE
