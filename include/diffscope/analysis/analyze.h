// The analyses of issue "Interpretability analyses" run over a run folder, writing tables, figures and
// summary.json (headline numbers under stable dotted keys), plus the regression check between summaries.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

namespace diffscope {

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
};

/// Runs the selected registered analyses on `run_dir` (in registry order) and merges their keys into run_dir/summary.json.
/// Returns the summary's keys written by this call.
std::map<std::string, double> run_analyses(const std::string& run_dir, const AnalysisOptions& options);

}  // namespace diffscope
