// Reading one step of a recorded run back for step saliency (see internal.h).
#include <ATen/ATen.h>

#include "diffscope/util/error.h"
#include "diffscope/util/npy.h"
#include "diffscope/sched/scheduler.h"
#include "study/internal.h"

namespace diffscope::study {

StepContext load_step(const Model& model, const RunFolder& run, int step) {
  if (step < 0 || step >= run.steps)
    throw Error("--step " + std::to_string(step) + ": the run has steps 0.." + std::to_string(run.steps - 1));
  NpyArray lat = run.read_latents();
  const auto& info = model.info();
  if (lat.shape[1] != info.latent_channels || lat.shape[2] < 1 || lat.shape[3] < 1 ||
      lat.shape[2] * info.vae_scale_factor > kMaxImageSide || lat.shape[3] * info.vae_scale_factor > kMaxImageSide)
    throw Error(run.path("latents.npy") + ": latents of shape [" + std::to_string(lat.shape[1]) + ", " +
                std::to_string(lat.shape[2]) + ", " + std::to_string(lat.shape[3]) + "] do not fit " + info.dir +
                " (latent_channels " + std::to_string(info.latent_channels) + "; pass the package the run was made with)");
  const int64_t per = lat.shape[1] * lat.shape[2] * lat.shape[3];
  at::Tensor latent =
      at::from_blob(lat.data.data() + per * step, {1, lat.shape[1], lat.shape[2], lat.shape[3]}, at::kFloat).clone();
  const auto& in = run.meta.at("inputs");
  return make_step_context(model, latent, in.value("prompt", std::string()), in.value("negative_prompt", std::string()),
                           in.value("guidance_scale", 1.0), run.timesteps, step,
                           is_sigma_space(in.value("scheduler", std::string())));
}

std::string run_model_dir(const RunFolder& run, const std::string& override_dir) {
  if (!override_dir.empty()) return override_dir;
  const std::string d = run.meta.contains("model") ? run.meta["model"].value("dir", std::string()) : "";
  if (d.empty()) throw Error(run.path("run.json") + ": names no model folder; pass --model");
  return d;
}

}  // namespace diffscope::study
