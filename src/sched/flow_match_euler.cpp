// diffusers 0.31's FlowMatchEulerDiscreteScheduler (Stable Diffusion 3, Flux): rectified-flow sampling,
// x_t = (1 - sigma) x0 + sigma noise, the model predicting the velocity noise - x0, one Euler step per timestep.
// The schedule is shifted towards high noise: statically (SD3: sigma -> shift sigma / (1 + (shift - 1) sigma)) or
// by the image's token count (Flux: sigma -> exp(mu) / (exp(mu) + 1/sigma - 1), mu linear in image_seq_len).
// Numbers as diffusers computes them: the training table in float32 torch arithmetic, set_timesteps' spacing in
// float64 numpy, the result held as float32 (tests/data/reference/schedulers/FlowMatchEulerDiscreteScheduler.json).
#include <cmath>
#include <optional>

#include "diffscope/util/error.h"
#include "sched/impl.h"

namespace diffscope::sched {

namespace {

class FlowMatchEuler : public SigmaScheduler {
 public:
  explicit FlowMatchEuler(const SchedulerConfig& c) : SigmaScheduler(c) {
    // __init__: sigmas = linspace(1, N, N)[::-1] / N in float32, statically shifted (SD3) in float32 as well;
    // set_timesteps spaces between the first and the last of these (so SD3's lowest sigma is shifted twice, as
    // in diffusers)
    const int n = c.num_train_timesteps;
    auto table_sigma = [&](int i) {  // i = 0 .. n-1, descending sigma
      float s = f32(n - i) / f32(n);
      if (!c.use_dynamic_shifting) s = f32(c.shift) * s / (1.0f + f32(c.shift - 1.0) * s);
      return s;
    };
    sigma_max_ = table_sigma(0);
    sigma_min_ = table_sigma(n - 1);
  }
  std::string name() const override { return "flow_euler"; }
  double init_noise_sigma() const override { return 1.0; }
  at::Tensor scale_model_input(const at::Tensor& x, double) override { return x; }

  void set_image_seq_len(int64_t tokens) override {
    if (tokens < 1) throw Error("flow_euler: the image's token count must be >= 1, got " + std::to_string(tokens));
    // FluxPipeline's calculate_shift with the scheduler's config values
    const double m = (config_.max_shift - config_.base_shift) /
                     static_cast<double>(config_.max_image_seq_len - config_.base_image_seq_len);
    const double b = config_.base_shift - m * config_.base_image_seq_len;
    mu_ = static_cast<double>(tokens) * m + b;
  }

  void set_timesteps(int steps) override {
    check_steps(steps);
    const int n = config_.num_train_timesteps;
    std::vector<double> sigmas;
    if (config_.use_dynamic_shifting) {
      if (!mu_)
        throw Error(config_.source + ": use_dynamic_shifting (Flux) shifts by the image's token count, which was not "
                    "given (diffscope schedule --image-seq-len N; N = (height/16) * (width/16) for Flux)");
      // FluxPipeline passes sigmas = linspace(1, 1/N, N); time_shift(mu, 1.0, sigma)
      const double e = std::exp(*mu_);
      for (double s : np_linspace(1.0, 1.0 / steps, steps)) sigmas.push_back(e / (e + std::pow(1.0 / s - 1.0, 1.0)));
    } else if (config_.pipeline_linspace_sigmas) {
      // FluxPipeline without dynamic shifting (FLUX.1-schnell): its sigmas, statically shifted
      for (double s : np_linspace(1.0, 1.0 / steps, steps))
        sigmas.push_back(config_.shift * s / (1.0 + (config_.shift - 1.0) * s));
    } else {
      for (double t : np_linspace(static_cast<double>(sigma_max_) * n, static_cast<double>(sigma_min_) * n, steps)) {
        const double s = t / n;
        sigmas.push_back(config_.shift * s / (1.0 + (config_.shift - 1.0) * s));
      }
    }
    timesteps_.clear();
    sigmas_.clear();
    for (double s : sigmas) {
      const float sf = f32(s);
      sigmas_.push_back(sf);
      timesteps_.push_back(sf * f32(n));  // float32, fractional: 987.380615...
    }
    sigmas_.push_back(0.0);
    num_inference_steps_ = steps;
    step_index_ = -1;
  }

  StepOutput step(const at::Tensor& v, double t, const at::Tensor& x, c10::optional<at::Generator>,
                  const at::Tensor*) override {
    const size_t k = advance(t);
    const float sigma = f32(sigmas_[k]), sigma_next = f32(sigmas_[k + 1]);
    const at::Tensor xf = x.to(at::kFloat);
    StepOutput out;
    out.prev_sample = (xf + (sigma_next - sigma) * v).to(v.scalar_type());
    out.pred_original_sample = xf - sigma * v;  // x0 = x_t - sigma v
    return out;
  }

  /// The forward process at a timestep of the schedule (diffusers' scale_noise): sigma noise + (1 - sigma) x.
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int64_t t) const override {
    const float sigma = f32(static_cast<double>(t) / config_.num_train_timesteps);
    return sigma * noise + (1.0f - sigma) * original;
  }
  at::Tensor scale_noise(const at::Tensor& original, const at::Tensor& noise, double t) const override {
    for (size_t i = 0; i < timesteps_.size(); ++i)
      if (timesteps_[i] == t) {
        const float sigma = f32(sigmas_[i]);
        return sigma * noise + (1.0f - sigma) * original;
      }
    throw Error(name() + ": timestep " + std::to_string(t) + " is not in the scheduler's timesteps");
  }

  /// The variance-preserving noise level with the same signal-to-noise ratio: (1-s)^2 / ((1-s)^2 + s^2), s = t/N.
  double alpha_bar_at(double t) const override {
    const double s = t / config_.num_train_timesteps;
    return (1 - s) * (1 - s) / ((1 - s) * (1 - s) + s * s);
  }

 private:
  float sigma_max_ = 1.0f, sigma_min_ = 0.0f;
  std::optional<double> mu_;
};

}  // namespace

std::unique_ptr<Scheduler> make_flow_match_euler(const SchedulerConfig& c) { return std::make_unique<FlowMatchEuler>(c); }

}  // namespace diffscope::sched
