// apps/cli.hpp — the flags apps/train and apps/eval share (data, model, evaluation), their
// validation, and the error-reporting convention of every app: bad flags -> message + usage on
// stderr, exit 2; a failure while running -> "error: ..." on stderr, exit 1.
#pragma once

#include <cxxopts.hpp>
#include <functional>
#include <optional>
#include <string>

#include "apps/runner.hpp"

namespace tt::app {

void add_data_flags(cxxopts::Options& options);
void add_model_flags(cxxopts::Options& options);
void add_eval_flags(cxxopts::Options& options);

// Each throws std::invalid_argument naming the flag when a value is impossible.
DataOptions data_options(const cxxopts::ParseResult& args);
model::RecConfig model_options(const cxxopts::ParseResult& args);  // defaults of --model, then overrides
EvalOptions eval_options(const cxxopts::ParseResult& args);
int positive(const cxxopts::ParseResult& args, const std::string& flag);
int non_negative(const cxxopts::ParseResult& args, const std::string& flag);

int usage_error(const cxxopts::Options& options, const std::string& message);  // returns 2
// Parses the command line. Returns the flags, or nullopt with `exit_code` set when main should
// return at once: --help printed (0), or a parse error / unexpected argument reported (2).
std::optional<cxxopts::ParseResult> parse_flags(cxxopts::Options& options, int argc, char** argv, int& exit_code);
int run_reporting_errors(const std::function<void()>& body);                    // 0 or 1

}  // namespace tt::app
