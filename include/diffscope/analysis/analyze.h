// The analyses of issue "Interpretability analyses" run over a run folder, writing tables, figures and
// summary.json (headline numbers under stable dotted keys), plus the regression check between summaries.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace diffscope {

class Model;  // engine/model.h: the loaded package, for the analyses that run the denoiser (registered in study/)

/// Step saliency (the saliency analysis): which step, which methods, how many masks.
struct SaliencyOptions {
  std::vector<std::string> methods{"attention", "df-rise", "df-cam"};  ///< a random baseline is always added
  std::string word;                     ///< also this word's attention map as a saliency
  std::string similarity = "structure";
  std::optional<int> step;              ///< the step to explain; unset: step_frac of the run
  std::string steps;                    ///< several steps in one call: "0,6,12", "all", "A:B", "0.0:0.5"
  double step_frac = 0.5;
  int samples = 500, batch = 16, k = 64;
  uint64_t seed = 0;                    ///< masks and the random baseline
  int mask_seeds = 1;                   ///< df-rise and random repeated with seeds seed..seed+N-1: keys are means, _sd
};

struct AnalysisOptions {
  std::set<std::string> which;        ///< registered analyses to run (registry.h); empty = all
  std::string steps = "all";          ///< steps aggregated into the word maps
  std::string normalize = "word";     ///< heatmap normalisation: word or global
  std::string colormap = "turbo";
  double threshold = 0.4;             ///< IoU threshold on normalised maps (DAAM)
  std::string masks_dir;              ///< one <word>.png per word; else concepts.json segmentation if the model has it
  std::vector<std::string> nouns, attributes;  ///< binding: override concepts.json's shape / colour+size words
  std::vector<int> x0_overlay_steps;
  int figure_size = 256;              ///< heatmap figures: longer side at least this many pixels
  std::string grid_steps;             ///< steps of the word x timestep grid (empty: evenly spaced)
  bool per_step_auc = true;
  std::string select_layers;          ///< layers analysis: score this selection of the kept per-layer maps
  std::string select_heads;           ///< layers analysis: ... of the kept per-head maps (with select_layers' layers)
  SaliencyOptions saliency;           ///< the saliency analysis
  std::string model_dir;              ///< analyses that run the denoiser: this package (default: the run's own)
};

/// The loaded package, for analyses that need the model (kNeedsModel); loaded on first call. The study layer
/// provides it (study/analysis_study.h); without one, such analyses are refused by name.
using ModelSource = std::function<const Model&()>;

/// Runs the selected registered analyses on `run_dir` (in registry order; options.which empty: every analysis that
/// runs by default) and merges their keys into run_dir/summary.json. Returns the summary's keys written by this call.
/// `quiet`: no progress bars (the model-needing analyses report progress).
std::map<std::string, double> run_analyses(const std::string& run_dir, const AnalysisOptions& options,
                                           const ModelSource& model = {}, bool quiet = false);

}  // namespace diffscope
