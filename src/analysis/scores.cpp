// Scoring heatmaps against masks.
#include "diffscope/analysis/scores.h"
#include <filesystem>

#include "diffscope/analysis/registry.h"
#include "diffscope/analysis/heatmaps.h"
#include "diffscope/analysis/segmentation.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
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


// The registered analysis: its tables, figures and summary keys.
namespace {

std::vector<std::string> texts(const std::vector<Word>& words) {
  std::vector<std::string> t;
  for (const auto& w : words) t.push_back(w.text);
  return t;
}

std::map<std::string, cv::Mat> ground_truth(const RunFolder& run, const AnalysisOptions& o, std::string& source) {
  const auto words = texts(run.content_words());
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

void do_auc(const RunFolder& run, const AnalysisOptions& o, const std::vector<int>& steps, AnalysisKeys& s) {
  std::string source;
  auto masks = ground_truth(run, o, source);
  const auto words = run.content_words();
  const auto keys = word_keys(words);
  CsvWriter csv(run.path("tables/auc.csv"), {"word", "step", "timestep", "scored", "roc_auc", "ap", "iou"});
  auto agg = compute_heatmaps(run, steps, "word");
  std::vector<WordScore> scores;
  for (size_t k = 0; k < words.size(); ++k) {
    auto it = masks.find(words[k].text);
    WordScore sc = score_map(words[k].text, agg[k].image, it == masks.end() ? nullptr : &it->second, o.threshold);
    scores.push_back(sc);
    csv.cell(keys[k]).cell("all").cell("").cell(sc.scored ? "yes" : "no").cell(sc.roc_auc).cell(sc.ap).cell(sc.iou);
    csv.end_row();
    if (sc.scored) {
      s["auc.word." + keys[k] + ".roc_auc"] = sc.roc_auc;
      s["auc.word." + keys[k] + ".ap"] = sc.ap;
      s["auc.word." + keys[k] + ".iou"] = sc.iou;
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
  for (const auto& [k, v] : summarize_scores(scores)) s["auc." + k] = v;
}


DIFFSCOPE_ANALYSIS({"auc", "ROC-AUC, average precision and IoU of word heatmaps against masks", 50, kNeedsMasks | kNeedsAttention, {"--run runs/x --masks masks/x"}, {"agg-steps", "threshold", "masks"},
                    [](const AnalysisInput& in, AnalysisKeys& keys) { do_auc(in.run, in.options, in.steps, keys); }});

}  // namespace

}  // namespace diffscope
