// DF-RISE: randomized input sampling over the latent of one denoising step.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "diffscope/util/error.h"
#include "diffscope/util/progress.h"
#include "diffscope/explain/saliency.h"

namespace diffscope {

at::Tensor df_rise(const StepContext& s, int samples, int batch, const std::string& sim, uint64_t seed, bool quiet) {
  if (samples < 1) throw Error("--samples: expected at least 1");
  if (batch < 1) throw Error("--batch: expected at least 1");
  check_similarity(sim);
  at::NoGradGuard ng;
  const int64_t h = s.latent.size(2), w = s.latent.size(3);
  const int64_t cells = std::max<int64_t>(2, std::min(h, w) / 4);  // coarse grid (RISE: s x s cells)
  const double ch = double(h) / cells, cw = double(w) / cells;
  const double p = 0.5;
  at::Generator g = at::detail::createCPUGenerator(seed);
  const at::Tensor ref = ddim_x0(s, s.latent, guided_noise_batch(s, s.latent, 1));
  at::Tensor sal = at::zeros({h, w}, at::kFloat);
  Progress progress("DF-RISE", (samples + batch - 1) / batch, quiet);
  for (int done = 0; done < samples; done += batch) {
    const int b = std::min(batch, samples - done);
    // RISE masks: binary cells, bilinear upsampling to (cells+1) cells, random shift within one cell
    at::Tensor grid = (at::rand({b, 1, cells, cells}, g) < p).to(at::kFloat);
    const int64_t uh = static_cast<int64_t>(std::ceil((cells + 1) * ch)), uw = static_cast<int64_t>(std::ceil((cells + 1) * cw));
    at::Tensor up = at::upsample_bilinear2d(grid, {uh, uw}, false);
    std::vector<at::Tensor> ms;
    at::Tensor shifts = at::rand({b, 2}, g);
    for (int i = 0; i < b; ++i) {
      const int64_t dy = static_cast<int64_t>(shifts[i][0].item<float>() * ch), dx = static_cast<int64_t>(shifts[i][1].item<float>() * cw);
      ms.push_back(up[i].narrow(1, dy, h).narrow(2, dx, w));
    }
    at::Tensor masks = at::stack(ms);  // [b,1,h,w]
    at::Tensor x = s.latent * masks.to(s.latent.device());
    at::Tensor x0 = ddim_x0(s, x, guided_noise_batch(s, x, b));
    auto scores = similarity(x0, ref, sim);
    for (int i = 0; i < b; ++i) sal += masks[i][0] * static_cast<float>(scores[static_cast<size_t>(i)]);
    progress.tick();
  }
  progress.finish();
  sal = at::relu(sal / (samples * p));
  const float lo = sal.min().item<float>(), hi = sal.max().item<float>();
  return hi > lo ? (sal - lo) / (hi - lo) : at::zeros_like(sal);
}

}  // namespace diffscope
