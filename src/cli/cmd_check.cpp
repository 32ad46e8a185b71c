// `diffscope check`: the regression gate between two summary.json files.
#include <cmath>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "diffscope/util/error.h"
#include "diffscope/analysis/gate.h"

namespace diffscope::cli {
namespace {

struct Opts {
  std::string summary, baseline, tolerance_file;
  std::vector<std::string> tolerances, rel_tolerances, mins, less;
  double default_tolerance = 1e-6;
  bool default_given = false;
  bool quiet = false;
};

/// KEY=VALUE with VALUE a number >= 0.
std::pair<std::string, double> key_value(const std::string& option, const std::string& t) {
  const auto eq = t.find('=');
  try {
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument(t);
    size_t used = 0;
    const std::string num = t.substr(eq + 1);
    const double v = std::stod(num, &used);
    if (used != num.size() || !(v >= 0)) throw std::invalid_argument(t);
    return {t.substr(0, eq), v};
  } catch (const std::exception&) {
    throw Error(option + " " + t + ": expected KEY=VALUE with VALUE >= 0 (KEY may end in * to match a prefix)");
  }
}

int run(const Opts& o) {
  // the file first, then the command line: -t sets a key's absolute part, --rel its relative part
  Tolerances tol = o.tolerance_file.empty() ? Tolerances{} : Tolerances::load(o.tolerance_file);
  if (o.default_given || o.tolerance_file.empty()) tol.fallback = Tolerance{o.default_tolerance, 0.0};
  for (const auto& t : o.tolerances) {
    const auto [k, v] = key_value("--tolerance", t);
    tol.keys[k].abs = v;
  }
  for (const auto& t : o.rel_tolerances) {
    const auto [k, v] = key_value("--rel", t);
    tol.keys[k].rel = v;
  }
  const auto cur = flatten_numbers(o.summary);
  if (o.baseline.empty() && o.mins.empty() && o.less.empty())
    throw Error("check: give --baseline, --min or --less (any combination)");
  const auto base = o.baseline.empty() ? std::map<std::string, double>{} : flatten_numbers(o.baseline);
  const auto moved = o.baseline.empty() ? std::vector<Moved>{} : compare_summaries(cur, base, tol);
  int below = 0;
  for (const auto& m : o.mins) {
    const auto eq = m.find('=');
    double bound = 0;
    try {
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument(m);
      bound = std::stod(m.substr(eq + 1));
    } catch (const std::exception&) {
      throw Error("--min " + m + ": expected KEY=VALUE");
    }
    const std::string key = m.substr(0, eq);
    auto it = cur.find(key);
    if (it == cur.end() || !(it->second >= bound)) {
      std::printf("BELOW   %s = %.6g (minimum %.6g)\n", key.c_str(), it == cur.end() ? NAN : it->second, bound);
      ++below;
    }
  }
  for (const auto& l : o.less) {
    const auto lt = l.find('<');
    if (lt == std::string::npos || lt == 0 || lt + 1 == l.size())
      throw Error("--less " + l + ": expected KEY_A<KEY_B");
    const std::string a = l.substr(0, lt), b = l.substr(lt + 1);
    const auto ia = cur.find(a), ib = cur.find(b);
    const double va = ia == cur.end() ? NAN : ia->second, vb = ib == cur.end() ? NAN : ib->second;
    if (!(va < vb)) {
      std::printf("NOT LESS %s = %.6g, %s = %.6g\n", a.c_str(), va, b.c_str(), vb);
      ++below;
    }
  }
  for (const auto& m : moved) {
    if (std::isnan(m.current) && !std::isnan(m.baseline)) {
      std::printf("MISSING %s (baseline %.6g)\n", m.key.c_str(), m.baseline);
    } else if (std::isnan(m.baseline) && !std::isnan(m.current) && !base.count(m.key)) {
      std::printf("NEW     %s = %.6g (not in the baseline)\n", m.key.c_str(), m.current);
    } else {
      std::printf("MOVED   %s: %.6g -> %.6g (change %+.3g, tolerance %.3g)\n", m.key.c_str(), m.baseline, m.current,
                  m.current - m.baseline, m.tolerance);
    }
  }
  if (!o.quiet) std::printf("%zu of %zu metrics moved beyond tolerance\n", moved.size(), base.size());
  return moved.empty() && below == 0 ? 0 : 1;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("-s,--summary", o->summary, "summary.json of the run under test")->required();
  app.add_option("-b,--baseline", o->baseline, "summary.json to compare against");
  app.add_option("--min", o->mins, "KEY=VALUE: also fail when the current value is below VALUE (absolute bars)");
  app.add_option("--less", o->less,
                 "KEY_A<KEY_B: also fail unless KEY_A is below KEY_B (relative bars, e.g. against a baseline method)");
  app.add_option("-t,--tolerance", o->tolerances, "KEY=VALUE absolute tolerance; KEY may end in * (prefix)");
  app.add_option("--rel", o->rel_tolerances,
                 "KEY=VALUE relative tolerance (of |baseline|); a key with both passes within the larger");
  app.add_option("--tolerances", o->tolerance_file,
                 "tolerance file {\"default\": {\"abs\", \"rel\"}, \"keys\": {KEY: {\"abs\", \"rel\"}}}; "
                 "-t/--rel override it")
      ->check(CLI::ExistingFile);
  app.add_option("--default-tolerance", o->default_tolerance, "absolute tolerance for keys without one")
      ->default_val(1e-6)
      ->each([o](const std::string&) { o->default_given = true; });
  app.add_flag("-q,--quiet", o->quiet, "only the moved metrics");
  add_examples(app, {"diffscope check -s runs/new/summary.json -b baselines/summary.json -t 'auc.*=0.02'",
                     "diffscope check -s a.json -b b.json --default-tolerance 0.01 -t binding.mean=0.05",
                     "diffscope check -s run/summary.json -b base.json --tolerances tests/baselines/shapes-v1-tolerances.json",
                     "diffscope check -s set/summary.json --less 'saliency.df-rise.deletion_auc.mean<saliency.random.deletion_auc.mean'"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"check", "regression gate: exit 1 when metrics moved beyond tolerance (2: unreadable input)", 70,
                   setup});

}  // namespace
}  // namespace diffscope::cli
