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
  auto wanted = [only](const char* name) { return !only || std::count(only->begin(), only->end(), name) > 0; };
  if (wanted("agg-steps"))
    app.add_option("--agg-steps", a.steps, "steps aggregated into word maps: all, K, A:B or fractions 0.0:0.3")
        ->default_val("all");
  if (wanted("normalize"))
    app.add_option("--normalize", a.normalize, "heatmap normalisation: word (each map min-max) or global")
        ->default_val("word");
  if (wanted("colormap")) app.add_option("--colormap", a.colormap, "turbo, jet, viridis, inferno or gray")->default_val("turbo");
  if (wanted("threshold"))
    app.add_option("--threshold", a.threshold, "IoU threshold on normalised maps (DAAM: 0.4)")->default_val(0.4);
  if (wanted("masks"))
    app.add_option("--masks", a.masks_dir, "folder with one <word>.png mask per word (else concepts.json segmentation)");
  if (wanted("nouns"))
    app.add_option("--nouns", a.nouns, "binding: words that are nouns (default: concepts.json shapes)")->delimiter(',');
  if (wanted("attributes"))
    app.add_option("--attributes", a.attributes, "binding: attribute words (default: concepts.json colours, sizes)")
        ->delimiter(',');
  if (wanted("x0-overlays"))
    app.add_option("--x0-overlays", a.x0_overlay_steps, "also overlay heatmaps on these steps' x0 images")
        ->delimiter(',');
}

/// Prints the headline numbers of an analysis.
void print_summary(const std::map<std::string, double>& s, const std::string& run_dir);

}  // namespace diffscope::cli
