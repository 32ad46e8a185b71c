// LMSDiscreteScheduler (diffusers 0.31), the sampler Diffusion Explainer uses: linear multistep in sigma space of
// order up to 4, the coefficients being integrals of the Lagrange basis over each sigma step (diffusers integrates
// them numerically with scipy's quad; the integrand is a polynomial of degree < 4, integrated exactly here).
#include <ATen/ATen.h>

#include <cmath>
#include <deque>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {
namespace {

class Lms : public SigmaScheduler {
 public:
  explicit Lms(const SchedulerConfig& c) : SigmaScheduler(c) {}
  std::string name() const override { return "lms"; }
  void set_timesteps(int steps) override {
    std::vector<double> ts = spaced(steps);
    std::vector<double> sig = interp_sigmas(train_, ts);
    bool karras = config_.use_karras_sigmas;
    if (karras) {  // diffusers' LMS takes no sigma_min/sigma_max: the interpolated range; float64 timesteps
      sig = karras_sigmas(sig.back(), sig.front(), steps);
      const auto ls = log_sigmas(train_);
      ts.clear();
      for (double s : sig) ts.push_back(sigma_to_t(s, ls));
    }
    use(ts, sig, 0.0, /*keep_double_timesteps=*/karras);
    derivatives_.clear();
  }
  StepOutput step(const at::Tensor& out, double t, const at::Tensor& x, c10::optional<at::Generator>,
                  const at::Tensor*) override {
    const size_t k = advance(t);
    const float sigma = static_cast<float>(sigmas_[k]);
    const at::Tensor x0 = sigma_x0(out, x, sigma);
    derivatives_.push_back((x - x0) / sigma);
    if (derivatives_.size() > kOrder) derivatives_.pop_front();
    const int order = static_cast<int>(std::min<size_t>(k + 1, kOrder));
    // prev = x + sum_j c_j d_{k-j}, newest derivative first, summed left to right as Python's sum()
    at::Tensor acc;
    for (int j = 0; j < order; ++j) {
      const at::Tensor& d = derivatives_[derivatives_.size() - 1 - static_cast<size_t>(j)];
      at::Tensor term = coefficient(order, k, j) * d;
      acc = j == 0 ? term : acc + term;
    }
    return {x + acc, x0};
  }

 private:
  static constexpr size_t kOrder = 4;  ///< diffusers' step(order=4), as the pipeline calls it
  /// integral over [sigma_k, sigma_{k+1}] of prod_{m != j} (tau - sigma_{k-m}) / (sigma_{k-j} - sigma_{k-m}),
  /// m < order, by 4-point Gauss-Legendre (exact for degree <= 7) on the float32 sigmas.
  double coefficient(int order, size_t k, int j) const {
    auto s = [&](int m) { return double(static_cast<float>(sigmas_[k - static_cast<size_t>(m)])); };
    auto basis = [&](double tau) {
      double p = 1.0;
      for (int m = 0; m < order; ++m)
        if (m != j) p *= (tau - s(m)) / (s(j) - s(m));
      return p;
    };
    const double a = double(static_cast<float>(sigmas_[k])), b = double(static_cast<float>(sigmas_[k + 1]));
    static const double node[4] = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526};
    static const double weight[4] = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538};
    double sum = 0;
    for (int i = 0; i < 4; ++i) sum += weight[i] * basis(0.5 * (b - a) * node[i] + 0.5 * (a + b));
    return 0.5 * (b - a) * sum;
  }
  std::deque<at::Tensor> derivatives_;
};

}  // namespace

std::unique_ptr<Scheduler> make_lms(const SchedulerConfig& c) { return std::make_unique<Lms>(c); }

}  // namespace diffscope::sched
