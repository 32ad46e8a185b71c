// Runs the registered analyses over a run folder and merges their keys into summary.json.
#include "diffscope/analysis/analyze.h"

#include "diffscope/analysis/registry.h"
#include "diffscope/analysis/run_folder.h"
#include "diffscope/analysis/summary.h"
#include "diffscope/util/error.h"

#include <spdlog/spdlog.h>


namespace diffscope {

std::map<std::string, double> run_analyses(const std::string& run_dir, const AnalysisOptions& o,
                                           const ModelSource& model, bool quiet) {
  std::vector<const Analysis*> selected;
  if (o.which.empty()) {
    for (const Analysis* a : registered_analyses())
      if (a->by_default) selected.push_back(a);
  } else {
    for (const auto& w : o.which) find_analysis(w);  // refuse unknown names before any work
    for (const Analysis* a : registered_analyses())
      if (o.which.count(a->name)) selected.push_back(a);
  }
  for (const Analysis* a : selected)
    if ((a->needs & kNeedsModel) && !model)
      throw Error("the " + a->name + " analysis runs the model: call it through diffscope " + a->name +
                  " or analyze (no model was given to this call)");
  const RunFolder run = RunFolder::load(run_dir, /*require_attention=*/false);
  if (!run.has_attention) {
    std::vector<const Analysis*> possible;
    for (const Analysis* a : selected) {
      if (!(a->needs & kNeedsAttention)) {
        possible.push_back(a);
      } else if (!o.which.empty()) {
        throw Error(run.path("run.json") + ": the " + a->name + " analysis needs attention maps, and this run has "
                    "none (it was generated with --no-attention or a plain export)");
      } else {
        spdlog::warn("{}: no attention maps (a --no-attention run): {} skipped", run_dir, a->name);
      }
    }
    selected = possible;
  }
  if (run.concepts.empty()) {  // a run without --concepts: the concepts analysis has nothing to read
    std::vector<const Analysis*> possible;
    for (const Analysis* a : selected) {
      if (!(a->needs & kNeedsConcepts)) possible.push_back(a);
      else if (!o.which.empty())
        throw Error(run.path("run.json") + ": the " + a->name + " analysis needs concept maps, and this run has none "
                    "(generate it with --concepts WORD,...)");
    }
    selected = possible;
  }
  const std::vector<int> steps = parse_steps(o.steps, run.steps);
  AnalysisKeys s;
  for (const Analysis* a : selected) a->run(AnalysisInput{run, o, steps, model, quiet}, s);

  Summary out;
  out.set_all(s);
  out.set_text("prompt", run.meta["inputs"].value("prompt", std::string()));
  out.set_count("seed", run.meta["inputs"].value("seed", int64_t{0}));
  out.merge_into(run.path("summary.json"));
  return s;
}

}  // namespace diffscope
