// tests/apps/test_train.cpp — end to end: every recommender trains on generated data (the loss
// falls and the ranking beats most-popular), and evaluating the saved run reproduces what
// training reported.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/runner.hpp"
#include "data/significance.hpp"
#include "model/registry.hpp"

using namespace tt;
using namespace tt::app;

namespace {

TrainOptions small_run(const std::string& model, const std::string& out) {
    TrainOptions o;
    o.model = model::default_config(model);
    // Small enough to run in seconds, also under the sanitizers in CI.
    o.model.dim = 16;
    o.model.set_if_has("heads", 2);
    o.model.set_if_has("ffn_hidden", 32);
    o.model.max_len = 12;
    o.model.dropout = 0.1f;
    o.model.set_if_has("mini_batch", 4);
    o.model.set_if_has("gru_hidden", 16);
    o.data.synthetic_users = 200;
    o.data.synthetic_seed = 5;
    o.batch_size = 64;
    o.lr = 5e-3f;
    o.epochs = 5;
    o.patience = 10;
    o.seed = 1;
    o.quiet = true;
    o.eval.ks = {5, 10, 20};
    o.eval.sampled_negatives = 0;
    o.out_dir = out;
    return o;
}

std::string temp_dir(const std::string& name) {
    auto d = std::filesystem::temp_directory_path() / ("tttrec-train-" + std::to_string(::getpid())) / name;
    std::filesystem::create_directories(d);
    return d.string();
}

std::vector<double> epoch_losses(const std::string& dir) {
    std::ifstream in(dir + "/metrics.jsonl");
    std::vector<double> out;
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line)["loss"].get<double>());
    return out;
}

}  // namespace

TEST_SUITE("apps/train") {
    TEST_CASE("every model learns on generated data and beats most-popular") {
        struct Case {
            const char* model;
            const char* loss;
            bool every;
        };
        for (Case c : {Case{"ttt4rec", "ce", false}, Case{"ttt4rec-fe", "bce", false}, Case{"sasrec", "bce", true},
                       Case{"sasrec", "ce", true}, Case{"gru4rec", "ce", false}}) {
            std::string name = std::string(c.model) + " " + c.loss;
            CAPTURE(name);
            TrainOptions o = small_run(c.model, temp_dir(std::string(c.model) + "-" + c.loss));
            o.model.loss = c.loss;
            o.model.every_position = c.every;
            if (std::string(c.model) == "ttt4rec") o.model.set_if_has("inner", "linear");  // keep the test quick
            if (std::string(c.model) == "ttt4rec-fe") o.lr = 5e-3f;
            std::ostringstream log;
            json r = train(o, log);
            std::vector<double> losses = epoch_losses(o.out_dir);
            REQUIRE(losses.size() >= 2);
            CHECK(losses.back() < losses.front());
            double model_ndcg = r["test"]["full"]["NDCG@10"].get<double>();
            double pop_ndcg = r["popularity_test"]["NDCG@10"].get<double>();
            INFO("model NDCG@10 ", model_ndcg, " popularity ", pop_ndcg);
            CHECK(model_ndcg > 1.5 * pop_ndcg);
        }
    }

    TEST_CASE("evaluating a saved run reproduces the metrics training printed") {
        TrainOptions o = small_run("ttt4rec", temp_dir("reproduce"));
        o.model.set_if_has("inner", "linear");
        o.epochs = 2;
        o.eval.sampled_negatives = 50;
        std::ostringstream log;
        json r = train(o, log);

        LoadedRun run = load_run(o.out_dir);
        data::Dataset ds = load_data(run.options.data);
        data::Split split = make_split(ds, run.options.data, run.options.model.every_position, run.options.model.max_len);
        json again = evaluate(*run.model, ds, split.test, run.options.eval, run.options.seed);
        CHECK(again == r["test"]);

        // The per-sample file (what compare_runs --by-length reads) has one row per test sample,
        // each with the length of its own prefix, and its rows average to the summary.
        const std::string samples = o.out_dir + "/samples.jsonl";
        auto check_rows = [&](const std::vector<data::Example>& test) {  // -> mean NDCG@10 of the rows
            evaluate(*run.model, ds, test, run.options.eval, run.options.seed, EvalFiles{"", samples, ""});
            std::ifstream in(samples);
            std::string line;
            std::size_t rows = 0;
            double ndcg = 0.0;
            while (std::getline(in, line)) {
                json row = json::parse(line);
                REQUIRE(rows < test.size());
                const data::Example& e = test[rows];  // rows are sorted by (user, history length): so are the splits
                CHECK(row["user"].get<std::string>() == ds.ids.user_name(e.user));
                CHECK(row["history_len"].get<int64_t>() == e.end);
                ndcg += row["NDCG@10"].get<double>();
                ++rows;
            }
            REQUIRE(rows == test.size());
            return ndcg / static_cast<double>(rows);
        };
        CHECK(check_rows(split.test) == doctest::Approx(r["test"]["full"]["NDCG@10"].get<double>()).epsilon(1e-12));
        // Under a ratio split a user has several test samples with different prefixes: one row each
        // (a per-user row would know only the first one's length).
        DataOptions ratio = run.options.data;
        ratio.split = "ratio:3:2:5";
        data::Split rs = make_split(ds, ratio, false, run.options.model.max_len);
        REQUIRE(rs.test.size() > static_cast<std::size_t>(ds.n_users));
        check_rows(rs.test);

        // The no-TTT ablation changes the model's predictions (the inner loop matters).
        run.model->disable_ttt();
        json frozen = evaluate(*run.model, ds, split.test, run.options.eval, run.options.seed);
        CHECK(frozen != r["test"]);
    }

}

// A suite of its own so that meson runs it beside the rest of apps/train: under the sanitizers in
// CI these end-to-end runs take minutes, and one suite runs on one core.
TEST_SUITE("apps/train-reproducible") {
    TEST_CASE("training is bit-identical with 1 and 2 threads") {
        // No kernel reduces across threads in a thread-count-dependent order (matmul splits C,
        // never K), so the whole run, and not only each op, must not depend on the thread count.
        json result[2];
        for (int threads : {1, 2}) {
            TrainOptions o = small_run("ttt4rec", temp_dir("threads" + std::to_string(threads)));
            // Activations of 256 x 20 x 64 = 327k floats: above the parallel grain (32k), so the
            // elementwise kernels and the matmuls really split across 2 threads.
            o.model.set_if_has("inner", "mlp");
            o.model.dim = 64;
            o.model.set_if_has("heads", 4);
            o.model.max_len = 20;
            o.batch_size = 256;
            o.epochs = 1;
            o.max_steps_per_epoch = 3;
            o.threads = threads;
            std::ostringstream log;
            result[threads - 1] = train(o, log);
        }
        CHECK(result[0]["test"] == result[1]["test"]);
        CHECK(result[0]["valid"] == result[1]["valid"]);
    }

    TEST_CASE("a run interrupted after an epoch resumes to the uninterrupted run's result") {
        TrainOptions o = small_run("ttt4rec", temp_dir("straight"));
        o.model.set_if_has("inner", "linear");
        o.model.loss = "ce";
        o.epochs = 4;
        o.threads = 1;
        std::ostringstream log;
        json straight = train(o, log);

        TrainOptions c = o;
        c.out_dir = temp_dir("crashed");
        c.hooks.crash_after_epoch = 2;
        CHECK_THROWS_WITH(train(c, log), doctest::Contains("simulated crash"));
        CHECK_THROWS_WITH(resume(c.out_dir, log, 3), doctest::Contains("simulated crash after epoch 3"));  // crash again
        json resumed = resume(c.out_dir, log);
        CHECK(resumed["test"] == straight["test"]);
        CHECK(resumed["valid"] == straight["valid"]);
        CHECK(resumed["best_epoch"] == straight["best_epoch"]);
        // metrics.jsonl holds each epoch once, as in the uninterrupted run, with bit-identical
        // losses (this once failed by an ulp: FMA contraction that depended on heap alignment,
        // fixed by -ffp-contract=off in meson.build).
        std::vector<double> a = epoch_losses(o.out_dir), b = epoch_losses(c.out_dir);
        REQUIRE(a.size() == b.size());
        for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == a[i]);
    }

    TEST_CASE("a finished run extended with resume --epochs ends as a run started with that many epochs") {
        TrainOptions o = small_run("ttt4rec", temp_dir("four"));
        o.model.set_if_has("inner", "linear");
        o.epochs = 4;
        o.patience = 10;  // no early stop: the epoch cap ends both runs
        o.threads = 1;
        std::ostringstream log;
        json four = train(o, log);

        TrainOptions two = o;
        two.out_dir = temp_dir("two-then-four");
        two.epochs = 2;
        train(two, log);  // finished: it stopped at its cap
        json extended = resume(two.out_dir, log, 0, 4);
        CHECK(extended["test"] == four["test"]);
        CHECK(extended["best_epoch"] == four["best_epoch"]);
        CHECK(load_run(two.out_dir).options.epochs == 4);  // config.json updated: a later resume keeps the new total
        std::vector<double> a = epoch_losses(o.out_dir), b = epoch_losses(two.out_dir);
        REQUIRE(a.size() == 4);
        REQUIRE(b.size() == 4);
        for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == a[i]);
    }

    TEST_CASE("a run that stopped early, resumed with a larger --patience, ends as a run started with it") {
        TrainOptions o = small_run("sasrec", temp_dir("patient"));
        o.epochs = 8;
        o.patience = 8;  // never stops early: the epoch cap ends it
        o.lr = 1e-1f;    // a large step, so that validation NDCG@10 does not rise every epoch
        o.threads = 1;
        std::ostringstream log;
        json patient = train(o, log);

        TrainOptions hasty = o;
        hasty.out_dir = temp_dir("hasty-then-patient");
        hasty.patience = 0;  // stops at the first epoch that does not improve
        train(hasty, log);
        REQUIRE(epoch_losses(hasty.out_dir).size() < 8);  // it did stop early (else this test shows nothing)
        json continued = resume(hasty.out_dir, log, 0, 0, 8);
        CHECK(continued["test"] == patient["test"]);
        CHECK(continued["best_epoch"] == patient["best_epoch"]);
        CHECK(load_run(hasty.out_dir).options.patience == 8);
        std::vector<double> a = epoch_losses(o.out_dir), b = epoch_losses(hasty.out_dir);
        REQUIRE(b.size() == a.size());
        for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == a[i]);
    }

}

TEST_SUITE("apps/train") {
    TEST_CASE("--dropout acts on every model in training, and never in evaluation") {
        // A flag that a model silently ignores would make an ablation report nothing (ttt4rec-fe,
        // whose published dropout is 0, once had no dropout layer at all).
        for (const std::string name : {"ttt4rec", "ttt4rec-fe", "sasrec", "gru4rec"}) {
            CAPTURE(name);
            for (float p : {0.0f, 0.5f}) {
                model::RecConfig c = model::default_config(name);
                c.n_items = 30, c.dim = 8, c.max_len = 6;
                c.set_if_has("heads", 2), c.set_if_has("ffn_hidden", 8), c.set_if_has("gru_hidden", 8), c.set_if_has("mini_batch", 3);
                c.dropout = p;
                Rng init(3);
                auto m = model::make_recommender(c, init);
                IntTensor items(Shape{2, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
                Rng drop(5);
                Tensor train = m->encode(items, model::Ctx{.training = true, .rng = &drop}).value();
                Tensor eval = m->encode(items, model::Ctx{}).value();
                bool same = true;
                for (int64_t i = 0; i < train.numel(); ++i) same &= train.data()[i] == eval.data()[i];
                CHECK(same == (p == 0.0f));
            }
        }
    }

    TEST_CASE("bad configurations fail with a clear message") {
        TrainOptions o = small_run("ttt4rec", temp_dir("bad"));
        o.model.set("heads", 3);  // 16 is not divisible by 3
        std::ostringstream log;
        CHECK_THROWS_WITH_AS(train(o, log), doctest::Contains("--heads 3 does not divide --dim 16"), std::invalid_argument);
        o = small_run("sasrec", temp_dir("bad2"));
        o.eval.ks = {100000};
        CHECK_THROWS_WITH_AS(train(o, log), doctest::Contains("K=100000"), std::invalid_argument);
    }
}

TEST_SUITE("apps/train") {
    TEST_CASE("the candidate protocol: fixed lists in the run, early stopping on them, the same numbers from a reload") {
        TrainOptions o = small_run("ttt4rec-fe", temp_dir("candidates"));
        o.eval.candidates = 19;
        o.eval.candidates_seed = 5;
        o.metric = "candidates/NDCG@10";
        std::ostringstream log;
        json r = train(o, log);
        const json& c = r["test"]["candidates"];
        REQUIRE(c.contains("AUC"));
        CHECK(c["negatives"] == 19);
        CHECK(c["AUC"].get<double>() > 0.5);  // better than chance after training on the synthetic data
        CHECK(c["NDCG@10"].get<double>() <= 1.0);
        CHECK(std::filesystem::exists(o.out_dir + "/candidates.txt"));
        // metrics.jsonl logs what early stopping watched: the candidate metrics
        std::ifstream m(o.out_dir + "/metrics.jsonl");
        std::string first;
        std::getline(m, first);
        CHECK(json::parse(first)["valid"].contains("GAUC"));
        // A reloaded run scores the same lists the same way.
        LoadedRun run = load_run(o.out_dir);
        data::Dataset ds = load_data(run.options.data);
        data::Split split = make_split(ds, run.options.data, run.options.model.every_position, run.options.model.max_len);
        const std::string groups = o.out_dir + "/groups.jsonl";
        json again = evaluate(*run.model, ds, split.test, run.options.eval, run.options.seed, EvalFiles{"", "", groups});
        CHECK(again["candidates"]["NDCG@10"].get<double>() == doctest::Approx(c["NDCG@10"].get<double>()).epsilon(1e-12));
        CHECK(r["test"].contains("full"));  // full ranking stays on for test unless switched off
        // --per-group: one row per test example that compare_runs reads as per-sample rows, whose
        // means are the summary's metrics (every group has 1 + 19 candidates).
        const data::UnitFile f = data::read_unit_file(groups);
        CHECK(f.per_sample);
        REQUIRE(f.rows.size() == split.test.size());
        CHECK(f.metrics == std::vector<std::string>{"HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20", "GAUC", "logloss"});
        for (std::size_t m = 0; m < f.metrics.size(); ++m) {
            double sum = 0;
            for (const data::UnitRecord& row : f.rows) sum += row.values[m];
            INFO(f.metrics[m]);
            CHECK(sum / static_cast<double>(f.rows.size()) == doctest::Approx(c[f.metrics[m]].get<double>()).epsilon(1e-6));
        }
    }

    TEST_CASE("--no-full-ranking: only the candidate metrics, recorded in config.json, the same candidate numbers") {
        // Full ranking is what makes DIN unaffordable (a network pass per item): without it the
        // candidate metrics must not change, since they come from their own pass over the lists.
        TrainOptions a = small_run("din", temp_dir("no-full-a"));
        a.eval.candidates = 9, a.eval.candidates_seed = 3, a.eval.sampled_negatives = 0;
        a.metric = "candidates/NDCG@10";
        TrainOptions b = small_run("din", temp_dir("no-full-b"));
        b.eval.candidates = 9, b.eval.candidates_seed = 3, b.eval.sampled_negatives = 0;
        b.metric = "candidates/NDCG@10";
        b.eval.full_ranking = false;
        for (TrainOptions* o : {&a, &b}) {  // small: a's full ranking is n_items DIN passes per example
            o->epochs = 2;
            o->model.set("mlp_hidden", 8);
            o->model.set("mlp_layers", 1);
        }
        std::ostringstream log;
        json ra = train(a, log), rb = train(b, log);
        CHECK(ra["test"].contains("full"));
        CHECK_FALSE(rb["test"].contains("full"));
        CHECK_FALSE(rb["valid"].contains("full"));
        CHECK(rb["test"]["candidates"]["NDCG@10"].get<double>() == ra["test"]["candidates"]["NDCG@10"].get<double>());
        CHECK(rb["test"]["candidates"]["AUC"].get<double>() == ra["test"]["candidates"]["AUC"].get<double>());
        LoadedRun run = load_run(b.out_dir);
        CHECK_FALSE(run.options.eval.full_ranking);
    }
}
