// `diffscope schedule`: the timesteps, sigmas and alphas_cumprod a run would use.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/scheduler_help.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/json_util.h"
#include "diffscope/study/describe.h"

namespace diffscope::cli {
namespace {

struct Opts {
  std::string model, config, scheduler;
  int steps = 25;
  int64_t image_seq_len = 0;
  bool json = false;
};

int run(const Opts& o) {
  const ScheduleTable s = o.model.empty() ? describe_schedule(o.config, o.scheduler, o.steps, o.image_seq_len)
                                          : describe_package_schedule(o.model, o.scheduler, o.steps, o.image_seq_len);
  const auto& acp = s.alphas_cumprod;
  if (o.json) {
    nlohmann::json j{{"scheduler", s.scheduler},
                     {"timesteps", numbers_json(s.timesteps)},
                     {"sigmas", s.sigmas},
                     {"alphas_cumprod", acp},
                     {"init_noise_sigma", s.init_noise_sigma}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("scheduler %s, %zu timesteps, init_noise_sigma %.9g\n", s.scheduler.c_str(), s.timesteps.size(),
              s.init_noise_sigma);
  std::printf("%-5s %-18s %-14s %s\n", "step", "t", "alphas_cumprod", s.sigmas.empty() ? "" : "sigma");
  for (size_t i = 0; i < s.timesteps.size(); ++i) {
    std::printf("%-5zu %-18s %-14.9g", i, format_number(s.timesteps[i]).c_str(), acp[i]);
    if (i < s.sigmas.size()) std::printf(" %.9g", s.sigmas[i]);
    std::printf("\n");
  }
  if (s.sigmas.size() > s.timesteps.size()) std::printf("final sigma %.9g\n", s.sigmas.back());
  return 0;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  auto* src = app.add_option_group("source", "where the scheduler configuration comes from");
  src->add_option("-m,--model", o->model, "model package (its scheduler/scheduler_config.json)");
  src->add_option("--scheduler-config", o->config, "a diffusers scheduler_config.json");
  src->require_option(1);
  app.add_option("--scheduler", o->scheduler,
                 scheduler_help(" (default: the config's class)"));
  app.add_option("--image-seq-len", o->image_seq_len,
                 "the image's token count, for flow_euler with use_dynamic_shifting (Flux: (height/16) * (width/16), "
                 "e.g. 4096 at 1024 px; with -m, default: the package's own size)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app.add_option("--steps", o->steps, "inference steps")->default_val(25)->check(CLI::Range(1, 1000));
  app.add_flag("--json", o->json, "print one JSON object {timesteps, sigmas, alphas_cumprod, init_noise_sigma}");
  add_examples(app, {"diffscope schedule -m models/shapes-v1 --scheduler ddim --steps 50",
                     "diffscope schedule --scheduler-config sd15/scheduler/scheduler_config.json --scheduler euler "
                     "--steps 30 --json",
                     "diffscope schedule --scheduler-config flux/scheduler/scheduler_config.json --steps 28 "
                     "--image-seq-len 4096"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"schedule", "print the timesteps, sigmas and alphas_cumprod a run would use", 30, setup});

}  // namespace
}  // namespace diffscope::cli
