// tests/apps/test_gap_chart.cpp — the gap chart of apps/plot gap (apps/charts.hpp svg_gap_chart):
// well-formed SVG with every protocol's label, the values, CI bars, filled/hollow dots by whether
// the interval excludes 0; the gaps.json reader's errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "apps/charts.hpp"
#include "tests/apps/svg_check.hpp"

using namespace tt::app;
using tt::testing::count;
using tt::testing::xml_problem;


TEST_SUITE("apps/gapchart") {
    TEST_CASE("gap chart: labels, values, one CI bar per point, filled only when the CI excludes 0") {
        std::vector<GapPoint> pts = {{"1:2:7", "train 10%", -0.0031, -0.0052, -0.0011, 0.004},
                                     {"3:2:5", "train 30%", 0.0012, -0.0007, 0.0030, 0.21},
                                     {"6:2:2", "train 60%", 0.0040, 0.0021, 0.0061, 0.0001},
                                     {"leave-one-out", "all but the last 2", 0.0062, 0.0040, 0.0085, std::nan("")}};
        const std::string svg = svg_gap_chart("TTT4Rec \u2212 SASRec NDCG@10 gap", "TTT4Rec \u2212 SASRec NDCG@10", "split", pts,
                                              "bars: 95% CI & <note>");
        CHECK(xml_problem(svg) == "");
        for (const char* s : {">1:2:7<", ">3:2:5<", ">6:2:2<", ">leave-one-out<", ">train 10%<", ">all but the last 2<",
                              ">+0.0040<", ">-0.0031<", ">p = 0.210<", ">p &lt; 0.001<", "bars: 95% CI &amp; &lt;note&gt;",
                              "TTT4Rec \u2212 SASRec NDCG@10 gap"})
            CHECK_MESSAGE(svg.find(s) != std::string::npos, s);
        CHECK(count(svg, "<g class=\"gap\"") == 4);
        CHECK(count(svg, "<circle") == 4);
        CHECK(count(svg, "fill=\"white\" stroke=") == 1);  // only 3:2:5's interval contains 0
        CHECK(count(svg, "stroke-dasharray=\"6,4\"") == 1);  // the zero line
        CHECK(count(svg, ">p ") == 3);                       // the last point has no p-value
        // An empty chart is still well-formed.
        CHECK(xml_problem(svg_gap_chart("empty", "y", "x", {})) == "");
        // A short title keeps 18 px; one too long for the width at 18 px gets a smaller font
        // (~0.62 em per glyph must fit the width less margins), not a title cut at both edges.
        CHECK(svg.find("font-size=\"18\" font-weight=\"bold\">TTT4Rec") != std::string::npos);
        const std::string long_title(120, 'x');
        const std::string small = svg_gap_chart(long_title, "y", "x", pts);
        const std::size_t at = small.find("font-weight=\"bold\">" + long_title);
        REQUIRE(at != std::string::npos);
        const std::size_t size_at = small.rfind("font-size=\"", at) + 11;
        const int size = std::stoi(small.substr(size_at, small.find('"', size_at) - size_at));
        CHECK(size < 18);
        CHECK(size >= 10);
        CHECK(0.62 * size * 120 <= 860 - 40);  // fits the default width of 860
    }

    TEST_CASE("gaps.json: read back, bad entries named") {
        auto dir = std::filesystem::temp_directory_path() / ("tttrec_gap_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        auto write = [&](const std::string& text) {
            const std::string p = (dir / "g.json").string();
            std::ofstream(p) << text;
            return p;
        };
        auto pts = read_gap_points(write(R"([{"label":"3:2:5","diff":0.001,"ci_low":-0.001,"ci_high":0.003,"p_value":0.3},
                                              {"label":"loo","sublabel":"LOO","diff":0.004,"ci_low":0.002,"ci_high":0.006}])"));
        REQUIRE(pts.size() == 2);
        CHECK(pts[0].p_value == 0.3);
        CHECK(pts[1].sublabel == "LOO");
        CHECK(std::isnan(pts[1].p_value));
        const std::string p = (dir / "g.json").string();
        CHECK_THROWS_WITH(read_gap_points(write("[]")), (p + ": expected a non-empty JSON array of {\"label\", \"diff\", \"ci_low\", \"ci_high\"}").c_str());
        CHECK_THROWS_WITH(read_gap_points(write(R"([{"label":"a","diff":1,"ci_low":0,"ci_high":2},{"label":"b","diff":"x","ci_low":0,"ci_high":1}])")),
                          (p + ": entry 2: needs a number \"diff\"").c_str());
        CHECK_THROWS_WITH(read_gap_points(write(R"([{"label":"a","diff":1,"ci_low":3,"ci_high":2}])")), (p + ": entry 1: ci_low is above ci_high").c_str());
        CHECK_THROWS_WITH(read_gap_points(write("[{")), doctest::Contains((p + ": not valid JSON").c_str()));
        std::filesystem::remove_all(dir);
    }
}
