// Internal to the study layer: the LibTorch-side helpers its public (LibTorch-free) calls share.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "diffscope/analysis/run_folder.h"
#include "diffscope/engine/model.h"
#include "diffscope/explain/saliency.h"
#include "diffscope/study/generation.h"
#include "diffscope/study/prompt_set.h"
#include "diffscope/study/saliency_study.h"
#include "diffscope/study/session.h"

namespace diffscope::study {

/// Applies the session's threads and loads the package onto its (checked) device.
Model load_model(const std::string& dir, const Session& session);

/// generate_run on an already loaded model (prompt sets load it once).
std::string generate_with(const Model& model, const GenerationSpec& spec, const Session& session,
                          const std::string& command);

/// Several generations that share one denoising loop (engine generate_batch): each gets its own run folder, claimed
/// and checked before any work, exactly as generate_with would write it alone (plus run.json "batch").
std::vector<std::string> generate_batch_with(const Model& model, const std::vector<GenerationSpec>& specs,
                                             const Session& session, const std::string& command);

/// The one prompt-set loop: for each item, `base` with the item's seed and prompt is generated into
/// root/<item.folder> (quietly when `quiet_runs`), then `per_run(item, run_dir)` analyses it. session.batch_size
/// prompts at a time share one denoiser call per step.
void for_each_prompt(const Model& model, const GenerationSpec& base, const std::vector<PromptItem>& items,
                     const std::string& root, const Session& session, const std::string& command, bool quiet_runs,
                     const std::function<void(const PromptItem&, const std::string&)>& per_run);

/// One denoising step of a recorded run, reconstructed for step saliency (x_t from latents.npy, the prompt context).
StepContext load_step(const Model& model, const RunFolder& run, int step);

/// analyze_folder with an already loaded model (`loaded`; null: loaded from the run's package when needed).
std::map<std::string, double> analyze_folder_with(const Model* loaded, const std::string& run_dir,
                                                  const AnalysisOptions& options, const Session& session);

/// The package folder a run was generated with (or `override_dir` when given).
std::string run_model_dir(const RunFolder& run, const std::string& override_dir);

}  // namespace diffscope::study
