// EulerDiscreteScheduler (diffusers 0.31): sigma-space Euler steps, default spacing "linspace". Timesteps stay
// float32 values as diffusers' are (946.42108 at 20 linspace steps), with Karras sigmas, log-linear
// interpolation, continuous (0.25 log sigma) timesteps, zero terminal SNR and either final sigma.
#include <ATen/ATen.h>

#include <cmath>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {
namespace {

class Euler : public SigmaScheduler {
 public:
  explicit Euler(const SchedulerConfig& c) : SigmaScheduler(c) {}
  std::string name() const override { return "euler"; }
  void set_timesteps(int steps) override { schedule(spaced(steps), true); }
  void set_custom_timesteps(const std::vector<int64_t>& custom) override {
    if (config_.use_karras_sigmas)
      throw Error("--timestep-schedule: custom timesteps cannot be combined with use_karras_sigmas (diffusers refuses it)");
    if (config_.timestep_type == "continuous" && config_.prediction_type == Prediction::V)
      throw Error("--timestep-schedule: custom timesteps cannot be combined with continuous timesteps (diffusers refuses it)");
    use_custom(custom);  // validates the list
    schedule(std::vector<double>(custom.begin(), custom.end()), false);
  }
  StepOutput step(const at::Tensor& out, double t, const at::Tensor& x, c10::optional<at::Generator>,
                  const at::Tensor*) override {
    const size_t k = advance(t);
    const float sigma = static_cast<float>(sigmas_[k]);
    const at::Tensor x0 = sigma_x0(out, x, sigma);
    at::Tensor derivative = (x - x0) / sigma;
    const float dt = static_cast<float>(sigmas_[k + 1]) - sigma;
    return {x + derivative * dt, x0};
  }
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int64_t t) const override {
    const float a = static_cast<float>(alphas_cumprod_.at(static_cast<size_t>(t)));
    return original + std::pow((1.0f - a) / a, 0.5f) * noise;
  }

 private:
  /// Sigmas (and, for Karras, timesteps) for the spaced or custom timesteps `ts`, as diffusers' set_timesteps.
  void schedule(std::vector<double> ts, bool spaced_run) {
    std::vector<double> sig;
    if (config_.interpolation_type == "log_linear" && spaced_run) {
      // torch.linspace(log(sigma_max), log(sigma_min), steps + 1).exp() in float32: steps + 1 sigmas
      const float hi = std::log(train_.back()), lo = std::log(train_.front());
      at::Tensor l = at::linspace(hi, lo, static_cast<int64_t>(ts.size()) + 1, at::kFloat).exp().contiguous();
      sig.assign(l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
    } else {
      sig = interp_sigmas(train_, ts);
    }
    if (config_.use_karras_sigmas) {
      sig = karras_sigmas(config_.sigma_min ? *config_.sigma_min : sig.back(),
                          config_.sigma_max ? *config_.sigma_max : sig.front(), static_cast<int>(ts.size()));
      const auto ls = log_sigmas(train_);
      ts.clear();
      for (double s : sig) ts.push_back(sigma_to_t(s, ls));
    }
    use(ts, sig, final_sigma(config_, train_));
    if (config_.timestep_type == "continuous" && config_.prediction_type == Prediction::V)
      for (size_t i = 0; i < timesteps_.size(); ++i) timesteps_[i] = 0.25f * std::log(static_cast<float>(sigmas_[i]));
  }
};

}  // namespace

std::unique_ptr<Scheduler> make_euler(const SchedulerConfig& c) { return std::make_unique<Euler>(c); }

}  // namespace diffscope::sched
