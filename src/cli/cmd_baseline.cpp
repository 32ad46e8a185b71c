// `diffscope baseline`: writes a baseline file (metrics and their tolerances) from a summary.json, the deliberate
// update of a regression gate.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "cli/tolerance_options.h"
#include "diffscope/analysis/gate.h"
#include "diffscope/util/error.h"

namespace diffscope::cli {
namespace {

struct Opts {
  std::string summary, out, about;
  std::vector<std::string> keys;
  std::shared_ptr<ToleranceOptions> tol = std::make_shared<ToleranceOptions>();
  bool overwrite = false, quiet = false;
};

/// KEY or PREFIX* patterns; empty keeps everything.
bool selected(const std::string& key, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  for (const auto& p : patterns) {
    if (!p.empty() && p.back() == '*' ? key.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0 : key == p) return true;
  }
  return false;
}

int run(const Opts& o) {
  if (std::filesystem::exists(o.out) && !o.overwrite)
    throw Error("--out " + o.out + ": exists (give --overwrite to replace the baseline deliberately)");
  Baseline b;
  for (const auto& [k, v] : flatten_numbers(o.summary))
    if (selected(k, o.keys)) b.metrics[k] = v;
  if (b.metrics.empty()) throw Error("baseline: no metric of " + o.summary + " matches --keys");
  for (const auto& p : o.keys) {
    bool any = false;
    for (const auto& [k, v] : b.metrics) any |= selected(k, {p});
    if (!any) throw Error("--keys " + p + ": matches no metric of " + o.summary);
  }
  b.tolerances = resolve_tolerances(*o.tol, nullptr);
  b.has_tolerances = true;
  b.write(o.out, o.summary, o.about);
  if (!o.quiet)
    std::printf("baseline         %s (%zu metrics, default tolerance abs %g rel %g, %zu key tolerances)\n",
                o.out.c_str(), b.metrics.size(), b.tolerances.fallback.abs, b.tolerances.fallback.rel,
                b.tolerances.keys.size());
  return 0;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("-s,--summary", o->summary, "summary.json to take the metrics from")->required()->check(CLI::ExistingFile);
  app.add_option("-o,--out", o->out, "the baseline file to write")->required();
  app.add_option("--keys", o->keys, "only these keys (KEY or PREFIX*, repeatable)");
  add_tolerance_options(app, o->tol);
  app.add_option("--about", o->about, "a note stored in the file (what, when, why)");
  app.add_flag("--overwrite", o->overwrite, "replace an existing baseline file");
  app.add_flag("-q,--quiet", o->quiet, "print nothing on success");
  add_examples(app, {"diffscope baseline -s runs/demo/summary.json -o baselines/demo.json --tolerances tol.json",
                     "diffscope baseline -s set/summary.json -o base.json --keys 'auc.*' --rel 'auc.*=0.01' "
                     "--default-tolerance 1e-4 --about 'shapes-v1, 20 prompts'"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"baseline", "write a regression baseline (metrics + tolerances) from a summary.json, for check -b", 71,
                   setup});

}  // namespace
}  // namespace diffscope::cli
