// Options shared by `analyze`, `attribute` and the single-analysis commands.
#pragma once
#include <CLI/CLI.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "diffscope/analysis/analyze.h"

namespace diffscope::cli {

/// Adds the shared analysis options: --agg-steps, --normalize, --colormap, --threshold, --masks, --nouns,
/// --attributes, --x0-overlays; with `only`, just those named there (an analysis's own list, so its --help shows
/// what it reads).
inline void add_analysis_options(CLI::App& app, AnalysisOptions& a, const std::vector<std::string>* only = nullptr) {
  // adds --NAME when it is wanted; returns nullptr otherwise
  auto add = [&](const std::string& name, auto& target, const std::string& help) -> CLI::Option* {
    if (only && std::count(only->begin(), only->end(), name) == 0) return nullptr;
    return app.add_option("--" + name, target, help);
  };
  if (auto* o = add("agg-steps", a.steps, "steps aggregated into word maps: all, K, A:B or fractions 0.0:0.3"))
    o->default_val("all");
  if (auto* o = add("normalize", a.normalize, "heatmap normalisation: word (each map min-max) or global"))
    o->default_val("word");
  if (auto* o = add("colormap", a.colormap, "turbo, jet, viridis, inferno or gray")) o->default_val("turbo");
  if (auto* o = add("figure-size", a.figure_size, "heatmap figures (NN_word_figure.png): longer side at least N px"))
    o->default_val(256)->check(CLI::Range(64, 4096));
  add("grid-steps", a.grid_steps, "steps of the word x timestep grid: K,L,M or A:B (default: 10 evenly spaced)");
  if (auto* o = add("threshold", a.threshold, "IoU threshold on normalised maps (DAAM: 0.4)")) o->default_val(0.4);
  add("select-layers", a.select_layers,
      "layers analysis: also score the mean map of these kept layers (indices or name parts, e.g. up_blocks or 3,4)");
  add("select-heads", a.select_heads, "layers analysis: ... of these heads (e.g. 0,1) of the kept per-head maps");
  add("masks", a.masks_dir, "folder with one <word>.png mask per word (else concepts.json segmentation)");
  for (auto* o : {add("nouns", a.nouns, "binding: words that are nouns (default: concepts.json shapes)"),
                  add("attributes", a.attributes, "binding: attribute words (default: concepts.json colours, sizes)"),
                  add("x0-overlays", a.x0_overlay_steps, "also overlay heatmaps on these steps' x0 images")})
    if (o) o->delimiter(',');
}

/// Prints the headline numbers of an analysis.
void print_summary(const std::map<std::string, double>& s, const std::string& run_dir);

}  // namespace diffscope::cli
