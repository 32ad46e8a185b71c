// EulerDiscreteScheduler (diffusers 0.31): sigma-space Euler steps, default spacing "linspace". Timesteps stay
// float32 values as diffusers' are (946.42108 at 20 linspace steps), with Karras sigmas, log-linear
// interpolation, continuous (0.25 log sigma) timesteps, zero terminal SNR and either final sigma.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {
namespace {

class Euler : public Scheduler {
 public:
  explicit Euler(const SchedulerConfig& c) : Scheduler(c, /*zero_snr_floor=*/true), train_(train_sigmas(alphas_cumprod_)) {}
  std::string name() const override { return "euler"; }
  void set_timesteps(int steps) override {
    check_steps(steps);
    num_inference_steps_ = steps;
    const std::string sp = spacing("linspace");
    const int n = config_.num_train_timesteps;
    std::vector<double> ts;
    if (sp == "linspace") {  // np.linspace(0, n-1, steps, dtype=float32)[::-1]
      for (double v : np_linspace(0.0, n - 1.0, steps)) ts.push_back(static_cast<float>(v));
      std::reverse(ts.begin(), ts.end());
    } else if (sp == "leading") {
      for (int64_t t : spaced_timesteps(steps, sp)) ts.push_back(static_cast<double>(t));
      check_range(ts);
    } else {  // trailing: np.arange(n, 0, -n/steps).round() - 1
      ts = trailing(n, double(n) / steps);
    }
    use(ts, true);
  }
  void set_custom_timesteps(const std::vector<int64_t>& custom) override {
    if (config_.use_karras_sigmas)
      throw Error("--timestep-schedule: custom timesteps cannot be combined with use_karras_sigmas (diffusers refuses it)");
    if (config_.timestep_type == "continuous" && config_.prediction_type == Prediction::V)
      throw Error("--timestep-schedule: custom timesteps cannot be combined with continuous timesteps (diffusers refuses it)");
    use_custom(custom);  // validates the list
    use(std::vector<double>(custom.begin(), custom.end()), false);
  }
  double init_noise_sigma() const override {
    const float m = static_cast<float>(*std::max_element(sigmas_.begin(), sigmas_.end()));
    const std::string sp = spacing("linspace");
    if (sp == "linspace" || sp == "trailing") return m;
    return std::pow(m * m + 1.0f, 0.5f);
  }
  at::Tensor scale_model_input(const at::Tensor& x, double t) override {
    if (step_index_ < 0) step_index_ = static_cast<int>(index_for(t));
    const float s = static_cast<float>(sigmas_[static_cast<size_t>(step_index_)]);
    return x / std::pow(s * s + 1.0f, 0.5f);
  }
  StepOutput step(const at::Tensor& out, double t, const at::Tensor& x, c10::optional<at::Generator>,
                  const at::Tensor*) override {
    if (step_index_ < 0) step_index_ = static_cast<int>(index_for(t));
    if (static_cast<size_t>(step_index_) >= timesteps_.size())
      throw Error("euler: step() called more often than the schedule has steps");
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
  /// Sigmas (and, for Karras, timesteps) for the spaced or custom timesteps `ts`, as diffusers' set_timesteps.
  void use(std::vector<double> ts, bool spaced) {
    std::vector<double> sig;
    if (config_.interpolation_type == "log_linear" && spaced) {
      // torch.linspace(log(sigma_max), log(sigma_min), steps + 1).exp() in float32: steps + 1 sigmas
      const float hi = std::log(train_.back()), lo = std::log(train_.front());
      at::Tensor l = at::linspace(hi, lo, static_cast<int64_t>(ts.size()) + 1, at::kFloat).exp().contiguous();
      sig.assign(l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
    } else {
      sig = interp_sigmas(train_, ts);
    }
    if (config_.use_karras_sigmas) {
      const double smin = config_.sigma_min ? *config_.sigma_min : sig.back();
      const double smax = config_.sigma_max ? *config_.sigma_max : sig.front();
      sig = karras_sigmas(smin, smax, static_cast<int>(ts.size()));
      const auto ls = log_sigmas(train_);
      ts.clear();
      for (double s : sig) ts.push_back(sigma_to_t(s, ls));
    }
    sig.push_back(final_sigma(config_, train_));
    sigmas_.clear();
    for (double s : sig) sigmas_.push_back(static_cast<float>(s));
    timesteps_.clear();
    if (config_.timestep_type == "continuous" && config_.prediction_type == Prediction::V) {
      for (size_t i = 0; i + 1 < sigmas_.size(); ++i) timesteps_.push_back(0.25f * std::log(static_cast<float>(sigmas_[i])));
    } else {
      for (double t : ts) timesteps_.push_back(static_cast<float>(t));
    }
    num_inference_steps_ = static_cast<int>(ts.size());
    step_index_ = -1;
  }
  /// diffusers' index_for_timestep: the second match when a timestep repeats, so that a scheduler restarted
  /// in the middle (img2img) does not skip a sigma.
  size_t index_for(double t) const {
    std::vector<size_t> hits;
    for (size_t i = 0; i < timesteps_.size(); ++i)
      if (timesteps_[i] == t) hits.push_back(i);
    if (hits.empty()) throw Error("euler: timestep " + std::to_string(t) + " is not in the scheduler's timesteps");
    return hits.size() > 1 ? hits[1] : hits[0];
  }
  std::vector<float> train_;
  int step_index_ = -1;
};

}  // namespace

std::unique_ptr<Scheduler> make_euler(const SchedulerConfig& c) { return std::make_unique<Euler>(c); }

}  // namespace diffscope::sched
