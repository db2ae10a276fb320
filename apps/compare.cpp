// apps/compare.cpp (the compare_runs program) — is run B better than run A on the same
// evaluation samples, and by how much? (Not called "compare": see apps/meson.build.)
//
//   compare_runs A.jsonl B.jsonl                         # every metric the two files share
//   compare_runs A.jsonl B.jsonl --metrics NDCG@10,HR@10 --resamples 10000 --seed 1 --alpha 0.05
//   compare_runs A.jsonl B.jsonl --by-length --buckets 1-5,6-10,11-20,21-50,51-
//
// A and B are per-user files (apps/eval --per-user) or per-sample files (data::per_sample_jsonl)
// of two models evaluated on the same data, split and part. Prints one JSON object: per metric
// the sample-weighted means of A and B, the paired difference B - A, its (1 - alpha) percentile
// bootstrap interval (users resampled, all of a user's samples together) and a two-sided
// sign-flip p-value; with --by-length the same per history-length bucket. The method and why it
// was chosen are in data/significance.hpp.
//
// Exit codes: 0 done; 2 bad flags, or a file that is malformed or does not cover the same units
// as the other (the message names file:line); 1 anything else. Nothing is printed or written
// before everything has been computed, so a failure leaves no half-written output.
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/cli.hpp"
#include "data/breakdown.hpp"
#include "data/significance.hpp"
#include "model/checkpoint.hpp"

namespace {

using ojson = nlohmann::ordered_json;

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

ojson stats_json(const tt::data::PairedReport& r) {
    ojson m = ojson::object();
    for (const tt::data::PairedStat& s : r.stats)  // NaN (an empty bucket) is written as null
        m[s.metric] = {{"mean_a", s.mean_a}, {"mean_b", s.mean_b}, {"diff", s.diff},
                       {"ci_low", s.ci_low}, {"ci_high", s.ci_high}, {"p_value", s.p_value}};
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace tt::app;
    namespace fs = std::filesystem;
    cxxopts::Options options("compare_runs",
                             "Paired comparison of two evaluations of the same samples (per-user files of\n"
                             "apps/eval --per-user, or per-sample files). Prints JSON: per metric mean_a, mean_b,\n"
                             "diff = B - A, a percentile bootstrap CI of diff (users resampled together with all\n"
                             "their samples) and a two-sided paired sign-flip (randomization) p-value.\n"
                             "  compare_runs A.jsonl B.jsonl [--metrics NDCG@10,HR@10] [--by-length --buckets 1-5,6-10,51-]\n"
                             "Exit code 2 for bad flags or files (file:line in the message).");
    options.positional_help("FILE_A FILE_B");
    options.add_options()
        ("files", "the two files, A then B", cxxopts::value<std::vector<std::string>>())
        ("metrics", "comma-separated metrics (default: every metric both files have)",
         cxxopts::value<std::string>()->default_value(""))
        ("resamples", "bootstrap resamples (and sign-flip rounds)", cxxopts::value<int64_t>()->default_value("10000"))
        ("seed", "random seed of the resampling", cxxopts::value<uint64_t>()->default_value("1"))
        ("alpha", "the CI covers 1 - alpha", cxxopts::value<double>()->default_value("0.05"))
        ("resample", "user (resample users with all their samples) | row (resample rows: only right when "
                     "rows are independent)", cxxopts::value<std::string>()->default_value("user"))
        ("by-length", "also break the difference down by history length (rows need history_len)")
        ("buckets", "history-length buckets for --by-length", cxxopts::value<std::string>()->default_value("1-5,6-10,11-20,21-50,51-"))
        ("o,out", "also write the JSON to this file (atomically)", cxxopts::value<std::string>()->default_value(""))
        ("pretty", "indent the JSON")
        ("h,help", "print this help");
    options.parse_positional({"files"});
    int exit_code = 0;
    std::optional<cxxopts::ParseResult> parsed = parse_flags(options, argc, argv, exit_code);
    if (!parsed) return exit_code;
    const cxxopts::ParseResult& args = *parsed;

    std::vector<std::string> files;
    tt::data::PairedTestOptions opt;
    std::vector<tt::data::LengthBucket> buckets;
    std::string out;
    try {
        if (args.count("files")) files = args["files"].as<std::vector<std::string>>();
        if (files.size() != 2) throw std::invalid_argument("give exactly two files, A then B (got " + std::to_string(files.size()) + ")");
        for (const std::string& f : files)
            if (!fs::is_regular_file(f)) throw std::invalid_argument(f + ": no such file");
        opt.resamples = args["resamples"].as<int64_t>();
        if (opt.resamples < 1) throw std::invalid_argument("--resamples must be at least 1");
        opt.seed = args["seed"].as<uint64_t>();
        opt.alpha = args["alpha"].as<double>();
        if (!(opt.alpha > 0 && opt.alpha < 1)) throw std::invalid_argument("--alpha must be in (0, 1), e.g. 0.05");
        const std::string resample = args["resample"].as<std::string>();
        if (resample != "user" && resample != "row") throw std::invalid_argument("--resample must be user or row");
        opt.cluster_by_user = resample == "user";
        if (args.count("by-length")) buckets = tt::data::parse_buckets(args["buckets"].as<std::string>());
        out = args["out"].as<std::string>();
        fs::path parent = fs::path(out).parent_path();
        if (!out.empty() && !parent.empty() && !fs::is_directory(parent))
            throw std::invalid_argument("--out: the directory " + parent.string() + " does not exist");
    } catch (const std::exception& e) {
        return usage_error(options, e.what());
    }

    try {
        const tt::data::UnitFile fa = tt::data::read_unit_file(files[0]), fb = tt::data::read_unit_file(files[1]);
        const tt::data::PairedUnits d = tt::data::pair_unit_files(fa, fb, split_commas(args["metrics"].as<std::string>()));
        const tt::data::PairedReport all = tt::data::paired_test(d, opt);
        ojson j;
        j["a"] = files[0];
        j["b"] = files[1];
        j["rows"] = fa.per_sample ? "per-sample" : "per-user";
        j["test"] = std::string("paired ") + (opt.cluster_by_user ? "user-cluster" : "row") +
                    " bootstrap, percentile CI of diff = B - A; two-sided paired sign-flip p-value";
        j["resamples"] = opt.resamples;
        j["seed"] = opt.seed;
        j["alpha"] = opt.alpha;
        j["units"] = all.rows;
        j["clusters"] = all.clusters;
        j["samples"] = all.samples;
        j["metrics"] = stats_json(all);
        if (!buckets.empty()) {
            const tt::data::LengthBreakdown br = tt::data::breakdown_by_length(d, buckets, opt);
            ojson list = ojson::array();
            for (const tt::data::BucketReport& b : br.buckets)
                list.push_back({{"range", b.bucket.label()},
                                {"lo", b.bucket.lo},
                                {"hi", b.bucket.hi < 0 ? ojson(nullptr) : ojson(b.bucket.hi)},
                                {"units", b.report.rows},
                                {"clusters", b.report.clusters},
                                {"samples", b.report.samples},
                                {"metrics", stats_json(b.report)}});
            j["by_length"] = {{"buckets", list}, {"unbucketed", br.unbucketed}};
        }
        const std::string text = j.dump(args.count("pretty") ? 2 : -1) + "\n";
        if (!out.empty()) tt::model::atomic_write_file(out, text);
        std::cout << text << std::flush;
        return 0;
    } catch (const tt::data::DataError& e) {  // a malformed file, or files of different samples
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
