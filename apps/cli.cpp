// apps/cli.cpp — shared flags of the apps (see cli.hpp).
#include "apps/cli.hpp"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "model/checkpoint.hpp"

namespace tt::app {

void add_data_flags(cxxopts::Options& options) {
    options.add_options("data")
        ("d,data", "interaction file (default: the built-in synthetic dataset)", cxxopts::value<std::string>()->default_value(""))
        ("format", "auto | pairs | sequences | ml-100k | ml-dat | csv | inter", cxxopts::value<std::string>()->default_value("auto"))
        ("user-col", "csv/inter: user column name", cxxopts::value<std::string>()->default_value(""))
        ("item-col", "csv/inter: item column name", cxxopts::value<std::string>()->default_value(""))
        ("time-col", "csv/inter: timestamp column name", cxxopts::value<std::string>()->default_value(""))
        ("rating-col", "csv/inter: rating column name", cxxopts::value<std::string>()->default_value(""))
        ("rating-threshold", "keep interactions with rating >= this (negative = keep all)", cxxopts::value<float>()->default_value("-1"))
        ("min-user", "k-core: minimum interactions per user", cxxopts::value<int>()->default_value("0"))
        ("min-item", "k-core: minimum interactions per item", cxxopts::value<int>()->default_value("0"))
        ("repeats", "keep | drop-consecutive | keep-first", cxxopts::value<std::string>()->default_value("keep"))
        ("skip-bad-lines", "skip malformed lines (counted) instead of stopping")
        ("cache", "use a binary cache of the processed dataset")
        ("split", "loo (leave-one-out) | ratio (TTT4Rec 3:2:5)", cxxopts::value<std::string>()->default_value("loo"))
        ("synthetic-users", "users of the synthetic dataset", cxxopts::value<int>()->default_value("2000"))
        ("synthetic-seed", "seed of the synthetic dataset", cxxopts::value<uint64_t>()->default_value("42"));
}

void add_model_flags(cxxopts::Options& options) {
    options.add_options("model (defaults depend on --model: ttt4rec / ttt4rec-fe / sasrec / gru4rec)")
        ("m,model", "ttt4rec | ttt4rec-fe | sasrec | gru4rec", cxxopts::value<std::string>()->default_value("ttt4rec"))
        ("max-len", "most recent items kept per history", cxxopts::value<int>()->default_value("50"))
        ("dim", "width C (64 / 64 / 64 / 64)", cxxopts::value<int>())
        ("heads", "heads (4 / 4 / 2 / -)", cxxopts::value<int>())
        ("blocks", "blocks (1 / 1 / 2 / -)", cxxopts::value<int>())
        ("ffn", "feed-forward width (256 / - / 64 / -)", cxxopts::value<int>())
        ("dropout", "dropout (0.2 / 0 / 0.5 / 0.3)", cxxopts::value<float>())
        ("init-range", "std of N(0, .) initialisation (0.02)", cxxopts::value<float>())
        ("inner", "TTT inner model: linear | mlp (mlp / linear)", cxxopts::value<std::string>())
        ("backbone", "TTT backbone: transformer | mamba (transformer)", cxxopts::value<std::string>())
        ("inner-loop", "TTT inner loop: fast (dual form) | general (nested autodiff) (fast)", cxxopts::value<std::string>())
        ("mini-batch", "TTT mini-batch size b (8 / 10)", cxxopts::value<int>())
        ("base-lr", "TTT base inner learning rate (1.0)", cxxopts::value<float>())
        ("rope-base", "TTT RoPE base (1000 / 10000)", cxxopts::value<float>())
        ("loss", "ce (softmax over all items) | bce (one sampled negative) (ce / bce / bce / ce)", cxxopts::value<std::string>())
        ("positions", "train on: last (the last item of each prefix) | every (every position) (last / last / every / last)",
         cxxopts::value<std::string>())
        ("gru-hidden", "GRU4Rec hidden size (64)", cxxopts::value<int>());
}

void add_eval_flags(cxxopts::Options& options) {
    options.add_options("evaluation")
        ("ks", "cut-offs K of HR@K / NDCG@K", cxxopts::value<std::string>()->default_value("5,10,20,50"))
        ("mask-history", "remove the user's earlier items from the ranking (S3Rec-family protocol; default: not masked, as RecBole)")
        ("eval-batch", "evaluation batch size", cxxopts::value<int>()->default_value("512"))
        ("sampled", "negatives of the sampled metrics (0 = off)", cxxopts::value<int>()->default_value("100"));
}

int positive(const cxxopts::ParseResult& args, const std::string& flag) {
    int v = args[flag].as<int>();
    if (v <= 0) throw std::invalid_argument("--" + flag + " must be positive, got " + std::to_string(v));
    return v;
}

int non_negative(const cxxopts::ParseResult& args, const std::string& flag) {
    int v = args[flag].as<int>();
    if (v < 0) throw std::invalid_argument("--" + flag + " must be >= 0, got " + std::to_string(v));
    return v;
}

DataOptions data_options(const cxxopts::ParseResult& a) {
    DataOptions d;
    d.path = a["data"].as<std::string>();
    d.format = a["format"].as<std::string>();
    d.user_col = a["user-col"].as<std::string>();
    d.item_col = a["item-col"].as<std::string>();
    d.time_col = a["time-col"].as<std::string>();
    d.rating_col = a["rating-col"].as<std::string>();
    d.rating_threshold = a["rating-threshold"].as<float>();
    d.min_user = non_negative(a, "min-user");
    d.min_item = non_negative(a, "min-item");
    d.repeats = a["repeats"].as<std::string>();
    d.skip_bad_lines = a.count("skip-bad-lines") > 0;
    d.cache = a.count("cache") > 0;
    d.split = a["split"].as<std::string>();
    d.synthetic_users = positive(a, "synthetic-users");
    d.synthetic_seed = a["synthetic-seed"].as<uint64_t>();
    if (d.split != "loo" && d.split != "ratio") throw std::invalid_argument("--split must be loo or ratio, got '" + d.split + "'");
    if (d.repeats != "keep" && d.repeats != "drop-consecutive" && d.repeats != "keep-first")
        throw std::invalid_argument("--repeats must be keep, drop-consecutive or keep-first");
    if (d.synthetic_users < 10) throw std::invalid_argument("--synthetic-users must be at least 10");
    if (std::isnan(d.rating_threshold)) throw std::invalid_argument("--rating-threshold must be a number");
    try {
        data::parse_format(d.format);
    } catch (const data::DataError& e) {
        throw std::invalid_argument(std::string("--format: ") + e.what());
    }
    if (!d.path.empty()) {  // a missing file is a bad flag: say so before anything runs
        std::error_code ec;
        if (!std::filesystem::exists(d.path, ec)) throw std::invalid_argument("--data: " + d.path + ": no such file");
        if (std::filesystem::is_directory(d.path, ec))
            throw std::invalid_argument("--data: " + d.path + " is a directory, not an interaction file");
    }
    return d;
}

model::RecConfig model_options(const cxxopts::ParseResult& a) {
    std::string name = a["model"].as<std::string>();
    if (name != "ttt4rec" && name != "ttt4rec-fe" && name != "sasrec" && name != "gru4rec")
        throw std::invalid_argument("--model must be ttt4rec, ttt4rec-fe, sasrec or gru4rec, got '" + name + "'");
    model::RecConfig c = model::default_config(name);
    c.max_len = positive(a, "max-len");
    if (a.count("dim")) c.dim = positive(a, "dim");
    if (a.count("heads")) c.heads = positive(a, "heads");
    if (a.count("blocks")) c.blocks = positive(a, "blocks");
    if (a.count("ffn")) c.ffn_hidden = positive(a, "ffn");
    if (a.count("dropout")) c.dropout = a["dropout"].as<float>();
    if (a.count("init-range")) c.init_range = a["init-range"].as<float>();
    if (a.count("inner")) c.inner = a["inner"].as<std::string>();
    if (a.count("backbone")) c.backbone = a["backbone"].as<std::string>();
    if (a.count("inner-loop")) c.inner_loop = a["inner-loop"].as<std::string>();
    if (a.count("mini-batch")) c.mini_batch = positive(a, "mini-batch");
    if (a.count("base-lr")) c.base_lr = a["base-lr"].as<float>();
    if (a.count("rope-base")) c.rope_base = a["rope-base"].as<float>();
    if (a.count("loss")) c.loss = a["loss"].as<std::string>();
    if (a.count("gru-hidden")) c.gru_hidden = positive(a, "gru-hidden");
    if (a.count("positions")) {
        std::string p = a["positions"].as<std::string>();
        if (p != "last" && p != "every") throw std::invalid_argument("--positions must be last or every, got '" + p + "'");
        c.every_position = p == "every";
    }
    if (!(c.dropout >= 0 && c.dropout < 1)) throw std::invalid_argument("--dropout must be in [0, 1)");
    if (!(c.init_range > 0) || !std::isfinite(c.init_range)) throw std::invalid_argument("--init-range must be positive and finite");
    if (!(c.base_lr >= 0) || !std::isfinite(c.base_lr)) throw std::invalid_argument("--base-lr must be >= 0 and finite");
    if (!(c.rope_base > 1) || !std::isfinite(c.rope_base)) throw std::invalid_argument("--rope-base must be > 1 and finite");
    if (c.dim % c.heads != 0)
        throw std::invalid_argument("--heads " + std::to_string(c.heads) + " does not divide --dim " + std::to_string(c.dim));
    if ((name == "ttt4rec" || name == "ttt4rec-fe") && (c.dim / c.heads) % 2 != 0)
        throw std::invalid_argument("the TTT head width --dim/--heads must be even (RoPE rotates pairs)");
    if (c.inner != "linear" && c.inner != "mlp") throw std::invalid_argument("--inner must be linear or mlp");
    if (c.backbone != "transformer" && c.backbone != "mamba") throw std::invalid_argument("--backbone must be transformer or mamba");
    if (c.inner_loop != "fast" && c.inner_loop != "general") throw std::invalid_argument("--inner-loop must be fast or general");
    if (c.loss != "ce" && c.loss != "bce") throw std::invalid_argument("--loss must be ce or bce");
    return c;
}

EvalOptions eval_options(const cxxopts::ParseResult& a) {
    EvalOptions e;
    e.ks.clear();
    std::stringstream ss(a["ks"].as<std::string>());
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            std::size_t used = 0;
            int k = std::stoi(item, &used);
            if (used != item.size() || k <= 0) throw std::invalid_argument("");
            e.ks.push_back(k);
        } catch (const std::exception&) {
            throw std::invalid_argument("--ks: '" + item + "' is not a positive integer");
        }
    }
    if (e.ks.empty()) throw std::invalid_argument("--ks: no cut-off given");
    e.mask_history = a.count("mask-history") > 0 && a["mask-history"].as<bool>();  // also --mask-history=false
    e.batch_size = positive(a, "eval-batch");
    e.sampled_negatives = non_negative(a, "sampled");
    return e;
}

std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, int argc, char** argv, int& exit_code) {
    cxxopts::ParseResult args;
    try {
        args = options.parse(argc, argv);
    } catch (const cxxopts::exceptions::exception& e) {
        exit_code = usage_error(options, e.what());
        return std::nullopt;
    }
    if (args.count("help")) {
        std::cout << options.help() << "\n";
        exit_code = 0;
        return std::nullopt;
    }
    if (!args.unmatched().empty()) {
        exit_code = usage_error(options, "unexpected argument '" + args.unmatched()[0] + "'");
        return std::nullopt;
    }
    return args;
}

int usage_error(const cxxopts::Options& options, const std::string& message) {
    std::cerr << "error: " << message << "\n\n" << options.help() << "\n";
    return 2;
}

int run_reporting_errors(const std::function<void()>& body) {
    try {
        body();
        return 0;
    } catch (const std::invalid_argument& e) {  // impossible values discovered late (K > items, ...)
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {  // data files, checkpoints, I/O, divergence
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace tt::app
