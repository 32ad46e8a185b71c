// `diffscope compare`: prompts, guidance values or timestep schedules from one seed, side by side over the steps.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/scheduler_help.h"
#include "diffscope/analysis/report.h"
#include "diffscope/study/compare_study.h"

namespace diffscope::cli {
namespace {

struct Opts {
  CompareSpec spec;
  CommonOptions common;
  bool no_attention = false;
  bool report = false;
  std::string pairs;
};

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  GenerationSpec& g = o->spec.base;
  app.add_option("-m,--model", g.model, "model package folder")->default_val(g.model);
  app.add_option("-p,--prompt", o->spec.prompts, "a prompt; give it several times to compare prompts")->take_all();
  app.add_option("-n,--negative-prompt", g.negative_prompt, "negative prompt of every run (default: unconditional \"\")");
  app.add_option("-o,--out", g.out, "compare folder to write (each run's folder under runs/)")->required();
  app.add_option("--seed", g.seed, "seed of the initial noise, shared by every run")->default_val(0)->check(seed_range());
  app.add_option("--steps", g.steps, "inference steps")->default_val(25)->check(CLI::Range(1, 1000));
  app.add_option("-g,--guidance", o->spec.guidances,
                 "classifier-free guidance scale; a list (0,1,7,20) compares the values")
      ->delimiter(',');
  app.add_option("--timestep-schedules", o->spec.schedules,
                 "timestep schedules to compare: default, early:LAMBDA, late:LAMBDA (X-Diffusion), e.g. "
                 "default,early:3,late:3")
      ->delimiter(',');
  app.add_option("--height", g.height, "image height in pixels (default: the package's sample_size)")
      ->check(CLI::Range(8, 1 << 30));  // the largest side is checked with the model (4096)
  app.add_option("--width", g.width, "image width in pixels (default: the package's sample_size)")
      ->check(CLI::Range(8, 1 << 30));  // the largest side is checked with the model (4096)
  app.add_option("--scheduler", g.scheduler, scheduler_help(" (default: the package's)"));
  app.add_flag("--no-attention", o->no_attention, "do not capture cross-attention (no word maps)");
  app.add_option("--layers", g.layers, "cross-attention layers to average (see diffscope info)")->delimiter(',');
  app.add_option("--fraction", o->spec.compare.fraction,
                 "runs stay apart from the step after which their distance stays above this fraction of the final "
                 "one (and together below this fraction of the largest)")
      ->default_val(0.5)
      ->check(finite_range(0, 1));
  app.add_option("--filmstrip-steps", o->spec.compare.filmstrip_columns, "steps shown in the filmstrip grids")
      ->default_val(8)
      ->check(CLI::Range(1, 64));
  app.add_flag("--overwrite", g.overwrite, "replace an earlier diffscope output in --out");
  app.add_flag("--report", o->report, "also write OUT/report.html (diffscope report; per group with --pairs)");
  app.add_option("--pairs", o->pairs,
                 "a file of prompt groups, one per line, prompts separated by tabs: one comparison each under "
                 "OUT/NNN, groups.csv, and every key's mean and 95% interval over the groups in OUT/summary.json");
  add_common_options(app, o->common);
  add_examples(app, {"diffscope compare -p \"a red circle\" -p \"a blue circle\" --scheduler ddim --guidance 5 -o runs/cmp",
                     "diffscope compare -p \"a red circle and a blue square\" --guidance 0,1,7,20 -o runs/sweep",
                     "diffscope compare -p \"a green triangle\" --scheduler ddim --timestep-schedules default,early:3,late:3 "
                     "-o runs/schedules"});
  return [o] {
    CompareSpec spec = o->spec;
    spec.base.capture_attention = !o->no_attention;
    if (spec.guidances.empty()) spec.guidances.push_back(7.5);
    apply_common_options(o->common);
    if (!o->pairs.empty()) {
      const Summary s = compare_groups(spec, o->pairs, o->common);
      const auto groups = s.json().value("groups", 0);
      if (o->report)
        for (int i = 0; i < groups; ++i) {
          char dir[16];
          std::snprintf(dir, sizeof dir, "/%03d", i);
          write_report({spec.base.out + dir}, spec.base.out + dir + "/report.html");
        }
      if (!o->common.quiet) {
        const auto j = s.json();
        for (const char* k : {"compare.run1.final_pixel_rmse.mean", "compare.run1.final_pixel_rmse.ci95_lo",
                              "compare.run1.final_pixel_rmse.ci95_hi", "compare.run1.mean_pixel_rmse.mean"})
          if (j.contains(k) && j[k].is_number()) std::printf("%-40s %.4f\n", k, j[k].get<double>());
        std::printf("%-40s %s (%d groups)\n", "folder", spec.base.out.c_str(), groups);
      }
      return 0;
    }
    const Summary s = compare_study(spec, o->common);
    if (!o->common.quiet) {
      const auto j = s.json();
      for (auto it = j.begin(); it != j.end(); ++it)
        if (it.key().find(".word.") == std::string::npos && it.value().is_number())
          std::printf("%-40s %.4f\n", it.key().c_str(), it.value().get<double>());
      std::printf("%-40s %s\n", "folder", spec.base.out.c_str());
    }
    if (o->report) {
      const ReportInfo r = write_report({spec.base.out}, spec.base.out + "/report.html");
      if (!o->common.quiet) std::printf("%-40s %s/report.html (%.0f KB)\n", "report", spec.base.out.c_str(), r.bytes / 1024.0);
    }
    return 0;
  };
}

DIFFSCOPE_COMMAND({"compare", "prompts, guidance values or timestep schedules from one seed, side by side over the steps",
                   16, setup});

}  // namespace
}  // namespace diffscope::cli
