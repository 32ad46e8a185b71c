// Heatmap scores against ground-truth masks: pixel ROC-AUC and average precision (scikit-learn's definitions),
// IoU at a threshold (DAAM's 0.4), and mIoU over words.
#pragma once
#include <limits>
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace diffscope {

struct AnalysisOptions;
struct RunFolder;

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

/// The ground-truth masks of a run's content words at image size: --masks' folder, else the segmentation of
/// final.png with the package's concepts.json (written to DIR/masks/); empty when neither exists. `source` says which.
std::map<std::string, cv::Mat> ground_truth_masks(const RunFolder& run, const AnalysisOptions& options,
                                                  std::string& source);

/// The auc analysis on any run view (RunFolder::concept_view too): each content word's map over `steps` scored
/// against its mask, with the controls; tables/TABLE.csv and tables/TABLE_controls.csv, keys "PREFIX.*".
/// `present_only`: a word whose mask is empty (its object is not in the image) is unscored rather than scored.
void score_word_maps(const RunFolder& run, const AnalysisOptions& options, const std::vector<int>& steps,
                     const std::string& prefix, const std::string& table, std::map<std::string, double>& keys,
                     bool present_only = false);

/// Pixel labels of every masked word, built once: each word's own-mask labels and its cross-word selection (the
/// other objects' pixels as positives, the background as negatives, its own pixels left out).
class WordMasks {
 public:
  WordMasks(const std::map<std::string, cv::Mat>& masks, int height, int width);
  bool has(const std::string& word) const { return words_.count(word) > 0; }
  /// 1/0 per pixel: inside the word's own mask. The word must have a mask.
  const std::vector<float>& own_labels(const std::string& word) const;
  /// ROC-AUC of an image-size map against the word's own mask.
  double own_auc(const std::vector<float>& map, const std::string& word) const;
  /// ROC-AUC of the map on the other objects' pixels against the background (own pixels left out); NaN when there
  /// is no other object or no background.
  double vs_others_auc(const std::vector<float>& map, const std::string& word) const;

 private:
  struct Labels {
    std::vector<float> own;
    std::vector<size_t> cross_pixels;  ///< the pixels the cross-word score reads
    std::vector<float> cross_labels;   ///< 1: another object's pixel, 0: background
    bool cross_defined = false;
  };
  std::map<std::string, Labels> words_;
};

}  // namespace diffscope
