// Prediction-type conversions, guidance and the DDIM update (see step_math.h).
#include "diffscope/sched/step_math.h"

#include <ATen/ATen.h>

#include <cmath>

#include "diffscope/util/error.h"

namespace diffscope {

NoiseLevel NoiseLevel::from_alpha_bar(double alpha_bar) { return {std::sqrt(alpha_bar), std::sqrt(1.0 - alpha_bar)}; }

NoiseLevel NoiseLevel::from_alpha_bar_f32(float alpha_bar) {
  return {std::pow(alpha_bar, 0.5f), std::pow(1.0f - alpha_bar, 0.5f)};
}

at::Tensor predicted_x0(Prediction p, const at::Tensor& out, const at::Tensor& x, const NoiseLevel& l) {
  switch (p) {
    case Prediction::Epsilon: return (x - l.noise * out) / l.signal;
    case Prediction::V: return l.signal * x - l.noise * out;
    case Prediction::Sample: return out;
    case Prediction::Flow: return (x - l.noise * out) / (l.signal + l.noise);
  }
  return out;
}

at::Tensor predicted_eps(Prediction p, const at::Tensor& out, const at::Tensor& x, const NoiseLevel& l) {
  switch (p) {
    case Prediction::Epsilon: return out;
    case Prediction::V: return l.signal * out + l.noise * x;
    case Prediction::Sample: return (x - l.signal * out) / l.noise;
    case Prediction::Flow: return (x + l.signal * out) / (l.signal + l.noise);
  }
  return out;
}

at::Tensor guidance_combine(const at::Tensor& uncond, const at::Tensor& cond, double scale) {
  return uncond + scale * (cond - uncond);
}

at::Tensor ddim_update(const at::Tensor& x0, const at::Tensor& eps, const NoiseLevel& prev) {
  return prev.signal * x0 + prev.noise * eps;
}

}  // namespace diffscope
