// `analyze` as a library call: a captured generation followed by the run-folder analyses, for one prompt or a
// prompt set.
#pragma once
#include <map>
#include <string>

#include "diffscope/analysis/analyze.h"
#include "diffscope/analysis/summary.h"
#include "diffscope/study/generation.h"
#include "diffscope/study/session.h"

namespace diffscope {

/// Runs the selected registered analyses (options.which; empty: those that run by default) on an existing run folder
/// and merges their keys into its summary.json. Analyses that run the denoiser (saliency, relevance) get the package
/// options.model_dir, else the one run.json names, loaded once and only when one of them is selected.
std::map<std::string, double> analyze_folder(const std::string& run_dir, const AnalysisOptions& options,
                                             const Session& session);

/// Generates spec.out and runs the selected analyses on it (the model loaded once for both); returns the summary
/// keys they wrote.
std::map<std::string, double> analyze_run(const GenerationSpec& spec, const AnalysisOptions& options,
                                          const Session& session);

/// Every prompt of `prompts_file` (seeds default to base.seed) into base.out/NNN, then base.out/prompts.csv and
/// base.out/summary.json: KEY.mean, KEY.std, KEY.n over the runs for every key, per word class
/// (auc.class.<class>.roc_auc/ap/iou.*) and "prompts". Returns that summary.
Summary analyze_prompt_set(const GenerationSpec& base, const std::string& prompts_file, const AnalysisOptions& options,
                           const Session& session);

}  // namespace diffscope
