// `diffscope analyze`: generate with capture, then every analysis into the same run folder.
#include <iostream>
#include <memory>

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "cli/generate_options.h"

namespace diffscope::cli {
namespace {

struct Opts {
  GenerateCli g;
  AnalysisOptions a;
};

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  add_generate_options(app, o->g);
  add_analysis_options(app, o->a);
  add_examples(app, {"diffscope analyze -p \"a red circle and a blue square\" -o runs/rb",
                     "diffscope analyze -m models/shapes-v1 -p \"a small green triangle\" --seed 3 --scheduler ddim "
                     "--guidance 5 --agg-steps 0:12 -o runs/green"});
  return [o] {
    const std::string dir = run_generate(o->g, "analyze");
    auto s = run_analyses(dir, o->a);
    if (!o->g.common.quiet) print_summary(s, dir);
    return 0;
  };
}

DIFFSCOPE_COMMAND({"analyze", "generate with capture, then heatmaps, tables and scores into the run folder", 15, setup});

}  // namespace
}  // namespace diffscope::cli
