// Scoring heatmaps against masks.
#include "diffscope/analysis/scores.h"
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "diffscope/analysis/registry.h"
#include "diffscope/analysis/heatmaps.h"
#include "diffscope/analysis/segmentation.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "diffscope/util/plot.h"

#include <cmath>

#include "diffscope/metrics/metrics.h"

namespace fs = std::filesystem;

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

std::map<std::string, cv::Mat> ground_truth_masks(const RunFolder& run, const AnalysisOptions& o, std::string& source) {
  std::vector<std::string> words;
  for (const auto& w : run.content_words()) words.push_back(w.text);
  const cv::Size size(run.image_w, run.image_h);
  if (!o.masks_dir.empty()) {
    source = "masks folder " + o.masks_dir;
    return masks_from_dir(o.masks_dir, words, size);
  }
  const std::string concepts = run.meta.contains("model") ? run.meta["model"].value("concepts", std::string()) : "";
  if (concepts.empty() || !fs::exists(concepts)) {
    source = "none";
    return {};
  }
  source = "segmentation of final.png with " + concepts;
  const Concepts c = Concepts::load(concepts);
  cv::Mat img = read_image(run.path("final.png"));
  auto masks = masks_from_concepts(segment_image(img, c), words, c, size);
  ensure_dir(run.path("masks"));
  for (const auto& [w, m] : masks) write_png(run.path("masks/" + safe_name(w) + ".png"), m);
  return masks;
}

WordMasks::WordMasks(const std::map<std::string, cv::Mat>& masks, int height, int width) {
  const size_t n_pix = static_cast<size_t>(width) * height;
  cv::Mat any(height, width, CV_8U, cv::Scalar(0));  // every mask's pixels: not background
  for (const auto& [w, m] : masks) any.setTo(255, m);
  for (const auto& [word, mask] : masks) {
    Labels l;
    const cv::Mat own = mask.isContinuous() ? mask : mask.clone();
    l.own.resize(n_pix);
    for (size_t i = 0; i < n_pix; ++i) l.own[i] = own.data[i] ? 1.f : 0.f;
    cv::Mat others(height, width, CV_8U, cv::Scalar(0));
    for (const auto& [w, m] : masks)
      if (w != word) others.setTo(255, m);
    bool has_pos = false, has_neg = false;
    for (size_t i = 0; i < n_pix; ++i) {
      if (own.data[i]) continue;
      if (others.data[i]) l.cross_pixels.push_back(i), l.cross_labels.push_back(1.f), has_pos = true;
      else if (!any.data[i]) l.cross_pixels.push_back(i), l.cross_labels.push_back(0.f), has_neg = true;
    }
    l.cross_defined = has_pos && has_neg;
    words_.emplace(word, std::move(l));
  }
}

const std::vector<float>& WordMasks::own_labels(const std::string& word) const {
  auto it = words_.find(word);
  if (it == words_.end()) throw Error("no mask for \"" + word + "\"", kExitFailure);
  return it->second.own;
}

double WordMasks::own_auc(const std::vector<float>& map, const std::string& word) const {
  return metrics::roc_auc(map, own_labels(word));
}

double WordMasks::vs_others_auc(const std::vector<float>& map, const std::string& word) const {
  own_labels(word);  // refuses a word without a mask
  const Labels& l = words_.at(word);
  if (!l.cross_defined) return std::numeric_limits<double>::quiet_NaN();
  std::vector<float> sc(l.cross_pixels.size());
  for (size_t i = 0; i < sc.size(); ++i) sc[i] = map[l.cross_pixels[i]];
  return metrics::roc_auc(sc, l.cross_labels);
}


// The registered analysis: its tables, figures and summary keys.
namespace {

/// What a map that knows no word scores, beside each word's own score: the mean map over all content words
/// (attention's own objectness), the union of every scored word's mask blurred (a map that knows where the objects
/// are, not which is which), a constant map; and the cross-word score: the word's map against the other objects'
/// pixels (its own object's pixels left out; background as negatives). Own minus cross-word AUC is the word's
/// specificity. tables/auc_controls.csv and auc.word.W.{roc_auc_vs_others,specificity,baseline_mean_map,
/// baseline_foreground}, auc.baseline.{mean_map,foreground,uniform}.mean_roc_auc, auc.mean_roc_auc_vs_others,
/// auc.mean_specificity.
void score_controls(const RunFolder& run, const std::vector<Word>& words, const std::vector<std::string>& keys,
                    const std::vector<WordHeatmap>& agg, const std::map<std::string, cv::Mat>& masks,
                    const std::string& prefix, const std::string& table, AnalysisKeys& s) {
  const size_t n_pix = static_cast<size_t>(run.image_w) * run.image_h;
  std::vector<float> mean_map(n_pix, 0.f), uniform(n_pix, 0.5f);
  for (const auto& h : agg)
    for (size_t i = 0; i < n_pix; ++i) mean_map[i] += h.image[i] / static_cast<float>(agg.size());
  normalize_minmax(mean_map);
  // the union of the scored words' masks, blurred by 1/32 of the longer side
  cv::Mat fg(run.image_h, run.image_w, CV_32F, cv::Scalar(0));
  for (size_t k = 0; k < words.size(); ++k) {
    auto it = masks.find(words[k].text);
    if (it != masks.end()) fg.setTo(1.0f, it->second);
  }
  const double sigma = std::max(run.image_w, run.image_h) / 32.0;
  cv::GaussianBlur(fg, fg, cv::Size(0, 0), sigma);
  std::vector<float> fg_map(fg.begin<float>(), fg.end<float>());
  normalize_minmax(fg_map);

  const WordMasks labels(masks, run.image_h, run.image_w);
  CsvWriter csv(run.path(table), {"word", "roc_auc", "roc_auc_vs_others", "specificity",
                                                      "baseline_mean_map", "baseline_foreground", "baseline_uniform"});
  double sums[5] = {0, 0, 0, 0, 0};
  int counts[5] = {0, 0, 0, 0, 0};
  auto add = [&](int slot, double v) {
    if (std::isfinite(v)) sums[slot] += v, ++counts[slot];
  };
  for (size_t k = 0; k < words.size(); ++k) {
    if (!labels.has(words[k].text)) continue;
    const std::vector<float>& own_labels = labels.own_labels(words[k].text);
    const double own_auc = metrics::roc_auc(agg[k].image, own_labels);
    const double vs = labels.vs_others_auc(agg[k].image, words[k].text);
    const double spec = own_auc - vs;
    const double b_mean = metrics::roc_auc(mean_map, own_labels), b_fg = metrics::roc_auc(fg_map, own_labels);
    const double b_uni = metrics::roc_auc(uniform, own_labels);
    const std::string key = prefix + ".word." + keys[k];
    s[key + ".roc_auc_vs_others"] = vs;
    s[key + ".specificity"] = spec;
    s[key + ".baseline_mean_map"] = b_mean;
    s[key + ".baseline_foreground"] = b_fg;
    add(0, vs), add(1, spec), add(2, b_mean), add(3, b_fg), add(4, b_uni);
    csv.cell(keys[k]).cell(own_auc).cell(vs).cell(spec).cell(b_mean).cell(b_fg).cell(b_uni);
    csv.end_row();
  }
  csv.commit();
  auto mean = [&](int slot) { return counts[slot] ? sums[slot] / counts[slot] : std::nan(""); };
  s[prefix + ".mean_roc_auc_vs_others"] = mean(0);
  s[prefix + ".mean_specificity"] = mean(1);
  s[prefix + ".baseline.mean_map.mean_roc_auc"] = mean(2);
  s[prefix + ".baseline.foreground.mean_roc_auc"] = mean(3);
  s[prefix + ".baseline.uniform.mean_roc_auc"] = mean(4);
}

}  // namespace

void score_word_maps(const RunFolder& run, const AnalysisOptions& o, const std::vector<int>& steps,
                     const std::string& prefix, const std::string& table, AnalysisKeys& s, bool present_only) {
  std::string source;
  auto masks = ground_truth_masks(run, o, source);
  if (present_only)
    for (auto it = masks.begin(); it != masks.end();) it = cv::countNonZero(it->second) ? std::next(it) : masks.erase(it);
  const auto words = run.content_words();
  const auto keys = word_keys(words);
  CsvWriter csv(run.path("tables/" + table + ".csv"), {"word", "step", "timestep", "scored", "roc_auc", "ap", "iou"});
  auto agg = compute_heatmaps(run, steps, "word");
  std::vector<WordScore> scores;
  for (size_t k = 0; k < words.size(); ++k) {
    auto it = masks.find(words[k].text);
    WordScore sc = score_map(words[k].text, agg[k].image, it == masks.end() ? nullptr : &it->second, o.threshold);
    scores.push_back(sc);
    csv.cell(keys[k]).cell("all").cell("").cell(sc.scored ? "yes" : "no").cell(sc.roc_auc).cell(sc.ap).cell(sc.iou);
    csv.end_row();
    if (sc.scored) {
      s[prefix + ".word." + keys[k] + ".roc_auc"] = sc.roc_auc;
      s[prefix + ".word." + keys[k] + ".ap"] = sc.ap;
      s[prefix + ".word." + keys[k] + ".iou"] = sc.iou;
    }
  }
  if (o.per_step_auc) {
    for (int st = 0; st < run.steps; ++st) {
      auto per = compute_heatmaps(run, {st}, "word");
      for (size_t k = 0; k < words.size(); ++k) {
        auto it = masks.find(words[k].text);
        if (it == masks.end()) continue;
        WordScore sc = score_map(words[k].text, per[k].image, &it->second, o.threshold);
        csv.cell(keys[k]).cell(static_cast<int64_t>(st)).cell(run.timesteps[static_cast<size_t>(st)]).cell("yes");
        csv.cell(sc.roc_auc).cell(sc.ap).cell(sc.iou);
        csv.end_row();
      }
    }
  }
  ensure_dir(run.path("tables"));
  csv.commit();
  for (const auto& [k, v] : summarize_scores(scores)) s[prefix + "." + k] = v;
  score_controls(run, words, keys, agg, masks, prefix, "tables/" + table + "_controls.csv", s);
}

namespace {


DIFFSCOPE_ANALYSIS({"auc", "ROC-AUC, average precision and IoU of word heatmaps against masks", 50, kNeedsMasks | kNeedsAttention, {"--run runs/x --masks masks/x"}, {"agg-steps", "threshold", "masks"},
                    [](const AnalysisInput& in, AnalysisKeys& keys) {
                      score_word_maps(in.run, in.options, in.steps, "auc", "auc", keys);
                    }});

}  // namespace

}  // namespace diffscope
