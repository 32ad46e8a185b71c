// Open-vocabulary concept maps (generate --concepts): words that need not be in the prompt, each read from the
// cross-attention as one more key in a softmax of its own that does not feed the output (the export's
// forward_concepts). The analysis sees them through RunFolder::concept_view, so the word-map code serves unchanged:
// concepts/ heatmaps, scores against the masks with the auc analysis' controls, and, for a concept that is also a
// prompt word, how its map agrees with the prompt word's own map; each concept's attention mass.
#include "diffscope/analysis/heatmaps.h"
#include "diffscope/analysis/registry.h"
#include "diffscope/analysis/scores.h"
#include "diffscope/metrics/metrics.h"
#include "diffscope/util/csv.h"

#include <cmath>

namespace diffscope {
namespace {

/// tables/concepts.csv: per concept its attention mass (mean probability over the latent grid and the steps: how
/// much the image attends to a word it may not contain) and, for a concept that is also a content word of the
/// prompt, the Pearson correlation of the two aggregated maps (1: the concept key finds what the prompt token does).
void describe_concepts(const RunFolder& run, const std::vector<WordHeatmap>& concept_maps,
                       const std::vector<int>& steps, AnalysisKeys& s) {
  CsvWriter csv(run.path("tables/concepts.csv"), {"concept", "mass", "in_prompt", "pearson_vs_prompt"});
  double sum = 0;
  int n = 0;
  const auto words = run.content_words();
  for (const auto& c : concept_maps) {
    const double mass = metrics::mean(c.latent);
    s["concepts.word." + c.word.text + ".mass"] = mass;
    double r = std::nan("");
    bool in_prompt = false;
    for (const auto& w : words) {
      if (w.text != c.word.text) continue;
      in_prompt = true;
      r = metrics::pearson(c.latent, run.word_map(steps, w));
      s["concepts.word." + c.word.text + ".pearson_vs_prompt"] = r;
      if (std::isfinite(r)) sum += r, ++n;
      break;  // the word's first occurrence
    }
    csv.cell(c.word.text).cell(mass).cell(in_prompt ? "yes" : "no").cell(r);
    csv.end_row();
  }
  csv.commit();
  s["concepts.in_prompt"] = n;
  s["concepts.mean_pearson_vs_prompt"] = n ? sum / n : std::nan("");
}

void do_concepts(const AnalysisInput& in, AnalysisKeys& s) {
  const RunFolder view = in.run.concept_view();
  const auto maps = compute_heatmaps(view, in.steps, in.options.normalize);
  HeatmapWriteOptions w = heatmap_write_options(view, in.options, in.steps);
  w.folder = "concepts";
  w.what = "concept";
  write_heatmaps(view, maps, w);
  s["concepts.count"] = static_cast<double>(maps.size());
  // a concept need not be in the image: only those whose object is there are scored
  score_word_maps(view, in.options, in.steps, "concepts", "concepts_auc", s, /*present_only=*/true);
  describe_concepts(in.run, maps, in.steps, s);
}

}  // namespace

DIFFSCOPE_ANALYSIS({"concepts", "open-vocabulary concept maps (generate --concepts): heatmaps, scores against masks, agreement with the prompt's words", 52,
                    kNeedsAttention | kNeedsConcepts, {"--run runs/x --agg-steps 0.0:0.5"}, {"agg-steps", "threshold", "masks", "normalize", "colormap", "figure-size", "grid-steps"},
                    do_concepts});

}  // namespace diffscope
