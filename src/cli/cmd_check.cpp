// `diffscope check`: the regression gate between two summary.json files (or a summary and a baseline file).
#include <cmath>
#include <cstdio>
#include <filesystem>
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
  std::vector<std::string> mins, less, keys;
  std::shared_ptr<ToleranceOptions> tol = std::make_shared<ToleranceOptions>();
  bool quiet = false, markdown_all = false, paired = false;
  GatePolicy policy;
};

GateBars parse_bars(const Opts& o) {
  GateBars bars;
  for (const auto& m : o.mins) {
    auto kv = key_number("--min", m, "a finite number");
    if (kv.first.back() == '*') throw Error("--min " + m + ": KEY must be one metric, not a prefix");
    bars.mins.push_back(std::move(kv));
  }
  for (const auto& l : o.less) {
    const auto lt = l.find('<');
    if (lt == std::string::npos || lt == 0 || lt + 1 == l.size() || l.find('<', lt + 1) != std::string::npos)
      throw Error("--less " + l + ": expected KEY_A<KEY_B (two metric keys, one '<')");
    bars.less.emplace_back(l.substr(0, lt), l.substr(lt + 1));
  }
  return bars;
}

/// The summary.json that metrics and bars are read from: -s itself, or the summary.json of the folder -s names.
std::string summary_file(const std::string& s) {
  return std::filesystem::is_regular_file(s + "/summary.json") ? s + "/summary.json" : s;
}

int run(const Opts& o) {
  if (o.baseline.empty() && o.mins.empty() && o.less.empty())
    throw Error("check: give --baseline, --min or --less (any combination)");
  if (o.paired && o.baseline.empty()) throw Error("check --paired: give --baseline, the set the run set is paired with");
  const GateBars bars = parse_bars(o);
  std::vector<GateResult> results;
  if (o.paired) {
    const RunSet before = load_run_set(o.baseline), after = load_run_set(o.summary);
    results = select_keys(run_paired_gate(after, before, resolve_tolerances(*o.tol, nullptr), o.policy), o.keys);
    if (!bars.mins.empty() || !bars.less.empty()) {
      const auto bar_results = run_gate(flatten_numbers(summary_file(o.summary)), nullptr, Tolerances{}, bars);
      results.insert(results.end(), bar_results.begin(), bar_results.end());
    }
  } else {
    const auto cur = flatten_numbers(summary_file(o.summary));
    const Baseline base = o.baseline.empty() ? Baseline{} : Baseline::load(o.baseline);
    const Tolerances tol = resolve_tolerances(*o.tol, base.has_tolerances ? &base.tolerances : nullptr);
    results = select_keys(run_gate(cur, o.baseline.empty() ? nullptr : &base, tol, bars, o.policy), o.keys);
  }
  if (!o.keys.empty()) {
    size_t gated = 0;
    for (const auto& r : results) gated += !r.bar;
    if (!gated) throw Error("--keys: no metric of the baseline or the run matches");
  }
  for (const auto& r : results) {
    if (!r.fails && r.status != GateStatus::Missing) continue;  // new keys are counted in the last line
    std::printf("%-9s %s\n", gate_status_name(r.status).c_str(), r.message.c_str());
  }
  if (!o.quiet) std::printf("%s\n", gate_summary_line(results).c_str());
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
  app.add_option("-s,--summary", o->summary,
                 "summary.json of the run under test (with --paired: the set's folder, its summary.json or runs.jsonl)")
      ->required();
  app.add_option("-b,--baseline", o->baseline,
                 "a baseline file from diffscope baseline (metrics and their tolerances), or a summary.json; it defines "
                 "what is gated (with --paired: the set before the change)");
  app.add_flag("--paired", o->paired,
               "-s and -b are two prompt sets or batches run on the same prompts and seeds: gate each key on the mean "
               "per-pair difference, failing only when its 95% bootstrap interval lies wholly beyond the tolerance");
  app.add_option("--keys", o->keys, "gate only these keys (KEY or PREFIX*, repeatable)");
  app.add_flag("--allow-missing", o->policy.allow_missing,
               "a baseline key missing from the run passes (listed as missing) instead of failing");
  app.add_flag("--fail-on-new", o->policy.fail_on_new,
               "a run key that the baseline lacks fails (strict mode; by default new keys are listed, not gated)");
  app.add_option("--min", o->mins, "KEY=VALUE: also fail when the current value is below VALUE (absolute bars)");
  app.add_option("--less", o->less,
                 "KEY_A<KEY_B: also fail unless KEY_A is below KEY_B (relative bars, e.g. against a baseline method)");
  add_tolerance_options(app, o->tol);
  app.add_option("--junit", o->junit, "also write JUnit XML here: one test case per metric and bar (CI test reports)");
  app.add_option("--markdown", o->markdown,
                 "also write a markdown summary here (- for stdout), e.g. >> $GITHUB_STEP_SUMMARY");
  app.add_flag("--markdown-all", o->markdown_all, "the markdown table lists every metric, not only the failures");
  app.add_option("--suite", o->suite, "the JUnit test suite's name")->default_val("diffscope");
  app.add_flag("-q,--quiet", o->quiet, "only the failures and missing keys, no count line");
  add_examples(app, {"diffscope check -s runs/new/summary.json -b baselines/summary.json -t 'auc.*=0.02'",
                     "diffscope check -s a.json -b b.json --default-tolerance 0.01 -t binding.mean=0.05",
                     "diffscope check -s run/summary.json -b base.json --tolerances tests/baselines/shapes-v1-tolerances.json",
                     "diffscope check -s run/summary.json -b baseline.json --junit gate.xml --markdown - >> \"$GITHUB_STEP_SUMMARY\"",
                     "diffscope check --paired -s after/prompt-set -b before/prompt-set --rel 'auc.*=0.01'",
                     "diffscope check -s set/summary.json --less 'saliency.df-rise.deletion_auc.mean<saliency.random.deletion_auc.mean'"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"check", "regression gate: exit 1 when gated metrics moved beyond tolerance (2: bad input)", 70,
                   setup});

}  // namespace
}  // namespace diffscope::cli
