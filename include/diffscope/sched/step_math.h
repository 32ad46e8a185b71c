// The maths of one denoising step, in one place: what the denoiser's output means (epsilon, v, x0), the
// classifier-free guidance combine, and the deterministic (DDIM) update. Used by the schedulers, the loop,
// real-image attribution and step saliency, for epsilon, v, sample and flow-matching velocity.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

#include "diffscope/sched/prediction.h"

namespace diffscope {

/// The variance-preserving noise level at one timestep: x_t = signal * x0 + noise * eps, with
/// signal = sqrt(alpha_bar) and noise = sqrt(1 - alpha_bar).
struct NoiseLevel {
  double signal = 1.0;
  double noise = 0.0;
  /// In float64 arithmetic.
  static NoiseLevel from_alpha_bar(double alpha_bar);
  /// In float32 arithmetic (pow(.., 0.5f)), as diffusers' schedulers compute on 0-dim float tensors.
  static NoiseLevel from_alpha_bar_f32(float alpha_bar);
};

/// The clean-sample estimate x0 from the denoiser's output at x_t.
/// epsilon: (x - noise * out) / signal; v: signal * x - noise * out; sample: out; flow (out = eps - x0):
/// (x - noise * out) / (signal + noise), which holds for the flow level (signal 1 - sigma, noise sigma) and for any
/// rescaling of it (the variance-preserving level of the same signal-to-noise ratio, Scheduler::alpha_bar_at).
at::Tensor predicted_x0(Prediction p, const at::Tensor& out, const at::Tensor& x, const NoiseLevel& level);
/// The noise estimate eps from the denoiser's output at x_t.
/// epsilon: out; v: signal * out + noise * x; sample: (x - signal * out) / noise; flow: (x + signal * out) /
/// (signal + noise).
at::Tensor predicted_eps(Prediction p, const at::Tensor& out, const at::Tensor& x, const NoiseLevel& level);

/// Classifier-free guidance: uncond + scale * (cond - uncond).
at::Tensor guidance_combine(const at::Tensor& uncond, const at::Tensor& cond, double scale);

/// The deterministic (DDIM, eta = 0) update to the previous level: prev.signal * x0 + prev.noise * eps.
at::Tensor ddim_update(const at::Tensor& x0, const at::Tensor& eps, const NoiseLevel& prev);

}  // namespace diffscope
