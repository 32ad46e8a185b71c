// diffscope schedulers: diffusers 0.31's DDIM, DDPM, PNDM (PLMS), Euler, Euler ancestral, LMS, DPM-Solver++ 2M and
// FlowMatchEuler (SD3, Flux), configured from
// scheduler_config.json exactly as diffusers does and reproducing its numbers.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <cmath>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "diffscope/sched/scheduler_config.h"
#include "diffscope/sched/step_math.h"

namespace diffscope {

/// One step's results: x_{t-1} and the clean-sample estimate x0 (for PNDM, x0 from the raw model output at t).
struct StepOutput {
  at::Tensor prev_sample;
  at::Tensor pred_original_sample;
};

/// A stateful sampler, like a diffusers scheduler object.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  /// "ddim", "ddpm", "pndm", "euler", "euler_a", "lms", "dpm++2m", "flow_euler".
  virtual std::string name() const = 0;
  /// Timesteps for `steps` inference steps; resets all state.
  virtual void set_timesteps(int steps) = 0;
  /// The image's token count, for schedules shifted by resolution (flow_euler with use_dynamic_shifting, as Flux's
  /// pipeline: (height/16) * (width/16)); call before set_timesteps. The other schedulers ignore it.
  virtual void set_image_seq_len(int64_t) {}
  /// Descending custom timesteps (DDIM, DDPM, Euler); Error for schedulers that cannot take them.
  virtual void set_custom_timesteps(const std::vector<int64_t>& timesteps);
  /// What the loop iterates (PNDM's 51 for 50 included), as the UNet receives them: integers for the
  /// discrete schedulers, float32 values such as 946.42108 where diffusers' are fractional (Euler linspace,
  /// Karras sigmas).
  const std::vector<double>& timesteps() const { return timesteps_; }
  /// Sigmas (with the final 0) for sigma-based schedulers; empty otherwise.
  const std::vector<double>& sigmas() const { return sigmas_; }
  /// Multiplier of the initial noise.
  virtual double init_noise_sigma() const { return 1.0; }
  /// The training schedule's alphas_cumprod (float32 values as doubles).
  const std::vector<double>& alphas_cumprod() const { return alphas_cumprod_; }
  /// Scales the UNet input (Euler: divides by sqrt(sigma^2+1)); identity for the others.
  virtual at::Tensor scale_model_input(const at::Tensor& sample, double timestep);
  /// One step. Noise (DDPM, DDIM eta>0) is drawn from `generator` where diffusers draws it, or taken from
  /// `noise` when given (tests).
  virtual StepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                          c10::optional<at::Generator> generator = c10::nullopt, const at::Tensor* noise = nullptr) = 0;
  /// The forward process at an integer t: sqrt(abar) x0 + sqrt(1-abar) noise (Euler-type: x0 + sigma noise).
  /// flow_euler: (1 - sigma) x0 + sigma noise, sigma = t / num_train_timesteps.
  virtual at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int64_t timestep) const;
  /// The forward process at a timestep of this schedule (flow_euler: diffusers' scale_noise, the schedule's own
  /// sigma); the others: add_noise at that integer timestep.
  virtual at::Tensor scale_noise(const at::Tensor& original, const at::Tensor& noise, double timestep) const;
  /// The noise level alpha_bar at a timestep of this schedule: the training table at integer t; for a fractional
  /// t, 1 / (1 + sigma^2) with sigma interpolated as Euler does.
  /// flow_euler: the variance-preserving alpha_bar with the same signal-to-noise ratio, (1-s)^2 / ((1-s)^2 + s^2).
  virtual double alpha_bar_at(double timestep) const;
  /// DDIM's eta (ignored by the others).
  void set_eta(double eta) { eta_ = eta; }
  const SchedulerConfig& config() const { return config_; }

 protected:
  /// `zero_snr_floor`: with rescale_betas_zero_snr, set the last alpha_bar to 2^-24 (Euler, DPM-Solver).
  explicit Scheduler(SchedulerConfig config, bool zero_snr_floor = false);
  SchedulerConfig config_;
  std::vector<double> timesteps_;
  std::vector<double> sigmas_;
  std::vector<double> alphas_cumprod_;
  at::Tensor acp_;  ///< alphas_cumprod as a float32 tensor
  double eta_ = 0.0;
  int num_inference_steps_ = 0;
  bool custom_ = false;
  /// Spacing to use: the config's, else the class default.
  std::string spacing(const char* class_default) const;
  /// diffusers' leading/linspace/trailing integer timesteps (descending).
  std::vector<int64_t> spaced_timesteps(int steps, const std::string& spacing) const;
  /// Error unless 1 <= steps <= num_train_timesteps.
  void check_steps(int steps) const;
  /// Error when a timestep falls outside 0..num_train_timesteps-1 (leading spacing + steps_offset at many steps).
  void check_range(const std::vector<double>& timesteps) const;
  /// Sets timesteps_ to the spaced ones (custom_ false) or to a custom list (custom_ true).
  void use_spaced(int steps, const char* class_default);
  void use_custom(const std::vector<int64_t>& timesteps);
  /// The timestep after t: t - T/N for spaced runs (diffusers), the next list entry for custom ones; -1 at the end.
  int64_t previous_timestep(int64_t t) const;
  /// An integer timestep of a discrete schedule as a table index; Error when t is fractional or out of range.
  size_t table_index(double t) const;
  /// Dynamic thresholding (diffusers' _threshold_sample) when config.thresholding, else x0 unchanged.
  at::Tensor threshold(const at::Tensor& x0) const;
};

/// Makes a scheduler by name (case-insensitive; diffusers class names accepted); Error listing valid names.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const SchedulerConfig& config);
/// "PNDMScheduler" -> "pndm"; Error for classes diffscope does not implement.
std::string scheduler_name_from_class(const std::string& diffusers_class_name);
/// The scheduler a configuration names by its "_class_name" (diffusers' PNDMScheduler when it names none), as
/// scheduler_name_from_class.
std::string default_scheduler_of(const SchedulerConfig& config);
/// Whether a scheduler's samples live in sigma space (x0 + sigma eps, scaled by 1/sqrt(1+sigma^2) before the UNet):
/// euler, euler_a, lms. The others keep variance-preserving samples.
bool is_sigma_space(const std::string& scheduler_name);
/// The names make_scheduler accepts.
std::vector<std::string> scheduler_names();

}  // namespace diffscope
