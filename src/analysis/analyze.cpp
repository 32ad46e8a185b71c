// Runs the analyses over a run folder: tables (CSV), figures (PNG) and summary.json.
#include "diffscope/analyze.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "diffscope/atomic_file.h"
#include "diffscope/correlation.h"
#include "diffscope/csv.h"
#include "diffscope/emergence.h"
#include "diffscope/error.h"
#include "diffscope/heatmaps.h"
#include "diffscope/image.h"
#include "diffscope/json_util.h"
#include "diffscope/plot.h"
#include "diffscope/run_folder.h"
#include "diffscope/scores.h"
#include "diffscope/segmentation.h"
#include "diffscope/settle.h"

namespace fs = std::filesystem;

namespace diffscope {

namespace {
using Summary = std::map<std::string, double>;

/// Stable per-word keys: the word itself, "#2", "#3" for repeats.
std::vector<std::string> word_keys(const std::vector<Word>& words) {
  std::map<std::string, int> seen;
  std::vector<std::string> keys;
  for (const auto& w : words) {
    const int n = ++seen[w.text];
    keys.push_back(n == 1 ? w.text : w.text + "#" + std::to_string(n));
  }
  return keys;
}

std::vector<std::string> texts(const std::vector<Word>& words) {
  std::vector<std::string> t;
  for (const auto& w : words) t.push_back(w.text);
  return t;
}

void write_plot(const std::string& path, const std::vector<Series>& s, const std::string& title, const std::string& xl,
                const std::string& yl) {
  write_png(path, line_plot(s, title, xl, yl));
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

void do_heatmaps(const RunFolder& run, const AnalysisOptions& o, const std::vector<int>& steps, Summary& s) {
  auto maps = compute_heatmaps(run, steps, o.normalize);
  HeatmapWriteOptions w;
  w.colormap = o.colormap;
  w.x0_steps = o.x0_overlay_steps;
  write_heatmaps(run, maps, w);
  s["heatmaps.words"] = static_cast<double>(maps.size());
  s["heatmaps.steps_aggregated"] = static_cast<double>(steps.size());
}

void do_auc(const RunFolder& run, const AnalysisOptions& o, const std::vector<int>& steps, Summary& s) {
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
    csv.cell(words[k].text).cell("all").cell("").cell(sc.scored ? "yes" : "no").cell(sc.roc_auc).cell(sc.ap).cell(sc.iou);
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
        csv.cell(words[k].text).cell(static_cast<int64_t>(st)).cell(run.timesteps[static_cast<size_t>(st)]).cell("yes");
        csv.cell(sc.roc_auc).cell(sc.ap).cell(sc.iou);
        csv.end_row();
      }
    }
  }
  ensure_dir(run.path("tables"));
  csv.commit();
  for (const auto& [k, v] : summarize_scores(scores)) s["auc." + k] = v;
}

void do_settle(const RunFolder& run, const std::vector<int>& steps, Summary& s) {
  const auto rows = settle_table(run, steps);
  const auto words = run.content_words();
  const auto keys = word_keys(words);
  CsvWriter csv(run.path("tables/settle.csv"), {"step", "timestep", "word", "mass", "share", "corr_final"});
  for (const auto& r : rows) {
    for (size_t k = 0; k < words.size(); ++k) {
      csv.cell(static_cast<int64_t>(r.step)).cell(r.timestep).cell(words[k].text).cell(r.mass[k]).cell(r.share[k]);
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
    Series a{words[k].text, {}, {}}, b{words[k].text, {}, {}};
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

void do_emergence(const RunFolder& run, Summary& s) {
  std::vector<int> x0_steps;
  if (run.meta.contains("x0_steps")) x0_steps = run.meta["x0_steps"].get<std::vector<int>>();
  if (x0_steps.empty()) return;  // generated with --x0-every 0: nothing to compare
  const cv::Mat final_img = read_image(run.path("final.png"));
  auto cols = emergence_columns();
  std::vector<std::string> header{"step", "timestep"};
  header.insert(header.end(), cols.begin(), cols.end());
  CsvWriter csv(run.path("tables/emergence.csv"), header);
  std::vector<Series> series;
  for (const auto& c : cols)
    if (c != "psnr" && c != "detail_ratio") series.push_back({c, {}, {}});
  std::vector<EmergenceRow> rows;
  for (int st : x0_steps) {
    char name[32];
    std::snprintf(name, sizeof name, "steps/x0_%03d.png", st);
    EmergenceRow r = compare_to_final(read_image(run.path(name)), final_img);
    r.step = st;
    rows.push_back(r);
    csv.cell(static_cast<int64_t>(st)).cell(run.timesteps[static_cast<size_t>(st)]);
    auto vals = emergence_values(r);
    for (double v : vals) csv.cell(v);
    csv.end_row();
    size_t k = 0;
    for (size_t c = 0; c < cols.size(); ++c) {
      if (cols[c] == "psnr" || cols[c] == "detail_ratio") continue;
      series[k].x.push_back(st);
      series[k].y.push_back(vals[c]);
      ++k;
    }
  }
  ensure_dir(run.path("tables"));
  csv.commit();
  ensure_dir(run.path("plots"));
  write_plot(run.path("plots/emergence.png"), series, "What the x0 estimate already shares with the final image",
             "step", "similarity to final");
  for (const auto& [pct, label] : std::vector<std::pair<double, std::string>>{{0.25, "25pct"}, {0.5, "50pct"}, {0.75, "75pct"}}) {
    const int target = static_cast<int>(std::lround(pct * (run.steps - 1)));
    const EmergenceRow* best = &rows.front();
    for (const auto& r : rows)
      if (std::abs(r.step - target) < std::abs(best->step - target)) best = &r;
    auto vals = emergence_values(*best);
    for (size_t c = 0; c < cols.size(); ++c) s["emergence." + cols[c] + "_at_" + label] = vals[c];
  }
}

void do_correlate(const RunFolder& run, const AnalysisOptions& o, const std::vector<int>& steps, Summary& s) {
  const auto words = run.content_words();
  const auto keys = word_keys(words);
  CsvWriter csv(run.path("tables/correlation.csv"), {"step", "word_a", "word_b", "pearson"});
  auto emit = [&](const std::string& step, const std::vector<std::vector<double>>& c) {
    for (size_t i = 0; i < words.size(); ++i)
      for (size_t j = 0; j < words.size(); ++j) {
        if (i == j) continue;
        csv.cell(step).cell(words[i].text).cell(words[j].text).cell(c[i][j]);
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
    b.cell(words[p.adjective].text).cell(words[p.noun].text).cell(corr[p.adjective][p.noun]).cell(other).cell(score);
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
}  // namespace

std::map<std::string, double> run_analyses(const std::string& run_dir, const AnalysisOptions& o) {
  for (const auto& w : o.which)
    if (w != "heatmaps" && w != "settle" && w != "emergence" && w != "correlate" && w != "auc")
      throw Error("analysis \"" + w + "\" does not exist (heatmaps, settle, emergence, correlate, auc)");
  const RunFolder run = RunFolder::load(run_dir);
  const std::vector<int> steps = parse_steps(o.steps, run.steps);
  Summary s;
  if (o.which.count("heatmaps")) do_heatmaps(run, o, steps, s);
  if (o.which.count("settle")) do_settle(run, steps, s);
  if (o.which.count("emergence")) do_emergence(run, s);
  if (o.which.count("correlate")) do_correlate(run, o, steps, s);
  if (o.which.count("auc")) do_auc(run, o, steps, s);

  const std::string path = run.path("summary.json");
  nlohmann::json j = fs::exists(path) ? read_json_file(path) : nlohmann::json::object();
  for (const auto& [k, v] : s) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  j["prompt"] = run.meta["inputs"].value("prompt", std::string());
  j["seed"] = run.meta["inputs"].value("seed", 0);
  write_json_atomic(path, j);
  return s;
}

}  // namespace diffscope
