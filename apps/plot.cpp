// apps/plot.cpp — SVG charts of run directories, drawn by tttrec itself (apps/charts.hpp).
//
//   plot curves  --run runs/demo --out curves.svg               # loss and validation NDCG@10 by epoch
//   plot curves  --run runs/a --run runs/b --out both.svg       # several runs, one colour each
//   plot compare --run runs/ttt --label TTT4Rec --run runs/sas --label SASRec --out compare.svg
//   plot gap --label 1:2:7 --file-a sas127.jsonl --file-b ttt127.jsonl --label 3:2:5 --file-a ... --file-b ... --out gap.svg
//       # B - A NDCG@10 with its bootstrap CI under each split (apps/compare's statistics)
//   plot gap --json gaps.json --out gap.svg      # the same from precomputed differences
#include <cxxopts.hpp>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/charts.hpp"
#include "apps/cli.hpp"
#include "data/significance.hpp"
#include "data/split.hpp"
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

// gap: either --json, or one --file-a and one --file-b per --label; the files must exist.
void check_gap_flags(const cxxopts::ParseResult& args, const std::vector<std::string>& labels) {
    namespace fs = std::filesystem;
    const std::string json = args["json"].as<std::string>();
    const std::size_t na = args.count("file-a") ? args["file-a"].as<std::vector<std::string>>().size() : 0;
    const std::size_t nb = args.count("file-b") ? args["file-b"].as<std::vector<std::string>>().size() : 0;
    if (!json.empty()) {
        if (!labels.empty() || na || nb) throw std::invalid_argument("gap: give --json, or --label/--file-a/--file-b, not both");
        if (!fs::is_regular_file(json)) throw std::invalid_argument("--json: " + json + ": no such file");
        return;
    }
    if (labels.empty()) throw std::invalid_argument("gap: give --json FILE, or --label NAME --file-a FILE --file-b FILE for each point");
    if (na != labels.size() || nb != labels.size())
        throw std::invalid_argument("gap: " + std::to_string(labels.size()) + " --label, " + std::to_string(na) + " --file-a, " +
                                    std::to_string(nb) + " --file-b: give one --file-a and one --file-b per --label");
    for (const char* flag : {"file-a", "file-b"})
        for (const std::string& f : args[flag].as<std::vector<std::string>>())
            if (!fs::is_regular_file(f)) throw std::invalid_argument(std::string("--") + flag + ": " + f + ": no such file");
    if (args["resamples"].as<int64_t>() < 1) throw std::invalid_argument("--resamples must be at least 1");
    const double alpha = args["alpha"].as<double>();
    if (!(alpha > 0 && alpha < 1)) throw std::invalid_argument("--alpha must be in (0, 1), e.g. 0.05");
}

// A gap point's x label: split names become readable, with their training share under them
// ("1:2:7" -> "1:2:7" over "train 10%", "loo" -> "leave-one-out").
void describe_protocol(tt::app::GapPoint& p) {
    if (p.label == "loo" || p.label == "leave-one-out") {
        p.label = "leave-one-out";
        if (p.sublabel.empty()) p.sublabel = "all but the last 2";
        return;
    }
    if (!p.sublabel.empty()) return;
    std::string spec = p.label.rfind("ratio", 0) == 0 ? p.label : "ratio:" + p.label;
    try {
        const double share = tt::data::parse_split(spec).train_share();
        std::ostringstream os;
        os << "train " << std::round(share * 1000) / 10 << "%";
        p.sublabel = os.str();
    } catch (const std::invalid_argument&) {
        // not a split name: the label stays alone
    }
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
                             "  plot gap --label NAME --file-a A.jsonl --file-b B.jsonl [--label ... ...] --out FILE.svg\n"
                             "      the paired difference B - A of --metric with its bootstrap CI, one point per\n"
                             "      protocol in the given order (NAME like 1:2:7, 3:2:5, 6:2:2, loo); A and B are\n"
                             "      per-user or per-sample files (eval --per-user, --per-sample) of the same samples, as compare_runs takes\n"
                             "  plot gap --json gaps.json --out FILE.svg\n"
                             "      the same from [{\"label\", \"diff\", \"ci_low\", \"ci_high\", \"p_value\"?}, ...]\n"
                             "The file is written atomically (temporary file + rename).");
    options.positional_help("curves|compare|gap");
    options.add_options()
        ("command", "curves | compare | gap", cxxopts::value<std::string>())
        ("r,run", "run directory (repeat for several runs)", cxxopts::value<std::vector<std::string>>())
        ("label", "name of the corresponding --run in the chart (default: the directory name); gap: of the point",
         cxxopts::value<std::vector<std::string>>())
        ("file-a", "gap: per-user file of model A (the baseline), one per --label", cxxopts::value<std::vector<std::string>>())
        ("file-b", "gap: per-user file of model B, one per --label", cxxopts::value<std::vector<std::string>>())
        ("json", "gap: precomputed points instead of --label/--file-a/--file-b", cxxopts::value<std::string>()->default_value(""))
        ("resamples", "gap: bootstrap resamples", cxxopts::value<int64_t>()->default_value("10000"))
        ("seed", "gap: bootstrap seed", cxxopts::value<uint64_t>()->default_value("1"))
        ("alpha", "gap: the CI covers 1 - alpha", cxxopts::value<double>()->default_value("0.05"))
        ("name-a", "gap: name of model A in the title", cxxopts::value<std::string>()->default_value("SASRec"))
        ("name-b", "gap: name of model B in the title", cxxopts::value<std::string>()->default_value("TTT4Rec"))
        ("o,out", "SVG file to write", cxxopts::value<std::string>())
        ("metric", "curves: the validation metric; gap: the metric compared", cxxopts::value<std::string>()->default_value("NDCG@10"))
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
        if (!args.count("command")) throw std::invalid_argument("say what to draw: curves, compare or gap");
        command = args["command"].as<std::string>();
        if (command != "curves" && command != "compare" && command != "gap")
            throw std::invalid_argument("unknown command '" + command + "' (curves, compare, gap)");
        if (!args.count("out")) throw std::invalid_argument("--out is required");
        if (args.count("label")) labels = args["label"].as<std::vector<std::string>>();
        out = args["out"].as<std::string>();
        fs::path parent = fs::path(out).parent_path();
        if (!parent.empty() && !fs::is_directory(parent)) throw std::invalid_argument("--out: the directory " + parent.string() + " does not exist");
        if (command == "gap") {
            check_gap_flags(args, labels);
        } else {
            if (!args.count("run")) throw std::invalid_argument("--run is required");
            runs = args["run"].as<std::vector<std::string>>();
            if (!labels.empty() && labels.size() != runs.size())
                throw std::invalid_argument(std::to_string(labels.size()) + " --label for " + std::to_string(runs.size()) +
                                            " --run: give one per run, or none");
            const char* needed = command == "curves" ? "metrics.jsonl" : "test.json";
            for (const std::string& r : runs)
                if (!fs::is_regular_file(r + "/" + needed))
                    throw std::invalid_argument("--run " + r + ": no " + needed + " there" +
                                                (command == "compare" ? " (test.json is written when training ends)" : ""));
            const std::string part = args["part"].as<std::string>();
            if (part != "test" && part != "valid") throw std::invalid_argument("--part must be test or valid");
            if (split_commas(args["metrics"].as<std::string>()).empty()) throw std::invalid_argument("--metrics: none given");
        }
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
            // train's --metric spelling (candidates/NDCG@10 too); metrics.jsonl has the bare name.
            const std::string metric = parse_metric_name(args["metric"].as<std::string>()).name;
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
        } else if (command == "gap") {
            const std::string metric = args["metric"].as<std::string>();
            std::vector<GapPoint> points;
            std::string note;
            const double alpha = args["alpha"].as<double>();
            if (!args["json"].as<std::string>().empty()) {
                points = read_gap_points(args["json"].as<std::string>());
                note = "bars: confidence intervals from " + args["json"].as<std::string>() + "; filled: the interval excludes 0";
            } else {
                const auto fa = args["file-a"].as<std::vector<std::string>>(), fb = args["file-b"].as<std::vector<std::string>>();
                tt::data::PairedTestOptions opt;
                opt.resamples = args["resamples"].as<int64_t>();
                opt.seed = args["seed"].as<uint64_t>();
                opt.alpha = alpha;
                for (std::size_t i = 0; i < labels.size(); ++i) {
                    const tt::data::PairedUnits d =
                        tt::data::pair_unit_files(tt::data::read_unit_file(fa[i]), tt::data::read_unit_file(fb[i]), {metric});
                    const tt::data::PairedStat s = tt::data::paired_test(d, opt).stats.at(0);
                    GapPoint p;
                    p.label = labels[i];
                    p.diff = s.diff;
                    p.ci_low = s.ci_low;
                    p.ci_high = s.ci_high;
                    p.p_value = s.p_value;
                    points.push_back(p);
                }
                std::ostringstream os;
                os << "bars: " << std::round((1 - alpha) * 1000) / 10 << "% paired bootstrap CI (users resampled, "
                   << opt.resamples << " resamples); p: sign-flip test; filled: the interval excludes 0";
                note = os.str();
            }
            for (GapPoint& p : points) describe_protocol(p);
            const std::string gap = args["name-b"].as<std::string>() + " \u2212 " + args["name-a"].as<std::string>();
            if (title.empty()) title = gap + " " + metric + " gap by split protocol";
            svg = svg_gap_chart(title, gap + " " + metric, "split (train:valid:test), by growing training share", points, note);
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
