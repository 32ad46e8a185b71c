// Step x word attention mass, share and correlation with the aggregated map.
#include "diffscope/settle.h"

#include "diffscope/metrics.h"

namespace diffscope {

std::vector<SettleRow> settle_table(const RunFolder& run, const std::vector<int>& agg) {
  const auto words = run.content_words();
  const size_t hw = static_cast<size_t>(run.h) * run.w;
  std::vector<std::vector<float>> finals;
  for (const auto& w : words) finals.push_back(run.word_map(agg, w));
  std::vector<SettleRow> rows;
  auto mass_of = [&](int step, int token) {
    const float* m = run.map(step, token);
    double s = 0;
    for (size_t i = 0; i < hw; ++i) s += m[i];
    return s / static_cast<double>(hw);
  };
  for (int s = 0; s < run.steps; ++s) {
    SettleRow r;
    r.step = s;
    r.timestep = run.timesteps[static_cast<size_t>(s)];
    double total = 0;
    for (size_t k = 0; k < words.size(); ++k) {
      double m = 0;
      for (int p : words[k].positions) m += mass_of(s, p);
      r.mass.push_back(m);
      total += m;
      r.corr_final.push_back(metrics::pearson(run.word_map(s, words[k]), finals[k]));
    }
    for (double m : r.mass) r.share.push_back(total > 0 ? m / total : 0.0);
    r.start_mass = mass_of(s, 0);
    if (run.token_count >= 2) r.end_mass = mass_of(s, run.token_count - 1);
    for (int t = run.token_count; t < run.num_tokens; ++t) r.padding_mass += mass_of(s, t);
    rows.push_back(std::move(r));
  }
  return rows;
}

int decided_step(const std::vector<SettleRow>& rows, size_t word, double threshold) {
  int first = -1;
  for (const auto& r : rows) {
    const double c = r.corr_final.at(word);
    if (c >= threshold) {
      if (first < 0) first = r.step;
    } else {
      first = -1;
    }
  }
  return first;
}

}  // namespace diffscope
