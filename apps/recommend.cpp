// apps/recommend.cpp — online recommendation from a trained run: reads interaction events, keeps an
// incremental state per user (model/online.hpp) and prints each user's top-K items after every
// event or on request. The event protocol and the service are apps/serving.hpp; --bench times
// incremental updates against full recomputes.
//
//   recommend --run runs/demo --events events.txt                    # top-10 after every event
//   recommend --run runs/demo --data run --print query < requests     # seed users from the run's data
//   recommend --run runs/demo --load-states s.st --save-states s.st   # a service that restarts
//   recommend --bench                                                 # incremental vs recompute
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "apps/cli.hpp"
#include "apps/runner.hpp"
#include "apps/serving.hpp"
#include "model/registry.hpp"
#include "tensor/parallel.hpp"

namespace {

const char* kDescription =
    "Online recommendation with a run written by apps/train.\n"
    "\n"
    "Reads events, one per line: 'user item [timestamp]' in the original ids of the run's data (the\n"
    "timestamp is checked to be a number; events are applied in the order they arrive), or '? user'\n"
    "to ask for a user's recommendations without an event. Blank lines and '#' comments are skipped.\n"
    "Prints 'user<TAB>item:score item:score ...' (best first; --output json: one JSON object per line)\n"
    "after every event (--print each) or only for queries (--print query). Items the user has seen are\n"
    "left out unless --include-seen. An item the run does not know: a warning 'file:line: ...' on\n"
    "stderr and the event is skipped (--unknown stop: exit 1 instead). A malformed line: exit 1.\n"
    "\n"
    "Each user has a state that every event advances; what it carries and what an event costs, per model:\n"
    "%STREAMS%"
    "Models with a carried state read the whole history (train/eval cut it to max_len items).\n"
    "Ranking all items costs O(items * C) per printed recommendation.\n"
    "\n"
    "--save-states writes every user's state atomically at the end (and every --save-every events);\n"
    "--load-states restores them and refuses a file made by another model. After an error nothing more\n"
    "is saved: the file keeps its previous content (or that of the last --save-every save).\n"
    "\n"
    "--bench: events/s and p50/p99 latency of incremental updates vs full recomputes at several\n"
    "history lengths (one JSON line each), for --run's model or for freshly initialised models.\n";

// The description with each registry model's stream_summary() (a tiny instance of each says it).
std::string description() {
    std::string streams;
    for (const tt::model::ModelEntry& e : tt::model::model_registry()) {
        tt::Rng rng(0);
        auto m = e.make(e.tiny(10), rng);
        streams += "  " + std::string(e.name) + ": " + m->stream_summary() + ".\n";
    }
    std::string d = kDescription;
    d.replace(d.find("%STREAMS%"), 9, streams);
    return d;
}

std::vector<int64_t> parse_list(const std::string& flag, const std::string& text) {
    std::vector<int64_t> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        try {
            std::size_t used = 0;
            long long v = std::stoll(item, &used);
            if (used != item.size() || v <= 0) throw std::invalid_argument("");
            out.push_back(v);
        } catch (const std::exception&) {
            throw std::invalid_argument("--" + flag + ": '" + item + "' is not a positive integer");
        }
    }
    if (out.empty()) throw std::invalid_argument("--" + flag + ": empty list");
    return out;
}

// The models --bench times without --run: the published defaults, freshly initialised, with as
// many items as Amazon Beauty.
std::vector<std::pair<std::string, tt::model::RecConfig>> bench_models(const std::string& names, int64_t n_items) {
    std::vector<std::pair<std::string, tt::model::RecConfig>> out;
    std::stringstream ss(names);
    std::string name;
    while (std::getline(ss, name, ',')) {
        tt::model::RecConfig c;
        if (name == "ttt4rec" || name == "ttt4rec-mlp") {
            c = tt::model::default_config("ttt4rec");
        } else if (name == "ttt4rec-linear") {
            c = tt::model::default_config("ttt4rec");
            c.set("inner", std::string("linear"));
        } else if (name == "ttt4rec-mamba") {
            c = tt::model::default_config("ttt4rec");
            c.set("backbone", std::string("mamba"));
        } else {
            try {
                c = tt::model::default_config(name);  // any registry model
            } catch (const std::invalid_argument&) {
                throw std::invalid_argument("--bench-models: unknown model '" + name + "' (" + tt::model::model_names() +
                                            ", ttt4rec-linear, ttt4rec-mamba)");
            }
        }
        c.n_items = n_items;
        out.emplace_back(name, c);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace tt::app;
    namespace fs = std::filesystem;
    cxxopts::Options options("recommend", description());
    options.add_options()
        ("r,run", "run directory (written by train)", cxxopts::value<std::string>())
        ("e,events", "event file ('-' = standard input)", cxxopts::value<std::string>()->default_value("-"))
        ("k,top", "items per recommendation", cxxopts::value<int>()->default_value("10"))
        ("include-seen", "also recommend items the user has already interacted with")
        ("print", "each (after every event) | query (only for '? user' lines)", cxxopts::value<std::string>()->default_value("each"))
        ("output", "text | json", cxxopts::value<std::string>()->default_value("text"))
        ("unknown", "an event with an unknown item: skip (warning on stderr) | stop (exit 1)",
         cxxopts::value<std::string>()->default_value("skip"))
        ("data", "seed users from an interaction log before the events: 'run' = the run's own dataset "
                 "(as config.json records it), or a file path (read with the run's data options); each user's "
                 "state is built on its first event or query", cxxopts::value<std::string>()->default_value(""))
        ("load-states", "start from the user states in this file", cxxopts::value<std::string>()->default_value(""))
        ("save-states", "write the user states to this file at the end (atomically)", cxxopts::value<std::string>()->default_value(""))
        ("save-every", "also save the states every N events (0 = only at the end)", cxxopts::value<int>()->default_value("0"))
        ("threads", "threads (0 = all cores; one user's event is small, 1 is usually fastest)",
         cxxopts::value<int>()->default_value("1"))
        ("bench", "benchmark incremental updates vs full recomputes instead of serving")
        ("bench-lengths", "history lengths of --bench", cxxopts::value<std::string>()->default_value("50,200,1000"))
        ("bench-events", "timed events per history length", cxxopts::value<int>()->default_value("200"))
        ("bench-models", "models of --bench without --run: ttt4rec, ttt4rec-linear, ttt4rec-mamba, ttt4rec-fe, gru4rec, sasrec",
         cxxopts::value<std::string>()->default_value("ttt4rec,ttt4rec-linear,ttt4rec-mamba,ttt4rec-fe,gru4rec,sasrec"))
        ("bench-items", "items of the models of --bench without --run", cxxopts::value<int>()->default_value("12101"))
        ("h,help", "print this help");
    int exit_code = 0;
    std::optional<cxxopts::ParseResult> parsed = parse_flags(options, argc, argv, exit_code);
    if (!parsed) return exit_code;
    const cxxopts::ParseResult& args = *parsed;

    const bool bench = args.count("bench") > 0;
    const std::string run_dir = args.count("run") ? args["run"].as<std::string>() : "";
    const std::string events = args["events"].as<std::string>(), data = args["data"].as<std::string>();
    const std::string load = args["load-states"].as<std::string>(), save = args["save-states"].as<std::string>();
    ServeOptions serve;
    OnlineBenchOptions bopt;
    int threads = 1;
    try {
        if (run_dir.empty() && !bench) throw std::invalid_argument("--run is required");
        if (!run_dir.empty())  // missing files are bad flags: report them before loading anything
            for (const char* file : {"config.json", "model.safetensors", "idmap.json"})
                if (!fs::is_regular_file(run_dir + "/" + file))
                    throw std::invalid_argument("--run " + run_dir + ": no " + file + " there (not a run directory with a finished epoch)");
        serve.top_k = positive(args, "top");
        serve.include_seen = args.count("include-seen") > 0;
        const std::string print = args["print"].as<std::string>(), output = args["output"].as<std::string>();
        const std::string unknown = args["unknown"].as<std::string>();
        if (print != "each" && print != "query") throw std::invalid_argument("--print must be each or query, got '" + print + "'");
        if (output != "text" && output != "json") throw std::invalid_argument("--output must be text or json, got '" + output + "'");
        if (unknown != "skip" && unknown != "stop") throw std::invalid_argument("--unknown must be skip or stop, got '" + unknown + "'");
        serve.print_each = print == "each";
        serve.json = output == "json";
        serve.unknown_stop = unknown == "stop";
        serve.save_every = non_negative(args, "save-every");
        serve.save_path = save;
        threads = non_negative(args, "threads");
        if (events != "-" && !fs::is_regular_file(events)) throw std::invalid_argument("--events: " + events + ": no such file");
        if (!data.empty() && data != "run" && !fs::is_regular_file(data)) throw std::invalid_argument("--data: " + data + ": no such file");
        if (!load.empty() && !fs::is_regular_file(load)) throw std::invalid_argument("--load-states: " + load + ": no such file");
        if (!save.empty()) {
            fs::path parent = fs::path(save).parent_path();
            if (!parent.empty() && !fs::is_directory(parent))
                throw std::invalid_argument("--save-states: the directory " + parent.string() + " does not exist");
        }
        if (serve.save_every > 0 && save.empty()) throw std::invalid_argument("--save-every needs --save-states");
        bopt.lengths = parse_list("bench-lengths", args["bench-lengths"].as<std::string>());
        bopt.events = positive(args, "bench-events");
        bopt.top_k = serve.top_k;
        positive(args, "bench-items");
    } catch (const std::exception& e) {
        return usage_error(options, e.what());
    }

    return run_reporting_errors([&] {
        tt::set_num_threads(threads);
        if (bench) {
            if (!run_dir.empty()) {
                LoadedRun run = load_run(run_dir);
                bench_online(*run.model, run.options.model.model + " (" + run_dir + ")", bopt, std::cout);
                return;
            }
            for (const auto& [label, cfg] : bench_models(args["bench-models"].as<std::string>(), args["bench-items"].as<int>())) {
                tt::Rng rng(1);
                auto m = tt::model::make_recommender(cfg, rng);
                bench_online(*m, label, bopt, std::cout);
            }
            return;
        }
        LoadedRun run = load_run(run_dir);
        Service service(*run.model, read_idmap(run_dir + "/idmap.json"), serve);
        if (!load.empty()) {
            service.load_states(load);
            std::cerr << "loaded the states of " << service.users().size() << " users from " << load << "\n";
        }
        if (!data.empty()) {
            DataOptions d = run.options.data;
            if (data != "run") d.path = data;
            tt::data::Dataset ds = load_data(d);
            std::cerr << service.add_histories(ds) << "\n";
        }
        if (events == "-") {
            service.run(std::cin, "<stdin>", std::cout, std::cerr, /*flush=*/true);
        } else {
            std::ifstream in(events);
            if (!in) throw std::runtime_error(events + ": cannot open");
            service.run(in, events, std::cout, std::cerr, /*flush=*/false);
        }
        std::cout.flush();
        if (!save.empty()) service.save_states(save);
        const ServeCounts& c = service.counts();
        std::cerr << c.events << " events, " << c.queries << " queries, " << c.skipped << " skipped (unknown items); "
                  << c.new_users << " new users, " << c.seeded_users << " seeded from --data"
                  << (save.empty() ? "" : "; states of " + std::to_string(service.users().size()) + " users saved to " + save)
                  << "\n";
    });
}
