// `diffscope saliency` (DF-RISE, DF-CAM, attention saliency + insertion/deletion AUC) and `diffscope relevance`.
#include <spdlog/spdlog.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/generate_options.h"
#include "cli/prompt_file.h"
#include "diffscope/atomic_file.h"
#include "diffscope/csv.h"
#include "diffscope/error.h"
#include "diffscope/heatmaps.h"
#include "diffscope/image.h"
#include "diffscope/json_util.h"
#include "diffscope/model.h"
#include "diffscope/npy.h"
#include "diffscope/plot.h"
#include "diffscope/saliency.h"

namespace diffscope::cli {
namespace {

struct SalOpts {
  CommonOptions common;
  std::string run, model, word, similarity = "structure", prompts, out;
  std::vector<std::string> methods{"attention", "df-rise", "df-cam"};
  int step = -1, samples = 500, batch = 16, k = 64;
  double step_frac = 0.5;
  uint64_t seed = 0;
  GenerateCli g;  // prompt-set mode
};

struct MethodResult {
  std::string name;
  at::Tensor map;
  Curve deletion, insertion;
};

std::string model_dir(const RunFolder& run, const std::string& override_dir) {
  if (!override_dir.empty()) return override_dir;
  const std::string d = run.meta.contains("model") ? run.meta["model"].value("dir", std::string()) : "";
  if (d.empty()) throw Error(run.path("run.json") + ": names no model folder; pass --model");
  return d;
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
  return at::from_blob(sum.data(), {run.h, run.w}, at::kFloat).clone();
}

/// Saliency maps and curves for one run at one step; writes DIR/saliency/step_NNN/ and merges summary keys.
std::vector<MethodResult> saliency_for_run(const SalOpts& o, const Model& model, const std::string& dir, int step) {
  const RunFolder run = RunFolder::load(dir);
  if (step < 0) step = std::min(run.steps - 1, static_cast<int>(std::lround(o.step_frac * (run.steps - 1))));
  StepContext s = load_step(model, run, step);
  std::vector<MethodResult> res;
  for (const auto& m : o.methods) {
    MethodResult r;
    r.name = m;
    if (m == "attention") {
      r.map = attention_saliency(run, step, "");
    } else if (m == "df-rise") {
      r.map = df_rise(s, o.samples, o.batch, o.similarity, o.seed, o.common.quiet);
    } else if (m == "df-cam") {
      r.map = df_cam(s);
    } else {
      throw Error("--methods " + m + ": expected attention, df-rise or df-cam");
    }
    res.push_back(r);
  }
  if (!o.word.empty()) res.push_back({"word:" + o.word, attention_saliency(run, step, o.word), {}, {}});
  res.push_back({"random", random_saliency(run.h, run.w, o.seed + 7919), {}, {}});
  for (auto& r : res) {
    r.deletion = perturbation_curve(s, r.map, false, o.k, o.batch, o.similarity);
    r.insertion = perturbation_curve(s, r.map, true, o.k, o.batch, o.similarity);
    spdlog::info("step {} {}: deletion AUC {:.4f} (raw {:.4f}), insertion AUC {:.4f} (raw {:.4f})", step, r.name,
                 r.deletion.auc, r.deletion.auc_raw, r.insertion.auc, r.insertion.auc_raw);
  }
  // writers
  char sub[32];
  std::snprintf(sub, sizeof sub, "saliency/step_%03d", step);
  const std::string out = run.path(sub);
  ensure_dir(out);
  const cv::Mat final_img = read_image(run.path("final.png"));
  CsvWriter curves(out + "/curves.csv", {"method", "curve", "fraction", "score", "normalised"});
  CsvWriter auc(out + "/auc.csv", {"method", "deletion_auc", "insertion_auc", "deletion_auc_raw", "insertion_auc_raw"});
  std::vector<Series> del, ins;
  nlohmann::json summary = std::filesystem::exists(run.path("summary.json")) ? read_json_file(run.path("summary.json"))
                                                                            : nlohmann::json::object();
  for (const auto& r : res) {
    at::Tensor m = r.map.to(at::kCPU).to(at::kFloat).contiguous();
    const std::string name = safe_name(r.name);
    write_npy(out + "/" + name + ".npy", m.data_ptr<float>(), {m.size(0), m.size(1)});
    std::vector<float> v(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
    auto img = resize_map(v.data(), static_cast<int>(m.size(0)), static_cast<int>(m.size(1)), run.image_h, run.image_w, true, true);
    normalize_minmax(img);
    cv::Mat heat = colorize(img.data(), run.image_h, run.image_w, Colormap::Turbo);
    write_png(out + "/" + name + ".png", heat);
    write_png(out + "/" + name + "_overlay.png", overlay(final_img, heat, 0.55f));
    for (const auto& [curve, c] : {std::pair<std::string, const Curve*>{"deletion", &r.deletion}, {"insertion", &r.insertion}}) {
      for (size_t i = 0; i < c->fraction.size(); ++i) {
        curves.cell(r.name).cell(curve).cell(c->fraction[i]).cell(c->score[i]).cell(c->normalised[i]);
        curves.end_row();
      }
    }
    auc.cell(r.name).cell(r.deletion.auc).cell(r.insertion.auc).cell(r.deletion.auc_raw).cell(r.insertion.auc_raw);
    auc.end_row();
    del.push_back({r.name, r.deletion.fraction, r.deletion.score});
    ins.push_back({r.name, r.insertion.fraction, r.insertion.score});
    const std::string key = "saliency.step_" + std::to_string(step) + "." + r.name;
    summary[key + ".deletion_auc"] = r.deletion.auc;
    summary[key + ".insertion_auc"] = r.insertion.auc;
    summary[key + ".deletion_auc_raw"] = r.deletion.auc_raw;
    summary[key + ".insertion_auc_raw"] = r.insertion.auc_raw;
  }
  curves.commit();
  auc.commit();
  write_png(out + "/deletion.png", line_plot(del, "Deletion (lower AUC = better saliency), step " + std::to_string(step),
                                             "fraction of latent pixels deleted", "similarity to unperturbed"));
  write_png(out + "/insertion.png", line_plot(ins, "Insertion (higher AUC = better saliency), step " + std::to_string(step),
                                              "fraction of latent pixels inserted", "similarity to unperturbed"));
  write_json_atomic(run.path("summary.json"), summary);
  return res;
}

int run_saliency(SalOpts& o) {
  const std::string device = apply_common_options(o.common);
  if (o.prompts.empty()) {
    if (o.run.empty()) throw Error("saliency: give --run DIR or --prompts FILE with --out");
    Model model = Model::load(model_dir(RunFolder::load(o.run), o.model), device);
    saliency_for_run(o, model, o.run, o.step);
    std::printf("saliency         %s/saliency/\n", o.run.c_str());
    return 0;
  }
  // prompt-set mode: generate each prompt, explain the chosen step, average the curves
  if (o.out.empty()) throw Error("--out: required with --prompts");
  ensure_dir(o.out);
  const auto prompts = read_prompt_file(o.prompts, o.g.seed);
  Model model = Model::load(o.g.model, device);
  CsvWriter per(o.out + "/saliency_prompts.csv", {"index", "seed", "prompt", "method", "deletion_auc", "insertion_auc",
                                                  "deletion_auc_raw", "insertion_auc_raw"});
  std::map<std::string, std::vector<Curve>> del, ins;
  for (size_t i = 0; i < prompts.size(); ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%03zu", i);
    GenerateCli g = o.g;
    g.seed = prompts[i].first;
    g.prompt = prompts[i].second;
    g.out = o.out + "/" + name;
    g.common = o.common;
    g.common.quiet = true;
    run_generate(g, "saliency");
    for (const auto& r : saliency_for_run(o, model, g.out, o.step)) {
      per.cell(static_cast<int64_t>(i)).cell(g.seed).cell(g.prompt).cell(r.name).cell(r.deletion.auc).cell(r.insertion.auc);
      per.cell(r.deletion.auc_raw).cell(r.insertion.auc_raw);
      per.end_row();
      del[r.name].push_back(r.deletion);
      ins[r.name].push_back(r.insertion);
    }
  }
  per.commit();
  nlohmann::json summary;
  std::vector<Series> dplot, iplot;
  for (auto* which : {&del, &ins}) {
    const bool is_del = which == &del;
    for (const auto& [method, curves] : *which) {
      const double n = static_cast<double>(curves.size());
      Series sr{method, curves[0].fraction, std::vector<double>(curves[0].score.size(), 0.0)};
      double auc = 0, auc_raw = 0;
      for (const auto& c : curves) {
        auc += c.auc / n;
        auc_raw += c.auc_raw / n;
        for (size_t k = 0; k < c.score.size(); ++k) sr.y[k] += c.score[k] / n;
      }
      // means of the per-prompt AUCs, and the AUC of the normalised mean curve (how X-Diffusion reports a set)
      const std::string key = std::string("saliency.") + method + (is_del ? ".deletion_auc" : ".insertion_auc");
      summary[key + ".mean"] = auc;
      summary[key + "_raw.mean"] = auc_raw;
      summary[key + ".mean_curve"] = make_curve(sr.x, sr.y).auc;
      (is_del ? dplot : iplot).push_back(sr);
    }
  }
  summary["prompts"] = prompts.size();
  write_json_atomic(o.out + "/summary.json", summary);
  write_png(o.out + "/deletion_mean.png", line_plot(dplot, "Mean deletion curves", "fraction deleted", "similarity"));
  write_png(o.out + "/insertion_mean.png", line_plot(iplot, "Mean insertion curves", "fraction inserted", "similarity"));
  for (const auto& [k, v] : summary.items())
    if (v.is_number_float()) std::printf("%-42s %.4f\n", k.c_str(), v.get<double>());
  std::printf("summary          %s/summary.json\n", o.out.c_str());
  return 0;
}

Runner setup_saliency(CLI::App& app) {
  auto o = std::make_shared<SalOpts>();
  app.add_option("-r,--run", o->run, "run folder (from generate/analyze)");
  app.add_option("-m,--model", o->model, "model package (default: the one named in run.json)");
  app.add_option("--step", o->step, "the denoising step to explain (default: --step-frac of the run)");
  app.add_option("--step-frac", o->step_frac, "which step, as a fraction of the run (default 0.5)")->default_val(0.5);
  app.add_option("--methods", o->methods, "attention, df-rise, df-cam (a random baseline is always added)")
      ->delimiter(',');
  app.add_option("--word", o->word, "also a single word's attention map as a saliency");
  app.add_option("--samples", o->samples, "DF-RISE masks")->default_val(500);
  app.add_option("--batch", o->batch, "latents per UNet call")->default_val(16);
  app.add_option("--k", o->k, "insertion/deletion stages")->default_val(64);
  app.add_option("--similarity", o->similarity, "structure (SSIM structure term), ssim, luminance, contrast, cosine, mse")
      ->default_val("structure");
  app.add_option("--seed", o->seed, "seed of the masks and the random baseline")->default_val(0);
  app.add_option("--prompts", o->prompts, "prompt-set mode: a prompts file (SEED<TAB>prompt lines); needs --out");
  app.add_option("-o,--out", o->out, "prompt-set output folder");
  app.add_option("--gen-model", o->g.model, "prompt-set mode: model package")->default_val("models/shapes-v1");
  app.add_option("--gen-steps", o->g.steps, "prompt-set mode: inference steps")->default_val(25);
  app.add_option("--gen-guidance", o->g.guidance, "prompt-set mode: guidance scale")->default_val(5.0);
  app.add_option("--gen-scheduler", o->g.scheduler, "prompt-set mode: scheduler")->default_val("ddim");
  add_common_options(app, o->common);
  add_examples(app, {"diffscope saliency --run runs/demo --step 12",
                     "diffscope saliency --run runs/demo --methods df-rise --samples 2000 --similarity ssim",
                     "diffscope saliency --prompts tests/data/shapes_prompts.txt -o runs/saliency-set --samples 200"});
  return [o] {
    o->g.x0_every = 0;
    return run_saliency(*o);
  };
}

struct RelOpts {
  CommonOptions common;
  std::string run, model;
};

int run_relevance(const RelOpts& o) {
  const std::string device = apply_common_options(o.common);
  const RunFolder run = RunFolder::load(o.run);
  Model model = Model::load(model_dir(run, o.model), device);
  const auto words = run.content_words();
  CsvWriter csv(run.path("tables/relevance.csv"), {"step", "timestep", "word", "relevance"});
  std::vector<Series> series(words.size());
  for (size_t k = 0; k < words.size(); ++k) series[k].name = words[k].text;
  nlohmann::json summary = std::filesystem::exists(run.path("summary.json")) ? read_json_file(run.path("summary.json"))
                                                                            : nlohmann::json::object();
  std::vector<double> peak(words.size(), -1), peak_step(words.size(), 0);
  for (int st = 0; st < run.steps; ++st) {
    at::Tensor rel = token_relevance(load_step(model, run, st));
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
      csv.cell(static_cast<int64_t>(st)).cell(run.timesteps[static_cast<size_t>(st)]).cell(words[k].text).cell(v);
      csv.end_row();
      series[k].x.push_back(st);
      series[k].y.push_back(v);
      if (v > peak[k]) peak[k] = v, peak_step[k] = st;
    }
  }
  ensure_dir(run.path("tables"));
  csv.commit();
  ensure_dir(run.path("plots"));
  write_png(run.path("plots/relevance.png"),
            line_plot(series, "Which words the step relies on (gradient x attention)", "step", "relevance share"));
  std::map<std::string, int> seen;
  for (size_t k = 0; k < words.size(); ++k) {
    const int n = ++seen[words[k].text];
    const std::string key = n == 1 ? words[k].text : words[k].text + "#" + std::to_string(n);
    summary["relevance." + key + ".peak_step"] = peak_step[k];
  }
  write_json_atomic(run.path("summary.json"), summary);
  std::printf("relevance        %s\n", run.path("tables/relevance.csv").c_str());
  return 0;
}

Runner setup_relevance(CLI::App& app) {
  auto o = std::make_shared<RelOpts>();
  app.add_option("-r,--run", o->run, "run folder")->required();
  app.add_option("-m,--model", o->model, "model package (default: the one named in run.json)");
  add_common_options(app, o->common);
  add_examples(app, {"diffscope relevance --run runs/demo"});
  return [o] { return run_relevance(*o); };
}

DIFFSCOPE_COMMAND({"saliency", "DF-RISE, DF-CAM and attention saliency of one step, with insertion/deletion AUC", 60,
                   setup_saliency});
DIFFSCOPE_COMMAND({"relevance", "per step, each word's gradient x attention relevance (which concepts come when)", 61,
                   setup_relevance});

}  // namespace
}  // namespace diffscope::cli
