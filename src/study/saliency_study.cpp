// Step saliency and relevance on run folders and prompt sets (see saliency_study.h).
#include "diffscope/study/saliency_study.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

#include "diffscope/analysis/heatmaps.h"
#include "diffscope/analysis/registry.h"
#include "diffscope/study/analysis_study.h"
#include "diffscope/metrics/metrics.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/figure.h"
#include "diffscope/util/image.h"
#include "diffscope/util/palette.h"
#include "diffscope/util/npy.h"
#include "diffscope/util/output_folder.h"
#include "diffscope/util/plot.h"
#include "diffscope/util/progress.h"
#include "study/internal.h"

namespace diffscope {

namespace {

/// One mask seed's four AUCs of a method.
struct SeedAucs {
  double deletion, insertion, deletion_raw, insertion_raw;
};

struct MethodResult {
  std::string name;
  std::vector<at::Tensor> maps;  ///< one per mask seed for df-rise and random, else one
  Curve deletion, insertion;     ///< the first mask seed's curves
  std::vector<SeedAucs> seeds;   ///< one per map
  cv::Mat overlay;               ///< the first map, min-max to 0-1 in turbo over final.png (the figures' cells)
  at::Tensor map() const { return maps.front(); }
  double mean(double SeedAucs::*f) const {
    double v = 0;
    for (const auto& a : seeds) v += a.*f;
    return v / static_cast<double>(seeds.size());
  }
  /// Sample standard deviation over mask seeds (ddof 1); NaN with one seed.
  double sd(double SeedAucs::*f) const {
    if (seeds.size() < 2) return std::nan("");
    const double m = mean(f);
    double ss = 0;
    for (const auto& a : seeds) ss += (a.*f - m) * (a.*f - m);
    return std::sqrt(ss / static_cast<double>(seeds.size() - 1));
  }
};

/// "step_012": the step's folder under saliency/ and its summary-key part.
std::string step_name(int step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%03d", step);
  return buf;
}

at::Tensor attention_saliency(const RunFolder& run, int step, const std::string& word) {
  std::vector<float> sum(static_cast<size_t>(run.h) * run.w, 0.f);
  bool found = false;
  for (const auto& w : run.content_words()) {
    if (!word.empty() && w.text != word) continue;
    found = true;
    auto m = run.word_map(step, w);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += m[i];
  }
  if (!found) throw Error("--word " + word + ": not a word of the run's prompt");
  // min-max scaled like DF-RISE's and DF-CAM's maps (the pixel order, and so every AUC, is unchanged)
  const at::Tensor m = at::from_blob(sum.data(), {run.h, run.w}, at::kFloat).clone();
  const float lo = m.min().item<float>(), hi = m.max().item<float>();
  return hi > lo ? (m - lo) / (hi - lo) : at::zeros_like(m);
}

/// How every saliency figure scales its maps (each map's own min and max), as its colour bar states.
const char* const kSaliencyScale = "per map: min-max to 0-1";

/// "step 12, t=501".
std::string step_label(const RunFolder& run, int step) {
  return "step " + std::to_string(step) + ", t=" + format_number(run.timesteps[static_cast<size_t>(step)]);
}

/// Saliency maps and curves for one run at one step; writes DIR/saliency/step_NNN/ and merges summary keys.
/// The step options.step / options.step_frac select in `run`.
int chosen_step(const SaliencyOptions& o, const RunFolder& run) {
  if (!(o.step_frac >= 0.0 && o.step_frac <= 1.0))
    throw Error("--step-frac: expected a fraction 0..1 of the run, got " + std::to_string(o.step_frac));
  return o.step ? *o.step : static_cast<int>(std::lround(o.step_frac * (run.steps - 1)));
}

/// --steps against the run's steps: "0,6,12", "all", "A:B", "A:B:S", fractions, or a comma list of those.
std::vector<int> listed_steps(const std::string& spec, const RunFolder& run) {
  return parse_steps(spec, run.steps, "--steps");
}

const std::pair<const char*, double SeedAucs::*> kAucFields[] = {{"deletion_auc", &SeedAucs::deletion},
                                                                  {"insertion_auc", &SeedAucs::insertion},
                                                                  {"deletion_auc_raw", &SeedAucs::deletion_raw},
                                                                  {"insertion_auc_raw", &SeedAucs::insertion_raw}};

std::vector<float> values_of(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU).to(at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

/// With several mask seeds: every seed's AUCs (mask_seeds.csv), how often each seed's best method by normalised
/// deletion (lowest) and insertion (highest) AUC is the best by the means (<key>.{deletion,insertion}_best_agreement),
/// and the mean pairwise Spearman correlation of the seeds' DF-RISE maps (df-rise_seeds.npy [N,h,w],
/// <key>.df-rise.seed_spearman).
void write_seed_spread(const std::string& out, const std::string& key, const std::vector<MethodResult>& res,
                       const SaliencyOptions& o, Summary& summary) {
  if (o.mask_seeds < 2) return;
  CsvWriter csv(out + "/mask_seeds.csv", {"seed", "method", "deletion_auc", "insertion_auc", "deletion_auc_raw",
                                          "insertion_auc_raw"});
  for (const auto& r : res)
    for (size_t i = 0; i < r.seeds.size(); ++i) {
      csv.cell(static_cast<uint64_t>(o.seed + (r.seeds.size() > 1 ? i : 0))).cell(r.name);
      csv.cell(r.seeds[i].deletion).cell(r.seeds[i].insertion).cell(r.seeds[i].deletion_raw).cell(r.seeds[i].insertion_raw);
      csv.end_row();
    }
  csv.commit();
  for (const auto& [curve, field, lower_better] :
       {std::tuple<std::string, double SeedAucs::*, bool>{"deletion", &SeedAucs::deletion, true},
        {"insertion", &SeedAucs::insertion, false}}) {
    auto better = [&](double a, double b) { return lower_better ? a < b : a > b; };
    size_t best_mean = 0;
    for (size_t m = 1; m < res.size(); ++m)
      if (better(res[m].mean(field), res[best_mean].mean(field))) best_mean = m;
    int agree = 0;
    for (int i = 0; i < o.mask_seeds; ++i) {
      auto at = [&](size_t m) { return res[m].seeds[res[m].seeds.size() > 1 ? static_cast<size_t>(i) : 0].*field; };
      size_t best = 0;
      for (size_t m = 1; m < res.size(); ++m)
        if (better(at(m), at(best))) best = m;
      agree += best == best_mean;
    }
    summary.set(key + "." + curve + "_best_agreement", static_cast<double>(agree) / o.mask_seeds);
  }
  for (const auto& r : res) {
    if (r.name != "df-rise") continue;
    std::vector<at::Tensor> maps;
    for (const auto& m : r.maps) maps.push_back(m.to(at::kCPU).to(at::kFloat));
    const at::Tensor all = at::stack(maps).contiguous();
    write_npy(out + "/df-rise_seeds.npy", all.data_ptr<float>(), {all.size(0), all.size(1), all.size(2)});
    double sum = 0;
    int pairs = 0;
    for (size_t a = 0; a < r.maps.size(); ++a)
      for (size_t b = a + 1; b < r.maps.size(); ++b) {
        const auto va = values_of(r.maps[a]), vb = values_of(r.maps[b]);
        sum += metrics::spearman(va, vb), ++pairs;
      }
    summary.set(key + ".df-rise.seed_spearman", sum / pairs);
  }
}

/// DF-RISE's convergence in the number of masks: the first seed's map after 1/8, 1/4 and 1/2 of the masks against
/// the final one (Pearson and Spearman), df-rise_convergence.{csv,npy}, <key>.df-rise.convergence_spearman_half.
void write_convergence(const std::string& out, const std::string& key, const DfRiseResult& d, Summary& summary) {
  CsvWriter csv(out + "/df-rise_convergence.csv", {"masks", "pearson", "spearman"});
  const auto final_values = values_of(d.map);
  std::vector<at::Tensor> stack;
  for (size_t i = 0; i < d.checkpoints.size(); ++i) {
    const auto v = values_of(d.at_checkpoints[i]);
    const double sp = metrics::spearman(v, final_values);
    csv.cell(static_cast<int64_t>(d.checkpoints[i])).cell(metrics::pearson(v, final_values)).cell(sp);
    csv.end_row();
    stack.push_back(d.at_checkpoints[i].to(at::kCPU).to(at::kFloat));
    if (i + 1 == d.checkpoints.size()) summary.set(key + ".df-rise.convergence_spearman_half", sp);
  }
  csv.commit();
  stack.push_back(d.map.to(at::kCPU).to(at::kFloat));
  const at::Tensor all = at::stack(stack).contiguous();
  write_npy(out + "/df-rise_convergence.npy", all.data_ptr<float>(), {all.size(0), all.size(1), all.size(2)});
}

/// Explains one step: maps, curves and AUCs under saliency/step_NNN/, its keys into `summary`.
std::vector<MethodResult> explain_step(const SaliencyOptions& o, const Model& model, const RunFolder& run, int step,
                                       bool quiet, Summary& summary) {
  if (o.mask_seeds < 1) throw Error("--mask-seeds: expected at least 1");
  StepContext s = study::load_step(model, run, step);
  std::vector<MethodResult> res;
  DfRiseResult convergence;  // the first mask seed's DF-RISE, with its maps after 1/8, 1/4 and 1/2 of the masks
  for (const auto& m : o.methods) {
    MethodResult r;
    r.name = m;
    if (m == "attention") {
      r.maps = {attention_saliency(run, step, "")};
    } else if (m == "df-rise") {
      for (int i = 0; i < o.mask_seeds; ++i) {
        const std::vector<int> stops = i == 0 ? std::vector<int>{o.samples / 8, o.samples / 4, o.samples / 2}
                                              : std::vector<int>{};
        DfRiseResult d = df_rise_checkpoints(s, o.samples, o.batch, o.similarity, o.seed + static_cast<uint64_t>(i),
                                             quiet, stops);
        r.maps.push_back(d.map);
        if (i == 0) convergence = std::move(d);
      }
    } else if (m == "df-cam") {
      r.maps = {df_cam(s)};
    } else {
      throw Error("--methods " + m + ": expected attention, df-rise or df-cam");
    }
    res.push_back(r);
  }
  if (!o.word.empty()) res.push_back({"word:" + o.word, {attention_saliency(run, step, o.word)}, {}, {}, {}});
  MethodResult random{"random", {}, {}, {}, {}};
  for (int i = 0; i < o.mask_seeds; ++i)
    random.maps.push_back(random_saliency(run.h, run.w, o.seed + static_cast<uint64_t>(i) + 7919));
  res.push_back(random);
  int curves_total = 0;
  for (const auto& r : res) curves_total += 2 * static_cast<int>(r.maps.size());
  Progress progress("insertion/deletion", curves_total, quiet);
  for (auto& r : res) {
    for (size_t i = 0; i < r.maps.size(); ++i) {
      Curve del = perturbation_curve(s, r.maps[i], false, o.k, o.batch, o.similarity);
      progress.tick(r.name + " deletion");
      Curve ins = perturbation_curve(s, r.maps[i], true, o.k, o.batch, o.similarity);
      progress.tick(r.name + " insertion");
      r.seeds.push_back({del.auc, ins.auc, del.auc_raw, ins.auc_raw});
      if (i == 0) r.deletion = std::move(del), r.insertion = std::move(ins);
    }
    spdlog::info("step {} {}: deletion AUC {:.4f} (raw {:.4f}), insertion AUC {:.4f} (raw {:.4f}){}", step, r.name,
                 r.mean(&SeedAucs::deletion), r.mean(&SeedAucs::deletion_raw), r.mean(&SeedAucs::insertion),
                 r.mean(&SeedAucs::insertion_raw),
                 r.seeds.size() > 1 ? ", means over " + std::to_string(r.seeds.size()) + " mask seeds" : "");
  }
  progress.finish();
  // writers
  const std::string out = run.path("saliency/" + step_name(step));
  ensure_dir(out);
  const cv::Mat final_img = read_image(run.path("final.png"));
  CsvWriter curves(out + "/curves.csv", {"method", "curve", "fraction", "score", "normalised"});
  CsvWriter auc(out + "/auc.csv", {"method", "deletion_auc", "insertion_auc", "deletion_auc_raw", "insertion_auc_raw"});
  std::vector<Series> del, ins, del_n, ins_n;
  for (auto& r : res) {
    at::Tensor m = r.map().to(at::kCPU).to(at::kFloat).contiguous();
    const std::string name = safe_name(r.name);
    write_npy(out + "/" + name + ".npy", m.data_ptr<float>(), {m.size(0), m.size(1)});
    std::vector<float> v(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
    auto img = resize_map(v.data(), static_cast<int>(m.size(0)), static_cast<int>(m.size(1)), run.image_h,
                          run.image_w, true, true);
    normalize_minmax(img);
    cv::Mat heat = colorize(img.data(), run.image_h, run.image_w, Colormap::Turbo);
    write_png(out + "/" + name + ".png", heat);
    r.overlay = overlay(final_img, heat, 0.55f);
    write_png(out + "/" + name + "_overlay.png", r.overlay);
    // the same overlay titled, with its numeric colour bar (PNG 300 dpi + PDF + SVG)
    write_colorbar_figure(out + "/" + name + "_figure.png", r.overlay,
                          r.name + " saliency, " + step_label(run, step) + " (over final.png)",
                          ColourScale{Colormap::Turbo, 0.0, 1.0, kSaliencyScale});
    for (const auto& [curve, c] :
         {std::pair<std::string, const Curve*>{"deletion", &r.deletion}, {"insertion", &r.insertion}}) {
      for (size_t i = 0; i < c->fraction.size(); ++i) {
        curves.cell(r.name).cell(curve).cell(c->fraction[i]).cell(c->score[i]).cell(c->normalised[i]);
        curves.end_row();
      }
    }
    auc.cell(r.name).cell(r.mean(&SeedAucs::deletion)).cell(r.mean(&SeedAucs::insertion));
    auc.cell(r.mean(&SeedAucs::deletion_raw)).cell(r.mean(&SeedAucs::insertion_raw));
    auc.end_row();
    char auc_d[48], auc_i[48];
    std::snprintf(auc_d, sizeof auc_d, " (AUC %.3f, normalised %.3f)", r.deletion.auc_raw, r.deletion.auc);
    std::snprintf(auc_i, sizeof auc_i, " (AUC %.3f, normalised %.3f)", r.insertion.auc_raw, r.insertion.auc);
    // one colour per method in every figure (palette.h)
    const Rgb colour = method_colour(r.name);
    del.push_back({r.name + auc_d, r.deletion.fraction, r.deletion.score, {}, colour});
    ins.push_back({r.name + auc_i, r.insertion.fraction, r.insertion.score, {}, colour});
    del_n.push_back({r.name, r.deletion.fraction, r.deletion.normalised, {}, colour});
    ins_n.push_back({r.name, r.insertion.fraction, r.insertion.normalised, {}, colour});
    const std::string key = "saliency." + step_name(step) + "." + r.name;
    for (const auto& [suffix, field] : kAucFields) {
      summary.set(key + "." + suffix, r.mean(field));
      if (r.seeds.size() > 1) summary.set(key + "." + suffix + "_sd", r.sd(field));
    }
  }
  write_seed_spread(out, "saliency." + step_name(step), res, o, summary);
  if (convergence.map.defined()) write_convergence(out, "saliency." + step_name(step), convergence, summary);
  curves.commit();
  auc.commit();
  write_plot(out + "/deletion.png", del, "Deletion (lower AUC = better saliency), step " + std::to_string(step),
                                             "fraction of latent pixels deleted", "similarity to unperturbed");
  write_plot(out + "/insertion.png", ins, "Insertion (higher AUC = better saliency), step " + std::to_string(step),
                      "fraction of latent pixels inserted", "similarity to unperturbed");
  // the paper's min-max normalised curves (whose areas are the headline AUCs), beside the raw ones
  write_plot(out + "/deletion_normalised.png", del_n, "Deletion, min-max normalised (its area is the deletion AUC), step " + std::to_string(step),
                      "fraction of latent pixels deleted", "normalised similarity");
  write_plot(out + "/insertion_normalised.png", ins_n, "Insertion, min-max normalised (its area is the insertion AUC), step " + std::to_string(step),
                      "fraction of latent pixels inserted", "normalised similarity");
  return res;
}

/// The saliency analysis: the chosen step (or every step of o.steps, with the step x method table and figures).
void explain_steps(const Model& model, const RunFolder& run, const SaliencyOptions& o, bool quiet, Summary& summary) {
  if (o.steps.empty()) {
    explain_step(o, model, run, chosen_step(o, run), quiet, summary);
    return;
  }
  if (o.step) throw Error("saliency: give --step or --steps, not both");
  const std::vector<int> steps = listed_steps(o.steps, run);
  CsvWriter table(run.path("saliency/over_steps.csv"), {"step", "timestep", "method", "deletion_auc", "insertion_auc",
                                                         "deletion_auc_raw", "insertion_auc_raw"});
  std::map<std::string, Series> del, ins;
  GridFigure grid;  // the step x method figure: a row per step, a column per method
  Progress progress("explaining steps", static_cast<int>(steps.size()), quiet);
  for (int step : steps) {
    const auto res = explain_step(o, model, run, step, true, summary);
    grid.row_labels.push_back(step_label(run, step));
    grid.cells.emplace_back();
    for (const auto& r : res) {
      grid.cells.back().push_back(r.overlay);
      if (grid.cells.size() == 1) grid.col_labels.push_back(r.name), grid.col_colours.push_back(method_colour(r.name));
    }
    for (const auto& r : res) {
      table.cell(static_cast<int64_t>(step)).cell(run.timesteps[static_cast<size_t>(step)]).cell(r.name);
      table.cell(r.mean(&SeedAucs::deletion)).cell(r.mean(&SeedAucs::insertion));
      table.cell(r.mean(&SeedAucs::deletion_raw)).cell(r.mean(&SeedAucs::insertion_raw));
      table.end_row();
      for (const auto& [series, value] :
           {std::pair<std::map<std::string, Series>*, double>{&del, r.mean(&SeedAucs::deletion)},
            {&ins, r.mean(&SeedAucs::insertion)}}) {
        Series& sr = (*series)[r.name];
        sr.name = r.name;
        sr.colour = method_colour(r.name);
        sr.x.push_back(step);
        sr.y.push_back(value);
      }
    }
    progress.tick("step " + std::to_string(step));
  }
  progress.finish();
  table.commit();
  grid.title = "Saliency by step and method (over final.png)";
  grid.scale = ColourScale{Colormap::Turbo, 0.0, 1.0, kSaliencyScale};
  write_grid_figure(run.path("saliency/grid.png"), grid);
  auto values = [](const std::map<std::string, Series>& m) {
    std::vector<Series> v;
    for (const auto& [name, sr] : m) v.push_back(sr);
    return v;
  };
  write_plot(run.path("saliency/deletion_over_steps.png"), values(del), "Deletion AUC over the denoising steps (lower = better saliency)", "step",
                      "normalised deletion AUC");
  write_plot(run.path("saliency/insertion_over_steps.png"), values(ins), "Insertion AUC over the denoising steps (higher = better saliency)", "step",
                      "normalised insertion AUC");
}

/// Per step, each word's gradient x attention relevance share (see saliency_study.h, relevance_run).
void relevance(const Model& model, const RunFolder& run, bool quiet, Summary& summary) {
  const auto words = run.content_words();
  const auto keys = word_keys(words);  // a repeated word is "a#2" in the table, the legend and summary.json
  CsvWriter csv(run.path("tables/relevance.csv"), {"step", "timestep", "word", "relevance"});
  std::vector<Series> series(words.size());
  for (size_t k = 0; k < words.size(); ++k) series[k].name = keys[k], series[k].colour = word_colour(k);
  std::vector<double> peak(words.size(), -1), peak_step(words.size(), 0);
  Progress progress("relevance", run.steps, quiet);
  for (int st = 0; st < run.steps; ++st) {
    at::Tensor rel = token_relevance(study::load_step(model, run, st));
    progress.tick("step " + std::to_string(st));
    std::vector<double> per;
    double total = 0;
    for (const auto& w : words) {
      double v = 0;
      for (int p : w.positions) v += rel[p].item<double>();  // start (0) and end tokens are not words
      per.push_back(v);
      total += v;
    }
    for (size_t k = 0; k < words.size(); ++k) {
      const double v = total > 0 ? per[k] / total : 0.0;
      csv.cell(static_cast<int64_t>(st)).cell(run.timesteps[static_cast<size_t>(st)]).cell(keys[k]).cell(v);
      csv.end_row();
      series[k].x.push_back(st);
      series[k].y.push_back(v);
      if (v > peak[k]) peak[k] = v, peak_step[k] = st;
    }
  }
  progress.finish();
  ensure_dir(run.path("tables"));
  csv.commit();
  ensure_dir(run.path("plots"));
  write_plot(run.path("plots/relevance.png"), series, "Which words the step relies on (gradient x attention)", "step", "relevance share");
  for (size_t k = 0; k < words.size(); ++k) summary.set("relevance." + keys[k] + ".peak_step", peak_step[k]);
}

/// A summary's numbers as analysis keys.
void add_keys(const Summary& s, AnalysisKeys& keys) {
  for (const auto& [k, v] : s.numbers()) keys[k] = v;
}

DIFFSCOPE_ANALYSIS({"saliency", "DF-RISE, DF-CAM and attention saliency of one step, with insertion/deletion AUC", 80,
                    kNeedsModel | kNeedsAttention, {}, {},
                    [](const AnalysisInput& in, AnalysisKeys& keys) {
                      Summary s;
                      explain_steps(in.model(), in.run, in.options.saliency, in.quiet, s);
                      add_keys(s, keys);
                    },
                    /*by_default=*/false, /*own_command=*/true});

DIFFSCOPE_ANALYSIS({"relevance", "per step, each word's gradient x attention relevance (which concepts come when)", 85,
                    kNeedsModel | kNeedsAttention, {"--run runs/demo --model models/shapes-v1"}, {},
                    [](const AnalysisInput& in, AnalysisKeys& keys) {
                      Summary s;
                      relevance(in.model(), in.run, in.quiet, s);
                      add_keys(s, keys);
                    },
                    /*by_default=*/false});

}  // namespace

void saliency_run(const std::string& run_dir, const std::string& model_dir, const SaliencyOptions& o,
                  const Session& session) {
  AnalysisOptions a;
  a.which = {"saliency"};
  a.saliency = o;
  a.model_dir = model_dir;
  analyze_folder(run_dir, a, session);
}

void relevance_run(const std::string& run_dir, const std::string& model_dir, const Session& session) {
  AnalysisOptions a;
  a.which = {"relevance"};
  a.model_dir = model_dir;
  analyze_folder(run_dir, a, session);
}

Summary saliency_prompt_set(const GenerationSpec& base, const std::string& prompts_file, const std::string& out,
                            const SaliencyOptions& o, const Session& session) {
  if (out.empty()) throw Error("--out: required with --prompts");
  if (!o.steps.empty() && o.step) throw Error("saliency: give --step or --steps, not both");
  const OutputFolder claimed = claim_output_folder(out, base.overwrite);
  const auto items = read_prompt_file(prompts_file, base.seed);
  const Model model = study::load_model(base.model, session);
  const bool over_steps = !o.steps.empty();
  CsvWriter per(out + "/saliency_prompts.csv", {"index", "seed", "prompt", "step", "method", "deletion_auc",
                                                "insertion_auc", "deletion_auc_raw", "insertion_auc_raw"});
  SummaryAggregate agg;
  std::vector<int> steps_seen;
  std::vector<std::string> methods_seen;
  study::for_each_prompt(model, base, items, out, session, "saliency", true,
                         [&](const PromptItem& item, const std::string& dir) {
                           const RunFolder run = RunFolder::load(dir);
                           const std::vector<int> steps =
                               over_steps ? listed_steps(o.steps, run) : std::vector<int>{chosen_step(o, run)};
                           for (int step : steps) {
                             if (std::find(steps_seen.begin(), steps_seen.end(), step) == steps_seen.end())
                               steps_seen.push_back(step);
                             Summary keys;
                             const auto results = explain_step(o, model, run, step, session.quiet, keys);
                             keys.merge_into(run.path("summary.json"));
                             for (const auto& r : results) {
                               if (std::find(methods_seen.begin(), methods_seen.end(), r.name) == methods_seen.end())
                                 methods_seen.push_back(r.name);
                               per.cell(static_cast<int64_t>(item.index)).cell(item.seed).cell(item.prompt);
                               per.cell(static_cast<int64_t>(step)).cell(r.name);
                               per.cell(r.mean(&SeedAucs::deletion)).cell(r.mean(&SeedAucs::insertion));
                               per.cell(r.mean(&SeedAucs::deletion_raw)).cell(r.mean(&SeedAucs::insertion_raw));
                               per.end_row();
                               const std::string key =
                                   "saliency." + (over_steps ? step_name(step) + "." : std::string()) + r.name;
                               for (const auto& [suffix, field] : kAucFields) agg.add(key + "." + suffix, r.mean(field));
                               if (over_steps) continue;
                               agg.add_curve(key + ".deletion_auc", r.deletion.fraction, r.deletion.score);
                               agg.add_curve(key + ".insertion_auc", r.insertion.fraction, r.insertion.score);
                             }
                           }
                         });
  per.commit();
  Summary summary;
  agg.write_to(summary);
  summary.set_count("prompts", static_cast<int64_t>(items.size()));
  if (over_steps) {
    // the step x method table of means with their 95% bootstrap intervals, and the mean AUC against the step
    std::sort(steps_seen.begin(), steps_seen.end());
    const auto n = summary.numbers();
    auto get = [&](const std::string& k) {
      auto it = n.find(k);
      return it == n.end() ? std::nan("") : it->second;
    };
    CsvWriter table(out + "/over_steps.csv", {"step", "method", "n", "deletion_auc", "deletion_auc_ci95_lo",
                                               "deletion_auc_ci95_hi", "insertion_auc", "insertion_auc_ci95_lo",
                                               "insertion_auc_ci95_hi"});
    std::vector<Series> del, ins;
    for (const auto& m : methods_seen) {
      Series d{m, {}, {}, {}, method_colour(m)}, i{m, {}, {}, {}, method_colour(m)};
      for (int step : steps_seen) {
        const std::string k = "saliency." + step_name(step) + "." + m;
        table.cell(static_cast<int64_t>(step)).cell(m).cell(get(k + ".deletion_auc.n"));
        for (const char* c : {".deletion_auc", ".insertion_auc"})
          table.cell(get(k + c + ".mean")).cell(get(k + c + ".ci95_lo")).cell(get(k + c + ".ci95_hi"));
        table.end_row();
        d.x.push_back(step), d.y.push_back(get(k + ".deletion_auc.mean"));
        i.x.push_back(step), i.y.push_back(get(k + ".insertion_auc.mean"));
      }
      del.push_back(d), ins.push_back(i);
    }
    table.commit();
    summary.write(out + "/summary.json");
    write_plot(out + "/deletion_over_steps.png", del, "Mean deletion AUC over the denoising steps (lower = better saliency)",
               "step (0-based)", "normalised deletion AUC, mean over prompts");
    write_plot(out + "/insertion_over_steps.png", ins, "Mean insertion AUC over the denoising steps (higher = better saliency)",
               "step (0-based)", "normalised insertion AUC, mean over prompts");
    return summary;
  }
  // the AUC of the normalised mean curve (how X-Diffusion reports a set), beside the mean of per-prompt AUCs
  std::vector<Series> dplot, iplot;
  for (const auto& key : agg.curve_keys()) {
    const auto [x, y] = agg.mean_curve(key);
    summary.set(key + ".mean_curve", make_curve(x, y).auc);
    const bool is_del = key.size() > 13 && key.compare(key.size() - 13, 13, ".deletion_auc") == 0;
    const std::string method = key.substr(9, key.rfind('.') - 9);  // saliency.<method>.<curve>_auc
    (is_del ? dplot : iplot).push_back({method, x, y, {}, method_colour(method)});
  }
  summary.write(out + "/summary.json");
  write_plot(out + "/deletion_mean.png", dplot, "Mean deletion curves", "fraction deleted", "similarity");
  write_plot(out + "/insertion_mean.png", iplot, "Mean insertion curves", "fraction inserted", "similarity");
  return summary;
}


}  // namespace diffscope
