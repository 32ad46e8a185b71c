// Subcommand registration for the diffscope CLI: each cmd_*.cpp registers itself with DIFFSCOPE_COMMAND.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "diffscope/study/session.h"

namespace diffscope::cli {

/// Options every subcommand that runs a model takes: --threads, --device, --quiet (the library's Session).
using CommonOptions = Session;

/// Returned by a command's setup: runs the parsed command and returns the exit code.
using Runner = std::function<int()>;

/// A subcommand: `setup` adds its options to the CLI11 sub-app and returns the runner.
struct Command {
  std::string name, summary;
  int order;                                  ///< position in `diffscope --help`
  std::function<Runner(CLI::App&)> setup;
};

int register_command(Command c);
const std::vector<Command>& commands();
/// One command per registered analysis (`diffscope <analysis> --run DIR`).
std::vector<Command> analysis_commands();

/// Adds --threads, --device, --quiet to `app`.
void add_common_options(CLI::App& app, CommonOptions& o);
/// Applies them: logging level, LibTorch threads; returns the checked device string.
std::string apply_common_options(const CommonOptions& o);
/// Sets --quiet logging only (for commands that run no model).
void apply_quiet(bool quiet);
/// --seed values: decimal integers 0..2^63-1 (torch's generators take seeds as int64 here; larger values are refused,
/// never clamped or wrapped).
const CLI::Validator& seed_range();
/// Numbers that are finite and in [lo, hi] ("nan", "inf" refused: CLI11's Range lets NaN through). The error names
/// the option (CLI11 prefixes it) and the range: "--eta: expected 0..1, got nan"; `what` goes before the range
/// ("a fraction": "--step-frac: expected a fraction 0..1, got 2").
CLI::Validator finite_range(double lo, double hi, const std::string& what = "");
/// Finite numbers > 0 and at most `hi` (a learning rate, an L2 strength).
CLI::Validator positive_finite(double hi);
/// A non-empty value (a list option given "" selects nothing: refused rather than read as "all").
const CLI::Validator& non_empty();
/// A colour map diffscope draws with (turbo, jet, viridis, inferno, gray), refused at parse time.
const CLI::Validator& colormap_name();
/// Every FLOAT option of `app` and its subcommands, at any depth, refuses NaN and infinities (a finite_range(-inf,
/// inf) check added to each): run once on the whole CLI after every command is declared, so a new option cannot forget.
void require_finite_floats(CLI::App& app);
/// Adds a "Examples:" footer.
void add_examples(CLI::App& app, const std::vector<std::string>& lines);

}  // namespace diffscope::cli

#define DIFFSCOPE_CONCAT2(a, b) a##b
#define DIFFSCOPE_CONCAT(a, b) DIFFSCOPE_CONCAT2(a, b)
/// Registers a command at static-initialisation time: DIFFSCOPE_COMMAND({"name", "summary", 10, setup_fn});
#define DIFFSCOPE_COMMAND(...) \
  static const int DIFFSCOPE_CONCAT(ds_command_, __LINE__) = ::diffscope::cli::register_command(__VA_ARGS__)
