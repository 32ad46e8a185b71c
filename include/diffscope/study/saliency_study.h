// Step saliency (DF-RISE, DF-CAM, attention; insertion/deletion AUC against a random order) and per-step word
// relevance, as library calls on a run folder or a prompt set.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diffscope/analysis/analyze.h"  // SaliencyOptions
#include "diffscope/analysis/summary.h"
#include "diffscope/study/generation.h"
#include "diffscope/study/session.h"

namespace diffscope {

/// The saliency analysis (registered: `analyze --analyses saliency`, batch lines' "saliency") on one run folder.
/// Explains one step of the run in `run_dir` (model: `model_dir`, else the one run.json names): maps, curves and
/// AUCs under run_dir/saliency/step_NNN/, keys saliency.step_NNN.<method>.* merged into run_dir/summary.json (with
/// mask_seeds > 1: means over the seeds, their _sd, mask_seeds.csv and the best-method agreement); DF-RISE's
/// convergence in the number of masks in df-rise_convergence.{csv,npy}. With
/// options.steps, every listed step in one call (the model loaded once), plus the step x method table
/// saliency/over_steps.csv and the AUC-against-step figures saliency/{deletion,insertion}_over_steps.png.
void saliency_run(const std::string& run_dir, const std::string& model_dir, const SaliencyOptions& options,
                  const Session& session);

/// Generates every prompt of `prompts_file` from `base` into out/NNN, explains the chosen step of each, and writes
/// out/saliency_prompts.csv, the mean curves and out/summary.json (saliency.<method>.{deletion,insertion}_auc
/// {,_raw}.{mean,std,n} and .mean_curve: the normalised AUC of the mean curve). With options.steps, every listed
/// step of each run: keys saliency.step_NNN.<method>.*, out/over_steps.csv (means and 95% bootstrap intervals per
/// step and method) and out/{deletion,insertion}_over_steps.png. Returns that summary.
Summary saliency_prompt_set(const GenerationSpec& base, const std::string& prompts_file, const std::string& out,
                            const SaliencyOptions& options, const Session& session);

/// The relevance analysis (registered: `diffscope relevance --run DIR`, `analyze --analyses relevance`).
/// Per step, each word's gradient x attention relevance share: tables/relevance.csv, plots/relevance.png and
/// relevance.<word>.peak_step in summary.json.
void relevance_run(const std::string& run_dir, const std::string& model_dir, const Session& session);

}  // namespace diffscope
