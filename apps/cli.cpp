// apps/cli.cpp — shared flags of the apps (see cli.hpp).
#include "apps/cli.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "model/checkpoint.hpp"
#include "model/registry.hpp"

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
        ("split", "loo (leave-one-out) | ratio (= ratio:3:2:5, TTT4Rec) | ratio:TRAIN:VALID:TEST, e.g. ratio:6:2:2 "
                  "(RecBole's per-user split of the augmented samples)", cxxopts::value<std::string>()->default_value("loo"))
        ("window-stride", "with --positions every: train on windows of --max-len items every S targets, so long "
                          "training parts lose no target (0 = only each user's most recent --max-len items)",
         cxxopts::value<int>()->default_value("0"))
        ("synthetic-users", "users of the synthetic dataset", cxxopts::value<int>()->default_value("2000"))
        ("synthetic-seed", "seed of the synthetic dataset", cxxopts::value<uint64_t>()->default_value("42"));
}

namespace {

// One command-line flag of the model options, collected over every registry entry: its type, its
// help, and the default of each model that has it ("ttt4rec 4, sasrec 2").
struct ModelFlag {
    std::string flag, key, help, type;  // type: int | float | string | bool
    std::string defaults;
};

class FlagCollector final : public model::FieldVisitor {
public:
    explicit FlagCollector(std::vector<ModelFlag>& flags, const std::string& model) : flags_(flags), model_(model) {}
    void field(std::string_view k, int64_t& v, std::string_view h, std::string_view f) override { add(k, h, f, "int", std::to_string(v)); }
    void field(std::string_view k, float& v, std::string_view h, std::string_view f) override {
        std::ostringstream os;
        os << v;
        add(k, h, f, "float", os.str());
    }
    void field(std::string_view k, std::string& v, std::string_view h, std::string_view f) override { add(k, h, f, "string", v); }
    void field(std::string_view k, bool& v, std::string_view h, std::string_view f) override {
        add(k, h, f, "bool", v ? "true" : "false");
    }

private:
    void add(std::string_view key, std::string_view help, std::string_view flag, const char* type, const std::string& value) {
        if (flag == "-") return;  // not a command-line flag
        std::string name = flag.empty() ? std::string(key) : std::string(flag);
        std::replace(name.begin(), name.end(), '_', '-');
        for (ModelFlag& f : flags_)
            if (f.flag == name) {
                // One flag, one type: a model that gave a shared flag another type is a programming error.
                if (f.type != type) throw std::logic_error("--" + name + " has type " + f.type + " and " + type + " in the registry");
                f.defaults += ", " + model_ + " " + value;
                return;
            }
        flags_.push_back({name, std::string(key), std::string(help), type, model_ + " " + value});
    }
    std::vector<ModelFlag>& flags_;
    const std::string& model_;
};

const std::vector<ModelFlag>& model_flags() {
    static const std::vector<ModelFlag> flags = [] {
        std::vector<ModelFlag> f;
        for (const model::ModelEntry& e : model::model_registry()) {
            model::RecConfig c = e.defaults();
            const std::string name = e.name;
            FlagCollector fc(f, name);
            c.visit(fc);
        }
        return f;
    }();
    return flags;
}

}  // namespace

void add_model_flags(cxxopts::Options& options) {
    std::string models;
    for (const model::ModelEntry& e : model::model_registry()) models += std::string("\n      ") + e.name + ": " + e.summary;
    auto g = options.add_options("model (every option and its default per model; a model rejects options it does not have)");
    g("m,model", "the recommender:" + models, cxxopts::value<std::string>()->default_value("ttt4rec"));
    g("positions", "train on: last (the last item of each prefix) | every (every position) (default per model)",
      cxxopts::value<std::string>());
    for (const ModelFlag& f : model_flags()) {
        const std::string help = f.help + " (" + f.defaults + ")";
        if (f.type == "int") g(f.flag, help, cxxopts::value<int64_t>());
        else if (f.type == "float") g(f.flag, help, cxxopts::value<float>());
        else if (f.type == "string") g(f.flag, help, cxxopts::value<std::string>());
        else g(f.flag, help, cxxopts::value<bool>());
    }
}

void add_eval_flags(cxxopts::Options& options) {
    options.add_options("evaluation")
        ("ks", "cut-offs K of HR@K / NDCG@K", cxxopts::value<std::string>()->default_value("5,10,20,50"))
        ("mask-history", "remove the user's earlier items from the ranking (S3Rec-family protocol; default: not masked, as RecBole)")
        ("eval-batch", "evaluation batch size", cxxopts::value<int>()->default_value("512"))
        ("sampled", "negatives of the sampled metrics (0 = off)", cxxopts::value<int>()->default_value("100"))
        ("candidates", "the candidate protocol: rank each target among N sampled negatives fixed per example, "
                       "HR/NDCG@K, AUC, GAUC, logloss (0 = off; 99 as Zhan et al.); early-stop on it with "
                       "--metric candidates/NDCG@10", cxxopts::value<int>()->default_value("0"))
        ("candidates-seed", "seed of the candidate lists (the same lists for every model)", cxxopts::value<uint64_t>()->default_value("0"))
        ("no-full-ranking", "skip full ranking over all items (only the candidate or sampled metrics; for DIN, "
                            "whose full ranking runs its network once per item)");
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
    d.window_stride = a["window-stride"].as<int>();
    if (d.window_stride < 0) throw std::invalid_argument("--window-stride must be >= 0, got " + std::to_string(d.window_stride));
    d.synthetic_users = positive(a, "synthetic-users");
    d.synthetic_seed = a["synthetic-seed"].as<uint64_t>();
    data::parse_split(d.split);  // throws std::invalid_argument naming --split and what is wrong
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
    const std::string name = a["model"].as<std::string>();
    model::RecConfig c;
    try {
        c = model::default_config(name);
    } catch (const std::invalid_argument&) {
        throw std::invalid_argument("--model must be one of " + model::model_names() + ", got '" + name + "'");
    }
    for (const ModelFlag& f : model_flags()) {
        if (!a.count(f.flag)) continue;
        if (!c.has(f.key))
            throw std::invalid_argument("--" + f.flag + " is not an option of " + name + " (see --help for the options of each model)");
        model::FieldValue v;
        if (f.type == "int") v = a[f.flag].as<int64_t>();
        else if (f.type == "float") v = a[f.flag].as<float>();
        else if (f.type == "string") v = a[f.flag].as<std::string>();
        else v = a[f.flag].as<bool>();
        c.set(f.key, v);
    }
    if (a.count("positions")) {
        std::string p = a["positions"].as<std::string>();
        if (p != "last" && p != "every") throw std::invalid_argument("--positions must be last or every, got '" + p + "'");
        c.every_position = p == "every";
    }
    model::validate_config(c);  // every value the model cannot take, named by its flag
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
    e.candidates = non_negative(a, "candidates");
    e.candidates_seed = a["candidates-seed"].as<uint64_t>();
    e.full_ranking = a.count("no-full-ranking") == 0;
    if (!e.full_ranking && e.candidates == 0 && e.sampled_negatives == 0)
        throw std::invalid_argument("--no-full-ranking leaves no metric: give --candidates N or --sampled N");
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
