// DPMSolverMultistepScheduler (diffusers 0.31 defaults): DPM-Solver++ 2M, midpoint, lower order at the end.
#include <ATen/ATen.h>

#include <cmath>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {

std::vector<double> interp_sigmas(const std::vector<double>& acp, const std::vector<double>& ts);

namespace {

class DpmSolver : public Scheduler {
 public:
  explicit DpmSolver(const SchedulerConfig& c) : Scheduler(c) {}
  std::string name() const override { return "dpm++2m"; }
  void set_timesteps(int steps) override {
    const std::string sp = spacing("linspace");
    const int n = config_.num_train_timesteps;  // lambda_min_clipped = -inf: last_timestep = n
    if (steps < 1 || steps > n) throw Error("--steps: expected 1.." + std::to_string(n));
    std::vector<int64_t> ts;
    if (sp == "linspace") {  // np.linspace(0, n-1, steps+1).round()[::-1][:-1]
      for (int i = steps; i >= 1; --i) ts.push_back(static_cast<int64_t>(std::nearbyint(double(n - 1) * i / steps)));
    } else if (sp == "leading") {
      const int ratio = n / (steps + 1);
      for (int i = steps; i >= 1; --i) ts.push_back(int64_t(i) * ratio + config_.steps_offset);
    } else {
      ts = spaced_timesteps(steps, "trailing");
    }
    timesteps_ = ts;
    sigmas_ = interp_sigmas(alphas_cumprod_, std::vector<double>(ts.begin(), ts.end()));
    num_inference_steps_ = steps;
    outputs_.clear();
    lower_order_nums_ = 0;
    step_index_ = -1;
  }
  StepOutput step(const at::Tensor& out, int64_t t, const at::Tensor& x, c10::optional<at::Generator>,
                  const at::Tensor*) override {
    if (step_index_ < 0) {
      step_index_ = -1;
      for (size_t i = 0; i < timesteps_.size(); ++i)
        if (timesteps_[i] == t) {
          step_index_ = static_cast<int>(i);
          break;
        }
      if (step_index_ < 0) step_index_ = static_cast<int>(timesteps_.size()) - 1;
    }
    const size_t n = timesteps_.size(), k = static_cast<size_t>(step_index_);
    const bool lower_final = k == n - 1;  // final_sigmas_type "zero" forces first order at the end
    const bool lower_second = k == n - 2 && n < 15;
    // convert_model_output (dpmsolver++): the x0 prediction
    const float sigma = static_cast<float>(sigmas_[k]);
    const float alpha_t = 1.0f / std::pow(sigma * sigma + 1.0f, 0.5f), sigma_t = sigma * alpha_t;
    at::Tensor x0;
    if (config_.prediction_type == Prediction::Epsilon) {
      x0 = (x - sigma_t * out) / alpha_t;
    } else if (config_.prediction_type == Prediction::V) {
      x0 = alpha_t * x - sigma_t * out;
    } else {
      x0 = out;
    }
    outputs_.push_back(x0);
    if (outputs_.size() > 2) outputs_.erase(outputs_.begin());
    at::Tensor prev;
    if (lower_order_nums_ < 1 || lower_final) {
      prev = first_order(x0, x, k);
    } else {
      (void)lower_second;  // order 2 is the highest here, so the "lower second order" case changes nothing
      prev = second_order(x, k);
    }
    if (lower_order_nums_ < 2) ++lower_order_nums_;
    ++step_index_;
    return {prev, x0};
  }

 private:
  static void alpha_sigma(float sigma, float& alpha, float& sig) {
    alpha = 1.0f / std::pow(sigma * sigma + 1.0f, 0.5f);
    sig = sigma * alpha;
  }
  at::Tensor first_order(const at::Tensor& m0, const at::Tensor& x, size_t k) const {
    float a_t, s_t, a_s, s_s;
    alpha_sigma(static_cast<float>(sigmas_[k + 1]), a_t, s_t);
    alpha_sigma(static_cast<float>(sigmas_[k]), a_s, s_s);
    const float lambda_t = std::log(a_t) - std::log(s_t), lambda_s = std::log(a_s) - std::log(s_s);
    const float h = lambda_t - lambda_s;
    return (s_t / s_s) * x - (a_t * (std::exp(-h) - 1.0f)) * m0;
  }
  at::Tensor second_order(const at::Tensor& x, size_t k) const {
    float a_t, s_t, a_0, s_0, a_1, s_1;
    alpha_sigma(static_cast<float>(sigmas_[k + 1]), a_t, s_t);
    alpha_sigma(static_cast<float>(sigmas_[k]), a_0, s_0);
    alpha_sigma(static_cast<float>(sigmas_[k - 1]), a_1, s_1);
    const float lt = std::log(a_t) - std::log(s_t), l0 = std::log(a_0) - std::log(s_0), l1 = std::log(a_1) - std::log(s_1);
    const at::Tensor& m0 = outputs_[1];
    const at::Tensor& m1 = outputs_[0];
    const float h = lt - l0, h0 = l0 - l1, r0 = h0 / h;
    at::Tensor d1 = (1.0f / r0) * (m0 - m1);
    return (s_t / s_0) * x - (a_t * (std::exp(-h) - 1.0f)) * m0 - 0.5f * (a_t * (std::exp(-h) - 1.0f)) * d1;
  }
  std::vector<at::Tensor> outputs_;
  int lower_order_nums_ = 0;
  int step_index_ = -1;
};

}  // namespace

std::unique_ptr<Scheduler> make_dpm_solver(const SchedulerConfig& c) { return std::make_unique<DpmSolver>(c); }

}  // namespace diffscope::sched
