// EulerDiscreteScheduler (diffusers 0.31): sigma-space Euler steps, default spacing "linspace".
#include <ATen/ATen.h>

#include <cmath>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {

/// np.interp(t, arange(n), sigmas_train) in float64 -> float32, plus the final 0 (shared with DPM-Solver).
std::vector<double> interp_sigmas(const std::vector<double>& acp, const std::vector<double>& ts) {
  std::vector<float> train(acp.size());
  for (size_t i = 0; i < acp.size(); ++i) {
    const float a = static_cast<float>(acp[i]);
    train[i] = std::pow((1.0f - a) / a, 0.5f);  // torch float32
  }
  std::vector<double> out;
  for (double t : ts) {
    const double lo = std::floor(t);
    const size_t i = static_cast<size_t>(std::max(0.0, std::min(lo, double(train.size() - 1))));
    const size_t j = std::min(i + 1, train.size() - 1);
    const double f = t - double(i);
    const double v = double(train[i]) + (double(train[j]) - double(train[i])) * f;
    out.push_back(static_cast<float>(v));
  }
  out.push_back(0.0);
  return out;
}

namespace {

class Euler : public Scheduler {
 public:
  explicit Euler(const SchedulerConfig& c) : Scheduler(c) {}
  std::string name() const override { return "euler"; }
  void set_timesteps(int steps) override {
    const std::string sp = spacing("linspace");
    const int n = config_.num_train_timesteps;
    std::vector<double> ts;  // float32 timesteps
    if (sp == "linspace") {
      for (int i = steps - 1; i >= 0; --i)
        ts.push_back(static_cast<float>(steps == 1 ? 0.0 : double(n - 1) * i / (steps - 1)));
    } else {
      for (int64_t t : spaced_timesteps(steps, sp)) ts.push_back(static_cast<double>(t));
    }
    use(ts);
  }
  void set_custom_timesteps(const std::vector<int64_t>& custom) override {
    std::vector<double> ts(custom.begin(), custom.end());
    use(ts);
  }
  double init_noise_sigma() const override {
    const float m = static_cast<float>(*std::max_element(sigmas_.begin(), sigmas_.end()));
    const std::string sp = spacing("linspace");
    if (sp == "linspace" || sp == "trailing") return m;
    return std::pow(m * m + 1.0f, 0.5f);
  }
  at::Tensor scale_model_input(const at::Tensor& x, int64_t t) override {
    const float s = static_cast<float>(sigmas_[index_for(t)]);
    return x / std::pow(s * s + 1.0f, 0.5f);
  }
  StepOutput step(const at::Tensor& out, int64_t t, const at::Tensor& x, c10::optional<at::Generator>,
                  const at::Tensor*) override {
    if (step_index_ < 0) step_index_ = static_cast<int>(index_for(t));
    const float sigma = static_cast<float>(sigmas_[static_cast<size_t>(step_index_)]);
    at::Tensor x0;
    if (config_.prediction_type == Prediction::Epsilon) {
      x0 = x - sigma * out;
    } else if (config_.prediction_type == Prediction::V) {
      x0 = out * (-sigma / std::pow(sigma * sigma + 1.0f, 0.5f)) + x / (sigma * sigma + 1.0f);
    } else {
      x0 = out;
    }
    at::Tensor derivative = (x - x0) / sigma;
    const float dt = static_cast<float>(sigmas_[static_cast<size_t>(step_index_) + 1]) - sigma;
    ++step_index_;
    return {x + derivative * dt, x0};
  }
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int64_t t) const override {
    const float a = static_cast<float>(alphas_cumprod_.at(static_cast<size_t>(t)));
    return original + std::pow((1.0f - a) / a, 0.5f) * noise;
  }

 private:
  void use(const std::vector<double>& ts) {
    timesteps_.clear();
    for (double t : ts) timesteps_.push_back(static_cast<int64_t>(t));
    float_timesteps_ = ts;
    sigmas_ = interp_sigmas(alphas_cumprod_, ts);
    num_inference_steps_ = static_cast<int>(ts.size());
    step_index_ = -1;
  }
  size_t index_for(int64_t t) const {
    std::vector<size_t> hits;
    for (size_t i = 0; i < timesteps_.size(); ++i)
      if (timesteps_[i] == t) hits.push_back(i);
    if (hits.empty()) throw Error("timestep " + std::to_string(t) + " is not in the scheduler's timesteps");
    return hits.size() > 1 ? hits[1] : hits[0];
  }
  std::vector<double> float_timesteps_;
  int step_index_ = -1;
};

}  // namespace

std::unique_ptr<Scheduler> make_euler(const SchedulerConfig& c) { return std::make_unique<Euler>(c); }

}  // namespace diffscope::sched
