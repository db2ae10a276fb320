// tests/apps/test_cli.cpp — every app rejects bad flags and impossible values with a message and
// exit code 2 (apps/cli.hpp), including the ones only data can refute (K larger than the item
// count) and missing files. The apps run as processes (paths from meson test's environment);
// the test skips when they are absent.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include "apps/runner.hpp"
#include "model/registry.hpp"
#include "tests/skip.hpp"
#include "tests/apps/process_util.hpp"

using namespace tt;
using namespace tt::app;
namespace fs = std::filesystem;

namespace {

struct Case {
    std::vector<std::string> args;  // after the binary
    std::string message;            // a part of what it must print
};

void check_rejected(const std::string& bin, const std::vector<Case>& cases) {
    for (const Case& c : cases) {
        std::vector<std::string> args = {bin};
        args.insert(args.end(), c.args.begin(), c.args.end());
        std::string cmd;
        for (const std::string& a : args) cmd += a + " ";
        testing::Outcome r = testing::run(args);
        INFO(cmd, "-> ", r.str(), "\n", r.output);
        CHECK(r.exit_code == 2);
        CHECK(r.output.find(c.message) != std::string::npos);
    }
}

// A tiny SASRec on synthetic data, for a finished run directory.
TrainOptions tiny_run(const std::string& out_dir, int64_t users, int epochs) {
    TrainOptions o;
    o.model = model::default_config("sasrec");
    o.model.dim = 8;
    o.model.set_if_has("heads", 2);
    o.model.set_if_has("ffn_hidden", 8);
    o.model.max_len = 8;
    o.data.synthetic_users = users;
    o.epochs = epochs;
    o.threads = 1;
    o.quiet = true;
    o.out_dir = out_dir;
    return o;
}

}  // namespace

TEST_SUITE("apps/cli") {
    TEST_CASE("bad flags and impossible values exit with 2 and say what is wrong") {
        const std::string train_bin = testing::app_path("TTTREC_TRAIN_BIN"), eval_bin = testing::app_path("TTTREC_EVAL_BIN");
        if (train_bin.empty() || eval_bin.empty()) {
            return tt::testing::skip_test("TTTREC_TRAIN_BIN / TTTREC_EVAL_BIN are not set to the apps");
        }
        const fs::path dir = fs::temp_directory_path() / ("tttrec-cli-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir);
        const std::string file = (dir / "a-file").string();
        std::ofstream(file) << "x\n";

        // A finished run for eval (and for train --resume).
        TrainOptions o = tiny_run((dir / "run").string(), 50, 1);
        o.eval.ks = {5, 10};
        std::ostringstream log;
        train(o, log);
        const std::string run = o.out_dir;

        // Small synthetic data, so that checks after loading are quick.
        const std::vector<std::string> small = {"--synthetic-users", "20", "--epochs", "1", "--quiet", "--out", (dir / "out").string()};
        auto with_small = [&](std::vector<std::string> a) {
            a.insert(a.end(), small.begin(), small.end());
            return a;
        };
        check_rejected(train_bin, {
            {{"--no-such-flag"}, "no-such-flag"},
            {{"--batch-size", "-3"}, "--batch-size must be positive, got -3"},
            {{"--dim", "0"}, "--dim must be positive"},
            {{"--max-len", "-1"}, "--max-len must be positive"},
            {{"--epochs", "0"}, "--epochs must be positive"},
            {{"--threads", "-2"}, "--threads must be >= 0"},
            {{"--max-steps", "-1"}, "--max-steps must be >= 0"},
            {{"--synthetic-users", "5"}, "--synthetic-users must be at least 10"},
            {{"--batch-size", "abc"}, "batch-size"},
            {{"--heads", "3"}, "--heads 3 does not divide --dim 64"},
            {{"--model", "sasrec", "--heads", "128"}, "--heads 128 does not divide --dim 64"},
            {{"--dropout", "1.5"}, "--dropout must be in [0, 1)"},
            {{"--window-stride", "-1"}, "--window-stride must be >= 0, got -1"},
            {with_small({"--window-stride", "10", "--positions", "last"}), "--window-stride needs every-position training"},
            {with_small({"--window-stride", "60", "--positions", "every"}), "--window-stride 60 is longer than --max-len 50"},
            {{"--lr", "nan"}, "nan"},  // cxxopts: "Argument ... failed to parse"
            {{"--lr", "0"}, "--lr must be positive and finite"},
            {{"--weight-decay", "-0.5"}, "--weight-decay and --clip-norm must be finite and >= 0"},
            {{"--clip-norm", "-1"}, "--weight-decay and --clip-norm must be finite and >= 0"},
            {{"--init-range", "0"}, "--init-range must be positive and finite"},
            {{"--ks", "5,x"}, "--ks: 'x' is not a positive integer"},
            {{"--ks", "0"}, "--ks: '0' is not a positive integer"},
            {{"--metric", "NDCG@7"}, "--metric: 'NDCG@7' is not HR@K, NDCG@K (K in --ks) or MRR"},
            {{"--format", "xml"}, "--format: unknown format 'xml'"},
            {{"--split", "half"}, "--split 'half': expected loo, ratio"},
            {{"--split", "ratio:3:x:5"}, "'x' (the valid ratio) is not a number"},
            {{"--model", "sasrec", "--gru-hidden", "8"}, "--gru-hidden is not an option of sasrec"},
            {{"--model", "no-such-model"}, "--model must be one of ttt4rec"},
            {{"--metric", "candidates/NDCG@10"}, "needs the candidate protocol: --candidates N"},
            {{"--stopping", "sometimes"}, "--stopping must be strict or recbole"},
            {{"--data", "/nonexistent/file.txt"}, "--data: /nonexistent/file.txt: no such file"},
            {{"--data", dir.string()}, "is a directory, not an interaction file"},
            {{"--out", file}, "--out: " + file + " exists and is not a directory"},
            {{"--resume", "/nonexistent/run"}, "--resume /nonexistent/run: no config.json there"},
            {{"--resume", run, "--lr", "0.1"}, "--lr cannot be combined with --resume"},
            {{"--resume", run, "--epochs", "0"}, "--epochs must be positive"},
            {{"--resume", run, "--patience", "-1"}, "--patience must be non-negative"},
            {with_small({"--ks", "10,100000"}), "--ks: K=100000 outside [1, "},  // refuted by the data: after loading
        });
        check_rejected(eval_bin, {
            {{}, "--run is required"},
            {{"--run", "/nonexistent/run"}, "--run /nonexistent/run: no config.json there"},
            {{"--run", dir.string()}, "no config.json there"},
            {{"--run", run, "--part", "train"}, "--part must be test or valid"},
            {{"--run", run, "--ks", "-5"}, "--ks: '-5' is not a positive integer"},
            {{"--run", run, "--sampled", "-1"}, "--sampled must be >= 0"},
            {{"--run", run, "--eval-batch", "0"}, "--eval-batch must be positive"},
            {{"--run", run, "--data", "/nonexistent/file.txt"}, "--data: /nonexistent/file.txt: no such file"},
            {{"--run", run, "--per-user", "/nonexistent/dir/users.jsonl"}, "--per-user: the directory /nonexistent/dir does not exist"},
            {{"--run", run, "--per-sample", "/nonexistent/dir/s.jsonl"}, "--per-sample: the directory /nonexistent/dir does not exist"},
            {{"--run", run, "--per-group", "/nonexistent/dir/g.jsonl"}, "--per-group: the directory /nonexistent/dir does not exist"},
            {{"--run", run, "--per-group", (dir / "g.jsonl").string()}, "--per-group: candidate-protocol metrics, and this evaluation has none"},
            {{"--run", run, "--ks", "5,100000"}, "--ks: K=100000 exceeds the "},  // refuted by the data: after loading
            {{"--run", run, "--bogus"}, "bogus"},
        });
        const std::string bench_bin = (fs::path(train_bin).parent_path() / "bench").string();
        if (::access(bench_bin.c_str(), X_OK) == 0)
            check_rejected(bench_bin, {
                {{"--bogus"}, "unknown argument '--bogus'"},
                {{"--only", "nothing"}, "unknown section 'nothing'"},
                {{"--data-dir", "/nonexistent"}, "--data-dir /nonexistent is not a directory"},
            });
        fs::remove_all(dir);
    }
}

TEST_SUITE("apps/cli") {
    TEST_CASE("eval without flags uses the run's protocol and reproduces what train printed") {
        // A run trained with the history masked and other cut-offs than eval's flag defaults:
        // eval must take both from config.json, or it silently reports another protocol's numbers.
        const std::string eval_bin = testing::app_path("TTTREC_EVAL_BIN");
        if (eval_bin.empty()) {
            return tt::testing::skip_test("TTTREC_EVAL_BIN is not set to the app");
        }
        const fs::path dir = fs::temp_directory_path() / ("tttrec-eval-protocol-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        TrainOptions o = tiny_run((dir / "run").string(), 80, 2);
        o.eval.ks = {3, 7};
        o.metric = "NDCG@7";
        o.eval.mask_history = true;
        std::ostringstream log;
        const json printed = train(o, log);

        auto eval_json = [&](std::vector<std::string> extra) {
            std::vector<std::string> args = {eval_bin, "--run", o.out_dir, "--threads", "1"};
            args.insert(args.end(), extra.begin(), extra.end());
            testing::Outcome r = testing::run(args);
            INFO(r.str(), "\n", r.output);
            REQUIRE(r.exit_code == 0);
            std::size_t at = r.output.find("{\"");
            REQUIRE(at != std::string::npos);
            return json::parse(r.output.substr(at, r.output.find('\n', at) - at));
        };
        const json same = eval_json({});
        CHECK(same["mask_history"] == true);
        CHECK(same["metrics"]["full"] == printed["test"]["full"]);  // bit for bit: same model, data, protocol
        CHECK(same["metrics"]["full"].contains("NDCG@7"));

        const json unmasked = eval_json({"--mask-history=false"});
        CHECK(unmasked["mask_history"] == false);
        CHECK(unmasked["metrics"]["full"] != printed["test"]["full"]);
        fs::remove_all(dir);
    }
}
