// The one name table of diffscope's schedulers (LibTorch-free): the name `--scheduler` takes and run.json records,
// diffusers' class, accepted aliases, the class's own scheduler_config.json keys and defaults. Every list of scheduler
// names (help texts, errors, make_scheduler, the config reader) is made from it. Adding a scheduler: its file
// src/sched/<name>.cpp with its test, one row here, one factory line in scheduler.cpp (docs/architecture.md).
#pragma once
#include <string>
#include <vector>

namespace diffscope {

struct SchedulerSpec {
  std::string name;                  ///< "ddim"
  std::string class_name;            ///< diffusers' class, "DDIMScheduler"
  std::vector<std::string> aliases;  ///< other spellings --scheduler accepts ("plms" for pndm)
  std::string description;           ///< a few words for help texts ("Euler ancestral"); empty when the name says it
  bool sigma_space = false;          ///< samples are x0 + sigma eps, scaled by 1/sqrt(1+sigma^2) before the denoiser
  bool flow = false;                 ///< for flow-matching (velocity) models only
  std::string default_spacing;       ///< diffusers 0.31's class default of timestep_spacing
  /// The keys of the class's __init__ beyond those every class takes (num_train_timesteps, beta_start, beta_end,
  /// beta_schedule, trained_betas, prediction_type, timestep_spacing, steps_offset).
  std::vector<std::string> keys;
};

/// Every scheduler, in the order help texts list them.
const std::vector<SchedulerSpec>& scheduler_specs();

/// The spec of a name, an alias or a diffusers class name (case-insensitive); nullptr when there is none.
const SchedulerSpec* find_scheduler(const std::string& name_alias_or_class);

/// The spec of a canonical name ("ddim"); Error when diffscope has no such scheduler.
const SchedulerSpec& scheduler_spec(const std::string& name);

/// The names joined for people: "ddim, ddpm, ..., dpm++2m or flow_euler" (`last` before the final one).
std::string scheduler_name_list(const std::string& last = " or ");

}  // namespace diffscope
