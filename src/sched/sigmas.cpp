// Sigma-space schedule helpers shared by the Euler and DPM-Solver schedulers, in diffusers' arithmetic.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {

std::vector<float> train_sigmas(const std::vector<double>& acp) {
  std::vector<float> out(acp.size());
  for (size_t i = 0; i < acp.size(); ++i) {
    const float a = static_cast<float>(acp[i]);
    out[i] = std::pow((1.0f - a) / a, 0.5f);  // torch float32
  }
  return out;
}

std::vector<double> interp_sigmas(const std::vector<float>& train, const std::vector<double>& ts) {
  std::vector<double> out;
  out.reserve(ts.size());
  for (double t : ts) {
    if (t <= 0) {
      out.push_back(train.front());
      continue;
    }
    if (t >= double(train.size() - 1)) {
      out.push_back(train.back());
      continue;
    }
    const size_t i = static_cast<size_t>(std::floor(t));
    const double f = t - double(i);
    const double lo = train[i], hi = train[i + 1];
    out.push_back(f == 0 ? lo : lo + (hi - lo) * f);  // numpy: slope * (x - xp[j]) + fp[j]
  }
  return out;
}

std::vector<double> np_linspace(double start, double stop, int n) {
  std::vector<double> y;
  if (n <= 0) return y;
  if (n == 1) return {start};
  const double step = (stop - start) / (n - 1);
  for (int i = 0; i < n; ++i) y.push_back(i * step + start);
  y.back() = stop;
  return y;
}

std::vector<double> trailing(double start, double step) {
  std::vector<double> out;
  const auto len = static_cast<int64_t>(std::ceil(start / step));
  for (int64_t i = 0; i < len; ++i) out.push_back(std::nearbyint(start + double(i) * -step) - 1.0);
  return out;
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n) {
  const double rho = 7.0;
  const double min_inv = std::pow(sigma_min, 1.0 / rho), max_inv = std::pow(sigma_max, 1.0 / rho);
  std::vector<double> out;
  for (double r : np_linspace(0.0, 1.0, n)) out.push_back(std::pow(max_inv + r * (min_inv - max_inv), rho));
  return out;
}

std::vector<float> log_sigmas(const std::vector<float>& train) {
  std::vector<float> out(train.size());
  for (size_t i = 0; i < train.size(); ++i) out[i] = std::log(train[i]);
  return out;
}

double sigma_to_t(double sigma, const std::vector<float>& ls) {
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  // low_idx: the last index with log_sigma >= log_sigmas[i] (0 when none), at most n - 2
  int64_t count = 0;
  for (float l : ls) count += (log_sigma - double(l)) >= 0 ? 1 : 0;
  int64_t low_idx = std::max<int64_t>(count - 1, 0);
  // argmax of the cumulative count is the first index reaching the total
  if (count > 0) {
    int64_t c = 0;
    for (size_t i = 0; i < ls.size(); ++i) {
      c += (log_sigma - double(ls[i])) >= 0 ? 1 : 0;
      if (c == count) {
        low_idx = static_cast<int64_t>(i);
        break;
      }
    }
  }
  low_idx = std::min<int64_t>(low_idx, static_cast<int64_t>(ls.size()) - 2);
  const int64_t high_idx = low_idx + 1;
  const float low = ls[static_cast<size_t>(low_idx)], high = ls[static_cast<size_t>(high_idx)];
  double w = (double(low) - log_sigma) / double(low - high);  // the denominator in float32, as numpy
  w = std::min(1.0, std::max(0.0, w));
  return (1.0 - w) * double(low_idx) + w * double(high_idx);
}

double final_sigma(const SchedulerConfig& c, const std::vector<float>& train) {
  return c.final_sigmas_type == "sigma_min" ? double(train.front()) : 0.0;
}

double SigmaScheduler::init_noise_sigma() const {
  const float m = static_cast<float>(*std::max_element(sigmas_.begin(), sigmas_.end()));
  const std::string sp = spacing("linspace");
  if (sp == "linspace" || sp == "trailing") return m;
  return std::pow(m * m + 1.0f, 0.5f);
}

at::Tensor SigmaScheduler::scale_model_input(const at::Tensor& x, double t) {
  const float s = static_cast<float>(sigmas_[step_index(t)]);
  return x / std::pow(s * s + 1.0f, 0.5f);
}

std::vector<double> SigmaScheduler::spaced(int steps) {
  check_steps(steps);
  num_inference_steps_ = steps;
  const std::string sp = spacing("linspace");
  const int n = config_.num_train_timesteps;
  std::vector<double> ts;
  if (sp == "linspace") {
    for (double v : np_linspace(0.0, n - 1.0, steps)) ts.push_back(static_cast<float>(v));
    std::reverse(ts.begin(), ts.end());
  } else if (sp == "leading") {
    for (int64_t t : spaced_timesteps(steps, sp)) ts.push_back(static_cast<double>(t));
    check_range(ts);
  } else {
    ts = trailing(n, double(n) / steps);
  }
  return ts;
}

void SigmaScheduler::use(const std::vector<double>& ts, const std::vector<double>& sig, double final_sigma,
                         bool keep_double_timesteps) {
  sigmas_.clear();
  for (double s : sig) sigmas_.push_back(static_cast<float>(s));
  sigmas_.push_back(static_cast<float>(final_sigma));
  timesteps_.clear();
  for (double t : ts) timesteps_.push_back(keep_double_timesteps ? t : static_cast<float>(t));
  num_inference_steps_ = static_cast<int>(ts.size());
  step_index_ = -1;
}

size_t SigmaScheduler::step_index(double t) {
  if (step_index_ < 0) {
    std::vector<size_t> hits;
    for (size_t i = 0; i < timesteps_.size(); ++i)
      if (timesteps_[i] == t) hits.push_back(i);
    if (hits.empty()) throw Error(name() + ": timestep " + std::to_string(t) + " is not in the scheduler's timesteps");
    step_index_ = static_cast<int>(hits.size() > 1 ? hits[1] : hits[0]);
  }
  return static_cast<size_t>(step_index_);
}

at::Tensor SigmaScheduler::sigma_x0(const at::Tensor& out, const at::Tensor& x, float sigma) const {
  if (config_.prediction_type == Prediction::Epsilon) return x - sigma * out;
  if (config_.prediction_type == Prediction::V)
    return out * (-sigma / std::pow(sigma * sigma + 1.0f, 0.5f)) + x / (sigma * sigma + 1.0f);
  return out;
}

size_t SigmaScheduler::advance(double t) {
  const size_t k = step_index(t);
  if (k >= timesteps_.size()) throw Error(name() + ": step() called more often than the schedule has steps");
  ++step_index_;
  return k;
}

}  // namespace diffscope::sched

