// `diffscope analyze`: generate with capture, then every analysis into the same run folder (or a prompt set).
#include <cstdio>
#include <memory>
#include <set>

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "cli/generate_options.h"
#include "diffscope/analysis/report.h"
#include "diffscope/study/analysis_study.h"
#include "diffscope/util/error.h"

namespace diffscope::cli {
namespace {

struct Opts {
  GenerateCli g;
  AnalysisOptions a;
  std::vector<std::string> analyses;
  std::string prompts;
  bool report = false;
};

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  add_generate_options(app, o->g);
  add_analysis_options(app, o->a);
  app.add_option("--analyses", o->analyses,
                 "the analyses to run (default: every analysis but saliency and relevance, which run the model again "
                 "and are added by name, e.g. --analyses heatmaps,auc,saliency)")
      ->delimiter(',');
  add_saliency_options(app, o->a.saliency, "saliency-");
  app.add_option("--prompts", o->prompts, "a file of prompts (one per line, optionally SEED<TAB>prompt): one run "
                                          "folder each under --out and an aggregate summary.json");
  add_batch_size_option(app, o->g.common);  // with --prompts
  app.add_flag("--report", o->report, "also write OUT/report.html (diffscope report) for a single prompt");
  add_examples(app, {"diffscope analyze -p \"a red circle and a blue square\" -o runs/rb",
                     "diffscope analyze -m models/shapes-v1 -p \"a small green triangle\" --seed 3 --scheduler ddim "
                     "--guidance 5 --agg-steps 0:12 -o runs/green",
                     "diffscope analyze --prompts prompts.txt --scheduler ddim --guidance 5 -o runs/set",
                     "diffscope analyze -p \"a red circle\" --analyses heatmaps,auc,saliency,relevance "
                     "--saliency-samples 200 -o runs/red"});
  return [o] {
    const GenerationSpec spec = o->g.resolved();
    o->a.which = std::set<std::string>(o->analyses.begin(), o->analyses.end());
    if (!o->prompts.empty()) {
      if (!spec.prompt.empty()) throw Error("analyze: give --prompt or --prompts, not both");
      apply_common_options(o->g.common);
      const Summary s = analyze_prompt_set(spec, o->prompts, o->a, o->g.common);
      if (!o->g.common.quiet) {
        const auto j = s.json();
        for (const char* k : {"auc.mean_roc_auc.mean", "auc.class.colour.roc_auc.mean", "auc.class.shape.roc_auc.mean",
                              "auc.miou.mean", "binding.mean.mean"})
          if (j.contains(k) && j[k].is_number()) std::printf("%-32s %.4f\n", k, j[k].get<double>());
        std::printf("summary                          %s/summary.json\n", spec.out.c_str());
      }
      return 0;
    }
    apply_common_options(o->g.common);
    auto s = analyze_run(spec, o->a, o->g.common);
    if (!o->g.common.quiet) print_summary(s, spec.out);
    if (o->report) {
      const ReportInfo r = write_report({spec.out}, spec.out + "/report.html");
      if (!o->g.common.quiet) std::printf("report           %s/report.html (%.0f KB)\n", spec.out.c_str(), r.bytes / 1024.0);
    }
    return 0;
  };
}

DIFFSCOPE_COMMAND({"analyze", "generate with capture, then heatmaps, tables and scores into the run folder", 15, setup});

}  // namespace
}  // namespace diffscope::cli
