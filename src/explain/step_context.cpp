// Reconstructing one denoising step of a run, batched guided UNet calls, DDIM updates and similarities.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "diffscope/error.h"
#include "diffscope/metrics.h"
#include "diffscope/model.h"
#include "diffscope/pipeline.h"
#include "diffscope/saliency.h"
#include "diffscope/scheduler.h"

namespace diffscope {

StepContext load_step(const Model& model, const RunFolder& run, int step) {
  if (step < 0 || step >= run.steps)
    throw Error("--step " + std::to_string(step) + ": the run has steps 0.." + std::to_string(run.steps - 1));
  StepContext s;
  s.model = &model;
  s.step = step;
  s.timesteps = run.timesteps;
  s.timestep = run.timesteps[static_cast<size_t>(step)];
  s.prediction_type = model.info().prediction_type;
  s.alphas_cumprod = make_scheduler("ddim", model.scheduler_config())->alphas_cumprod();
  NpyArray lat = read_npy(run.path("latents.npy"));
  if (lat.shape.size() != 4 || lat.shape[0] != run.steps + 1)
    throw Error(run.path("latents.npy") + ": expected [steps+1, C, h, w]");
  const int64_t per = lat.shape[1] * lat.shape[2] * lat.shape[3];
  s.latent = at::from_blob(lat.data.data() + per * step, {1, lat.shape[1], lat.shape[2], lat.shape[3]}, at::kFloat)
                 .clone()
                 .to(model.device());
  const auto& in = run.meta.at("inputs");
  if (in.value("scheduler", std::string()) == "euler") {  // sigma-space sample -> the DDIM (VP) space
    const double a = s.alphas_cumprod.at(static_cast<size_t>(s.timestep));
    s.latent = s.latent * std::sqrt(a);
  }
  s.guidance = in.value("guidance_scale", 1.0);
  at::NoGradGuard ng;
  s.context = encode_prompts(model, model.tokenize(in.value("prompt", std::string())),
                             in.value("negative_prompt", std::string()), s.guidance > 1.0);
  return s;
}

at::Tensor guided_noise_batch(const StepContext& s, const at::Tensor& latents, int batch) {
  std::vector<at::Tensor> out;
  const int64_t n = latents.size(0);
  const bool guided = s.context.size(0) == 2;
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t b = std::min<int64_t>(batch, n - i);
    at::Tensor x = latents.narrow(0, i, b);
    at::Tensor ctx, xin;
    if (guided) {
      ctx = at::cat({s.context.narrow(0, 0, 1).expand({b, -1, -1}), s.context.narrow(0, 1, 1).expand({b, -1, -1})});
      xin = at::cat({x, x});
    } else {
      ctx = s.context.expand({b, -1, -1});
      xin = x;
    }
    at::Tensor t = at::full({xin.size(0)}, static_cast<double>(s.timestep), at::TensorOptions().dtype(at::kFloat).device(x.device()));
    at::Tensor e = s.model->unet(xin, t, ctx).noise_pred;
    if (guided) e = e.narrow(0, 0, b) + s.guidance * (e.narrow(0, b, b) - e.narrow(0, 0, b));
    out.push_back(e);
  }
  return at::cat(out);
}

namespace {
double abar(const StepContext& s, int64_t t) {
  return t >= 0 ? s.alphas_cumprod.at(static_cast<size_t>(t)) : s.alphas_cumprod.at(0);
}
at::Tensor eps_of(const StepContext& s, const at::Tensor& x, const at::Tensor& out) {
  const double a = abar(s, s.timestep);
  return s.prediction_type == "v_prediction" ? std::sqrt(a) * out + std::sqrt(1 - a) * x : out;
}
}  // namespace

at::Tensor ddim_x0(const StepContext& s, const at::Tensor& x, const at::Tensor& out) {
  const double a = abar(s, s.timestep);
  if (s.prediction_type == "v_prediction") return std::sqrt(a) * x - std::sqrt(1 - a) * out;
  return (x - std::sqrt(1 - a) * out) / std::sqrt(a);
}

at::Tensor ddim_step(const StepContext& s, const at::Tensor& x, const at::Tensor& out) {
  int64_t prev = -1;
  if (static_cast<size_t>(s.step) + 1 < s.timesteps.size()) prev = s.timesteps[static_cast<size_t>(s.step) + 1];
  const double ap = abar(s, prev);
  return std::sqrt(ap) * ddim_x0(s, x, out) + std::sqrt(1 - ap) * eps_of(s, x, out);
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
