// Per-word attention heatmaps (DAAM-style): aggregate, upsample, normalise, colour-map, overlay, grid figure.
#pragma once
#include <string>
#include <vector>

#include "diffscope/analysis/run_folder.h"

namespace diffscope {

/// One word's aggregated map: on the latent grid (raw mean probabilities) and at image size in [0,1].
struct WordHeatmap {
  Word word;
  std::vector<float> latent;  ///< h*w
  std::vector<float> image;   ///< image_h*image_w, bicubic-upsampled, clamped at 0, normalised
};

/// "word": each map min-max to [0,1] (DAAM); "global": all maps divided by the largest value over words.
std::vector<WordHeatmap> compute_heatmaps(const RunFolder& run, const std::vector<int>& steps,
                                          const std::string& normalize = "word");

/// Bicubic upsampling to H x W with values clamped at 0 (no normalisation).
std::vector<float> upsample_map(const std::vector<float>& latent, int h, int w, int H, int W);

struct HeatmapWriteOptions {
  std::string colormap = "turbo";
  float alpha = 0.55f;
  std::vector<int> x0_steps;  ///< also overlay on these steps' x0 images
  int grid_columns = 10;      ///< timesteps shown in the word x timestep figure
  std::string grid_steps;     ///< the grid's steps as a step selection ("0,6,12,24", "0:25:5"); empty = evenly spaced
  int figure_size = 256;      ///< NN_word_figure.png: longer side at least this (small models' images upscaled)
  std::string steps_label;    ///< which steps the maps aggregate, for the figure titles
  std::string folder = "heatmaps";        ///< inside the run folder (the concepts analysis writes concepts/)
  std::string what = "cross-attention";   ///< the maps' kind, in the figure titles
  std::string scale_label = "per word: min-max to 0-1";  ///< the maps' normalisation, beside the figures' colour bars
};

/// Writes options.folder (heatmaps/): NN_word.png, NN_word_overlay.png (on final.png), maps.npy [words,H,W], words.json,
/// grid.png (words x timesteps) and x0 overlays. Returns the files written (relative to the run folder).
std::vector<std::string> write_heatmaps(const RunFolder& run, const std::vector<WordHeatmap>& maps,
                                        const HeatmapWriteOptions& options);

struct AnalysisOptions;
/// The figure options of AnalysisOptions (--colormap, --x0-overlays, --figure-size, --grid-steps) for maps that
/// aggregate `steps`.
HeatmapWriteOptions heatmap_write_options(const RunFolder& run, const AnalysisOptions& options, const std::vector<int>& steps);

/// A file-name-safe version of a word or word key ("naïve" -> "na_ve", "a#2" -> "a_2"): every file named after
/// a word (heatmaps, layer selections, compare's share plots, masks) takes its name from here.
std::string safe_name(const std::string& word);

}  // namespace diffscope
