// Word scores by word class (see class_scores.h).
#include "diffscope/analysis/class_scores.h"

#include <cmath>
#include <limits>

#include "diffscope/analysis/segmentation.h"

namespace diffscope {

std::vector<ClassScore> class_scores(const std::map<std::string, double>& keys, const Concepts* concepts) {
  const std::string prefix = "auc.word.", suffix = ".roc_auc";
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto get = [&](const std::string& k) {
    auto it = keys.find(k);
    return it == keys.end() ? nan : it->second;
  };
  std::vector<ClassScore> out;
  for (const auto& [k, v] : keys) {
    if (k.size() <= prefix.size() + suffix.size() || k.compare(0, prefix.size(), prefix) != 0 ||
        k.compare(k.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string key_word = k.substr(prefix.size(), k.size() - prefix.size() - suffix.size());
    const std::string word = key_word.substr(0, key_word.find('#'));
    std::string cls = concepts ? concepts->word_class(word) : "";
    if (cls.empty()) cls = "other";
    const std::string base = prefix + key_word;
    out.push_back({word, cls, v, get(base + ".ap"), get(base + ".iou"), get(base + ".roc_auc_vs_others"),
                   get(base + ".specificity"), get(base + ".baseline_foreground"), get(base + ".baseline_mean_map")});
  }
  return out;
}

void add_class_scores(SummaryAggregate& agg, const std::vector<ClassScore>& scores) {
  for (const auto& s : scores)
    for (const std::string& cls : {s.cls, std::string("all")}) {
      agg.add("auc.class." + cls + ".roc_auc", s.roc_auc);
      agg.add("auc.class." + cls + ".ap", s.ap);
      agg.add("auc.class." + cls + ".iou", s.iou);
      agg.add("auc.class." + cls + ".roc_auc_vs_others", s.roc_auc_vs_others);
      agg.add("auc.class." + cls + ".specificity", s.specificity);
      agg.add("auc.class." + cls + ".baseline_foreground", s.baseline_foreground);
      agg.add("auc.class." + cls + ".baseline_mean_map", s.baseline_mean_map);
    }
}

}  // namespace diffscope
