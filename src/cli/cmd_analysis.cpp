// `diffscope <analysis> --run DIR`: one registered analysis on an existing run folder (a subcommand each).
#include <cmath>
#include <iostream>
#include <memory>

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "diffscope/analysis/registry.h"
#include "diffscope/study/analysis_study.h"

namespace diffscope::cli {

void print_summary(const std::map<std::string, double>& s, const std::string& run_dir) {
  for (const char* key : {"auc.mean_roc_auc", "auc.mean_ap", "auc.miou", "binding.mean", "heatmaps.words"}) {
    auto it = s.find(key);
    if (it != s.end()) std::printf("%-18s %.4f\n", key, it->second);
  }
  std::printf("summary          %s/summary.json\n", run_dir.c_str());
}

namespace {

struct Opts {
  std::string run;
  CommonOptions common;
  AnalysisOptions a;
};

std::function<Runner(CLI::App&)> single(const Analysis& analysis) {
  return [&analysis](CLI::App& app) -> Runner {
    auto o = std::make_shared<Opts>();
    const bool model = analysis.needs & kNeedsModel;
    app.add_option("-r,--run", o->run, "run folder written by diffscope generate")->required();
    if (model) app.add_option("-m,--model", o->a.model_dir, "model package (default: the one named in run.json)");
    add_analysis_options(app, o->a, &analysis.options);
    if (model)
      add_common_options(app, o->common);  // --device, --threads, --quiet: it runs the denoiser
    else
      app.add_flag("-q,--quiet", o->common.quiet, "print nothing on success");
    std::vector<std::string> examples{"diffscope " + analysis.name + " --run runs/demo"};
    for (const auto& e : analysis.examples) examples.push_back("diffscope " + analysis.name + " " + e);
    add_examples(app, examples);
    return [o, &analysis, model] {
      if (model)
        apply_common_options(o->common);
      else
        apply_quiet(o->common.quiet);
      o->a.which = {analysis.name};
      auto s = analyze_folder(o->run, o->a, o->common);
      if (!o->common.quiet) print_summary(s, o->run);
      return 0;
    };
  };
}

}  // namespace

std::vector<Command> analysis_commands() {
  std::vector<Command> out;
  for (const Analysis* a : registered_analyses())
    if (!a->own_command) out.push_back({a->name, a->summary, 40 + a->order / 10, single(*a)});
  return out;
}

}  // namespace diffscope::cli
