// The tolerance options shared by `check` and `baseline`: -t KEY=ABS, --rel KEY=REL, --tolerances FILE,
// --default-tolerance.
#pragma once
#include <CLI/CLI.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "diffscope/analysis/gate.h"
#include "diffscope/util/error.h"

namespace diffscope::cli {

struct ToleranceOptions {
  std::string file;
  std::vector<std::string> abs, rel;
  double default_abs = 1e-6;
  bool default_given = false;
};

inline void add_tolerance_options(CLI::App& app, const std::shared_ptr<ToleranceOptions>& t) {
  app.add_option("-t,--tolerance", t->abs, "KEY=VALUE absolute tolerance; KEY may end in * (prefix)");
  app.add_option("--rel", t->rel, "KEY=VALUE relative tolerance (of |baseline|); a key with both passes within the larger");
  app.add_option("--tolerances", t->file,
                 "tolerance file {\"default\": {\"abs\", \"rel\"}, \"keys\": {KEY: {\"abs\", \"rel\"}}}; -t/--rel override it")
      ->check(CLI::ExistingFile);
  app.add_option("--default-tolerance", t->default_abs, "absolute tolerance for keys without one")
      ->default_val(1e-6)
      // refused where it is declared, before any input is read (a parse error is CLI11's own message)
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            try {
              return std::stod(v) >= 0 ? "" : "expected a finite number >= 0, got " + v;
            } catch (const std::exception&) {
              return "";
            }
          },
          "NONNEGATIVE"))
      ->each([t](const std::string&) { t->default_given = true; });
}

/// KEY=VALUE with VALUE a finite number; `what` says what VALUE must be beyond that.
inline std::pair<std::string, double> key_number(const std::string& option, const std::string& t, const std::string& what) {
  const auto eq = t.find('=');
  double v = 0;
  try {
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument(t);
    size_t used = 0;
    const std::string num = t.substr(eq + 1);
    v = std::stod(num, &used);
    if (used != num.size()) throw std::invalid_argument(t);
  } catch (const std::exception&) {
    throw Error(option + " " + t + ": expected KEY=VALUE with VALUE " + what + " (KEY may end in * to match a prefix)");
  }
  if (!std::isfinite(v)) throw Error(option + " " + t + ": VALUE must be finite (" + what + ")");
  return {t.substr(0, eq), v};
}

/// KEY=VALUE with VALUE a finite number >= 0.
inline std::pair<std::string, double> tolerance_key_value(const std::string& option, const std::string& t) {
  auto kv = key_number(option, t, "a finite number >= 0");
  checked_tolerance(kv.second, option + " " + t);
  return kv;
}

/// The tolerances in force: `base` (a baseline's own, when it has them), then the file, then -t/--rel, then
/// --default-tolerance when given (or when nothing else set a default).
inline Tolerances resolve_tolerances(const ToleranceOptions& o, const Tolerances* base) {
  Tolerances tol = base ? *base : Tolerances{};
  if (!o.file.empty()) tol.override_with(Tolerances::load(o.file), true);
  if (o.default_given || (!base && o.file.empty()))
    tol.fallback = Tolerance{checked_tolerance(o.default_abs, "--default-tolerance"), 0.0};
  for (const auto& t : o.abs) {
    const auto [k, v] = tolerance_key_value("--tolerance", t);
    tol.keys[k].abs = v;
  }
  for (const auto& t : o.rel) {
    const auto [k, v] = tolerance_key_value("--rel", t);
    tol.keys[k].rel = v;
  }
  return tol;
}

}  // namespace diffscope::cli
