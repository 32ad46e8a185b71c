// Internal: constructors of the scheduler classes and shared float32 helpers.
#pragma once
#include <cmath>
#include <memory>
#include <vector>

#include "diffscope/sched/scheduler.h"

namespace diffscope::sched {

std::unique_ptr<Scheduler> make_ddim(const SchedulerConfig& c);
std::unique_ptr<Scheduler> make_ddpm(const SchedulerConfig& c);
std::unique_ptr<Scheduler> make_pndm(const SchedulerConfig& c);
std::unique_ptr<Scheduler> make_euler(const SchedulerConfig& c);
std::unique_ptr<Scheduler> make_dpm_solver(const SchedulerConfig& c);

/// x0 and epsilon from a model output at abar, in float32 arithmetic like diffusers' 0-dim tensors
/// (the conversions themselves are step_math's).
inline at::Tensor predict_x0(Prediction p, const at::Tensor& out, const at::Tensor& x, float alpha_bar) {
  return predicted_x0(p, out, x, NoiseLevel::from_alpha_bar_f32(alpha_bar));
}
inline at::Tensor predict_eps(Prediction p, const at::Tensor& out, const at::Tensor& x, float alpha_bar) {
  return predicted_eps(p, out, x, NoiseLevel::from_alpha_bar_f32(alpha_bar));
}

/// Draws diffusers' randn_tensor(shape) from the generator, or returns the injected noise.
at::Tensor step_noise(const at::Tensor& like, c10::optional<at::Generator> gen, const at::Tensor* noise);

inline float f32(double v) { return static_cast<float>(v); }

// Sigma-space schedules (sigmas.cpp), shared by Euler and DPM-Solver, each as diffusers computes it.

/// The training sigmas ((1 - abar) / abar) ** 0.5 in float32, ascending in t.
std::vector<float> train_sigmas(const std::vector<double>& alphas_cumprod);
/// np.interp(ts, arange(n), train) in float64.
std::vector<double> interp_sigmas(const std::vector<float>& train, const std::vector<double>& ts);
/// Karras et al. (2022), rho 7: (max^(1/rho) + ramp (min^(1/rho) - max^(1/rho)))^rho over np.linspace(0, 1, n).
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n);
/// diffusers' _sigma_to_t: the fractional training timestep of sigma by log-sigma interpolation.
double sigma_to_t(double sigma, const std::vector<float>& log_sigmas);
/// np.log of the float32 training sigmas.
std::vector<float> log_sigmas(const std::vector<float>& train);
/// The final sigma: 0 ("zero") or the training schedule's smallest ("sigma_min").
double final_sigma(const SchedulerConfig& c, const std::vector<float>& train);
/// np.linspace(start, stop, n) as numpy computes it (i * step + start, the last value exactly stop).
std::vector<double> np_linspace(double start, double stop, int n);
/// np.arange(start, 0, -step).round() - 1: the "trailing" spacing.
std::vector<double> trailing(double start, double step);

}  // namespace diffscope::sched
