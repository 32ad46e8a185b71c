// DDIMScheduler (diffusers 0.31): deterministic for eta = 0, default spacing "leading"; x0 thresholded
// (dynamic) or clipped before the update, the model's own epsilon kept (use_clipped_model_output false, as the
// pipeline calls it).
#include <ATen/ATen.h>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {
namespace {

class Ddim : public Scheduler {
 public:
  explicit Ddim(const SchedulerConfig& c) : Scheduler(c) {
    final_alpha_ = *c.set_alpha_to_one ? 1.0f : f32(alphas_cumprod_[0]);
  }
  std::string name() const override { return "ddim"; }
  void set_timesteps(int steps) override { use_spaced(steps, "leading"); }
  void set_custom_timesteps(const std::vector<int64_t>& ts) override { use_custom(ts); }
  StepOutput step(const at::Tensor& out, double timestep, const at::Tensor& x, c10::optional<at::Generator> gen,
                  const at::Tensor* noise) override {
    const int64_t t = static_cast<int64_t>(table_index(timestep));
    const int64_t prev = previous_timestep(t);
    const float a = f32(alphas_cumprod_[static_cast<size_t>(t)]);
    const float a_prev = prev >= 0 ? f32(alphas_cumprod_[static_cast<size_t>(prev)]) : final_alpha_;
    const float b = 1.0f - a, b_prev = 1.0f - a_prev;
    at::Tensor x0 = predict_x0(config_.prediction_type, out, x, a);
    at::Tensor eps = predict_eps(config_.prediction_type, out, x, a);
    if (config_.thresholding) {
      x0 = threshold(x0);
    } else if (*config_.clip_sample) {
      x0 = x0.clamp(-config_.clip_sample_range, config_.clip_sample_range);
    }
    const float variance = (b_prev / b) * (1.0f - a / a_prev);
    const float std_dev = static_cast<float>(eta_) * std::pow(variance, 0.5f);
    // x_{t-1} = sqrt(a_prev) x0 + sqrt(1 - a_prev - std^2) eps (+ std z)
    at::Tensor prev_sample =
        ddim_update(x0, eps, NoiseLevel{std::pow(a_prev, 0.5f), std::pow(1.0f - a_prev - std_dev * std_dev, 0.5f)});
    if (eta_ > 0) prev_sample = prev_sample + std_dev * step_noise(out, gen, noise);
    return {prev_sample, x0};
  }

 private:
  float final_alpha_;
};

}  // namespace

std::unique_ptr<Scheduler> make_ddim(const SchedulerConfig& c) { return std::make_unique<Ddim>(c); }

}  // namespace diffscope::sched
