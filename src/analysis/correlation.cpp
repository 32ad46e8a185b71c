// Word x word correlations and attribute binding.
#include "diffscope/correlation.h"

#include <algorithm>
#include <limits>

#include "diffscope/metrics.h"

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

}  // namespace diffscope
