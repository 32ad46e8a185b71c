// Scheduler base: the training schedule (float32 like diffusers), timestep spacing, forward noising, factory.
#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope {

Scheduler::Scheduler(SchedulerConfig config) : config_(std::move(config)) {
  const int n = config_.num_train_timesteps;
  at::Tensor betas;
  if (!config_.trained_betas.empty()) {
    betas = at::tensor(config_.trained_betas, at::kDouble).to(at::kFloat);
  } else if (config_.beta_schedule == "linear") {
    betas = at::linspace(config_.beta_start, config_.beta_end, n, at::kFloat);
  } else if (config_.beta_schedule == "scaled_linear") {
    betas = at::linspace(std::sqrt(config_.beta_start), std::sqrt(config_.beta_end), n, at::kFloat).pow(2);
  } else {  // squaredcos_cap_v2: betas_for_alpha_bar with the cosine alpha_bar, max_beta 0.999
    std::vector<double> b;
    auto abar = [](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * M_PI / 2), 2); };
    for (int i = 0; i < n; ++i) b.push_back(std::min(1 - abar((i + 1.0) / n) / abar(double(i) / n), 0.999));
    betas = at::tensor(b, at::kDouble).to(at::kFloat);
  }
  acp_ = at::cumprod(1.0 - betas, 0);
  auto a = acp_.contiguous();
  alphas_cumprod_.assign(a.data_ptr<float>(), a.data_ptr<float>() + n);
}

std::string Scheduler::spacing(const char* class_default) const {
  return config_.timestep_spacing ? *config_.timestep_spacing : std::string(class_default);
}

std::vector<int64_t> Scheduler::spaced_timesteps(int steps, const std::string& sp) const {
  const int n = config_.num_train_timesteps;
  if (steps < 1 || steps > n)
    throw Error("--steps: " + std::to_string(steps) + " inference steps, but the scheduler was trained with " +
                std::to_string(n) + " timesteps (expected 1.." + std::to_string(n) + ")");
  std::vector<int64_t> t;
  if (sp == "linspace") {  // np.linspace(0, n-1, steps).round()[::-1]
    for (int i = 0; i < steps; ++i) {
      const double v = steps == 1 ? 0.0 : double(n - 1) * i / (steps - 1);
      t.push_back(static_cast<int64_t>(std::nearbyint(v)));
    }
    std::reverse(t.begin(), t.end());
  } else if (sp == "leading") {  // (arange(steps) * (n // steps)).round()[::-1] + offset
    const int ratio = n / steps;
    for (int i = steps - 1; i >= 0; --i) t.push_back(int64_t(i) * ratio + config_.steps_offset);
  } else {  // trailing: round(arange(n, 0, -n/steps)) - 1
    const double ratio = double(n) / steps;
    for (int i = 0; static_cast<int>(t.size()) < steps; ++i) {
      const double v = n - i * ratio;
      if (v <= 0) break;
      t.push_back(static_cast<int64_t>(std::nearbyint(v)) - 1);
    }
  }
  return t;
}

void Scheduler::use_spaced(int steps, const char* class_default) {
  timesteps_ = spaced_timesteps(steps, spacing(class_default));
  num_inference_steps_ = steps;
  custom_ = false;
}

void Scheduler::use_custom(const std::vector<int64_t>& ts) {
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i] < 0 || ts[i] >= config_.num_train_timesteps || (i && ts[i] >= ts[i - 1]))
      throw Error("custom timesteps must be strictly descending within 0.." + std::to_string(config_.num_train_timesteps - 1));
  if (ts.empty()) throw Error("custom timesteps: the list is empty");
  timesteps_ = ts;
  num_inference_steps_ = static_cast<int>(ts.size());
  custom_ = true;
}

int64_t Scheduler::previous_timestep(int64_t t) const {
  if (!custom_) return t - config_.num_train_timesteps / num_inference_steps_;
  for (size_t i = 0; i + 1 < timesteps_.size(); ++i)
    if (timesteps_[i] == t) return timesteps_[i + 1];
  return -1;
}

void Scheduler::set_custom_timesteps(const std::vector<int64_t>&) {
  throw Error("--timestep-schedule: the " + name() + " scheduler does not take custom timesteps (use ddim, ddpm or euler)");
}

at::Tensor Scheduler::scale_model_input(const at::Tensor& sample, int64_t) { return sample; }

at::Tensor Scheduler::add_noise(const at::Tensor& original, const at::Tensor& noise, int64_t t) const {
  const float a = static_cast<float>(alphas_cumprod_.at(static_cast<size_t>(t)));
  return std::sqrt(a) * original + std::sqrt(1.0f - a) * noise;
}

namespace sched {

at::Tensor step_noise(const at::Tensor& like, c10::optional<at::Generator> gen, const at::Tensor* noise) {
  if (noise) return noise->to(like.device(), like.scalar_type());
  // diffusers' randn_tensor draws on the generator's device (CPU here) and moves the result
  return at::randn(like.sizes(), gen, at::TensorOptions().dtype(like.scalar_type())).to(like.device());
}

}  // namespace sched

std::vector<std::string> scheduler_names() { return {"ddim", "ddpm", "pndm", "euler", "dpm++2m"}; }

std::string scheduler_name_from_class(const std::string& cls) {
  if (cls == "DDIMScheduler") return "ddim";
  if (cls == "DDPMScheduler") return "ddpm";
  if (cls == "PNDMScheduler") return "pndm";
  if (cls == "EulerDiscreteScheduler") return "euler";
  if (cls == "DPMSolverMultistepScheduler") return "dpm++2m";
  throw Error("scheduler class \"" + cls + "\" is not implemented in diffscope (choose one of ddim, ddpm, pndm, euler, "
              "dpm++2m with --scheduler)");
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const SchedulerConfig& config) {
  std::string n = name;
  if (n.size() > 9 && n.compare(n.size() - 9, 9, "Scheduler") == 0) n = scheduler_name_from_class(n);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "ddim") return sched::make_ddim(config);
  if (n == "ddpm") return sched::make_ddpm(config);
  if (n == "pndm" || n == "plms") return sched::make_pndm(config);
  if (n == "euler") return sched::make_euler(config);
  if (n == "dpm++2m" || n == "dpmsolver++" || n == "dpm") return sched::make_dpm_solver(config);
  throw Error("--scheduler " + name + ": unknown scheduler (expected ddim, ddpm, pndm, euler or dpm++2m)");
}

}  // namespace diffscope
