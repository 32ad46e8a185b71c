// `diffscope saliency`: the saliency analysis (DF-RISE, DF-CAM, attention saliency + insertion/deletion AUC) on a run
// folder, or on every prompt of a prompt set with the set's mean curves and intervals. Its own command (not generated
// from the registry) because of the prompt-set mode.
#include <cstdio>
#include <memory>

#include "cli/analysis_options.h"
#include "cli/command.h"
#include "diffscope/study/saliency_study.h"
#include "diffscope/util/error.h"

namespace diffscope::cli {
namespace {

struct SalOpts {
  CommonOptions common;
  std::string run, model, prompts, out;
  SaliencyOptions s;
  GenerationSpec g;  // prompt-set mode
};

int run_saliency(const SalOpts& o) {
  apply_common_options(o.common);
  if (o.prompts.empty()) {
    if (o.run.empty()) throw Error("saliency: give --run DIR or --prompts FILE with --out");
    saliency_run(o.run, o.model, o.s, o.common);
    std::printf("saliency         %s/saliency/\n", o.run.c_str());
    return 0;
  }
  const Summary summary = saliency_prompt_set(o.g, o.prompts, o.out, o.s, o.common);
  for (const auto& [k, v] : summary.json().items())
    if (v.is_number_float()) std::printf("%-42s %.4f\n", k.c_str(), v.get<double>());
  std::printf("summary          %s/summary.json\n", o.out.c_str());
  return 0;
}

Runner setup_saliency(CLI::App& app) {
  auto o = std::make_shared<SalOpts>();
  app.add_option("-r,--run", o->run, "run folder (from generate/analyze)");
  app.add_option("-m,--model", o->model, "model package (default: the one named in run.json)");
  add_saliency_options(app, o->s);
  app.add_option("--prompts", o->prompts, "prompt-set mode: a prompts file (SEED<TAB>prompt lines); needs --out");
  app.add_option("-o,--out", o->out, "prompt-set output folder");
  app.add_flag("--overwrite", o->g.overwrite, "prompt-set mode: replace an earlier diffscope output in --out");
  app.add_option("--gen-model", o->g.model, "prompt-set mode: model package")->default_val("models/shapes-v1");
  app.add_option("--gen-steps", o->g.steps, "prompt-set mode: inference steps")->default_val(25)->check(CLI::Range(1, 1000));
  app.add_option("--gen-guidance", o->g.guidance, "prompt-set mode: guidance scale")->default_val(5.0);
  app.add_option("--gen-scheduler", o->g.scheduler, "prompt-set mode: scheduler")->default_val("ddim");
  add_common_options(app, o->common);
  add_examples(app, {"diffscope saliency --run runs/demo --step 12",
                     "diffscope saliency --run runs/demo --methods df-rise --samples 2000 --similarity ssim",
                     "diffscope saliency --run runs/demo --steps 0,4,8,12,16,20,24 --samples 200 --k 32",
                     "diffscope saliency --prompts tests/data/shapes_prompts.txt -o runs/saliency-set --samples 200",
                     "diffscope saliency --prompts tests/data/saliency_prompts.txt -o runs/sal-steps --steps 0:25:4 "
                     "--mask-seeds 3 --samples 100 --k 32"});
  return [o] {
    o->g.x0_every = 0;
    return run_saliency(*o);
  };
}

DIFFSCOPE_COMMAND({"saliency", "DF-RISE, DF-CAM and attention saliency of one step, with insertion/deletion AUC", 60,
                   setup_saliency});

}  // namespace
}  // namespace diffscope::cli
