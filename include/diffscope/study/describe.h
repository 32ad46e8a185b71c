// What `info` and `schedule` print, as plain data: a package's description and a scheduler's timetable.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "diffscope/engine/model_info.h"

namespace diffscope {

struct ModelDescription {
  ModelInfo info;
  int context_dim = 0;
  size_t vocab_size = 0;
  std::string scheduler;   ///< the package's scheduler, as a diffscope name
  bool has_attention = false;
  bool has_concepts = false;  ///< the export has forward_concepts (generate --concepts)
  bool has_preview = false;   ///< vae/latent_rgb.json (--x0-view preview)
};

/// Loads the package in `dir` on the CPU and describes it. Errors name the file at fault.
ModelDescription describe_model(const std::string& dir);

struct ScheduleTable {
  std::string scheduler;
  std::vector<double> timesteps;
  std::vector<double> sigmas, alphas_cumprod;  ///< alphas_cumprod at each timestep
  double init_noise_sigma = 1.0;
};

/// The timesteps a run of `steps` steps would use with the scheduler_config.json at `config_path`; `scheduler`
/// empty = the file's class.
/// `image_seq_len` > 0: the image's token count, for schedules shifted by resolution (flow_euler with Flux's
/// use_dynamic_shifting).
/// The same for a model package's scheduler, as a run at the package's default size would use it: its pipeline's
/// sigmas (Flux) and, for a resolution-shifted schedule, its image token count unless `image_seq_len` > 0 gives one.
ScheduleTable describe_package_schedule(const std::string& model_dir, const std::string& scheduler, int steps,
                                        int64_t image_seq_len = 0);
ScheduleTable describe_schedule(const std::string& config_path, const std::string& scheduler, int steps,
                                int64_t image_seq_len = 0);

}  // namespace diffscope
