// apps/train.cpp — train a sequential recommender and keep its best checkpoint.
//
//   train                                   # TTT4Rec on the built-in synthetic dataset
//   train --data ../shared/data/amazon-beauty/Beauty.txt --model sasrec --loss ce --out runs/sasrec
//   train --resume runs/sasrec              # continue after a crash, from the last finished epoch
//   train --resume runs/sasrec --epochs 100 # extend a run that stopped at its --epochs cap
//   train --resume runs/sasrec --patience 10 # continue a run that stopped early, with more patience
//
// Flags are parsed here into TrainOptions; everything else is apps/runner.cpp. Exit codes: 0 ok,
// 1 a failure while running (bad data file, diverged training, unwritable output), 2 bad flags.
#include <cmath>
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "apps/cli.hpp"
#include "apps/runner.hpp"
#include "model/registry.hpp"

int main(int argc, char** argv) {
    using namespace tt::app;
    cxxopts::Options options("train", "Train a sequential recommender (" + tt::model::model_names() + ").\n"
                                      "Without --data it trains on a built-in synthetic dataset.");
    add_data_flags(options);
    add_model_flags(options);
    options.add_options("training")
        ("batch-size", "training batch size", cxxopts::value<int>()->default_value("256"))
        ("lr", "learning rate", cxxopts::value<float>()->default_value("0.001"))
        ("optimizer", "adam | adamw", cxxopts::value<std::string>()->default_value("adam"))
        ("weight-decay", "weight decay (L2 for adam, decoupled for adamw)", cxxopts::value<float>()->default_value("0"))
        ("clip-norm", "clip the gradient norm to this value (0 = off)", cxxopts::value<float>()->default_value("0"))
        ("warmup", "linear learning-rate warm-up steps", cxxopts::value<int>()->default_value("0"))
        ("epochs", "maximum epochs", cxxopts::value<int>()->default_value("30"))
        ("patience", "early stopping: epochs without improvement", cxxopts::value<int>()->default_value("5"))
        ("stopping", "what counts as an improvement: strict (better than the best so far) | recbole (at least as "
                     "good: RecBole resets its counter and keeps the newer checkpoint on a tie)",
         cxxopts::value<std::string>()->default_value("strict"))
        ("metric", "validation metric for early stopping (full ranking; candidates/NAME for the candidate protocol, with --candidates N)", cxxopts::value<std::string>()->default_value("NDCG@10"))
        ("seed", "random seed (initialisation, shuffling, dropout, negatives)", cxxopts::value<uint64_t>()->default_value("42"))
        ("threads", "threads (0 = all cores)", cxxopts::value<int>()->default_value("0"))
        ("max-steps", "cap on steps per epoch (0 = whole epochs)", cxxopts::value<int64_t>()->default_value("0"))
        ("o,out", "output directory", cxxopts::value<std::string>()->default_value("runs/default"))
        ("resume", "continue the interrupted run in this output directory (its config.json sets everything else; with --epochs N, the run is extended to N epochs in total; with --patience P, an early stop is reconsidered with patience P)",
         cxxopts::value<std::string>()->default_value(""))
        ("q,quiet", "no progress output")
        ("h,help", "print this help");
    add_eval_flags(options);

    int exit_code = 0;
    std::optional<cxxopts::ParseResult> parsed = parse_flags(options, argc, argv, exit_code);
    if (!parsed) return exit_code;
    const cxxopts::ParseResult& args = *parsed;

    if (!args["resume"].as<std::string>().empty()) {
        std::string dir = args["resume"].as<std::string>();
        bool quiet = args.count("quiet") > 0;
        // Everything else comes from the run's config.json: a flag here would be silently ignored.
        // --epochs and --patience are the exceptions: they extend (or shorten) the run and are
        // written into config.json.
        for (const auto& kv : args.arguments())
            if (kv.key() != "resume" && kv.key() != "quiet" && kv.key() != "epochs" && kv.key() != "patience")
                return usage_error(options, "--" + kv.key() + " cannot be combined with --resume (the run's config.json sets it)");
        int epochs = 0;
        if (args.count("epochs")) {
            epochs = args["epochs"].as<int>();
            if (epochs <= 0) return usage_error(options, "--epochs must be positive, got " + std::to_string(epochs));
        }
        int patience = -1;
        if (args.count("patience")) {
            patience = args["patience"].as<int>();
            if (patience < 0) return usage_error(options, "--patience must be non-negative, got " + std::to_string(patience));
        }
        if (!std::filesystem::is_regular_file(dir + "/config.json"))
            return usage_error(options, "--resume " + dir + ": no config.json there (not a run directory written by train)");
        return run_reporting_errors([&] {
            std::ostringstream sink;
            json result = resume(dir, quiet ? static_cast<std::ostream&>(sink) : std::cerr, 0, epochs, patience);
            std::cout << result.dump() << std::endl;
        });
    }
    TrainOptions opt;
    try {
        opt.data = data_options(args);
        opt.model = model_options(args);
        opt.eval = eval_options(args);
        opt.batch_size = positive(args, "batch-size");
        opt.lr = args["lr"].as<float>();
        opt.optimizer = args["optimizer"].as<std::string>();
        opt.weight_decay = args["weight-decay"].as<float>();
        opt.clip_norm = args["clip-norm"].as<float>();
        opt.warmup_steps = non_negative(args, "warmup");
        opt.epochs = positive(args, "epochs");
        opt.patience = non_negative(args, "patience");
        opt.metric = args["metric"].as<std::string>();
        opt.stopping = args["stopping"].as<std::string>();
        if (opt.stopping != "strict" && opt.stopping != "recbole")
            throw std::invalid_argument("--stopping must be strict or recbole, got '" + opt.stopping + "'");
        opt.seed = args["seed"].as<uint64_t>();
        opt.threads = non_negative(args, "threads");
        opt.max_steps_per_epoch = args["max-steps"].as<int64_t>();
        opt.out_dir = args["out"].as<std::string>();
        opt.quiet = args.count("quiet") > 0;
        if (!(opt.lr > 0) || !std::isfinite(opt.lr)) throw std::invalid_argument("--lr must be positive and finite");
        if (opt.optimizer != "adam" && opt.optimizer != "adamw") throw std::invalid_argument("--optimizer must be adam or adamw");
        if (!(opt.weight_decay >= 0) || !(opt.clip_norm >= 0) || !std::isfinite(opt.weight_decay) || !std::isfinite(opt.clip_norm))
            throw std::invalid_argument("--weight-decay and --clip-norm must be finite and >= 0");
        if (opt.max_steps_per_epoch < 0) throw std::invalid_argument("--max-steps must be >= 0");
        // The early-stopping metric must be one that validation computes (known before any training).
        // Full ranking: HR@K, NDCG@K (K in --ks), MRR. The candidate protocol: candidates/HR@K,
        // candidates/NDCG@K (K in 5, 10, 20), candidates/AUC, candidates/GAUC.
        const auto [on_candidates, name] = parse_metric_name(opt.metric);
        bool known_metric = on_candidates ? name == "AUC" || name == "GAUC" : name == "MRR";
        for (int k : on_candidates ? std::vector<int>{5, 10, 20} : opt.eval.ks)
            known_metric |= name == "HR@" + std::to_string(k) || name == "NDCG@" + std::to_string(k);
        if (!known_metric)
            throw std::invalid_argument("--metric: '" + opt.metric + "' is not HR@K, NDCG@K (K in --ks) or MRR, nor candidates/" +
                                        "HR@K, candidates/NDCG@K (K in 5, 10, 20), candidates/AUC or candidates/GAUC");
        if (on_candidates && opt.eval.candidates == 0)
            throw std::invalid_argument("--metric " + opt.metric + " needs the candidate protocol: --candidates N");
        if (!on_candidates && !opt.eval.full_ranking)
            throw std::invalid_argument("--no-full-ranking: early stopping on " + opt.metric +
                                        " needs full ranking; stop on the candidate protocol instead (--metric candidates/NDCG@10)");
        if (std::filesystem::exists(opt.out_dir) && !std::filesystem::is_directory(opt.out_dir))
            throw std::invalid_argument("--out: " + opt.out_dir + " exists and is not a directory");
    } catch (const std::exception& e) {
        return usage_error(options, e.what());
    }
    return run_reporting_errors([&] {
        json result = train(opt, std::cerr);
        std::cout << result.dump() << std::endl;
    });
}
