// `diffscope heatmaps|settle|emergence|correlate|auc --run DIR`: one analysis on an existing run folder.
#include <cmath>
#include <iostream>
#include <memory>

#include "cli/analysis_options.h"
#include "cli/command.h"

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
  bool quiet = false;
  AnalysisOptions a;
};

std::function<Runner(CLI::App&)> single(const std::string& name, std::vector<std::string> examples) {
  return [name, examples](CLI::App& app) -> Runner {
    auto o = std::make_shared<Opts>();
    app.add_option("-r,--run", o->run, "run folder written by diffscope generate")->required();
    add_analysis_options(app, o->a);
    app.add_flag("-q,--quiet", o->quiet, "print nothing on success");
    add_examples(app, examples);
    return [o, name] {
      apply_quiet(o->quiet);
      o->a.which = {name};
      auto s = run_analyses(o->run, o->a);
      if (!o->quiet) print_summary(s, o->run);
      return 0;
    };
  };
}

DIFFSCOPE_COMMAND({"heatmaps", "per-word attention heatmaps, overlays and the word x timestep grid of a run", 41,
                   single("heatmaps", {"diffscope heatmaps --run runs/demo --agg-steps 0.0:0.5 --colormap inferno"})});
DIFFSCOPE_COMMAND({"settle", "step x word attention mass/share and when each word's location is decided", 42,
                   single("settle", {"diffscope settle --run runs/demo"})});
DIFFSCOPE_COMMAND({"emergence", "each step's x0 against the final image: colour, layout, structure, detail", 43,
                   single("emergence", {"diffscope emergence --run runs/demo"})});
DIFFSCOPE_COMMAND({"correlate", "word x word attention correlations and attribute-binding scores", 44,
                   single("correlate", {"diffscope correlate --run runs/demo",
                                        "diffscope correlate --run runs/cat --nouns cat,hat --attributes red"})});
DIFFSCOPE_COMMAND({"auc", "ROC-AUC, average precision and IoU of word heatmaps against masks", 45,
                   single("auc", {"diffscope auc --run runs/demo", "diffscope auc --run runs/x --masks masks/x"})});

}  // namespace
}  // namespace diffscope::cli
