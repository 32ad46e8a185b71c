// DDPMScheduler (diffusers 0.31): ancestral sampling, noise drawn after the mean as diffusers does.
#include <ATen/ATen.h>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {
namespace {

class Ddpm : public Scheduler {
 public:
  explicit Ddpm(const SchedulerConfig& c) : Scheduler(c) {
    if (*c.variance_type == "fixed_large_log")
      throw Error(c.source + ": \"variance_type\": \"fixed_large_log\" is not implemented for DDPMScheduler in "
                  "diffscope (diffusers 0.31 takes the square root of log(beta) < 0 there and returns NaN); use "
                  "fixed_small, fixed_small_log or fixed_large");
  }
  std::string name() const override { return "ddpm"; }
  void set_timesteps(int steps) override { use_spaced(steps, "leading"); }
  void set_custom_timesteps(const std::vector<int64_t>& ts) override { use_custom(ts); }
  StepOutput step(const at::Tensor& out, double timestep, const at::Tensor& x, c10::optional<at::Generator> gen,
                  const at::Tensor* noise) override {
    const int64_t t = static_cast<int64_t>(table_index(timestep));
    const int64_t prev = previous_timestep(t);
    const float a = f32(alphas_cumprod_[static_cast<size_t>(t)]);
    const float a_prev = prev >= 0 ? f32(alphas_cumprod_[static_cast<size_t>(prev)]) : 1.0f;
    const float b = 1.0f - a, b_prev = 1.0f - a_prev;
    const float cur_alpha = a / a_prev, cur_beta = 1.0f - cur_alpha;
    at::Tensor x0 = predict_x0(config_.prediction_type, out, x, a);
    if (config_.thresholding) {
      x0 = threshold(x0);
    } else if (*config_.clip_sample) {
      x0 = x0.clamp(-config_.clip_sample_range, config_.clip_sample_range);
    }
    const float c0 = (std::pow(a_prev, 0.5f) * cur_beta) / b;
    const float cs = std::pow(cur_alpha, 0.5f) * b_prev / b;
    at::Tensor prev_sample = c0 * x0 + cs * x;
    if (t > 0) {
      at::Tensor z = step_noise(out, gen, noise);
      const std::string& v = *config_.variance_type;
      float variance = std::max(b_prev / b * cur_beta, 1e-20f);
      float std_dev;
      if (v == "fixed_small") {
        std_dev = std::pow(variance, 0.5f);
      } else if (v == "fixed_small_log") {
        std_dev = std::exp(0.5f * std::log(variance));
      } else {  // fixed_large
        std_dev = std::pow(cur_beta, 0.5f);
      }
      prev_sample = prev_sample + std_dev * z;
    }
    return {prev_sample, x0};
  }
};

}  // namespace

std::unique_ptr<Scheduler> make_ddpm(const SchedulerConfig& c) { return std::make_unique<Ddpm>(c); }

}  // namespace diffscope::sched
