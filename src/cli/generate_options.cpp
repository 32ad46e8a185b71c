// Shared by `generate` and `analyze`: option definitions and the captured run.
#include "cli/generate_options.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "diffscope/attention_capture.h"
#include "diffscope/error.h"
#include "diffscope/model.h"
#include "diffscope/pipeline.h"
#include "diffscope/run_recorder.h"
#include "diffscope/runtime.h"
#include "diffscope/scheduler.h"
#include "diffscope/timestep_schedule.h"

namespace diffscope::cli {

void add_generate_options(CLI::App& app, GenerateCli& g) {
  app.add_option("-m,--model", g.model, "model package folder")->default_val(g.model);
  app.add_option("-p,--prompt", g.prompt, "the prompt");
  app.add_option("-n,--negative-prompt", g.negative_prompt, "negative prompt (default: unconditional \"\")");
  app.add_option("-o,--out", g.out, "run folder to write")->required();
  app.add_option("--seed", g.seed, "seed of torch.Generator(\"cpu\") for the initial noise")->default_val(0);
  app.add_option("--steps", g.steps, "inference steps")->default_val(25)->check(CLI::Range(1, 1000));
  app.add_option("-g,--guidance", g.guidance, "classifier-free guidance scale (<= 1 turns CFG off)")->default_val(7.5);
  app.add_option("--height", g.height, "image height in pixels (default: the package's sample_size)");
  app.add_option("--width", g.width, "image width in pixels (default: the package's sample_size)");
  app.add_option("--scheduler", g.scheduler, "ddim, ddpm, pndm, euler, dpm++2m (default: the package's)");
  app.add_option("--eta", g.eta, "DDIM eta")->default_val(0.0);
  app.add_option("--timestep-schedule", g.schedule,
                 "exponential custom timesteps early:LAMBDA (packed at high noise) or late:LAMBDA (at low noise); "
                 "use with ddim, ddpm or euler");
  app.add_option("--init-latents", g.init_latents, ".npy [1,C,h,w] to start from instead of seeded noise");
  app.add_option("--x0-every", g.x0_every, "write steps/x0_NNN.png every N steps (0 = none)")->default_val(1);
  app.add_flag("--no-attention", g.no_attention, "do not capture cross-attention");
  app.add_option("--attention-half", g.attention_half, "CFG half whose attention is kept: cond or uncond")
      ->default_val("cond");
  app.add_option("--layers", g.layers,
                 "cross-attention layers to average: indices, module names, down/mid/up or resolutions like 16x16 "
                 "(default all; see diffscope info)")
      ->delimiter(',');
  app.add_option("--keep-layers", g.keep_layer_steps, "steps whose per-layer maps are kept (e.g. 0,12,24)")
      ->delimiter(',');
  app.add_option("--keep-heads", g.keep_head_steps, "steps whose per-head maps are kept")->delimiter(',');
  app.add_flag("--allow-empty-prompt", g.allow_empty_prompt, "accept an empty prompt (unconditional generation)");
  add_common_options(app, g.common);
}

/// --layers values -> layer indices (each value may select several layers: a block or a resolution).
std::vector<int> select_layers(const Model& model, const std::vector<std::string>& specs) {
  const auto& layers = model.info().attention_layers;
  std::vector<int> out;
  for (const auto& spec : specs) {
    bool hit = false;
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& l = layers[i];
      const std::string res = std::to_string(l.height) + "x" + std::to_string(l.width);
      if (spec == std::to_string(i) || spec == l.name || spec == l.block || spec == res) {
        if (std::find(out.begin(), out.end(), static_cast<int>(i)) == out.end()) out.push_back(static_cast<int>(i));
        hit = true;
      }
    }
    if (!hit)
      throw Error("--layers " + spec + ": matches no cross-attention layer (give an index 0.." +
                  std::to_string(layers.size() - 1) + ", a module name, down/mid/up or a size like " +
                  (layers.empty() ? std::string("16x16") : std::to_string(layers[0].height) + "x" + std::to_string(layers[0].width)) +
                  "; see diffscope info)");
  }
  return out;
}

std::string run_generate(const GenerateCli& g, const std::string& command_name) {
  if (g.prompt.empty() && !g.allow_empty_prompt)
    throw Error("--prompt: required (use --prompt \"\" with --allow-empty-prompt for an unconditional run)");
  const std::string device = apply_common_options(g.common);
  Model model = Model::load(g.model, device);

  GenerateOptions o;
  o.prompt = g.prompt;
  o.negative_prompt = g.negative_prompt;
  o.seed = g.seed;
  o.steps = g.steps;
  o.guidance_scale = g.guidance;
  o.height = g.height;
  o.width = g.width;
  o.scheduler = g.scheduler;
  o.eta = g.eta;
  o.init_latents_path = g.init_latents;
  o.show_progress = !g.common.quiet;
  if (!g.schedule.empty())
    o.custom_timesteps = timesteps_from_spec(g.schedule, g.steps, model.scheduler_config().num_train_timesteps);
  validate(model, o);

  RunRecorderOptions ro;
  ro.dir = g.out;
  ro.x0_every = g.x0_every;
  RunRecorder recorder(ro);
  std::unique_ptr<AttentionCapture> attention;
  std::vector<Observer*> observers{&recorder};
  if (!g.no_attention) {
    AttentionCaptureOptions ao;
    ao.half = g.attention_half;
    ao.layers = select_layers(model, g.layers);
    ao.keep_layer_steps = g.keep_layer_steps;
    ao.keep_head_steps = g.keep_head_steps;
    attention = std::make_unique<AttentionCapture>(ao);
    observers.push_back(attention.get());
  }
  spdlog::info("{}: \"{}\" seed {} on {} ({} threads)", model.info().name, g.prompt, g.seed, device,
               set_threads(g.common.threads));
  GenerateResult r = generate(model, o, observers);

  nlohmann::json extra;
  extra["command"] = command_name;
  extra["threads"] = set_threads(g.common.threads);
  extra["device"] = device;
  extra["x0_every"] = g.x0_every;
  extra["timestep_schedule"] = g.schedule;
  recorder.write(o, r, attention.get(), extra);
  spdlog::info("{} steps in {:.2f} s; wrote {}", r.timesteps.size(), r.seconds_loop, g.out);
  return g.out;
}

}  // namespace diffscope::cli
