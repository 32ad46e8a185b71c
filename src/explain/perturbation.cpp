// Insertion and deletion curves over the latent, scored after one denoising step and a decode.
#include <ATen/ATen.h>

#include "diffscope/util/error.h"
#include "diffscope/metrics/metrics.h"
#include "diffscope/engine/model.h"
#include "diffscope/explain/saliency.h"

namespace diffscope {

namespace {
/// Gaussian blur 11x11, sigma 5, per channel, reflect padding.
at::Tensor blur(const at::Tensor& x) {
  std::vector<float> k(11);
  float sum = 0;
  for (int i = 0; i < 11; ++i) sum += (k[static_cast<size_t>(i)] = std::exp(-float((i - 5) * (i - 5)) / (2 * 25.f)));
  at::Tensor k1 = at::tensor(k, at::kFloat) / sum;
  at::Tensor k2 = at::outer(k1, k1).to(x.device()).view({1, 1, 11, 11}).expand({x.size(1), 1, 11, 11}).contiguous();
  const int64_t pad = std::min<int64_t>(5, std::min(x.size(2), x.size(3)) - 1);
  at::Tensor xp = at::reflection_pad2d(x, {pad, pad, pad, pad});
  at::Tensor y = at::conv2d(xp, k2, at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, x.size(1));
  if (pad < 5) y = at::upsample_bilinear2d(y, {x.size(2), x.size(3)}, false);  // tiny latents
  return y;
}
}  // namespace

Curve perturbation_curve(const StepContext& s, const at::Tensor& saliency, bool insertion, int k, int batch,
                         const std::string& sim) {
  if (k < 1) throw Error("--k: expected at least 1 perturbation stage");
  check_similarity(sim);
  at::NoGradGuard ng;
  const int64_t h = s.latent.size(2), w = s.latent.size(3), n = h * w;
  const auto order = pixel_order(saliency);
  const at::Tensor base = insertion ? blur(s.latent) : at::zeros_like(s.latent);
  std::vector<at::Tensor> stages;
  at::Tensor keep = at::zeros({n}, at::kFloat);  // 1 where the pixel is "moved" (inserted or deleted)
  for (int stage = 0; stage <= k; ++stage) {
    const int64_t upto = (n * stage) / k;
    for (int64_t i = (stage == 0 ? 0 : (n * (stage - 1)) / k); i < upto; ++i) keep[order[static_cast<size_t>(i)]] = 1.f;
    at::Tensor m = keep.view({1, 1, h, w}).to(s.latent.device());
    stages.push_back(insertion ? base * (1 - m) + s.latent * m : s.latent * (1 - m));
  }
  at::Tensor x = at::cat(stages);
  at::Tensor ref_img = decode_next(s, ddim_step(s, s.latent, guided_noise_batch(s, s.latent, 1)));
  at::Tensor prev = ddim_step(s, x, guided_noise_batch(s, x, batch));
  std::vector<at::Tensor> imgs;
  for (int64_t i = 0; i < prev.size(0); i += batch) imgs.push_back(decode_next(s, prev.narrow(0, i, std::min<int64_t>(batch, prev.size(0) - i))));
  const auto scores = similarity(at::cat(imgs), ref_img, sim);
  std::vector<double> fraction;
  for (int stage = 0; stage <= k; ++stage) fraction.push_back(double(stage) / k);
  return make_curve(std::move(fraction), scores);
}

Curve make_curve(std::vector<double> fraction, std::vector<double> score) {
  Curve c;
  c.fraction = std::move(fraction);
  c.score = std::move(score);
  c.normalised = metrics::minmax_rescale(c.score);
  c.auc = metrics::trapezoid(c.fraction, c.normalised);
  c.auc_raw = metrics::trapezoid(c.fraction, c.score);
  return c;
}

}  // namespace diffscope
