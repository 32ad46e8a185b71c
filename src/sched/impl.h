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
std::unique_ptr<Scheduler> make_lms(const SchedulerConfig& c);
std::unique_ptr<Scheduler> make_euler_ancestral(const SchedulerConfig& c);
std::unique_ptr<Scheduler> make_flow_match_euler(const SchedulerConfig& c);

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

/// Base of the sigma-space samplers that work by step index (Euler, Euler ancestral, LMS): diffusers' shared
/// set_timesteps spacing (float32 timesteps), init_noise_sigma, scale_model_input and index_for_timestep.
class SigmaScheduler : public Scheduler {
 public:
  explicit SigmaScheduler(const SchedulerConfig& c) : Scheduler(c, /*zero_snr_floor=*/true), train_(train_sigmas(alphas_cumprod_)) {}
  double init_noise_sigma() const override;
  at::Tensor scale_model_input(const at::Tensor& x, double t) override;

 protected:
  /// linspace: np.linspace(0, n-1, steps, dtype=float32)[::-1]; leading: integer spacing + steps_offset; trailing:
  /// np.arange(n, 0, -n/steps).round() - 1. Checks steps and the range.
  std::vector<double> spaced(int steps);
  /// Sets timesteps_ and sigmas_ (the final sigma appended, all as float32 unless keep_double_timesteps) and
  /// resets the step index.
  void use(const std::vector<double>& timesteps, const std::vector<double>& sigmas, double final_sigma,
           bool keep_double_timesteps = false);
  /// The step index, initialised on the first call from `t` (the second match when t repeats, as diffusers).
  size_t step_index(double t);
  /// x0 from the model output at a sigma-space sample (diffusers' Euler/LMS arithmetic in float32): epsilon
  /// x - sigma out; v out (-sigma / sqrt(sigma^2 + 1)) + x / (sigma^2 + 1); sample out.
  at::Tensor sigma_x0(const at::Tensor& out, const at::Tensor& x, float sigma) const;
  /// Advances the step index; Error when step() is called more often than the schedule has steps.
  size_t advance(double t);
  std::vector<float> train_;
  int step_index_ = -1;
};

}  // namespace diffscope::sched

