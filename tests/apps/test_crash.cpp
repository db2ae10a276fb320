// tests/apps/test_crash.cpp — crashes and bad luck during training.
//
// apps/train runs as a real process and is killed with SIGKILL: in the middle of a checkpoint
// write (the test hook TTTREC_TEST_KILL_DURING_WRITE of model/checkpoint.hpp makes that moment
// exact) and at moments chosen by the clock. After every kill the files of the run directory must
// load (the temporary file of the interrupted write is never taken for a checkpoint), and
// `train --resume` must end bit-identical (one thread) to a run that was never interrupted.
// Also: an unwritable run directory and a full disk (RLIMIT_FSIZE) fail with a clear error and
// keep the previous checkpoint; a NaN/Inf in the loss or a gradient stops training naming the
// step; damaged or mismatched run files each give their own error.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/runner.hpp"
#include "model/registry.hpp"
#include "tests/skip.hpp"
#include "model/checkpoint.hpp"
#include "tests/apps/process_util.hpp"

using namespace tt;
using namespace tt::app;
namespace fs = std::filesystem;

namespace {

// All run directories of this file live under one folder, removed when the test binary exits.
fs::path scratch_root() {
    static struct Root {
        fs::path path = fs::temp_directory_path() / ("tttrec-crash-" + std::to_string(::getpid()));
        ~Root() {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
    } root;
    return root.path;
}

std::string scratch(const std::string& name) {
    fs::path d = scratch_root() / name;
    fs::remove_all(d);
    fs::create_directories(d.parent_path());
    return d.string();
}

// A run small enough for a few seconds under the sanitizers: 4 epochs of 8 steps.
std::vector<std::string> train_args(const std::string& bin, const std::string& out) {
    return {bin, "--synthetic-users", "200", "--synthetic-seed", "5", "--inner", "linear", "--dim", "16", "--heads", "2",
            "--ffn", "32", "--max-len", "12", "--mini-batch", "4", "--dropout", "0.1", "--batch-size", "64", "--lr", "0.005",
            "--epochs", "4", "--max-steps", "8", "--patience", "10", "--seed", "1", "--threads", "1", "--ks", "5,10", "--sampled", "0",
            "--quiet", "--out", out};
}

std::vector<std::string> resume_args(const std::string& bin, const std::string& dir) { return {bin, "--resume", dir, "--quiet"}; }

std::string file_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// metrics.jsonl without the timings: what must agree between an interrupted and a straight run.
std::vector<json> epoch_metrics(const std::string& dir) {
    std::vector<json> out;
    std::istringstream in(file_text(dir + "/metrics.jsonl"));
    for (std::string line; std::getline(in, line);) {
        json j = json::parse(line);
        out.push_back({{"epoch", j["epoch"]}, {"loss", j["loss"]}, {"valid", j["valid"]}});
    }
    return out;
}

std::vector<std::string> temp_files(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().filename().string());
    return out;
}

// Every file of the run directory, by name (to check that a failed write changed nothing).
std::map<std::string, std::string> snapshot(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = file_text(e.path().string());
    return out;
}

// What a killed run left must load: config.json, the best weights into the configured model, the
// resume state; returns the last finished epoch recorded in the resume state (0: none yet).
int check_loadable(const std::string& dir) {
    if (fs::exists(dir + "/model.safetensors")) CHECK_NOTHROW(load_run(dir));
    if (fs::exists(dir + "/metrics.jsonl")) CHECK_NOTHROW(epoch_metrics(dir));
    if (!fs::exists(dir + "/resume.safetensors")) return 0;
    std::map<std::string, std::string> meta;
    model::NamedTensors state;
    REQUIRE_NOTHROW(state = model::load_safetensors(dir + "/resume.safetensors", &meta));
    CHECK(state.size() > 0);
    int epoch = json::parse(meta.at("tttrec_resume")).at("epoch").get<int>();
    CHECK(epoch_metrics(dir).size() >= static_cast<std::size_t>(epoch));
    return epoch;
}

// The interrupted temporary file is incomplete: on its own it does not even decode.
void check_partial_temp(const std::string& dir, const std::string& file) {
    std::vector<std::string> temps = temp_files(dir);
    REQUIRE(temps.size() == 1);
    CHECK(temps[0].rfind(file + ".tmp.", 0) == 0);
    CHECK_THROWS_AS(model::load_safetensors(dir + "/" + temps[0]), model::CheckpointError);
}

void check_same_result(const std::string& dir, const std::string& reference) {
    INFO("run dir ", dir);
    REQUIRE(fs::exists(dir + "/test.json"));
    json got = json::parse(file_text(dir + "/test.json")), want = json::parse(file_text(reference + "/test.json"));
    CHECK(got["best_epoch"] == want["best_epoch"]);
    CHECK(got["valid"] == want["valid"]);
    CHECK(got["test"] == want["test"]);
    std::vector<json> a = epoch_metrics(dir), b = epoch_metrics(reference);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        CHECK(a[i] == b[i]);  // losses and validation metrics bit for bit
    }
    CHECK(file_text(dir + "/model.safetensors") == file_text(reference + "/model.safetensors"));
    CHECK(temp_files(dir).empty());
}

// Starts `args`, waits until metrics.jsonl has `lines` lines (epochs finished), waits `delay_ms`
// more, then SIGKILLs it. The process may also end by itself before that.
testing::Outcome kill_after(const std::vector<std::string>& args, const std::string& dir, std::size_t lines, int delay_ms) {
    pid_t pid = testing::spawn(args, {});
    for (;;) {
        int status;
        pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            testing::Outcome r;
            if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
            if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
            return r;
        }
        std::size_t n = 0;
        std::istringstream in(file_text(dir + "/metrics.jsonl"));
        for (std::string line; std::getline(in, line);) ++n;
        if (n >= lines) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    return testing::wait_for(pid);
}

}  // namespace

TEST_SUITE("apps/crash-process") {  // runs apps/train as a process: skipped when the binary is not built
    TEST_CASE("SIGKILL at any point, then train --resume, ends exactly as an uninterrupted run") {
        const std::string bin = testing::app_path("TTTREC_TRAIN_BIN");
        if (bin.empty()) {
            return tt::testing::skip_test("TTTREC_TRAIN_BIN is not set to the apps/train binary");
        }
        const std::string straight = scratch("straight");
        testing::Outcome r = testing::run(train_args(bin, straight));
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
        REQUIRE(epoch_metrics(straight).size() == 4);
        const auto kill_env = [](const std::string& spec) {
            testing::ChildOptions o;
            o.env["TTTREC_TEST_KILL_DURING_WRITE"] = spec;
            return o;
        };

        // Each block below is one interrupted run (blocks, not SUBCASEs: the straight run is shared).
        {  // killed while writing the resume state; an unwritable directory and a full disk on the way
            const std::string dir = scratch("resume-write");
            r = testing::run(train_args(bin, dir), kill_env("resume.safetensors:2"));  // epoch 2's state
            REQUIRE(r.signal == SIGKILL);
            CHECK(check_loadable(dir) == 1);  // the state of epoch 1 is intact
            check_partial_temp(dir, "resume.safetensors");

            // An unwritable run directory: a clear error, and nothing changes.
            std::map<std::string, std::string> before = snapshot(dir);
            testing::ChildOptions locked;
            if (::geteuid() == 0)
                locked.as_nobody = true;  // root writes anywhere: drop to nobody, for whom the directory is read-only
            else
                fs::permissions(dir, fs::perms::owner_write, fs::perm_options::remove);
            r = testing::run(resume_args(bin, dir), locked);
            fs::permissions(dir, fs::perms::owner_write, fs::perm_options::add);
            if (r.exit_code == 111) {
                MESSAGE("unwritable-directory check skipped: cannot switch to uid 65534 here");
            } else {
                INFO(r.output);
                CHECK(r.exit_code == 1);
                CHECK(r.output.find("cannot create temporary file") != std::string::npos);
                CHECK(r.output.find("Permission denied") != std::string::npos);
                CHECK(snapshot(dir) == before);
            }

            // A full disk (file size limit 16 KB: the resume state does not fit): a clear error,
            // the checkpoints of epoch 1 unchanged, no temporary file left behind.
            before = snapshot(dir);
            testing::ChildOptions full_disk;
            full_disk.file_size_limit = 16 << 10;
            r = testing::run(resume_args(bin, dir), full_disk);
            INFO(r.output);
            CHECK(r.exit_code == 1);
            CHECK(r.output.find("write failed (File too large); the previous file is unchanged") != std::string::npos);
            CHECK(file_text(dir + "/resume.safetensors") == before["resume.safetensors"]);
            CHECK(file_text(dir + "/model.safetensors") == before["model.safetensors"]);
            CHECK(temp_files(dir).empty());
            CHECK(check_loadable(dir) == 1);

            // Killed again, while the resumed run writes its first state (epoch 2's).
            r = testing::run(resume_args(bin, dir), kill_env("resume.safetensors:1"));
            REQUIRE(r.signal == SIGKILL);
            CHECK(check_loadable(dir) == 1);
            check_partial_temp(dir, "resume.safetensors");

            r = testing::run(resume_args(bin, dir));
            INFO(r.output);
            REQUIRE(r.exit_code == 0);
            check_same_result(dir, straight);
        }

        {  // killed while writing the first best weights: no checkpoint yet, the run starts over
            const std::string dir = scratch("model-write");
            r = testing::run(train_args(bin, dir), kill_env("model.safetensors:1"));
            REQUIRE(r.signal == SIGKILL);
            CHECK(check_loadable(dir) == 0);
            CHECK(fs::exists(dir + "/config.json"));
            CHECK_FALSE(fs::exists(dir + "/model.safetensors"));
            check_partial_temp(dir, "model.safetensors");
            r = testing::run(resume_args(bin, dir));
            INFO(r.output);
            REQUIRE(r.exit_code == 0);
            check_same_result(dir, straight);
        }

        {  // killed while writing metrics.jsonl, then at moments chosen by the clock
            const std::string dir = scratch("timed");
            r = testing::run(train_args(bin, dir), kill_env("metrics.jsonl:3"));  // epoch 2's line (1: empty file, 2: epoch 1)
            REQUIRE(r.signal == SIGKILL);
            CHECK(check_loadable(dir) == 1);
            CHECK(epoch_metrics(dir).size() == 1);
            // Wherever these land (training steps, validation, a write), the run must go on.
            int kills = 0;
            for (auto [lines, delay_ms] : {std::pair{2, 0}, std::pair{3, 15}}) {
                r = kill_after(resume_args(bin, dir), dir, static_cast<std::size_t>(lines), delay_ms);
                kills += r.signal == SIGKILL;
                CHECK(check_loadable(dir) >= 1);
            }
            MESSAGE("timed kills that hit a running process: ", kills, " of 2");
            r = testing::run(resume_args(bin, dir));
            INFO(r.output);
            REQUIRE(r.exit_code == 0);
            check_same_result(dir, straight);
        }
    }
}

namespace {

TrainOptions tiny_run(const std::string& out) {
    TrainOptions o;
    o.model = model::default_config("ttt4rec");
    o.model.set_if_has("inner", "linear");
    o.model.dim = 16;
    o.model.set_if_has("heads", 2);
    o.model.set_if_has("ffn_hidden", 32);
    o.model.max_len = 12;
    o.model.set_if_has("mini_batch", 4);
    o.data.synthetic_users = 200;
    o.data.synthetic_seed = 5;
    o.batch_size = 64;
    o.lr = 5e-3f;
    o.epochs = 2;
    o.seed = 1;
    o.threads = 1;
    o.quiet = true;
    o.eval.ks = {5, 10};
    o.eval.sampled_negatives = 0;
    o.out_dir = out;
    return o;
}

// The message of the std::runtime_error `f` throws ("" if it throws none).
template <class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_SUITE("apps/crash") {
    TEST_CASE("a NaN or Inf stops training, names the step and keeps the last good checkpoint") {
        std::ostringstream log;
        SUBCASE("in the loss, in epoch 2: the checkpoints of epoch 1 stay") {
            TrainOptions o = tiny_run(scratch("nan-loss"));
            o.max_steps_per_epoch = 3;
            o.hooks.nan_loss_at_step = 5;  // epoch 2, batch 2
            std::string err = error_of([&] { train(o, log); });
            CHECK(err.find("training diverged at epoch 2, batch 2 of 3 (step 5 of the run): the loss is nan") != std::string::npos);
            CHECK(err.find("model.safetensors (best, epoch 1) and " + o.out_dir + "/resume.safetensors (after epoch 1)") !=
                  std::string::npos);
            CHECK(check_loadable(o.out_dir) == 1);
            CHECK(epoch_metrics(o.out_dir).size() == 1);
            // The best weights are those of epoch 1, the current weights of the resume state.
            std::map<std::string, Tensor> best;
            for (auto& [name, t] : model::load_safetensors(o.out_dir + "/model.safetensors")) best[name] = t;
            int compared = 0;
            for (auto& [name, t] : model::load_safetensors(o.out_dir + "/resume.safetensors"))
                if (name.rfind("param.", 0) == 0) {
                    CHECK(t.to_vector() == best.at(name.substr(6)).to_vector());
                    ++compared;
                }
            CHECK(compared == static_cast<int>(best.size()));
        }
        SUBCASE("in a gradient, before any epoch finished") {
            TrainOptions o = tiny_run(scratch("nan-grad"));
            o.hooks.nan_grad_at_step = 2;
            std::string err = error_of([&] { train(o, log); });
            CHECK(err.find("training diverged at epoch 1, batch 2 of") != std::string::npos);
            CHECK(err.find("has nan at element 0; no epoch had finished, so no checkpoint was written") != std::string::npos);
            CHECK_FALSE(fs::exists(o.out_dir + "/model.safetensors"));
            CHECK_FALSE(fs::exists(o.out_dir + "/resume.safetensors"));
        }
    }

    TEST_CASE("damaged or mismatched run files each give their own error") {
        std::ostringstream log;
        TrainOptions o = tiny_run(scratch("damaged"));
        o.epochs = 1;
        train(o, log);
        const std::string dir = o.out_dir, state = dir + "/resume.safetensors";
        const std::string good = file_text(state);
        auto put = [](const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; };

        put(state, good.substr(0, good.size() / 2));
        CHECK_THROWS_WITH_AS(resume(dir, log), doctest::Contains("resume.safetensors: tensor"), model::CheckpointError);
        CHECK_THROWS_WITH(resume(dir, log), doctest::Contains("truncated"));

        std::string flipped = good;
        flipped[flipped.size() - 5] ^= 0x10;  // one bit of the Adam moments
        put(state, flipped);
        CHECK_THROWS_WITH_AS(resume(dir, log), doctest::Contains("resume.safetensors: checksum mismatch"), model::CheckpointError);

        // The state of another model (width 8 instead of 16).
        TrainOptions other = tiny_run(scratch("damaged-other"));
        other.epochs = 1;
        other.model.dim = 8;
        train(other, log);
        fs::copy_file(other.out_dir + "/resume.safetensors", state, fs::copy_options::overwrite_existing);
        CHECK_THROWS_WITH_AS(resume(dir, log), doctest::Contains("checkpoint does not match the model: shape mismatch: "),
                             model::CheckpointError);
        fs::copy_file(other.out_dir + "/model.safetensors", dir + "/model.safetensors", fs::copy_options::overwrite_existing);
        CHECK_THROWS_WITH_AS(load_run(dir), doctest::Contains("model.safetensors: checkpoint does not match the model"),
                             model::CheckpointError);

        put(dir + "/config.json", "{\"model\": ");
        CHECK_THROWS_WITH_AS(load_run(dir), doctest::Contains("config.json: not valid JSON"), std::invalid_argument);
        put(dir + "/config.json", "{\"model\": {}}");
        CHECK_THROWS_WITH_AS(load_run(dir), doctest::Contains("config.json: "), std::invalid_argument);
    }
}
