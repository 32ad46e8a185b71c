// `compare` as a library call: several generations from one seed (prompts x guidance values x timestep schedules),
// one model load, each run's usual folder and analyses, then the comparison (analysis/compare.h).
#pragma once
#include <string>
#include <vector>

#include "diffscope/analysis/analyze.h"
#include "diffscope/analysis/compare.h"
#include "diffscope/analysis/summary.h"
#include "diffscope/study/generation.h"
#include "diffscope/study/session.h"

namespace diffscope {

struct CompareSpec {
  GenerationSpec base;                  ///< model, seed, steps, scheduler, size; base.out is the compare folder
  std::vector<std::string> prompts;     ///< empty = {base.prompt}
  std::vector<double> guidances;        ///< empty = {base.guidance}
  std::vector<std::string> schedules;   ///< timestep schedules: "default", "early:L", "late:L"; empty = {base's}
  bool analyze_runs = true;             ///< run every analysis in each run folder (the report shows them)
  AnalysisOptions analysis;
  CompareOptions compare;
};

/// One run of a comparison as it will be generated.
struct CompareRunPlan {
  std::string prompt, schedule, folder, label;
  double guidance = 0;
};

/// Every combination of prompt x guidance x schedule, in that nesting order, with labels naming only what varies
/// ("w=7", "early:3", the prompt). Error when fewer than two runs result or a value repeats.
std::vector<CompareRunPlan> plan_comparison(const CompareSpec& spec);

/// Generates each planned run into base.out/runs/NN with the same seed and initial noise (x0 of every step kept),
/// analyses it, compares them into base.out (tables/, plots/) and writes base.out/summary.json. The folder is
/// claimed as run folders are (refused when it holds earlier output unless base.overwrite).
Summary compare_study(const CompareSpec& spec, const Session& session);

/// One comparison per line of `groups_file` (read_prompt_groups: prompts separated by tabs), each into
/// base.out/NNN with spec's guidance values and schedules, one model load for all; base.out/groups.csv lists them
/// and base.out/summary.json holds every compare key's mean, std, n and 95% bootstrap interval over the groups.
Summary compare_groups(const CompareSpec& spec, const std::string& groups_file, const Session& session);

}  // namespace diffscope
