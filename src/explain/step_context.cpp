// Reconstructing one denoising step of a run, batched guided UNet calls, DDIM updates and similarities.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "diffscope/util/error.h"
#include "diffscope/metrics/metrics.h"
#include "diffscope/engine/model.h"
#include "diffscope/engine/pipeline.h"
#include "diffscope/explain/saliency.h"
#include "diffscope/sched/scheduler.h"

namespace diffscope {

StepContext make_step_context(const Model& model, const at::Tensor& latent, const std::string& prompt,
                              const std::string& negative_prompt, double guidance,
                              const std::vector<double>& timesteps, int step, bool sigma_space) {
  if (step < 0 || step >= static_cast<int>(timesteps.size()))
    throw Error("--step " + std::to_string(step) + ": the run has steps 0.." + std::to_string(timesteps.size() - 1));
  StepContext s;
  s.model = &model;
  s.step = step;
  s.timesteps = timesteps;
  s.timestep = timesteps[static_cast<size_t>(step)];
  s.prediction_type = model.info().prediction_type;
  const bool flow = s.prediction_type == Prediction::Flow;
  auto table = training_scheduler(model);
  s.alphas_cumprod = table->alphas_cumprod();
  // the noise level of every step of the run: the training table at integer timesteps, the sigma interpolated as
  // Euler does at fractional ones (Euler linspace, Karras); flow matching: the VP level of the same SNR
  for (double t : timesteps) s.alpha_bars.push_back(table->alpha_bar_at(t));
  if (flow) s.alpha_bars.push_back(1.0);  // after the last step: sigma 0, the clean sample
  s.latent = latent.to(model.device());
  if (sigma_space) {  // sigma-space sample (Euler, Euler ancestral, LMS) -> the DDIM (VP) space
    s.latent = s.latent * std::sqrt(s.alpha_bars[static_cast<size_t>(step)]);
  }
  if (flow) {  // (1 - sigma) x0 + sigma noise -> the VP sample of the same SNR; the denoiser gets it scaled back
    const auto scale = [&](double t) {
      const double sigma = t / table->config().num_train_timesteps;
      return std::sqrt((1 - sigma) * (1 - sigma) + sigma * sigma);
    };
    s.input_scale = scale(s.timestep);
    s.next_input_scale = step + 1 < static_cast<int>(timesteps.size()) ? scale(timesteps[static_cast<size_t>(step) + 1]) : 1.0;
    s.latent = s.latent / s.input_scale;
  }
  s.guidance = guidance;
  at::NoGradGuard ng;
  s.context = encode_prompts(model, model.tokenize(prompt), negative_prompt, s.guidance);
  return s;
}

at::Tensor denoiser_input(const StepContext& s, const at::Tensor& latents) {
  return s.input_scale == 1.0 ? latents : latents * s.input_scale;
}

at::Tensor guided_noise_batch(const StepContext& s, const at::Tensor& latents, int batch) {
  std::vector<at::Tensor> out;
  const int64_t n = latents.size(0);
  const bool guided = s.context.size(0) == 2;
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t b = std::min<int64_t>(batch, n - i);
    at::Tensor x = denoiser_input(s, latents.narrow(0, i, b));
    at::Tensor ctx, xin;
    if (guided) {
      ctx = at::cat({s.context.narrow(0, 0, 1).expand({b, -1, -1}), s.context.narrow(0, 1, 1).expand({b, -1, -1})});
      xin = at::cat({x, x});
    } else {
      ctx = s.context.expand({b, -1, -1}).contiguous();
      xin = x;
    }
    at::Tensor t = at::full({xin.size(0)}, s.timestep, at::TensorOptions().dtype(at::kFloat).device(x.device()));
    at::Tensor e = s.model->predict(xin, t, ctx);  // no maps: the export's forward_prediction
    if (guided) e = guidance_combine(e.narrow(0, 0, b), e.narrow(0, b, b), s.guidance);
    out.push_back(e);
  }
  return at::cat(out);
}

namespace {
/// alpha_bar at step k of the run; after the last step, the table's first entry (DDIM without set_alpha_to_one).
double abar(const StepContext& s, size_t k) {
  return k < s.alpha_bars.size() ? s.alpha_bars[k] : s.alphas_cumprod.at(0);
}
}  // namespace

at::Tensor ddim_x0(const StepContext& s, const at::Tensor& x, const at::Tensor& out) {
  return predicted_x0(s.prediction_type, out, x, NoiseLevel::from_alpha_bar(abar(s, static_cast<size_t>(s.step))));
}

at::Tensor ddim_step(const StepContext& s, const at::Tensor& x, const at::Tensor& out) {
  const NoiseLevel here = NoiseLevel::from_alpha_bar(abar(s, static_cast<size_t>(s.step)));
  return ddim_update(predicted_x0(s.prediction_type, out, x, here), predicted_eps(s.prediction_type, out, x, here),
                     NoiseLevel::from_alpha_bar(abar(s, static_cast<size_t>(s.step) + 1)));
}

at::Tensor decode_next(const StepContext& s, const at::Tensor& next) {
  return s.model->decode(s.next_input_scale == 1.0 ? next : next * s.next_input_scale);
}

void check_similarity(const std::string& k) {
  if (k != "structure" && k != "ssim" && k != "luminance" && k != "contrast" && k != "cosine" && k != "mse")
    throw Error("--similarity " + k + ": expected structure, ssim, luminance, contrast, cosine or mse");
}

std::vector<double> similarity(const at::Tensor& a, const at::Tensor& b, const std::string& kind) {
  check_similarity(kind);
  at::Tensor x = a.to(at::kCPU).to(at::kFloat).contiguous(), y = b.to(at::kCPU).to(at::kFloat).contiguous();
  if (y.size(0) == 1 && x.size(0) > 1) y = y.expand_as(x).contiguous();
  std::vector<double> out;
  const int c = static_cast<int>(x.size(1)), h = static_cast<int>(x.size(2)), w = static_cast<int>(x.size(3));
  const int64_t per = static_cast<int64_t>(c) * h * w;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const float* p = x.data_ptr<float>() + i * per;
    const float* q = y.data_ptr<float>() + i * per;
    if (kind == "cosine") {
      out.push_back(metrics::cosine({p, static_cast<size_t>(per)}, {q, static_cast<size_t>(per)}));
    } else if (kind == "mse") {
      out.push_back(1.0 - metrics::mse({p, static_cast<size_t>(per)}, {q, static_cast<size_t>(per)}) / 4.0);
    } else {
      auto parts = metrics::ssim_parts(p, q, h, w, c, 2.0);
      out.push_back(kind == "ssim" ? parts.ssim : kind == "luminance" ? parts.luminance
                    : kind == "contrast" ? parts.contrast : parts.structure);
    }
  }
  return out;
}

at::Tensor random_saliency(int h, int w, uint64_t seed) {
  at::Generator g = at::detail::createCPUGenerator(seed);
  return at::rand({h, w}, g, at::TensorOptions().dtype(at::kFloat));
}

std::vector<int64_t> pixel_order(const at::Tensor& saliency) {
  at::Tensor flat = saliency.to(at::kCPU).to(at::kFloat).contiguous().view({-1});
  std::vector<int64_t> idx(static_cast<size_t>(flat.numel()));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  const float* v = flat.data_ptr<float>();
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return v[a] > v[b]; });
  return idx;
}

}  // namespace diffscope
