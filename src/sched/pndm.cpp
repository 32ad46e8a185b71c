// PNDMScheduler (diffusers 0.31): the Runge-Kutta warm-up (skip_prk_steps false: four model calls for each of
// the first three steps, at t, t - T/N/2 twice and t - T/N) followed by PLMS, or PLMS alone with its repeated
// second timestep (skip_prk_steps true, as Stable Diffusion ships).
#include <ATen/ATen.h>

#include <deque>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {
namespace {

class Pndm : public Scheduler {
 public:
  explicit Pndm(const SchedulerConfig& c) : Scheduler(c) { final_alpha_ = *c.set_alpha_to_one ? 1.0f : f32(alphas_cumprod_[0]); }
  std::string name() const override { return "pndm"; }
  void set_timesteps(int steps) override {
    // diffusers' _timesteps are ascending; spaced_timesteps gives them descending
    std::vector<int64_t> asc = spaced_timesteps(steps, spacing("leading"));
    std::reverse(asc.begin(), asc.end());
    num_inference_steps_ = steps;
    std::vector<int64_t> ts;
    prk_count_ = 0;
    if (*config_.skip_prk_steps) {
      // plms_timesteps = concat(ts[:-1], ts[-2:-1], ts[-1:])[::-1]
      ts.assign(asc.begin(), asc.end() - 1);
      if (asc.size() >= 2) ts.push_back(asc[asc.size() - 2]);
      ts.push_back(asc.back());
      std::reverse(ts.begin(), ts.end());
    } else {
      if (asc.size() < 4)
        throw Error("--steps " + std::to_string(steps) + ": PNDM with skip_prk_steps false needs at least 4 steps "
                    "(its Runge-Kutta warm-up spans the first three)");
      // prk = (ts[-4:].repeat(2) + tile([0, T//N//2], 4))[:-1].repeat(2)[1:-1][::-1]
      const int64_t half = config_.num_train_timesteps / steps / 2;
      std::vector<int64_t> p;
      for (size_t i = asc.size() - 4; i < asc.size(); ++i) {
        p.push_back(asc[i]);
        p.push_back(asc[i] + half);
      }
      p.pop_back();
      std::vector<int64_t> rep;
      for (int64_t v : p) rep.push_back(v), rep.push_back(v);
      std::vector<int64_t> prk(rep.begin() + 1, rep.end() - 1);
      std::reverse(prk.begin(), prk.end());
      prk_timesteps_ = prk;
      prk_count_ = prk.size();
      ts = prk;
      for (size_t i = asc.size() - 3; i-- > 0;) ts.push_back(asc[i]);  // plms = ts[:-3][::-1]
    }
    timesteps_.assign(ts.begin(), ts.end());
    check_range(timesteps_);
    ets_.clear();
    counter_ = 0;
    cur_sample_ = at::Tensor();
    cur_model_output_ = at::Tensor();
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
  StepOutput step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                  c10::optional<at::Generator>, const at::Tensor*) override {
    const int64_t t = static_cast<int64_t>(table_index(timestep));
    // x0 at the call's own timestep, from the raw model output (PNDM itself returns no x0)
    const at::Tensor x0 = predict_x0(config_.prediction_type, model_output, sample, f32(alphas_cumprod_[static_cast<size_t>(t)]));
    at::Tensor prev = static_cast<size_t>(counter_) < prk_count_ ? step_prk(model_output, t, sample)
                                                                  : step_plms(model_output, t, sample);
    return {prev, x0};
  }

 private:
  at::Tensor step_prk(const at::Tensor& model_output, int64_t t, const at::Tensor& sample) {
    const int64_t diff_to_prev = counter_ % 2 ? 0 : config_.num_train_timesteps / num_inference_steps_ / 2;
    const int64_t prev = t - diff_to_prev;
    const int64_t timestep = prk_timesteps_[static_cast<size_t>(counter_ / 4 * 4)];
    at::Tensor out = model_output;
    // diffusers accumulates 1/6, 1/3, 1/3 of the calls in cur_model_output (reset to 0 after the fourth)
    auto acc = [&](double w) {
      cur_model_output_ = cur_model_output_.defined() ? cur_model_output_ + w * model_output : w * model_output;
    };
    if (counter_ % 4 == 0) {
      acc(1.0 / 6.0);
      ets_.push_back(model_output);
      cur_sample_ = sample;
    } else if ((counter_ - 1) % 4 == 0 || (counter_ - 2) % 4 == 0) {
      acc(1.0 / 3.0);
    } else {
      out = cur_model_output_ + (1.0 / 6.0) * model_output;
      cur_model_output_ = at::Tensor();
    }
    const at::Tensor& cur = cur_sample_.defined() ? cur_sample_ : sample;
    at::Tensor prev_x = prev_sample(cur, timestep, prev, out);
    ++counter_;
    return prev_x;
  }
  at::Tensor step_plms(const at::Tensor& model_output, int64_t t, const at::Tensor& sample) {
    const int64_t ratio = config_.num_train_timesteps / num_inference_steps_;
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
    return prev_x;
  }
  float final_alpha_;
  std::deque<at::Tensor> ets_;
  std::vector<int64_t> prk_timesteps_;
  size_t prk_count_ = 0;
  int counter_ = 0;
  at::Tensor cur_sample_, cur_model_output_;
};

}  // namespace

std::unique_ptr<Scheduler> make_pndm(const SchedulerConfig& c) { return std::make_unique<Pndm>(c); }

}  // namespace diffscope::sched
