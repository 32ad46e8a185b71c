// diffusers' scheduler_config.json as diffscope reads it: plain data and its parser, without LibTorch (so the
// sanitizer build fuzzes it).
#pragma once
#include <cmath>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "diffscope/sched/prediction.h"

namespace diffscope {

/// diffusers' scheduler_config.json keys. Keys absent from the file (or listed in "_use_default_values") take
/// the chosen scheduler class's default, as diffusers' from_config does when swapping schedulers; keys whose
/// default differs between classes are optional here and resolved by the class. A key the chosen class takes
/// but diffscope does not implement is refused when make_scheduler builds that class (never ignored); keys the
/// class does not take are ignored, as diffusers ignores them.
struct SchedulerConfig {
  int num_train_timesteps = 1000;
  double beta_start = 0.0001, beta_end = 0.02;
  std::string beta_schedule = "linear";      ///< linear, scaled_linear, squaredcos_cap_v2
  std::vector<double> trained_betas;         ///< overrides beta_schedule when non-empty
  Prediction prediction_type = Prediction::Epsilon;  ///< "epsilon", "v_prediction", "sample"
  std::optional<std::string> timestep_spacing;  ///< leading, linspace, trailing; unset = class default
  int steps_offset = 0;
  std::optional<bool> set_alpha_to_one;      ///< DDIM default true, PNDM false
  std::optional<bool> clip_sample;           ///< DDIM/DDPM default true
  double clip_sample_range = 1.0;
  std::optional<bool> skip_prk_steps;        ///< PNDM default false (Runge-Kutta warm-up)
  std::optional<std::string> variance_type;  ///< DDPM: fixed_small (default), ...; DPM-Solver: null only
  bool rescale_betas_zero_snr = false;       ///< zero terminal SNR (Lin et al. 2024)
  bool thresholding = false;                 ///< dynamic thresholding of x0 (Imagen)
  double dynamic_thresholding_ratio = 0.995;
  double sample_max_value = 1.0;
  // sigma-space schedules (Euler, DPM-Solver)
  bool use_karras_sigmas = false;
  std::optional<double> sigma_min, sigma_max;  ///< Karras range; unset = the training schedule's
  std::string interpolation_type = "linear";   ///< Euler: linear or log_linear
  std::string timestep_type = "discrete";      ///< Euler: discrete or continuous (v-prediction)
  std::string final_sigmas_type = "zero";      ///< zero or sigma_min
  // DPM-Solver
  int solver_order = 2;                        ///< 1..3
  std::string algorithm_type = "dpmsolver++";  ///< dpmsolver++ or sde-dpmsolver++
  std::string solver_type = "midpoint";        ///< midpoint or heun
  bool lower_order_final = true;
  bool euler_at_final = false;
  double lambda_min_clipped = -INFINITY;       ///< Infinity/-Infinity/NaN in the file read as this default
  // flow matching (FlowMatchEulerDiscreteScheduler: SD3 shifts statically, Flux by the image's token count)
  double shift = 1.0;                          ///< sigma -> shift sigma / (1 + (shift - 1) sigma)
  bool use_dynamic_shifting = false;           ///< Flux: exp(mu) / (exp(mu) + 1/sigma - 1), mu from image_seq_len
  double base_shift = 0.5, max_shift = 1.15;   ///< mu at base_image_seq_len and at max_image_seq_len tokens
  int base_image_seq_len = 256, max_image_seq_len = 4096;
  /// Not a diffusers key: the pipeline passes set_timesteps sigmas = linspace(1, 1/N, N) itself (FluxPipeline, with
  /// or without dynamic shifting) instead of spacing the training table (StableDiffusion3Pipeline). Set from the
  /// package's model_index.json "pipeline".
  bool pipeline_linspace_sigmas = false;
  std::string class_name;                      ///< "_class_name" of the file, if any
  /// Keys present in the file with a value (after _use_default_values), and every key of any diffusers
  /// scheduler that diffscope does not implement, with its value as JSON text, for the class check.
  std::vector<std::string> present;
  std::vector<std::pair<std::string, std::string>> unimplemented;

  /// Parses diffusers keys; a wrong type or unsupported value throws Error naming `source` and the key.
  static SchedulerConfig from_json(const nlohmann::json& j, const std::string& source);
  /// from_json on the file, read by read_python_json_file (util/json_util.h) as every reader of a
  /// scheduler_config.json: the words Infinity, -Infinity and NaN that Python's json writes read as null, that is
  /// the key's default. Error naming the file when it is missing or not JSON.
  static SchedulerConfig from_file(const std::string& path);
  /// The configuration as diffusers' class `scheduler` ("ddim", "euler", ...) sees it: keys the class does not
  /// take are reset to neutral values, unset class defaults filled in. Refuses (Error naming the key and the
  /// file) a key the class takes that diffscope does not implement at the given value, or a combination
  /// diffusers itself rejects. make_scheduler calls it.
  SchedulerConfig resolved_for(const std::string& scheduler) const;
  std::string source = "scheduler_config.json";  ///< named in errors
};

}  // namespace diffscope
