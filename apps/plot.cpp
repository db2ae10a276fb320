// apps/plot.cpp — SVG charts of run directories, drawn by tttrec itself (apps/charts.hpp).
//
//   plot curves  --run runs/demo --out curves.svg               # loss and validation NDCG@10 by epoch
//   plot curves  --run runs/a --run runs/b --out both.svg       # several runs, one colour each
//   plot compare --run runs/ttt --label TTT4Rec --run runs/sas --label SASRec --out compare.svg
#include <cxxopts.hpp>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/charts.hpp"
#include "apps/cli.hpp"
#include "model/checkpoint.hpp"

namespace {

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace tt::app;
    namespace fs = std::filesystem;
    cxxopts::Options options("plot",
                             "SVG charts of run directories written by apps/train.\n"
                             "  plot curves  --run DIR [--run DIR ...] --out FILE.svg\n"
                             "      training loss and a validation metric by epoch (metrics.jsonl), one panel each,\n"
                             "      the best epoch of each run marked\n"
                             "  plot compare --run DIR [--label NAME] --run DIR [--label NAME] ... --out FILE.svg\n"
                             "      grouped bars of the test metrics of several runs (test.json)\n"
                             "The file is written atomically (temporary file + rename).");
    options.positional_help("curves|compare");
    options.add_options()
        ("command", "curves | compare", cxxopts::value<std::string>())
        ("r,run", "run directory (repeat for several runs)", cxxopts::value<std::vector<std::string>>())
        ("label", "name of the corresponding --run in the chart (default: the directory name)", cxxopts::value<std::vector<std::string>>())
        ("o,out", "SVG file to write", cxxopts::value<std::string>())
        ("metric", "curves: the validation metric", cxxopts::value<std::string>()->default_value("NDCG@10"))
        ("metrics", "compare: the metrics, in order", cxxopts::value<std::string>()->default_value("HR@10,NDCG@10,HR@20,NDCG@20"))
        ("part", "compare: test | valid", cxxopts::value<std::string>()->default_value("test"))
        ("kind", "compare: full (full ranking) | sampled_100 (sampled metrics)", cxxopts::value<std::string>()->default_value("full"))
        ("title", "chart title (default: one naming the runs or the metric)", cxxopts::value<std::string>()->default_value(""))
        ("h,help", "print this help");
    options.parse_positional({"command"});
    int exit_code = 0;
    std::optional<cxxopts::ParseResult> parsed = parse_flags(options, argc, argv, exit_code);
    if (!parsed) return exit_code;
    const cxxopts::ParseResult& args = *parsed;

    std::string command, out;
    std::vector<std::string> runs, labels;
    try {
        if (!args.count("command")) throw std::invalid_argument("say what to draw: curves or compare");
        command = args["command"].as<std::string>();
        if (command != "curves" && command != "compare")
            throw std::invalid_argument("unknown command '" + command + "' (curves, compare)");
        if (!args.count("run")) throw std::invalid_argument("--run is required");
        if (!args.count("out")) throw std::invalid_argument("--out is required");
        runs = args["run"].as<std::vector<std::string>>();
        if (args.count("label")) labels = args["label"].as<std::vector<std::string>>();
        if (!labels.empty() && labels.size() != runs.size())
            throw std::invalid_argument(std::to_string(labels.size()) + " --label for " + std::to_string(runs.size()) +
                                        " --run: give one per run, or none");
        const char* needed = command == "curves" ? "metrics.jsonl" : "test.json";
        for (const std::string& r : runs)
            if (!fs::is_regular_file(r + "/" + needed))
                throw std::invalid_argument("--run " + r + ": no " + needed + " there" +
                                            (command == "compare" ? " (test.json is written when training ends)" : ""));
        out = args["out"].as<std::string>();
        fs::path parent = fs::path(out).parent_path();
        if (!parent.empty() && !fs::is_directory(parent)) throw std::invalid_argument("--out: the directory " + parent.string() + " does not exist");
        const std::string part = args["part"].as<std::string>();
        if (part != "test" && part != "valid") throw std::invalid_argument("--part must be test or valid");
        if (split_commas(args["metrics"].as<std::string>()).empty()) throw std::invalid_argument("--metrics: none given");
    } catch (const std::exception& e) {
        return usage_error(options, e.what());
    }
    if (labels.empty())
        for (const std::string& r : runs) labels.push_back(fs::path(r).lexically_normal().filename().string().empty()
                                                               ? fs::path(r).lexically_normal().parent_path().filename().string()
                                                               : fs::path(r).lexically_normal().filename().string());

    return run_reporting_errors([&] {
        std::string title = args["title"].as<std::string>();
        std::string svg;
        if (command == "curves") {
            const std::string metric = args["metric"].as<std::string>();
            LinePanel loss{"Training loss", "epoch", "training loss", {}, {}};
            LinePanel valid{"Validation " + metric, "epoch", "validation " + metric, {}, {}};
            for (std::size_t i = 0; i < runs.size(); ++i) {
                Curves c = read_curves(runs[i] + "/metrics.jsonl", metric);
                loss.series.push_back({labels[i], c.epoch, c.loss});
                valid.series.push_back({labels[i], c.epoch, c.valid});
                // The best epoch (what model.safetensors holds, by this metric), marked for a single run.
                std::size_t best = c.valid.size();
                for (std::size_t e = 0; e < c.valid.size(); ++e)
                    if (std::isfinite(c.valid[e]) && (best == c.valid.size() || c.valid[e] > c.valid[best])) best = e;
                if (runs.size() == 1 && best < c.valid.size()) {
                    std::ostringstream os;
                    os << "best: epoch " << c.epoch[best] << ", " << std::fixed << std::setprecision(4) << c.valid[best];
                    valid.markers.emplace_back(c.epoch[best], os.str());
                }
            }
            if (title.empty()) title = "Learning curves: " + (runs.size() == 1 ? labels[0] : std::to_string(runs.size()) + " runs");
            svg = svg_line_panels(title, {loss, valid});
        } else {
            const std::vector<std::string> metrics = split_commas(args["metrics"].as<std::string>());
            const std::string part = args["part"].as<std::string>(), kind = args["kind"].as<std::string>();
            std::vector<std::vector<double>> values;
            for (const std::string& r : runs) {
                auto m = read_run_metrics(r + "/test.json", part, kind);
                std::vector<double> row;
                for (const std::string& name : metrics) {
                    auto it = m.find(name);
                    if (it == m.end()) throw std::runtime_error(r + "/test.json: no " + name + " in " + part + "." + kind);
                    row.push_back(it->second);
                }
                values.push_back(row);
            }
            if (title.empty())
                title = std::string(part == "test" ? "Test" : "Validation") + " metrics (" +
                        (kind == "full" ? "full ranking" : kind) + ")";
            svg = svg_grouped_bars(title, part + " metric value", metrics, labels, values);
        }
        tt::model::atomic_write_file(out, svg);
        std::cerr << "wrote " << out << "\n";
    });
}
