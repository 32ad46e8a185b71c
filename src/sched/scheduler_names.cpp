// The scheduler name table (see scheduler_names.h).
#include "diffscope/sched/scheduler_names.h"

#include <algorithm>
#include <cctype>

#include "diffscope/util/error.h"

namespace diffscope {

const std::vector<SchedulerSpec>& scheduler_specs() {
  static const std::vector<SchedulerSpec> specs = {
      {"ddim", "DDIMScheduler", {}, "", false, false, "leading",
       {"clip_sample", "set_alpha_to_one", "thresholding", "dynamic_thresholding_ratio", "clip_sample_range",
        "sample_max_value", "rescale_betas_zero_snr"}},
      {"ddpm", "DDPMScheduler", {}, "", false, false, "leading",
       {"variance_type", "clip_sample", "thresholding", "dynamic_thresholding_ratio", "clip_sample_range",
        "sample_max_value", "rescale_betas_zero_snr"}},
      {"pndm", "PNDMScheduler", {"plms"}, "PNDM/PLMS", false, false, "leading", {"skip_prk_steps", "set_alpha_to_one"}},
      {"euler", "EulerDiscreteScheduler", {}, "", true, false, "linspace",
       {"interpolation_type", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "sigma_min", "sigma_max",
        "timestep_type", "rescale_betas_zero_snr", "final_sigmas_type"}},
      {"euler_a", "EulerAncestralDiscreteScheduler", {"euler-ancestral", "euler_ancestral", "eulera"}, "Euler ancestral",
       true, false, "linspace", {"rescale_betas_zero_snr"}},
      {"lms", "LMSDiscreteScheduler", {}, "", true, false, "linspace",
       {"use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"}},
      {"dpm++2m", "DPMSolverMultistepScheduler", {"dpmsolver++", "dpm"}, "DPM-Solver++ 2M (Karras, SDE by config)",
       false, false, "linspace",
       {"solver_order", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type", "solver_type",
        "lower_order_final", "euler_at_final", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
        "use_lu_lambdas", "final_sigmas_type", "lambda_min_clipped", "variance_type", "rescale_betas_zero_snr"}},
      {"flow_euler", "FlowMatchEulerDiscreteScheduler", {"flow", "flow_match", "flow_match_euler", "flowmatch"},
       "flow-matching Euler, SD3/Flux", false, true, "linspace",
       {"shift", "use_dynamic_shifting", "base_shift", "max_shift", "base_image_seq_len", "max_image_seq_len",
        "invert_sigmas", "shift_terminal", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"}},
  };
  return specs;
}

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
}  // namespace

const SchedulerSpec* find_scheduler(const std::string& any) {
  const std::string n = lower(any);
  for (const auto& s : scheduler_specs()) {
    if (n == s.name || n == lower(s.class_name)) return &s;
    for (const auto& a : s.aliases)
      if (n == a) return &s;
  }
  return nullptr;
}

const SchedulerSpec& scheduler_spec(const std::string& name) {
  for (const auto& s : scheduler_specs())
    if (s.name == name) return s;
  throw Error("scheduler \"" + name + "\" is not one of diffscope's (" + scheduler_name_list() + ")");
}

std::string scheduler_name_list(const std::string& last) {
  const auto& specs = scheduler_specs();
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i)
    out += (i == 0 ? "" : i + 1 == specs.size() ? last : ", ") + specs[i].name;
  return out;
}

}  // namespace diffscope
