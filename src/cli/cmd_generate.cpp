// `diffscope generate`: run the hooked denoising loop and write a run folder.
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "cli/generate_options.h"

namespace diffscope::cli {
namespace {

Runner setup(CLI::App& app) {
  auto g = std::make_shared<GenerateCli>();
  add_generate_options(app, *g);
  add_examples(app, {"diffscope generate -p \"a red circle\" -o runs/red",
                     "diffscope generate -m models/shapes-v1 -p \"a small blue square\" --steps 50 --scheduler ddim "
                     "--seed 7 --keep-layers 0,25 -o runs/blue"});
  return [g] {
    apply_common_options(g->common);
    std::cout << generate_run(g->resolved(), g->common, "generate") << "\n";
    return 0;
  };
}

DIFFSCOPE_COMMAND({"generate", "run the denoising loop with capture hooks and write a run folder", 10, setup});

}  // namespace
}  // namespace diffscope::cli
