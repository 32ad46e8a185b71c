// Step x word attention mass, share and correlation with the aggregated map.
#include "diffscope/analysis/settle.h"
#include <filesystem>

#include "diffscope/analysis/registry.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/image.h"
#include "diffscope/util/plot.h"

#include "diffscope/metrics/metrics.h"

namespace fs = std::filesystem;

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


// The registered analysis: its tables, figures and summary keys.
namespace {

void do_settle(const RunFolder& run, const std::vector<int>& steps, AnalysisKeys& s) {
  const auto rows = settle_table(run, steps);
  const auto words = run.content_words();
  const auto keys = word_keys(words);
  CsvWriter csv(run.path("tables/settle.csv"), {"step", "timestep", "word", "mass", "share", "corr_final"});
  for (const auto& r : rows) {
    for (size_t k = 0; k < words.size(); ++k) {
      csv.cell(static_cast<int64_t>(r.step)).cell(r.timestep).cell(keys[k]).cell(r.mass[k]).cell(r.share[k]);
      csv.cell(r.corr_final[k]);
      csv.end_row();
    }
    for (const auto& [name, m] : std::vector<std::pair<std::string, double>>{
             {"<start>", r.start_mass}, {"<end>", r.end_mass}, {"<padding>", r.padding_mass}}) {
      csv.cell(static_cast<int64_t>(r.step)).cell(r.timestep).cell(name).cell(m).cell("").cell("");
      csv.end_row();
    }
  }
  ensure_dir(run.path("tables"));
  csv.commit();
  std::vector<Series> share, corr;
  for (size_t k = 0; k < words.size(); ++k) {
    Series a{keys[k], {}, {}, {}, word_colour(k)}, b = a;  // a word's colour in every figure (palette.h)
    for (const auto& r : rows) {
      a.x.push_back(r.step), a.y.push_back(r.share[k]);
      b.x.push_back(r.step), b.y.push_back(r.corr_final[k]);
    }
    share.push_back(a);
    corr.push_back(b);
    s["settle." + keys[k] + ".decided_step"] = decided_step(rows, k);
    s["settle." + keys[k] + ".final_share"] = rows.empty() ? 0.0 : rows.back().share[k];
  }
  ensure_dir(run.path("plots"));
  write_plot(run.path("plots/settle_share.png"), share, "Attention share per word", "step", "share of word attention");
  write_plot(run.path("plots/settle_corr.png"), corr, "When each word's location is decided", "step",
             "correlation with aggregated map");
}


DIFFSCOPE_ANALYSIS({"settle", "step x word attention mass/share and when each word's location is decided", 20, kNeedsAttention, {}, {"agg-steps"},
                    [](const AnalysisInput& in, AnalysisKeys& keys) { do_settle(in.run, in.steps, keys); }});

}  // namespace

}  // namespace diffscope
