// Internal: constructors of the scheduler classes and shared float32 helpers.
#pragma once
#include <cmath>
#include <memory>

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

}  // namespace diffscope::sched
