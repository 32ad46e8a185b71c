// `diffscope analyze`: generate with capture, then every analysis into the same run folder.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "diffscope/atomic_file.h"
#include "diffscope/csv.h"
#include "diffscope/error.h"
#include "diffscope/json_util.h"
#include "diffscope/segmentation.h"

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "cli/generate_options.h"
#include "cli/prompt_file.h"

namespace diffscope::cli {
namespace {

struct Opts {
  GenerateCli g;
  AnalysisOptions a;
  std::string prompts;
};

/// Runs every prompt into out/NNN and writes out/summary.json: the mean of each key over the prompts that have
/// it (key.mean), its count (key.n), and per word class means of the word AUCs (auc.class.CLASS.mean_roc_auc).
int run_set(Opts& o) {
  const auto prompts = read_prompt_file(o.prompts, o.g.seed);
  const std::string root = o.g.out;
  ensure_dir(root);
  std::map<std::string, std::vector<double>> values;
  CsvWriter csv(root + "/prompts.csv", {"index", "seed", "prompt", "folder", "auc.mean_roc_auc", "auc.miou", "binding.mean"});
  Concepts concepts;
  const std::string cpath = o.g.model + "/concepts.json";
  const bool have_concepts = std::filesystem::exists(cpath);
  if (have_concepts) concepts = Concepts::load(cpath);
  for (size_t i = 0; i < prompts.size(); ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%03zu", i);
    GenerateCli g = o.g;
    g.seed = prompts[i].first;
    g.prompt = prompts[i].second;
    g.out = root + "/" + name;
    spdlog::info("prompt {}/{}: \"{}\" seed {}", i + 1, prompts.size(), g.prompt, g.seed);
    auto s = run_analyses(run_generate(g, "analyze"), o.a);
    for (const auto& [k, v] : s) {
      if (!std::isfinite(v)) continue;
      values[k].push_back(v);
      if (have_concepts && k.rfind("auc.word.", 0) == 0 && k.size() > 8 && k.compare(k.size() - 8, 8, ".roc_auc") == 0) {
        std::string w = k.substr(9, k.size() - 17);
        w = w.substr(0, w.find('#'));
        const std::string cls = concepts.word_class(w);
        if (!cls.empty()) values["auc.class." + cls + ".roc_auc"].push_back(v);
      }
    }
    auto get = [&](const char* k) { return s.count(k) ? s.at(k) : std::numeric_limits<double>::quiet_NaN(); };
    csv.cell(static_cast<int64_t>(i)).cell(g.seed).cell(g.prompt).cell(std::string(name));
    csv.cell(get("auc.mean_roc_auc")).cell(get("auc.miou")).cell(get("binding.mean"));
    csv.end_row();
  }
  csv.commit();
  nlohmann::json j;
  for (const auto& [k, v] : values) {
    double sum = 0;
    for (double x : v) sum += x;
    j[k + ".mean"] = sum / static_cast<double>(v.size());
    j[k + ".n"] = v.size();
  }
  j["prompts"] = prompts.size();
  write_json_atomic(root + "/summary.json", j);
  if (!o.g.common.quiet) {
    for (const char* k : {"auc.mean_roc_auc.mean", "auc.class.colour.roc_auc.mean", "auc.class.shape.roc_auc.mean",
                          "auc.miou.mean", "binding.mean.mean"})
      if (j.contains(k)) std::printf("%-32s %.4f\n", k, j[k].get<double>());
    std::printf("summary                          %s/summary.json\n", root.c_str());
  }
  return 0;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  add_generate_options(app, o->g);
  add_analysis_options(app, o->a);
  app.add_option("--prompts", o->prompts, "a file of prompts (one per line, optionally SEED<TAB>prompt): one run "
                                          "folder each under --out and an aggregate summary.json");
  add_examples(app, {"diffscope analyze -p \"a red circle and a blue square\" -o runs/rb",
                     "diffscope analyze -m models/shapes-v1 -p \"a small green triangle\" --seed 3 --scheduler ddim "
                     "--guidance 5 --agg-steps 0:12 -o runs/green",
                     "diffscope analyze --prompts prompts.txt --scheduler ddim --guidance 5 -o runs/set"});
  return [o] {
    if (!o->prompts.empty()) {
      if (!o->g.prompt.empty()) throw Error("analyze: give --prompt or --prompts, not both");
      return run_set(*o);
    }
    const std::string dir = run_generate(o->g, "analyze");
    auto s = run_analyses(dir, o->a);
    if (!o->g.common.quiet) print_summary(s, dir);
    return 0;
  };
}

DIFFSCOPE_COMMAND({"analyze", "generate with capture, then heatmaps, tables and scores into the run folder", 15, setup});

}  // namespace
}  // namespace diffscope::cli
