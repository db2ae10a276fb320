// tests/apps/test_recommend.cpp — the event protocol of apps/recommend (apps/serving.hpp): output
// lines in original ids, seen items left out, queries, unknown items (skip with file:line, or
// stop), malformed lines, seeding from a dataset, and the saved states carrying a restart.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <unistd.h>

#include "apps/serving.hpp"
#include "model/registry.hpp"
#include "model/checkpoint.hpp"

using namespace tt;
using namespace tt::app;

namespace {

std::unique_ptr<model::Recommender> tiny_model() {
    model::RecConfig c = model::default_config("ttt4rec");
    c.n_items = 6;
    c.dim = 8;
    c.set_if_has("heads", 2);
    c.set_if_has("ffn_hidden", 16);
    c.set_if_has("mini_batch", 2);
    Rng rng(3);
    return model::make_recommender(c, rng);
}

data::IdMap tiny_ids() { return data::IdMap::from_names({"u1", "u2"}, {"a", "b", "c", "d", "e", "f"}); }

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// The item ids of a text output line "user\titem:score item:score ...".
std::vector<std::string> items_of(const std::string& line) {
    std::vector<std::string> out;
    std::istringstream in(line.substr(line.find('\t') + 1));
    for (std::string tok; in >> tok;) out.push_back(tok.substr(0, tok.find(':')));
    return out;
}

// The scores of such a line.
std::vector<double> scores_of(const std::string& line) {
    std::vector<double> out;
    std::istringstream in(line.substr(line.find('\t') + 1));
    for (std::string tok; in >> tok;) out.push_back(std::stod(tok.substr(tok.find(':') + 1)));
    return out;
}

// Same items in the same order, scores equal up to float rounding (one piece vs single events).
void check_same_recommendations(const std::string& a, const std::string& b) {
    auto la = lines_of(a), lb = lines_of(b);
    REQUIRE(la.size() == lb.size());
    for (std::size_t i = 0; i < la.size(); ++i) {
        CHECK(items_of(la[i]) == items_of(lb[i]));
        auto sa = scores_of(la[i]), sb = scores_of(lb[i]);
        REQUIRE(sa.size() == sb.size());
        for (std::size_t j = 0; j < sa.size(); ++j) CHECK(sa[j] == doctest::Approx(sb[j]).epsilon(1e-3));
    }
}

}  // namespace

TEST_SUITE("apps/recommend") {
    TEST_CASE("events print the top-K in original ids, without seen items; queries; comments") {
        auto m = tiny_model();
        ServeOptions o;
        o.top_k = 3;
        Service s(*m, tiny_ids(), o);
        std::ostringstream out, log;
        std::istringstream in("# a comment\n\nu1 a 100\nu1 b\t101.5\n? u1\n? nobody\nalice c\n");
        s.run(in, "events.txt", out, log, false);
        auto l = lines_of(out.str());
        REQUIRE(l.size() == 5);
        CHECK(l[0].rfind("u1\t", 0) == 0);
        CHECK(items_of(l[0]).size() == 3);
        for (const std::string& item : items_of(l[1])) CHECK((item != "a" && item != "b"));  // seen: left out
        CHECK(l[2] == l[1]);          // a query changes nothing
        CHECK(l[3] == "nobody\t");    // no history: an empty recommendation
        CHECK(l[4].rfind("alice\t", 0) == 0);  // a new user (any id) starts from the model's initial state
        CHECK(s.counts().events == 3);
        CHECK(s.counts().queries == 2);
        CHECK(log.str().empty());
    }

    TEST_CASE("--include-seen and JSON output") {
        auto m = tiny_model();
        ServeOptions o;
        o.top_k = 6;
        o.include_seen = true;
        o.json = true;
        Service s(*m, tiny_ids(), o);
        std::ostringstream out, log;
        std::istringstream in("u1 a\n");
        s.run(in, "-", out, log, false);
        auto l = lines_of(out.str());
        REQUIRE(l.size() == 1);
        CHECK(l[0].find("\"user\":\"u1\"") != std::string::npos);
        CHECK(l[0].find("\"events\":1") != std::string::npos);
        CHECK(l[0].find("\"a\"") != std::string::npos);  // seen, but included
    }

    TEST_CASE("unknown items are skipped with file:line, or stop; malformed lines stop") {
        auto m = tiny_model();
        std::ostringstream out, log;
        {
            Service s(*m, tiny_ids(), ServeOptions{});
            std::istringstream in("u1 a\nu1 zzz\nu1 b\n");
            s.run(in, "ev.txt", out, log, false);
            CHECK(s.counts().events == 2);
            CHECK(s.counts().skipped == 1);
            CHECK(log.str().find("ev.txt:2: unknown item 'zzz'") != std::string::npos);
        }
        ServeOptions stop;
        stop.unknown_stop = true;
        Service s(*m, tiny_ids(), stop);
        std::istringstream unknown("u1 a\nu1 zzz\n");
        CHECK_THROWS_WITH_AS(s.run(unknown, "ev.txt", out, log, false), doctest::Contains("ev.txt:2: unknown item 'zzz'"),
                             data::DataError);
        std::istringstream fields("u1 a 1 2\n");
        CHECK_THROWS_WITH_AS(s.run(fields, "ev.txt", out, log, false), doctest::Contains("ev.txt:1: expected 'user item [timestamp]'"),
                             data::DataError);
        std::istringstream stamp("u1 a yesterday\n");
        CHECK_THROWS_WITH_AS(s.run(stamp, "ev.txt", out, log, false), doctest::Contains("is not a number"), data::DataError);
        std::istringstream query("? u1 u2\n");
        CHECK_THROWS_WITH_AS(s.run(query, "ev.txt", out, log, false), doctest::Contains("a query is '? user'"), data::DataError);
    }

    TEST_CASE("seeding from a dataset equals replaying its events; saved states survive a restart") {
        auto m = tiny_model();
        data::Dataset ds;
        ds.n_users = 1;
        ds.n_items = 3;
        ds.offsets = {0, 3};
        ds.items = {1, 2, 3};  // in the dataset's own numbering: names c, a, e
        ds.ids = data::IdMap::from_names({"u1"}, {"c", "a", "e"});
        ServeOptions o;
        o.print_each = false;

        Service seeded(*m, tiny_ids(), o), replayed(*m, tiny_ids(), o);
        seeded.add_histories(ds);
        std::ostringstream a, b, log;
        std::istringstream q1("? u1\n"), q2("u1 c\nu1 a\nu1 e\n? u1\n");
        seeded.run(q1, "-", a, log, false);
        replayed.run(q2, "-", b, log, false);
        check_same_recommendations(a.str(), b.str());
        CHECK(seeded.counts().seeded_users == 1);

        auto dir = std::filesystem::temp_directory_path() / ("tttrec_recommend_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        const std::string path = (dir / "states.safetensors").string();
        replayed.save_states(path);
        Service restarted(*m, tiny_ids(), o);
        restarted.load_states(path);
        std::ostringstream c, d;
        std::istringstream more1("u1 b\n? u1\n"), more2("u1 b\n? u1\n");
        restarted.run(more1, "-", c, log, false);
        replayed.run(more2, "-", d, log, false);
        check_same_recommendations(c.str(), d.str());
        std::filesystem::remove_all(dir);
    }
}
