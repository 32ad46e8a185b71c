// `diffscope attribute`: heatmaps and AUC for a real image (or a whole shapes-format dataset folder).
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "diffscope/atomic_file.h"
#include "diffscope/attention_capture.h"
#include "diffscope/attribute.h"
#include "diffscope/csv.h"
#include "diffscope/error.h"
#include "diffscope/json_util.h"
#include "diffscope/model.h"
#include "diffscope/progress.h"
#include "diffscope/run_recorder.h"
#include "diffscope/segmentation.h"

namespace fs = std::filesystem;

namespace diffscope::cli {
namespace {

struct Opts {
  CommonOptions common;
  std::string model = "models/shapes-v1", image, prompt, negative, dataset, out;
  std::vector<int64_t> t{100, 300, 600};
  double guidance = 1.0;
  int64_t seed = 0;
  int limit = 0;
  AnalysisOptions a;
};

/// One attribution into `dir`; returns the analyses' summary.
std::map<std::string, double> attribute_one(const Model& model, const Opts& o, const std::string& image,
                                            const std::string& prompt, const std::string& masks, const std::string& dir) {
  AttributeOptions ao;
  ao.image_path = image;
  ao.prompt = prompt;
  ao.negative_prompt = o.negative;
  ao.timesteps = o.t;
  ao.guidance_scale = o.guidance;
  ao.seed = o.seed;
  RunRecorderOptions ro;
  ro.dir = dir;
  RunRecorder rec(ro);
  AttentionCapture att;
  GenerateResult r = attribute(model, ao, {&rec, &att});
  rec.write(attribute_as_generate_options(ao), r, &att, {{"command", "attribute"}, {"image", image}});
  AnalysisOptions a = o.a;
  a.which = {"heatmaps", "auc", "correlate"};
  if (!masks.empty()) a.masks_dir = masks;
  return run_analyses(dir, a);
}

int run(const Opts& o) {
  const std::string device = apply_common_options(o.common);
  if (o.dataset.empty() == o.image.empty()) throw Error("attribute: give exactly one of --image or --dataset");
  Model model = Model::load(o.model, device);
  model.require_attention("attribute");
  if (!o.image.empty()) {
    if (o.prompt.empty()) throw Error("--prompt: required with --image");
    auto s = attribute_one(model, o, o.image, o.prompt, o.a.masks_dir, o.out);
    if (!o.common.quiet) print_summary(s, o.out);
    return 0;
  }
  // dataset folder mode (the shapes format: index.json with items {image, caption, masks})
  const std::string index_path = (fs::path(o.dataset) / "index.json").string();
  const auto index = read_json_file(index_path);
  if (index.value("format", std::string()) != "diffscope-shapes")
    throw Error(index_path + ": expected a dataset in the diffscope-shapes format (scripts/shapes/shapes_dataset.py)");
  Concepts concepts;
  const fs::path cpath = fs::path(o.model) / "concepts.json";
  const bool have_concepts = fs::exists(cpath);
  if (have_concepts) concepts = Concepts::load(cpath.string());
  ensure_dir(o.out);
  CsvWriter csv(o.out + "/attribution.csv", {"item", "caption", "word", "class", "roc_auc", "ap", "iou"});
  std::map<std::string, std::vector<double>> per_class_auc, per_class_iou;
  const auto& items = index.at("items");
  const int n = o.limit > 0 ? std::min<int>(o.limit, static_cast<int>(items.size())) : static_cast<int>(items.size());
  Progress progress("attributing", n, o.common.quiet);
  for (int i = 0; i < n; ++i) {
    const auto& it = items[static_cast<size_t>(i)];
    const std::string id = it.at("id"), caption = it.at("caption");
    const std::string dir = o.out + "/items/" + id;
    auto s = attribute_one(model, o, (fs::path(o.dataset) / it.at("image").get<std::string>()).string(), caption,
                           (fs::path(o.dataset) / it.at("masks").get<std::string>()).string(), dir);
    for (const auto& [k, v] : s) {
      // auc.word.<word>.roc_auc
      if (k.rfind("auc.word.", 0) != 0) continue;
      const auto dot = k.rfind('.');
      const std::string word = k.substr(9, dot - 9), metric = k.substr(dot + 1);
      if (metric != "roc_auc") continue;
      const std::string base = word.substr(0, word.find('#'));
      const std::string cls = have_concepts && !concepts.word_class(base).empty() ? concepts.word_class(base) : "other";
      const double ap = s.count("auc.word." + word + ".ap") ? s.at("auc.word." + word + ".ap") : NAN;
      const double iou = s.count("auc.word." + word + ".iou") ? s.at("auc.word." + word + ".iou") : NAN;
      csv.cell(id).cell(caption).cell(base).cell(cls).cell(v).cell(ap).cell(iou);
      csv.end_row();
      if (std::isfinite(v)) per_class_auc[cls].push_back(v), per_class_auc["all"].push_back(v);
      if (std::isfinite(iou)) per_class_iou[cls].push_back(iou), per_class_iou["all"].push_back(iou);
    }
    progress.tick(id);
  }
  progress.finish();
  csv.commit();
  nlohmann::json summary;
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? NAN : s / static_cast<double>(v.size());
  };
  for (const auto& [cls, v] : per_class_auc) {
    summary["attribute." + cls + ".mean_roc_auc"] = mean(v);
    summary["attribute." + cls + ".words"] = v.size();
    if (per_class_iou.count(cls)) summary["attribute." + cls + ".miou"] = mean(per_class_iou[cls]);
    if (!o.common.quiet) std::printf("%-10s mean ROC-AUC %.4f over %zu words\n", cls.c_str(), mean(v), v.size());
  }
  summary["attribute.items"] = n;
  write_json_atomic(o.out + "/summary.json", summary);
  if (!o.common.quiet) std::printf("summary          %s/summary.json\n", o.out.c_str());
  return 0;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("-m,--model", o->model, "model package folder")->default_val(o->model);
  app.add_option("-i,--image", o->image, "an image to explain (resized to the model's size)");
  app.add_option("-p,--prompt", o->prompt, "the text describing it");
  app.add_option("--dataset", o->dataset, "a shapes-format dataset folder: every item, mean AUC per word class");
  app.add_option("--limit", o->limit, "with --dataset: only the first N items");
  app.add_option("-o,--out", o->out, "output folder")->required();
  app.add_option("--t", o->t, "timesteps to noise the image to, one UNet pass each")->delimiter(',');
  app.add_option("-g,--guidance", o->guidance, "> 1 runs the guided UNet")->default_val(1.0);
  app.add_option("--seed", o->seed, "seed of the one noise draw shared by every t")->default_val(0);
  app.add_option("-n,--negative-prompt", o->negative, "negative prompt for the guided pass");
  add_analysis_options(app, o->a);
  add_common_options(app, o->common);
  add_examples(app, {"diffscope attribute -i photo.png -p \"a red circle\" --t 100,300,600 -o runs/photo",
                     "diffscope attribute --dataset data/heldout --limit 50 -o runs/heldout"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"attribute", "attention heatmaps and AUC for a real image or a dataset folder", 50, setup});

}  // namespace
}  // namespace diffscope::cli
