// Heatmap scores against ground-truth masks: pixel ROC-AUC and average precision (scikit-learn's definitions),
// IoU at a threshold (DAAM's 0.4), and mIoU over words.
#pragma once
#include <limits>
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace diffscope {

struct WordScore {
  std::string word;
  bool scored = false;  ///< false: no mask for this word (listed as unscored)
  double roc_auc = std::numeric_limits<double>::quiet_NaN();
  double ap = std::numeric_limits<double>::quiet_NaN();
  double iou = std::numeric_limits<double>::quiet_NaN();
};

/// Scores one image-size map in [0,1] against a mask (CV_8U, non-zero inside).
WordScore score_map(const std::string& word, const std::vector<float>& map01, const cv::Mat* mask, double threshold);

/// Means over scored words with finite values: {"mean_roc_auc", "mean_ap", "miou", "scored", "unscored"}.
std::map<std::string, double> summarize_scores(const std::vector<WordScore>& scores);

}  // namespace diffscope
