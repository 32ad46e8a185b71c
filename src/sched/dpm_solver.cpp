// DPMSolverMultistepScheduler (diffusers 0.31): DPM-Solver++ of order 1-3 (midpoint or Heun second-order
// update), its SDE variant with the generator's noise drawn in diffusers' order (once per step), Karras sigmas,
// lambda_min_clipped, lower-order / Euler final steps, dynamic thresholding and zero terminal SNR.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {
namespace {

struct AlphaSigma {
  float alpha, sigma, lambda;
  explicit AlphaSigma(double s) {
    const float sg = static_cast<float>(s);
    alpha = 1.0f / std::pow(sg * sg + 1.0f, 0.5f);
    sigma = sg * alpha;
    lambda = std::log(alpha) - std::log(sigma);
  }
};

class DpmSolver : public Scheduler {
 public:
  explicit DpmSolver(const SchedulerConfig& c) : Scheduler(c, /*zero_snr_floor=*/true), train_(train_sigmas(alphas_cumprod_)) {}
  std::string name() const override { return "dpm++2m"; }
  void set_timesteps(int steps) override {
    check_steps(steps);
    const std::string sp = spacing("linspace");
    const int n = config_.num_train_timesteps;
    const int last = n - clipped_index();
    std::vector<double> ts;
    if (sp == "linspace") {  // np.linspace(0, last-1, steps+1).round()[::-1][:-1]
      auto l = np_linspace(0.0, last - 1.0, steps + 1);
      for (int i = steps; i >= 1; --i) ts.push_back(std::nearbyint(l[static_cast<size_t>(i)]));
    } else if (sp == "leading") {  // (arange(steps+1) * (last // (steps+1))).round()[::-1][:-1] + offset
      const int ratio = last / (steps + 1);
      for (int i = steps; i >= 1; --i) ts.push_back(double(int64_t(i) * ratio + config_.steps_offset));
    } else {  // np.arange(last, 0, -n/steps).round() - 1
      ts = trailing(last, double(n) / steps);
    }
    std::vector<double> sig;
    if (config_.use_karras_sigmas) {
      // diffusers flips the training sigmas: the range is the whole training schedule's
      const double smin = config_.sigma_min ? *config_.sigma_min : double(train_.front());
      const double smax = config_.sigma_max ? *config_.sigma_max : double(train_.back());
      sig = karras_sigmas(smin, smax, steps);
      const auto ls = log_sigmas(train_);
      ts.clear();
      for (double s : sig) ts.push_back(std::nearbyint(sigma_to_t(s, ls)));
    } else {
      sig = interp_sigmas(train_, ts);
    }
    sig.push_back(final_sigma(config_, train_));
    sigmas_.clear();
    for (double s : sig) sigmas_.push_back(static_cast<float>(s));
    timesteps_ = ts;
    if (!config_.use_karras_sigmas) check_range(timesteps_);
    num_inference_steps_ = static_cast<int>(ts.size());
    outputs_.assign(static_cast<size_t>(config_.solver_order), at::Tensor());
    lower_order_nums_ = 0;
    step_index_ = -1;
  }
  StepOutput step(const at::Tensor& out, double t, const at::Tensor& x, c10::optional<at::Generator> gen,
                  const at::Tensor* injected) override {
    if (step_index_ < 0) step_index_ = index_for(t);
    const size_t n = timesteps_.size(), k = static_cast<size_t>(step_index_);
    if (k >= n) throw Error("dpm++2m: step() called more often than the schedule has steps");
    const bool short_run = n < 15;
    const bool lower_final = k == n - 1 && (config_.euler_at_final || (config_.lower_order_final && short_run) ||
                                            config_.final_sigmas_type == "zero");
    const bool lower_second = k == n - 2 && config_.lower_order_final && short_run;
    // convert_model_output (dpmsolver++): the x0 prediction, thresholded when configured
    const AlphaSigma s0(sigmas_[k]);
    at::Tensor x0;
    if (config_.prediction_type == Prediction::Epsilon) {
      x0 = (x - s0.sigma * out) / s0.alpha;
    } else if (config_.prediction_type == Prediction::V) {
      x0 = s0.alpha * x - s0.sigma * out;
    } else {
      x0 = out;
    }
    x0 = threshold(x0);
    for (size_t i = 0; i + 1 < outputs_.size(); ++i) outputs_[i] = outputs_[i + 1];
    outputs_.back() = x0;
    at::Tensor noise;
    if (sde()) noise = step_noise(out, gen, injected);  // drawn every step, before the order is chosen
    at::Tensor prev;
    const int order = config_.solver_order;
    if (order == 1 || lower_order_nums_ < 1 || lower_final) {
      prev = first_order(x0, x, k, noise);
    } else if (order == 2 || lower_order_nums_ < 2 || lower_second) {
      prev = second_order(x, k, noise);
    } else {
      prev = third_order(x, k);
    }
    if (lower_order_nums_ < order) ++lower_order_nums_;
    ++step_index_;
    return {prev, x0};
  }

 private:
  bool sde() const { return config_.algorithm_type == "sde-dpmsolver++"; }
  /// searchsorted(flip(lambda_t), lambda_min_clipped): training timesteps cut from the top (0 for -inf).
  int clipped_index() const {
    if (!std::isfinite(config_.lambda_min_clipped) && config_.lambda_min_clipped < 0) return 0;
    std::vector<float> lambda;
    for (double a : alphas_cumprod_) {
      const float af = static_cast<float>(a);
      lambda.push_back(std::log(std::sqrt(af)) - std::log(std::sqrt(1.0f - af)));
    }
    std::reverse(lambda.begin(), lambda.end());
    const float v = static_cast<float>(config_.lambda_min_clipped);
    return static_cast<int>(std::lower_bound(lambda.begin(), lambda.end(), v) - lambda.begin());
  }
  int index_for(double t) const {
    std::vector<int> hits;
    for (size_t i = 0; i < timesteps_.size(); ++i)
      if (timesteps_[i] == t) hits.push_back(static_cast<int>(i));
    if (hits.empty()) return static_cast<int>(timesteps_.size()) - 1;
    return hits.size() > 1 ? hits[1] : hits[0];
  }
  at::Tensor first_order(const at::Tensor& m0, const at::Tensor& x, size_t k, const at::Tensor& noise) const {
    const AlphaSigma t(sigmas_[k + 1]), s(sigmas_[k]);
    const float h = t.lambda - s.lambda;
    if (sde())
      return (t.sigma / s.sigma * std::exp(-h)) * x + (t.alpha * (1 - std::exp(-2.0f * h))) * m0 +
             (t.sigma * std::sqrt(1.0f - std::exp(-2 * h))) * noise;
    return (t.sigma / s.sigma) * x - (t.alpha * (std::exp(-h) - 1.0f)) * m0;
  }
  at::Tensor second_order(const at::Tensor& x, size_t k, const at::Tensor& noise) const {
    const AlphaSigma t(sigmas_[k + 1]), s0(sigmas_[k]), s1(sigmas_[k - 1]);
    const at::Tensor& m0 = outputs_[outputs_.size() - 1];
    const at::Tensor& m1 = outputs_[outputs_.size() - 2];
    const float h = t.lambda - s0.lambda, h0 = s0.lambda - s1.lambda, r0 = h0 / h;
    const at::Tensor& d0 = m0;
    at::Tensor d1 = (1.0f / r0) * (m0 - m1);
    const bool mid = config_.solver_type == "midpoint";
    if (sde()) {
      const float e2 = 1 - std::exp(-2.0f * h);
      at::Tensor r = (t.sigma / s0.sigma * std::exp(-h)) * x + (t.alpha * e2) * d0;
      r = mid ? r + (0.5f * (t.alpha * e2)) * d1 : r + (t.alpha * ((1.0f - std::exp(-2.0f * h)) / (-2.0f * h) + 1.0f)) * d1;
      return r + (t.sigma * std::sqrt(1.0f - std::exp(-2 * h))) * noise;
    }
    at::Tensor r = (t.sigma / s0.sigma) * x - (t.alpha * (std::exp(-h) - 1.0f)) * d0;
    return mid ? r - (0.5f * (t.alpha * (std::exp(-h) - 1.0f))) * d1
               : r + (t.alpha * ((std::exp(-h) - 1.0f) / h + 1.0f)) * d1;
  }
  at::Tensor third_order(const at::Tensor& x, size_t k) const {
    const AlphaSigma t(sigmas_[k + 1]), s0(sigmas_[k]), s1(sigmas_[k - 1]), s2(sigmas_[k - 2]);
    const at::Tensor& m0 = outputs_[outputs_.size() - 1];
    const at::Tensor& m1 = outputs_[outputs_.size() - 2];
    const at::Tensor& m2 = outputs_[outputs_.size() - 3];
    const float h = t.lambda - s0.lambda, h0 = s0.lambda - s1.lambda, h1 = s1.lambda - s2.lambda;
    const float r0 = h0 / h, r1 = h1 / h;
    at::Tensor d1_0 = (1.0f / r0) * (m0 - m1), d1_1 = (1.0f / r1) * (m1 - m2);
    at::Tensor d1 = d1_0 + (r0 / (r0 + r1)) * (d1_0 - d1_1);
    at::Tensor d2 = (1.0f / (r0 + r1)) * (d1_0 - d1_1);
    const float e = std::exp(-h) - 1.0f;
    return (t.sigma / s0.sigma) * x - (t.alpha * e) * m0 + (t.alpha * (e / h + 1.0f)) * d1 -
           (t.alpha * ((std::exp(-h) - 1.0f + h) / (h * h) - 0.5f)) * d2;
  }
  std::vector<float> train_;
  std::vector<at::Tensor> outputs_;
  int lower_order_nums_ = 0;
  int step_index_ = -1;
};

}  // namespace

std::unique_ptr<Scheduler> make_dpm_solver(const SchedulerConfig& c) { return std::make_unique<DpmSolver>(c); }

}  // namespace diffscope::sched
