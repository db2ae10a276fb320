// tests/apps/test_plot.cpp — the SVG charts of apps/plot (apps/charts.hpp): well-formed XML with
// the expected series, labels and values; nice ticks; the readers of metrics.jsonl and test.json.
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

namespace {


std::string temp_dir() {
    auto d = std::filesystem::temp_directory_path() / ("tttrec_plot_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
}

}  // namespace

TEST_SUITE("apps/plot") {
    TEST_CASE("nice ticks are round numbers covering the range") {
        CHECK(nice_ticks(0.0, 1.0) == std::vector<double>{0.0, 0.2, 0.4, 0.6, 0.8, 1.0});
        std::vector<double> t = nice_ticks(0.0213, 0.0671, 5);
        REQUIRE(t.size() >= 3);
        CHECK(t.front() <= 0.0213);
        CHECK(t.back() >= 0.0671);
        CHECK(t[1] - t[0] == doctest::Approx(0.01));
        CHECK(nice_ticks(3.0, 3.0).size() >= 2);  // a single value still gets an axis
    }

    TEST_CASE("learning curves: well-formed SVG with both panels, every point and the marker") {
        LinePanel loss{"Training loss", "epoch", "training loss", {{"run A", {1, 2, 3}, {8.5, 7.25, 6.0}}, {"run <B>", {1, 2}, {9.0, 8.0}}}, {}};
        LinePanel valid{"Validation NDCG@10", "epoch", "validation NDCG@10", {{"run A", {1, 2, 3}, {0.02, 0.05, NAN}}}, {{2, "best: epoch 2"}}};
        std::string svg = svg_line_panels("Learning curves & more", {loss, valid});
        CHECK(xml_problem(svg) == "");
        CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
        for (const char* label : {"Training loss", "Validation NDCG@10", "training loss", "validation NDCG@10", "epoch",
                                  "best: epoch 2", "Learning curves &amp; more", "run &lt;B&gt;"})
            CHECK_MESSAGE(svg.find(label) != std::string::npos, label);
        CHECK(count(svg, "<polyline") == 3);  // A and B in the loss panel, A in the validation panel
        CHECK(count(svg, "<circle") == 7);    // 3 + 2 points, then 2 (the NaN is left out)
        CHECK(count(svg, "stroke-dasharray") == 1);
        CHECK(svg.find("nan") == std::string::npos);
        CHECK(svg.find("inf") == std::string::npos);
    }

    TEST_CASE("comparison chart: one labelled bar per run and metric") {
        std::vector<std::string> groups = {"HR@10", "NDCG@10", "HR@20", "NDCG@20"}, runs = {"TTT4Rec", "SASRec"};
        std::vector<std::vector<double>> v = {{0.0876, 0.0533, 0.1201, 0.0616}, {0.0712, 0.0401, 0.1002, NAN}};
        std::string svg = svg_grouped_bars("Test metrics", "test metric value", groups, runs, v);
        CHECK(xml_problem(svg) == "");
        CHECK(count(svg, "<rect class=\"bar\"") == 7);  // the NaN has no bar
        for (const char* label : {"HR@10", "NDCG@20", "TTT4Rec", "SASRec", "test metric value", "0.088", "0.040"})
            CHECK_MESSAGE(svg.find(label) != std::string::npos, label);
        CHECK(svg.find("data-series=\"SASRec\" data-group=\"NDCG@20\"") == std::string::npos);
    }

    TEST_CASE("readers: metrics.jsonl (a resumed epoch keeps its last line) and test.json; bad files name file:line") {
        const std::string dir = temp_dir();
        {
            std::ofstream f(dir + "/metrics.jsonl");
            f << R"({"epoch":1,"loss":8.5,"valid":{"NDCG@10":0.02}})" << "\n"
              << R"({"epoch":2,"loss":7.9,"valid":{"NDCG@10":0.03}})" << "\n"
              << R"({"epoch":2,"loss":7.5,"valid":{"NDCG@10":0.04}})" << "\n\n";
        }
        Curves c = read_curves(dir + "/metrics.jsonl", "NDCG@10");
        CHECK(c.epoch == std::vector<double>{1, 2});
        CHECK(c.loss == std::vector<double>{8.5, 7.5});
        CHECK(c.valid[1] == doctest::Approx(0.04));
        // A metric no epoch recorded is an error naming what is there (not an empty panel); one that
        // some epochs lack is a missing point.
        CHECK_THROWS_WITH(read_curves(dir + "/metrics.jsonl", "HR@99"),
                          doctest::Contains("no epoch has the validation metric 'HR@99' (it has: NDCG@10)"));
        {
            std::ofstream f(dir + "/partial.jsonl");
            f << R"({"epoch":1,"loss":8.5})" << "\n" << R"({"epoch":2,"loss":7.9,"valid":{"HR@10":0.1,"count":5}})" << "\n";
        }
        Curves p = read_curves(dir + "/partial.jsonl", "HR@10");
        CHECK(std::isnan(p.valid[0]));
        CHECK(p.valid[1] == doctest::Approx(0.1));
        {
            std::ofstream f(dir + "/bad.jsonl");
            f << R"({"epoch":1,"loss":8.5})" << "\n" << "{oops\n";
        }
        CHECK_THROWS_WITH(read_curves(dir + "/bad.jsonl", "NDCG@10"), doctest::Contains("bad.jsonl:2: not a JSON line"));
        {
            std::ofstream f(dir + "/test.json");
            f << R"({"model":"x","test":{"full":{"HR@10":0.5,"NDCG@10":0.25,"count":10}}})";
        }
        auto m = read_run_metrics(dir + "/test.json", "test", "full");
        CHECK(m.at("NDCG@10") == 0.25);
        CHECK_THROWS_WITH(read_run_metrics(dir + "/test.json", "valid", "full"), doctest::Contains("no \"valid\""));
        std::filesystem::remove_all(dir);
    }
}
