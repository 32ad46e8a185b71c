// Comparing runs that share a seed (Diffusion Explainer): prompts, guidance values or timestep schedules side by
// side over the denoising steps. Reads finished run folders; writes the comparison's tables, figures and keys.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace diffscope {

/// One run of a comparison: its folder and the label shown in figures and tables.
struct CompareInput {
  std::string dir;
  std::string label;
};

struct CompareOptions {
  /// Two runs "stay apart" from the first step after which their x0 distance never falls below this fraction of
  /// their final distance; they "stay together" from the first step after which it never rises above this
  /// fraction of its largest value. Runs that end together have no stay-apart step (-1).
  double fraction = 0.5;
  int filmstrip_columns = 8;  ///< steps shown in the filmstrip and difference grids (the last step included)
  int cell_px = 128;          ///< figure cell size (small images are upscaled with nearest neighbours)
};

/// Per step k (0-based) and every pair of runs: pixel RMSE between their x0 estimates (RGB in [0,1], from
/// steps/x0_NNN.png) and latent RMSE between the latents after step k (latents.npy). Per run: pixel RMSE of each
/// x0 to its own final image. Latent trajectories projected on the first two principal components of all runs'
/// latents together (PCA, deterministic; Diffusion Explainer uses UMAP). For words present in every run, the
/// Pearson correlation of each run's step-averaged map with run 0's; words in some runs only are listed.
/// Writes out/tables/{runs,compare,to_final,trajectory,words}.csv and out/plots/*.png; returns the summary keys
/// (compare.*). Error naming the folder when the runs differ in steps, image or latent size.
std::map<std::string, double> compare_runs(const std::vector<CompareInput>& runs, const std::string& out,
                                           const CompareOptions& options = {});

/// The first index from which `d` stays >= fraction * d.back() ("stay apart"); -1 when d.back() is 0 or d is empty.
int stays_apart_from(const std::vector<double>& d, double fraction);
/// The first index from which `d` stays <= fraction * max(d) ("stay together"); -1 when the last value is above it.
int stays_together_from(const std::vector<double>& d, double fraction);

}  // namespace diffscope
