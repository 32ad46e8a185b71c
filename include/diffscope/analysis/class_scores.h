// Word scores grouped by word class (colour, shape, ... from concepts.json): how prompt sets and datasets report
// heatmap localisation per kind of word.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "diffscope/analysis/summary.h"

namespace diffscope {

struct Concepts;

/// One scored word of a run: its auc.word.<word>.{roc_auc, ap, iou} keys, its controls (NaN where the run has
/// none) and its class ("other" when concepts.json does not name it, or when there is no concepts.json).
struct ClassScore {
  std::string word;  ///< the word without its "#2" repeat suffix
  std::string cls;
  double roc_auc, ap, iou;
  double roc_auc_vs_others, specificity, baseline_foreground, baseline_mean_map;
};

/// The scored words of one run's summary keys, in key order.
std::vector<ClassScore> class_scores(const std::map<std::string, double>& run_keys, const Concepts* concepts);

/// Adds each score to auc.class.<class>.{roc_auc, ap, iou, roc_auc_vs_others, specificity, baseline_foreground,
/// baseline_mean_map} and auc.class.all.{...} (finite values only).
void add_class_scores(SummaryAggregate& aggregate, const std::vector<ClassScore>& scores);

}  // namespace diffscope
