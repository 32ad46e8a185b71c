// EulerAncestralDiscreteScheduler (diffusers 0.31): an Euler step to sigma_down, then fresh noise of size
// sigma_up drawn from the run's generator at every step (the last one included, where it is multiplied by 0).
#include <ATen/ATen.h>

#include <cmath>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {
namespace {

class EulerAncestral : public SigmaScheduler {
 public:
  explicit EulerAncestral(const SchedulerConfig& c) : SigmaScheduler(c) {
    if (c.prediction_type == Prediction::Sample)
      throw Error(c.source + ": EulerAncestralDiscreteScheduler does not support prediction_type \"sample\" "
                  "(diffusers raises NotImplementedError)");
  }
  std::string name() const override { return "euler_a"; }
  void set_timesteps(int steps) override {
    const auto ts = spaced(steps);
    use(ts, interp_sigmas(train_, ts), 0.0);
  }
  StepOutput step(const at::Tensor& out, double t, const at::Tensor& x, c10::optional<at::Generator> gen,
                  const at::Tensor* injected) override {
    const size_t k = advance(t);
    const float sigma = static_cast<float>(sigmas_[k]);
    const at::Tensor x0 = sigma_x0(out, x, sigma);
    const float from = sigma, to = static_cast<float>(sigmas_[k + 1]);
    const float up = std::pow(to * to * (from * from - to * to) / (from * from), 0.5f);
    const float down = std::pow(to * to - up * up, 0.5f);
    at::Tensor derivative = (x - x0) / sigma;
    const float dt = down - sigma;
    at::Tensor prev = x + derivative * dt;
    at::Tensor noise = step_noise(out, gen, injected);
    return {prev + noise * up, x0};
  }
};

}  // namespace

std::unique_ptr<Scheduler> make_euler_ancestral(const SchedulerConfig& c) { return std::make_unique<EulerAncestral>(c); }

}  // namespace diffscope::sched
