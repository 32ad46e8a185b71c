// Options shared by `analyze`, `attribute` and the single-analysis commands.
#pragma once
#include <CLI/CLI.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "diffscope/analysis/analyze.h"
#include "cli/command.h"

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
  if (auto* o = add("colormap", a.colormap, "turbo, jet, viridis, inferno or gray"))
    o->default_val("turbo")->check(colormap_name());
  if (auto* o = add("figure-size", a.figure_size, "heatmap figures (NN_word_figure.png): longer side at least N px"))
    o->default_val(256)->check(CLI::Range(64, 4096));
  add("grid-steps", a.grid_steps, "steps of the word x timestep grid: K,L,M or A:B (default: 10 evenly spaced)");
  if (auto* o = add("threshold", a.threshold, "IoU threshold on normalised maps (DAAM: 0.4)"))
    o->default_val(0.4)->check(finite_range(0, 1));
  if (auto* o = add("select-layers", a.select_layers,
                    "layers analysis: also score the mean map of these kept layers (indices or name parts, e.g. "
                    "up_blocks or 3,4)"))
    o->check(non_empty());
  if (auto* o = add("select-heads", a.select_heads, "layers analysis: ... of these heads (e.g. 0,1) of the kept per-head maps"))
    o->check(non_empty());
  add("masks", a.masks_dir, "folder with one <word>.png mask per word (else concepts.json segmentation)");
  for (auto* o : {add("nouns", a.nouns, "binding: words that are nouns (default: concepts.json shapes)"),
                  add("attributes", a.attributes, "binding: attribute words (default: concepts.json colours, sizes)"),
                  add("x0-overlays", a.x0_overlay_steps, "also overlay heatmaps on these steps' x0 images")})
    if (o) o->delimiter(',');
  if (auto* o = app.get_option_no_throw("--x0-overlays")) o->check(CLI::Range(0, 999));  // step indices
}

/// Adds the saliency analysis's options, each named PREFIX + name (`diffscope saliency`: no prefix; `analyze` and
/// `batch`: "saliency-", beside their own --steps and --seed): --step, --steps, --step-frac, --methods, --word,
/// --samples, --batch, --k, --similarity, --seed, --mask-seeds.
inline void add_saliency_options(CLI::App& app, SaliencyOptions& s, const std::string& prefix = "") {
  const std::string p = "--" + prefix;
  app.add_option_function<int>(p + "step", [&s](const int& v) { s.step = v; },
                               "the denoising step to explain (default: --" + prefix + "step-frac of the run)");
  app.add_option(p + "steps", s.steps,
                 "several steps in one call: 0,6,12, all, A:B or fractions 0.0:0.5 (a step x method AUC table and "
                 "AUC-over-steps figures; with --prompts, means and 95% intervals over the set)");
  app.add_option(p + "step-frac", s.step_frac, "which step, as a fraction of the run")->default_val(0.5)
      ->check(finite_range(0, 1, "a fraction"));
  app.add_option(p + "methods", s.methods, "attention, df-rise, df-cam (a random baseline is always added)")
      ->delimiter(',');
  app.add_option(p + "word", s.word, "also a single word's attention map as a saliency");
  app.add_option(p + "samples", s.samples, "DF-RISE masks")->default_val(500)->check(CLI::Range(1, 1000000));
  app.add_option(p + "batch", s.batch, "latents per denoiser call")->default_val(16)->check(CLI::Range(1, 1024));
  app.add_option(p + "k", s.k, "insertion/deletion stages")->default_val(64)->check(CLI::Range(2, 4096));
  app.add_option(p + "similarity", s.similarity, "structure (SSIM structure term), ssim, luminance, contrast, cosine, mse")
      ->default_val("structure");
  app.add_option(p + "seed", s.seed, "seed of the masks and the random baseline")->default_val(0)->check(seed_range());
  app.add_option(p + "mask-seeds", s.mask_seeds,
                 "repeat DF-RISE and the random baseline with N mask seeds (--" + prefix + "seed ... +N-1): AUCs are "
                 "means, with their standard deviation and how often each seed ranks the methods alike")
      ->default_val(1)->check(CLI::Range(1, 1000));
}

/// Prints the headline numbers of an analysis.
void print_summary(const std::map<std::string, double>& s, const std::string& run_dir);

}  // namespace diffscope::cli
