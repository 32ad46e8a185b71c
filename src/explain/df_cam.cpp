// DF-CAM (Grad-CAM over the UNet's block outputs) and cross-attention relevance, both by autograd through the
// TorchScript UNet.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>

#include "diffscope/util/error.h"
#include "diffscope/engine/model.h"
#include "diffscope/explain/saliency.h"

namespace diffscope {

at::Tensor grad_cam(const at::Tensor& a, const at::Tensor& g) {
  at::Tensor weights = g.mean({1, 2}, /*keepdim=*/true);  // [C,1,1]
  return at::relu((weights * a).sum(0));
}

namespace {
/// One UNet pass with autograd on; returns the raw output (batch [u, c] when guided) and the loss sum(guided noise).
struct GradPass {
  DenoiserOutput out;
  at::Tensor loss;
  bool guided = false;
};

GradPass grad_pass(const StepContext& s) {
  at::AutoGradMode enable(true);
  GradPass gp;
  gp.guided = s.context.size(0) == 2;
  const at::Tensor in = denoiser_input(s, s.latent);
  at::Tensor x = gp.guided ? at::cat({in, in}) : in;
  at::Tensor t = at::full({x.size(0)}, static_cast<double>(s.timestep), at::TensorOptions().dtype(at::kFloat).device(x.device()));
  gp.out = s.model->denoise(x, t, s.context);
  // per-half sums: the gradient of each half's sum w.r.t. that half's activations is g_u / g_c
  gp.loss = gp.out.prediction.sum();
  return gp;
}

/// g_u + w (g_c - g_u) for a batch-2 tensor (or the single half when unguided).
at::Tensor combine(const at::Tensor& t, bool guided, double w) {
  if (!guided) return t[0];
  return t[0] + w * (t[1] - t[0]);
}
}  // namespace

at::Tensor df_cam(const StepContext& s) {
  GradPass gp = grad_pass(s);
  if (gp.out.features.empty())
    throw Error("DF-CAM needs the UNet's block outputs, but this package's unet/model.pt returns none");
  std::vector<at::Tensor> feats = gp.out.features;
  auto grads = torch::autograd::grad({gp.loss}, feats, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                     /*allow_unused=*/true);
  const int64_t h = s.latent.size(2), w = s.latent.size(3);
  at::Tensor cam = at::zeros({h, w}, at::kFloat);
  at::NoGradGuard ng;
  size_t reached = 0;
  for (const auto& g : grads) reached += g.defined() ? 1 : 0;
  if (reached == 0)  // a constant map would rank the pixels in raster order and score as if it were a saliency
    throw Error(s.model->info().dir + "/" + s.model->info().denoiser_dir + "/model.pt: DF-CAM needs the gradient of "
                "its output at its block outputs, but none of the " + std::to_string(feats.size()) + " it returns is "
                "on the path to the output (copies beside the graph); re-export the package with this version's "
                "scripts/export");
  for (size_t i = 0; i < feats.size(); ++i) {
    if (!grads[i].defined()) continue;
    at::Tensor a = combine(feats[i].detach(), gp.guided, s.guidance);
    at::Tensor g = combine(grads[i], gp.guided, s.guidance);
    at::Tensor c = grad_cam(a, g).unsqueeze(0).unsqueeze(0);
    cam += at::upsample_bilinear2d(c, {h, w}, false)[0][0].to(at::kCPU);
  }
  const float lo = cam.min().item<float>(), hi = cam.max().item<float>();
  return hi > lo ? (cam - lo) / (hi - lo) : at::zeros_like(cam);
}

at::Tensor token_relevance(const StepContext& s) {
  s.model->require_attention("relevance");
  GradPass gp = grad_pass(s);
  std::vector<at::Tensor> maps = gp.out.text_attention;
  auto grads = torch::autograd::grad({gp.loss}, maps, {}, false, false, true);
  at::NoGradGuard ng;
  at::Tensor rel;
  for (size_t i = 0; i < maps.size(); ++i) {
    if (!grads[i].defined()) continue;
    // [B,heads,HW,L] -> the guided output's gradient x attention, summed over the CFG halves
    // ((1 - w) g_u A_u + w g_c A_c), then ReLU, averaged over heads, summed over pixels: never negative
    at::Tensor ga = combine(grads[i] * maps[i].detach(), gp.guided, s.guidance);  // [heads,HW,L]
    at::Tensor r = at::relu(ga).mean(0).sum(0).to(at::kCPU);                      // [L]
    rel = rel.defined() ? rel + r : r;
  }
  return rel;
}

}  // namespace diffscope
