// PNDMScheduler (diffusers 0.31) with skip_prk_steps: PLMS, with its repeated second timestep.
#include <ATen/ATen.h>

#include <deque>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {
namespace {

class Pndm : public Scheduler {
 public:
  explicit Pndm(const SchedulerConfig& c) : Scheduler(c) {
    if (!c.skip_prk_steps)
      throw Error("scheduler_config.json: PNDM with skip_prk_steps=false (Runge-Kutta warm-up) is not supported; "
                  "set skip_prk_steps to true (as Stable Diffusion does) or choose another --scheduler");
    final_alpha_ = c.set_alpha_to_one ? 1.0f : f32(alphas_cumprod_[0]);
  }
  std::string name() const override { return "pndm"; }
  void set_timesteps(int steps) override {
    std::vector<int64_t> asc = spaced_timesteps(steps, spacing("leading"));
    std::reverse(asc.begin(), asc.end());
    // plms_timesteps = concat(ts[:-1], ts[-2:-1], ts[-1:])[::-1]
    std::vector<int64_t> plms(asc.begin(), asc.end() - 1);
    if (asc.size() >= 2) plms.push_back(asc[asc.size() - 2]);
    plms.push_back(asc.back());
    std::reverse(plms.begin(), plms.end());
    timesteps_ = plms;
    num_inference_steps_ = steps;
    ets_.clear();
    counter_ = 0;
    cur_sample_ = at::Tensor();
  }
  at::Tensor prev_sample(const at::Tensor& x, int64_t t, int64_t prev, at::Tensor out) const {
    const float a = f32(alphas_cumprod_.at(static_cast<size_t>(t)));
    const float a_prev = prev >= 0 ? f32(alphas_cumprod_[static_cast<size_t>(prev)]) : final_alpha_;
    const float b = 1.0f - a, b_prev = 1.0f - a_prev;
    if (config_.prediction_type == Prediction::V) out = predict_eps(Prediction::V, out, x, a);
    const float sample_coeff = std::pow(a_prev / a, 0.5f);
    const float denom = a * std::pow(b_prev, 0.5f) + std::pow(a * b * a_prev, 0.5f);
    return sample_coeff * x - (a_prev - a) * out / denom;
  }
  StepOutput step(const at::Tensor& model_output, int64_t t, const at::Tensor& sample, c10::optional<at::Generator>,
                  const at::Tensor*) override {
    if (config_.prediction_type == Prediction::Sample)
      throw Error("scheduler_config.json: PNDM does not support prediction_type \"sample\"");
    const int64_t ratio = config_.num_train_timesteps / num_inference_steps_;
    // x0 at the step's own timestep, from the raw model output (PNDM itself returns no x0)
    const at::Tensor x0 =
        predict_x0(config_.prediction_type, model_output, sample, f32(alphas_cumprod_.at(static_cast<size_t>(t))));
    int64_t timestep = t, prev = t - ratio;
    at::Tensor out = model_output, x = sample;
    if (counter_ != 1) {
      while (ets_.size() > 3) ets_.pop_front();
      ets_.push_back(model_output);
    } else {
      prev = t;
      timestep = t + ratio;
    }
    if (ets_.size() == 1 && counter_ == 0) {
      cur_sample_ = sample;
    } else if (ets_.size() == 1 && counter_ == 1) {
      out = (model_output + ets_.back()) / 2;
      x = cur_sample_;
      cur_sample_ = at::Tensor();
    } else if (ets_.size() == 2) {
      out = (3 * ets_[1] - ets_[0]) / 2;
    } else if (ets_.size() == 3) {
      out = (23 * ets_[2] - 16 * ets_[1] + 5 * ets_[0]) / 12;
    } else {
      out = (1.0 / 24) * (55 * ets_[3] - 59 * ets_[2] + 37 * ets_[1] - 9 * ets_[0]);
    }
    at::Tensor prev_x = prev_sample(x, timestep, prev, out);
    ++counter_;
    return {prev_x, x0};
  }

 private:
  float final_alpha_;
  std::deque<at::Tensor> ets_;
  int counter_ = 0;
  at::Tensor cur_sample_;
};

}  // namespace

std::unique_ptr<Scheduler> make_pndm(const SchedulerConfig& c) { return std::make_unique<Pndm>(c); }

}  // namespace diffscope::sched
