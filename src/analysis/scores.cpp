// Scoring heatmaps against masks.
#include "diffscope/scores.h"

#include <cmath>

#include "diffscope/metrics.h"

namespace diffscope {

WordScore score_map(const std::string& word, const std::vector<float>& map01, const cv::Mat* mask, double threshold) {
  WordScore s;
  s.word = word;
  if (!mask) return s;
  s.scored = true;
  std::vector<float> labels(map01.size());
  const cv::Mat m = mask->isContinuous() ? *mask : mask->clone();
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = m.data[i] ? 1.f : 0.f;
  s.roc_auc = metrics::roc_auc(map01, labels);
  s.ap = metrics::average_precision(map01, labels);
  s.iou = metrics::iou(map01, labels, threshold);
  return s;
}

std::map<std::string, double> summarize_scores(const std::vector<WordScore>& scores) {
  double auc = 0, ap = 0, iou = 0;
  int n_auc = 0, n_ap = 0, n_iou = 0, scored = 0, unscored = 0;
  for (const auto& s : scores) {
    if (!s.scored) {
      ++unscored;
      continue;
    }
    ++scored;
    if (std::isfinite(s.roc_auc)) auc += s.roc_auc, ++n_auc;
    if (std::isfinite(s.ap)) ap += s.ap, ++n_ap;
    if (std::isfinite(s.iou)) iou += s.iou, ++n_iou;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return {{"mean_roc_auc", n_auc ? auc / n_auc : nan},
          {"mean_ap", n_ap ? ap / n_ap : nan},
          {"miou", n_iou ? iou / n_iou : nan},
          {"scored", scored},
          {"unscored", unscored}};
}

}  // namespace diffscope
