// `diffscope check`: the regression gate between two summary.json files (or a summary and a baseline file).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/tolerance_options.h"
#include "diffscope/analysis/gate.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"

namespace diffscope::cli {
namespace {

struct Opts {
  std::string summary, baseline, junit, markdown, suite = "diffscope";
  std::vector<std::string> mins, less;
  std::shared_ptr<ToleranceOptions> tol = std::make_shared<ToleranceOptions>();
  bool quiet = false, markdown_all = false;
};

GateBars parse_bars(const Opts& o) {
  GateBars bars;
  for (const auto& m : o.mins) {
    const auto eq = m.find('=');
    try {
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument(m);
      size_t used = 0;
      const std::string num = m.substr(eq + 1);
      const double v = std::stod(num, &used);
      if (used != num.size()) throw std::invalid_argument(m);
      bars.mins.emplace_back(m.substr(0, eq), v);
    } catch (const std::exception&) {
      throw Error("--min " + m + ": expected KEY=VALUE");
    }
  }
  for (const auto& l : o.less) {
    const auto lt = l.find('<');
    if (lt == std::string::npos || lt == 0 || lt + 1 == l.size()) throw Error("--less " + l + ": expected KEY_A<KEY_B");
    bars.less.emplace_back(l.substr(0, lt), l.substr(lt + 1));
  }
  return bars;
}

int run(const Opts& o) {
  if (o.baseline.empty() && o.mins.empty() && o.less.empty())
    throw Error("check: give --baseline, --min or --less (any combination)");
  const auto cur = flatten_numbers(o.summary);
  const Baseline base = o.baseline.empty() ? Baseline{} : Baseline::load(o.baseline);
  const Tolerances tol = resolve_tolerances(*o.tol, base.has_tolerances ? &base.tolerances : nullptr);
  const GateBars bars = parse_bars(o);
  const auto results = run_gate(cur, o.baseline.empty() ? nullptr : &base, tol, bars);
  size_t moved = 0;
  for (const auto& r : results) {
    if (r.status == GateStatus::Pass) continue;
    moved += !r.bar;
    std::printf("%-8s %s\n", gate_status_name(r.status).c_str(), r.message.c_str());
  }
  if (!o.quiet && !o.baseline.empty())
    std::printf("%zu of %zu metrics moved beyond tolerance\n", moved, base.metrics.size());
  if (!o.junit.empty()) write_file_atomic(o.junit, gate_junit(results, o.suite));
  if (!o.markdown.empty()) {
    const std::string md = gate_markdown(results, o.markdown_all);
    if (o.markdown == "-") std::fputs(md.c_str(), stdout);
    else write_file_atomic(o.markdown, md);
  }
  return gate_failed(results) ? 1 : 0;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("-s,--summary", o->summary, "summary.json of the run under test")->required();
  app.add_option("-b,--baseline", o->baseline,
                 "a baseline file from diffscope baseline (metrics and their tolerances), or a summary.json");
  app.add_option("--min", o->mins, "KEY=VALUE: also fail when the current value is below VALUE (absolute bars)");
  app.add_option("--less", o->less,
                 "KEY_A<KEY_B: also fail unless KEY_A is below KEY_B (relative bars, e.g. against a baseline method)");
  add_tolerance_options(app, o->tol);
  app.add_option("--junit", o->junit, "also write JUnit XML here: one test case per metric and bar (CI test reports)");
  app.add_option("--markdown", o->markdown,
                 "also write a markdown summary here (- for stdout), e.g. >> $GITHUB_STEP_SUMMARY");
  app.add_flag("--markdown-all", o->markdown_all, "the markdown table lists every metric, not only the failures");
  app.add_option("--suite", o->suite, "the JUnit test suite's name")->default_val("diffscope");
  app.add_flag("-q,--quiet", o->quiet, "only the moved metrics");
  add_examples(app, {"diffscope check -s runs/new/summary.json -b baselines/summary.json -t 'auc.*=0.02'",
                     "diffscope check -s a.json -b b.json --default-tolerance 0.01 -t binding.mean=0.05",
                     "diffscope check -s run/summary.json -b base.json --tolerances tests/baselines/shapes-v1-tolerances.json",
                     "diffscope check -s run/summary.json -b baseline.json --junit gate.xml --markdown - >> \"$GITHUB_STEP_SUMMARY\"",
                     "diffscope check -s set/summary.json --less 'saliency.df-rise.deletion_auc.mean<saliency.random.deletion_auc.mean'"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"check", "regression gate: exit 1 when metrics moved beyond tolerance (2: unreadable input)", 70,
                   setup});

}  // namespace
}  // namespace diffscope::cli
