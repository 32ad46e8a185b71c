// `diffscope saliency` (DF-RISE, DF-CAM, attention saliency + insertion/deletion AUC) and `diffscope relevance`.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "diffscope/study/saliency_study.h"
#include "diffscope/util/error.h"

namespace diffscope::cli {
namespace {

struct SalOpts {
  CommonOptions common;
  std::string run, model, prompts, out;
  SaliencyOptions s;
  int step = 0;
  CLI::Option* step_option = nullptr;
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
  o->step_option = app.add_option("--step", o->step, "the denoising step to explain (default: --step-frac of the run)");
  app.add_option("--steps", o->s.steps,
                 "several steps in one call: 0,6,12, all, A:B or fractions 0.0:0.5 (a step x method AUC table and "
                 "AUC-over-steps figures; with --prompts, means and 95% intervals over the set)");
  app.add_option("--step-frac", o->s.step_frac, "which step, as a fraction of the run (default 0.5)")->default_val(0.5);
  app.add_option("--methods", o->s.methods, "attention, df-rise, df-cam (a random baseline is always added)")
      ->delimiter(',');
  app.add_option("--word", o->s.word, "also a single word's attention map as a saliency");
  app.add_option("--samples", o->s.samples, "DF-RISE masks")->default_val(500);
  app.add_option("--batch", o->s.batch, "latents per UNet call")->default_val(16);
  app.add_option("--k", o->s.k, "insertion/deletion stages")->default_val(64);
  app.add_option("--similarity", o->s.similarity,
                 "structure (SSIM structure term), ssim, luminance, contrast, cosine, mse")
      ->default_val("structure");
  app.add_option("--seed", o->s.seed, "seed of the masks and the random baseline")->default_val(0)->check(seed_range());
  app.add_option("--mask-seeds", o->s.mask_seeds,
                 "repeat DF-RISE and the random baseline with N mask seeds (--seed ... --seed+N-1): AUCs are means, "
                 "with their standard deviation and how often each seed ranks the methods alike")
      ->default_val(1)->check(CLI::Range(1, 1000));
  app.add_option("--prompts", o->prompts, "prompt-set mode: a prompts file (SEED<TAB>prompt lines); needs --out");
  app.add_option("-o,--out", o->out, "prompt-set output folder");
  app.add_flag("--overwrite", o->g.overwrite, "prompt-set mode: replace an earlier diffscope output in --out");
  app.add_option("--gen-model", o->g.model, "prompt-set mode: model package")->default_val("models/shapes-v1");
  app.add_option("--gen-steps", o->g.steps, "prompt-set mode: inference steps")->default_val(25);
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
    if (o->step_option->count()) o->s.step = o->step;
    o->g.x0_every = 0;
    return run_saliency(*o);
  };
}

struct RelOpts {
  CommonOptions common;
  std::string run, model;
};

Runner setup_relevance(CLI::App& app) {
  auto o = std::make_shared<RelOpts>();
  app.add_option("-r,--run", o->run, "run folder")->required();
  app.add_option("-m,--model", o->model, "model package (default: the one named in run.json)");
  add_common_options(app, o->common);
  add_examples(app, {"diffscope relevance --run runs/demo"});
  return [o] {
    apply_common_options(o->common);
    relevance_run(o->run, o->model, o->common);
    std::printf("relevance        %s/tables/relevance.csv\n", o->run.c_str());
    return 0;
  };
}

DIFFSCOPE_COMMAND({"saliency", "DF-RISE, DF-CAM and attention saliency of one step, with insertion/deletion AUC", 60,
                   setup_saliency});
DIFFSCOPE_COMMAND({"relevance", "per step, each word's gradient x attention relevance (which concepts come when)", 61,
                   setup_relevance});

}  // namespace
}  // namespace diffscope::cli
