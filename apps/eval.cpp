// apps/eval.cpp — evaluate a saved run: full-ranking and sampled metrics on its validation or test
// split, beside the most-popular baseline, optionally per user, optionally with the TTT layers
// frozen at their initial state (--no-ttt: inner learning rate 0, the ablation of TTT4Rec).
//
//   eval --run runs/default                 # the dataset, split and protocol recorded in the run
//
// The evaluation flags (--ks, --mask-history, --sampled, --eval-batch) default to the run's own
// (its config.json), so that eval reproduces the metrics train printed; a flag given overrides.
//   eval --run runs/beauty --data other/Beauty.txt --no-ttt --per-user users.jsonl
//   eval --run runs/ml100k-ttt4rec --per-sample samples.jsonl   # for compare_runs --by-length
//   eval --run runs/candidates/beauty-din-s1 --no-full-ranking --per-group groups.jsonl   # candidate protocol
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>

#include "apps/cli.hpp"
#include "apps/runner.hpp"
#include "tensor/parallel.hpp"

int main(int argc, char** argv) {
    using namespace tt::app;
    cxxopts::Options options("eval", "Evaluate a run directory written by apps/train; prints one JSON object.\n"
                                     "--ks, --mask-history, --sampled and --eval-batch default to the run's own\n"
                                     "(config.json), whatever the defaults below say; give one to override it\n"
                                     "(--mask-history=false to rank a masked run without masking).");
    options.add_options()
        ("r,run", "run directory (written by train)", cxxopts::value<std::string>())
        ("d,data", "dataset path (default: the one recorded in the run)", cxxopts::value<std::string>()->default_value(""))
        ("part", "test | valid", cxxopts::value<std::string>()->default_value("test"))
        ("no-ttt", "ablation: TTT layers keep their initial state (inner learning rate 0)")
        ("per-user", "also write per-user metrics (JSON lines, original user ids) to this file",
         cxxopts::value<std::string>()->default_value(""))
        ("per-sample", "also write one line per evaluated sample (history length, target rank, metrics): "
         "what compare_runs --by-length buckets exactly under a ratio split", cxxopts::value<std::string>()->default_value(""))
        ("per-group", "candidate protocol: also write one line per candidate group (user, history length, the positive's rank, "
         "HR/NDCG@5,10,20, the group's AUC, logloss), for compare_runs", cxxopts::value<std::string>()->default_value(""))
        ("threads", "threads (0 = all cores)", cxxopts::value<int>()->default_value("0"))
        ("h,help", "print this help");
    add_eval_flags(options);
    int exit_code = 0;
    std::optional<cxxopts::ParseResult> parsed = parse_flags(options, argc, argv, exit_code);
    if (!parsed) return exit_code;
    const cxxopts::ParseResult& args = *parsed;
    if (!args.count("run")) return usage_error(options, "--run is required");
    std::string part = args["part"].as<std::string>();
    if (part != "test" && part != "valid") return usage_error(options, "--part must be test or valid");
    EvalOptions eval;
    int threads = 0;
    const EvalFiles files{args["per-user"].as<std::string>(), args["per-sample"].as<std::string>(), args["per-group"].as<std::string>()};
    try {
        eval = eval_options(args);
        threads = non_negative(args, "threads");
        // Missing files are bad flags: report them before loading anything.
        namespace fs = std::filesystem;
        const std::string run = args["run"].as<std::string>(), data = args["data"].as<std::string>();
        for (const char* file : {"config.json", "model.safetensors"})
            if (!fs::is_regular_file(run + "/" + file))
                throw std::invalid_argument("--run " + run + ": no " + file + " there (not a run directory with a finished epoch)");
        if (!data.empty() && !fs::is_regular_file(data)) throw std::invalid_argument("--data: " + data + ": no such file");
        for (const auto& [flag, path] : {std::pair{"--per-user", files.per_user}, std::pair{"--per-sample", files.per_sample},
                                         std::pair{"--per-group", files.per_group}}) {
            if (path.empty()) continue;
            fs::path parent = fs::path(path).parent_path();
            if (!parent.empty() && !fs::is_directory(parent))
                throw std::invalid_argument(std::string(flag) + ": the directory " + parent.string() + " does not exist");
        }
    } catch (const std::exception& e) {
        return usage_error(options, e.what());
    }
    return run_reporting_errors([&] {
        tt::set_num_threads(threads);
        LoadedRun run = load_run(args["run"].as<std::string>());
        // The run's protocol, with the flags the user gave on top.
        EvalOptions given = eval;
        eval = run.options.eval;
        if (args.count("ks")) eval.ks = given.ks;
        if (args.count("mask-history")) eval.mask_history = given.mask_history;
        if (args.count("sampled")) eval.sampled_negatives = given.sampled_negatives;
        if (args.count("candidates")) eval.candidates = given.candidates;
        if (args.count("candidates-seed")) eval.candidates_seed = given.candidates_seed;
        if (args.count("eval-batch")) eval.batch_size = given.batch_size;
        if (args.count("no-full-ranking")) eval.full_ranking = false;
        if (!eval.full_ranking && !(files.per_user.empty() && files.per_sample.empty()))
            throw std::invalid_argument("--per-user/--per-sample: these are full-ranking metrics, and this evaluation has none "
                                        "(--no-full-ranking, or a run trained with it)");
        if (eval.candidates <= 0 && !files.per_group.empty())
            throw std::invalid_argument("--per-group: candidate-protocol metrics, and this evaluation has none (give --candidates N, "
                                        "or evaluate a run trained with it)");
        if (!args["data"].as<std::string>().empty()) run.options.data.path = args["data"].as<std::string>();
        tt::data::Dataset ds = load_data(run.options.data);
        if (ds.n_items != run.options.model.n_items)
            throw std::runtime_error("the dataset has " + std::to_string(ds.n_items) + " items but the run was trained with " +
                                     std::to_string(run.options.model.n_items) + ": not the same data or preprocessing");
        for (int k : eval.ks)
            if (k > ds.n_items) throw std::invalid_argument("--ks: K=" + std::to_string(k) + " exceeds the " +
                                                            std::to_string(ds.n_items) + " items");
        tt::data::Split split = make_split(ds, run.options.data, false, run.options.model.max_len);
        const auto& examples = part == "test" ? split.test : split.valid;
        if (args.count("no-ttt")) run.model->disable_ttt();
        json out;
        out["run"] = args["run"].as<std::string>();
        out["model"] = run.options.model.model;
        out["part"] = part;
        out["no_ttt"] = args.count("no-ttt") > 0;
        out["mask_history"] = eval.mask_history;
        out["metrics"] = evaluate(*run.model, ds, examples, eval, run.options.seed, files);
        out["popularity"] = evaluate_popularity(ds, split, examples, eval)["full"];
        std::cout << out.dump() << std::endl;
    });
}
