// Word x word correlations and attribute binding.
#include "diffscope/analysis/correlation.h"
#include <filesystem>

#include "diffscope/analysis/registry.h"
#include "diffscope/analysis/segmentation.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/image.h"
#include "diffscope/util/plot.h"

#include <algorithm>
#include <limits>

#include "diffscope/metrics/metrics.h"

namespace fs = std::filesystem;

namespace diffscope {

std::vector<std::vector<double>> word_correlations(const std::vector<std::vector<float>>& maps) {
  const size_t n = maps.size();
  std::vector<std::vector<double>> c(n, std::vector<double>(n, 1.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) c[i][j] = c[j][i] = metrics::pearson(maps[i], maps[j]);
  return c;
}

std::vector<BindingPair> binding_pairs(const std::vector<Word>& words, const std::vector<bool>& is_noun,
                                       const std::vector<bool>& is_attribute) {
  std::vector<size_t> nouns;
  for (size_t i = 0; i < words.size(); ++i)
    if (is_noun[i]) nouns.push_back(i);
  std::vector<BindingPair> out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (!is_attribute[i]) continue;
    for (size_t j = i + 1; j < words.size(); ++j) {
      if (words[j].text == "and" || words[j].text == ",") break;
      if (!is_noun[j]) continue;
      BindingPair p;
      p.adjective = i;
      p.noun = j;
      for (size_t k : nouns)
        if (k != j) p.other_nouns.push_back(k);
      out.push_back(p);
      break;
    }
  }
  return out;
}

double binding_score(const std::vector<std::vector<double>>& corr, const BindingPair& p) {
  double own = corr[p.adjective][p.noun];
  if (p.other_nouns.empty()) return own;
  double other = -std::numeric_limits<double>::infinity();
  for (size_t k : p.other_nouns) other = std::max(other, corr[p.adjective][k]);
  return own - other;
}


// The registered analysis: its tables, figures and summary keys.
namespace {

void do_correlate(const RunFolder& run, const AnalysisOptions& o, const std::vector<int>& steps, AnalysisKeys& s) {
  const auto words = run.content_words();
  const auto keys = word_keys(words);
  CsvWriter csv(run.path("tables/correlation.csv"), {"step", "word_a", "word_b", "pearson"});
  auto emit = [&](const std::string& step, const std::vector<std::vector<double>>& c) {
    for (size_t i = 0; i < words.size(); ++i)
      for (size_t j = 0; j < words.size(); ++j) {
        if (i == j) continue;
        csv.cell(step).cell(keys[i]).cell(keys[j]).cell(c[i][j]);
        csv.end_row();
      }
  };
  std::vector<std::vector<float>> agg;
  for (const auto& w : words) agg.push_back(run.word_map(steps, w));
  const auto corr = word_correlations(agg);
  emit("all", corr);
  for (int st = 0; st < run.steps; ++st) {
    std::vector<std::vector<float>> m;
    for (const auto& w : words) m.push_back(run.word_map(st, w));
    emit(std::to_string(st), word_correlations(m));
  }
  ensure_dir(run.path("tables"));
  csv.commit();

  // attribute binding: nouns/attributes from options, else concepts.json's classes
  std::vector<bool> is_noun(words.size(), false), is_attr(words.size(), false);
  Concepts concepts;
  const std::string cpath = run.meta.contains("model") ? run.meta["model"].value("concepts", std::string()) : "";
  const bool have_concepts = !cpath.empty() && fs::exists(cpath);
  if (have_concepts) concepts = Concepts::load(cpath);
  for (size_t k = 0; k < words.size(); ++k) {
    const std::string& t = words[k].text;
    if (!o.nouns.empty()) {
      is_noun[k] = std::count(o.nouns.begin(), o.nouns.end(), t) > 0;
    } else if (have_concepts) {
      is_noun[k] = concepts.word_class(t) == "shape";
    }
    if (!o.attributes.empty()) {
      is_attr[k] = std::count(o.attributes.begin(), o.attributes.end(), t) > 0;
    } else if (have_concepts) {
      const auto cls = concepts.word_class(t);
      is_attr[k] = cls == "colour" || cls == "size";
    }
  }
  CsvWriter b(run.path("tables/binding.csv"), {"attribute", "noun", "own_corr", "max_other_corr", "binding"});
  double total = 0;
  int n = 0;
  for (const auto& p : binding_pairs(words, is_noun, is_attr)) {
    const double score = binding_score(corr, p);
    double other = std::numeric_limits<double>::quiet_NaN();
    for (size_t k : p.other_nouns) other = std::isnan(other) ? corr[p.adjective][k] : std::max(other, corr[p.adjective][k]);
    b.cell(keys[p.adjective]).cell(keys[p.noun]).cell(corr[p.adjective][p.noun]).cell(other).cell(score);
    b.end_row();
    s["binding." + keys[p.adjective] + "~" + keys[p.noun]] = score;
    total += score;
    ++n;
  }
  b.commit();
  if (n) s["binding.mean"] = total / n;
  for (size_t i = 0; i < words.size(); ++i)
    for (size_t j = i + 1; j < words.size(); ++j) s["correlate." + keys[i] + "~" + keys[j]] = corr[i][j];
}

DIFFSCOPE_ANALYSIS({"correlate", "word x word attention correlations and attribute-binding scores", 40, kNeedsAttention, {"--run runs/cat --nouns cat,hat --attributes red"}, {"agg-steps", "nouns", "attributes"},
                    [](const AnalysisInput& in, AnalysisKeys& keys) { do_correlate(in.run, in.options, in.steps, keys); }});

}  // namespace

}  // namespace diffscope
