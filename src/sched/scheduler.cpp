// Scheduler base: the training schedule (float32 like diffusers), timestep spacing, forward noising, factory.
#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <cctype>
#include <cmath>

#include "diffscope/util/error.h"
#include "diffscope/sched/scheduler_names.h"
#include "sched/impl.h"

namespace diffscope {

Scheduler::Scheduler(SchedulerConfig config, bool zero_snr_floor) : config_(std::move(config)) {
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
  if (config_.rescale_betas_zero_snr) {  // Lin et al. 2024, Algorithm 1, in float32 as diffusers
    at::Tensor abar_sqrt = at::cumprod(1.0 - betas, 0).sqrt();
    at::Tensor first = abar_sqrt[0].clone(), last = abar_sqrt[-1].clone();
    abar_sqrt -= last;
    abar_sqrt *= first / (first - last);
    at::Tensor abar = abar_sqrt.pow(2);
    betas = 1 - at::cat({abar.narrow(0, 0, 1), abar.narrow(0, 1, n - 1) / abar.narrow(0, 0, n - 1)});
  }
  acp_ = at::cumprod(1.0 - betas, 0);
  // sigma-space classes keep the last alpha_bar just above 0 so the first sigma is finite (diffusers: 2**-24)
  if (config_.rescale_betas_zero_snr && zero_snr_floor) acp_[n - 1] = std::ldexp(1.0, -24);
  auto a = acp_.contiguous();
  alphas_cumprod_.assign(a.data_ptr<float>(), a.data_ptr<float>() + n);
}

std::string Scheduler::spacing(const char* class_default) const {
  return config_.timestep_spacing ? *config_.timestep_spacing : std::string(class_default);
}

void Scheduler::check_steps(int steps) const {
  const int n = config_.num_train_timesteps;
  if (steps < 1 || steps > n)
    throw Error("--steps: " + std::to_string(steps) + " inference steps, but the scheduler was trained with " +
                std::to_string(n) + " timesteps (expected 1.." + std::to_string(n) + ")");
}

void Scheduler::check_range(const std::vector<double>& ts) const {
  const int n = config_.num_train_timesteps;
  for (double t : ts)
    if (!(t >= 0 && t <= n - 1))
      throw Error("--steps " + std::to_string(num_inference_steps_) + ": with timestep_spacing \"" + spacing("leading") +
                  "\" and steps_offset " + std::to_string(config_.steps_offset) + " the schedule reaches timestep " +
                  std::to_string(static_cast<long long>(t)) + ", outside the " + std::to_string(n) +
                  " training timesteps 0.." + std::to_string(n - 1) + " (" + config_.source +
                  "); use fewer steps or another spacing");
}

std::vector<int64_t> Scheduler::spaced_timesteps(int steps, const std::string& sp) const {
  const int n = config_.num_train_timesteps;
  check_steps(steps);
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
  const auto ts = spaced_timesteps(steps, spacing(class_default));
  timesteps_.assign(ts.begin(), ts.end());
  num_inference_steps_ = steps;
  check_range(timesteps_);
  custom_ = false;
}

void Scheduler::use_custom(const std::vector<int64_t>& ts) {
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i] < 0 || ts[i] >= config_.num_train_timesteps || (i && ts[i] >= ts[i - 1]))
      throw Error("custom timesteps must be strictly descending within 0.." + std::to_string(config_.num_train_timesteps - 1));
  if (ts.empty()) throw Error("custom timesteps: the list is empty");
  timesteps_.assign(ts.begin(), ts.end());
  num_inference_steps_ = static_cast<int>(ts.size());
  custom_ = true;
}

int64_t Scheduler::previous_timestep(int64_t t) const {
  if (!custom_) return t - config_.num_train_timesteps / num_inference_steps_;
  for (size_t i = 0; i + 1 < timesteps_.size(); ++i)
    if (timesteps_[i] == double(t)) return static_cast<int64_t>(timesteps_[i + 1]);
  return -1;
}

size_t Scheduler::table_index(double t) const {
  if (!(t >= 0 && t < alphas_cumprod_.size()) || t != std::floor(t))
    throw Error(name() + ": timestep " + std::to_string(t) + " is not one of the training timesteps 0.." +
                std::to_string(alphas_cumprod_.size() - 1));
  return static_cast<size_t>(t);
}

double Scheduler::alpha_bar_at(double t) const {
  if (t == std::floor(t) && t >= 0 && t < alphas_cumprod_.size()) return alphas_cumprod_[static_cast<size_t>(t)];
  const double s = static_cast<float>(sched::interp_sigmas(sched::train_sigmas(alphas_cumprod_), {t}).front());
  return 1.0 / (1.0 + s * s);
}

at::Tensor Scheduler::threshold(const at::Tensor& x0) const {
  if (!config_.thresholding) return x0;
  // diffusers' _threshold_sample: s = quantile(|x0|, ratio) per sample, clamped to [1, sample_max_value]
  const int64_t b = x0.size(0);
  at::Tensor flat = x0.to(at::kFloat).reshape({b, -1});
  at::Tensor s = at::quantile(flat.abs(), config_.dynamic_thresholding_ratio, 1);
  s = at::clamp(s, 1.0, config_.sample_max_value).unsqueeze(1);
  return (at::clamp(flat, -s, s) / s).reshape(x0.sizes()).to(x0.scalar_type());
}

void Scheduler::set_custom_timesteps(const std::vector<int64_t>&) {
  throw Error("--timestep-schedule: the " + name() + " scheduler does not take custom timesteps (use ddim, ddpm or euler)");
}

at::Tensor Scheduler::scale_model_input(const at::Tensor& sample, double) { return sample; }

at::Tensor Scheduler::scale_noise(const at::Tensor& original, const at::Tensor& noise, double t) const {
  return add_noise(original, noise, static_cast<int64_t>(table_index(t)));
}

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

std::vector<std::string> scheduler_names() {
  std::vector<std::string> out;
  for (const auto& spec : scheduler_specs()) out.push_back(spec.name);
  return out;
}

bool is_sigma_space(const std::string& n) {
  const SchedulerSpec* spec = find_scheduler(n);
  return spec && spec->sigma_space;
}

std::string scheduler_name_from_class(const std::string& cls) {
  for (const auto& spec : scheduler_specs())
    if (spec.class_name == cls) return spec.name;
  throw Error("scheduler class \"" + cls + "\" is not implemented in diffscope (choose one of " +
              scheduler_name_list(", ") + " with --scheduler)");
}

std::string default_scheduler_of(const SchedulerConfig& config) {
  return scheduler_name_from_class(config.class_name.empty() ? "PNDMScheduler" : config.class_name);
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const SchedulerConfig& config) {
  // one factory per row of the name table (scheduler_names.cpp); the sched test checks that they match
  using Factory = std::unique_ptr<Scheduler> (*)(const SchedulerConfig&);
  static const std::map<std::string, Factory> factories = {
      {"ddim", sched::make_ddim},   {"ddpm", sched::make_ddpm},       {"pndm", sched::make_pndm},
      {"euler", sched::make_euler}, {"euler_a", sched::make_euler_ancestral}, {"lms", sched::make_lms},
      {"dpm++2m", sched::make_dpm_solver}, {"flow_euler", sched::make_flow_match_euler}};
  const SchedulerSpec* spec = find_scheduler(name);
  if (!spec) throw Error("--scheduler " + name + ": unknown scheduler (expected " + scheduler_name_list() + ")");
  return factories.at(spec->name)(config.resolved_for(spec->name));
}

}  // namespace diffscope
