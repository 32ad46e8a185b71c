// Ranking metrics with scikit-learn's exact definitions: ROC curve / AUC, PR curve / average precision;
// DAAM's thresholded IoU; scipy's average ranks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include "diffscope/metrics/metrics.h"
#include "metrics/checks.h"

namespace diffscope::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// sklearn's _binary_clf_curve: one point per distinct score (descending), cumulative counts at the
// last index of each tie group.
struct ClfCurve {
  std::vector<int64_t> fps, tps;
  std::vector<float> thresholds;
};

ClfCurve binary_clf_curve(const char* what, Span<float> scores, Span<float> labels) {
  detail::require_same_size(what, scores.size, labels.size);
  detail::require_nonempty(what, scores.size);
  for (float s : scores) {
    if (!std::isfinite(s)) throw Error(std::string(what) + ": scores contain NaN or infinity", kExitFailure);
  }
  std::vector<size_t> order(scores.size);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  ClfCurve c;
  int64_t tp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (labels[order[i]] > 0.5f) ++tp;
    bool last_of_group = i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]];
    if (last_of_group) {
      c.tps.push_back(tp);
      c.fps.push_back(static_cast<int64_t>(i) + 1 - tp);
      c.thresholds.push_back(scores[order[i]]);
    }
  }
  return c;
}

std::vector<double> trapz_terms(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> t(x.size() > 0 ? x.size() - 1 : 0);
  for (size_t i = 0; i + 1 < x.size(); ++i) t[i] = (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0;
  return t;
}

}  // namespace

RocCurve roc_curve(Span<float> scores, Span<float> labels) {
  ClfCurve c = binary_clf_curve("roc_curve", scores, labels);
  // Drop points collinear with their neighbours (sklearn's drop_intermediate=True).
  std::vector<size_t> keep;
  const size_t n = c.fps.size();
  for (size_t i = 0; i < n; ++i) {
    bool corner = i == 0 || i + 1 == n || n <= 2 ||
                  (c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1]) != 0 || (c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1]) != 0;
    if (corner) keep.push_back(i);
  }
  RocCurve r;
  const double fp_total = static_cast<double>(c.fps.back()), tp_total = static_cast<double>(c.tps.back());
  r.fpr.push_back(fp_total > 0 ? 0.0 : kNaN);
  r.tpr.push_back(tp_total > 0 ? 0.0 : kNaN);
  r.thresholds.push_back(static_cast<double>(c.thresholds[0] + 1.0f));  // sklearn adds 1 in the score dtype
  for (size_t i : keep) {
    r.fpr.push_back(fp_total > 0 ? static_cast<double>(c.fps[i]) / fp_total : kNaN);
    r.tpr.push_back(tp_total > 0 ? static_cast<double>(c.tps[i]) / tp_total : kNaN);
    r.thresholds.push_back(c.thresholds[i]);
  }
  return r;
}

double roc_auc(Span<float> scores, Span<float> labels) {
  detail::require_same_size("roc_auc", scores.size, labels.size);
  bool has_pos = false, has_neg = false;
  for (float l : labels) (l > 0.5f ? has_pos : has_neg) = true;
  if (!has_pos || !has_neg) return kNaN;  // sklearn: "Only one class present in y_true"
  RocCurve r = roc_curve(scores, labels);
  return numpy_sum(trapz_terms(r.fpr, r.tpr));  // sklearn.metrics.auc = np.trapz(tpr, fpr)
}

PrCurve precision_recall_curve(Span<float> scores, Span<float> labels) {
  ClfCurve c = binary_clf_curve("precision_recall_curve", scores, labels);
  const size_t n = c.fps.size();
  const double tp_total = static_cast<double>(c.tps.back());
  PrCurve p;
  for (size_t k = 0; k < n; ++k) {
    size_t i = n - 1 - k;  // reversed: recall decreasing
    double ps = static_cast<double>(c.tps[i] + c.fps[i]);
    p.precision.push_back(ps != 0 ? static_cast<double>(c.tps[i]) / ps : 0.0);
    p.recall.push_back(tp_total == 0 ? 1.0 : static_cast<double>(c.tps[i]) / tp_total);
    p.thresholds.push_back(c.thresholds[i]);
  }
  p.precision.push_back(1.0);
  p.recall.push_back(0.0);
  return p;
}

double average_precision(Span<float> scores, Span<float> labels) {
  PrCurve p = precision_recall_curve(scores, labels);
  std::vector<double> terms(p.recall.size() - 1);
  for (size_t i = 0; i + 1 < p.recall.size(); ++i) terms[i] = (p.recall[i + 1] - p.recall[i]) * p.precision[i];
  double ap = -numpy_sum(terms);
  return ap == 0 ? 0.0 : ap;  // no -0
}

double iou(Span<float> map, Span<float> mask, double threshold) {
  detail::require_same_size("iou", map.size, mask.size);
  const auto thr = static_cast<float>(threshold);  // torch compares a float32 map with the threshold as float32
  size_t inter = 0, uni = 0;
  for (size_t i = 0; i < map.size; ++i) {
    bool p = map[i] > thr, t = mask[i] > 0.5f;
    inter += p && t;
    uni += p || t;
  }
  return uni == 0 ? 0.0 : static_cast<double>(inter) / static_cast<double>(uni);
}

std::vector<double> rankdata(Span<float> v) {
  for (float x : v) {
    if (std::isnan(x)) throw Error("rankdata: values contain NaN", kExitFailure);
  }
  std::vector<size_t> order(v.size);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size);
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    double r = 0.5 * (static_cast<double>(i + 1) + static_cast<double>(j + 1));  // mean of ranks i+1..j+1
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

}  // namespace diffscope::metrics
