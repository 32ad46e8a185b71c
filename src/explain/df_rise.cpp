// DF-RISE: randomized input sampling over the latent of one denoising step.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "diffscope/util/error.h"
#include "diffscope/util/progress.h"
#include "diffscope/explain/saliency.h"

namespace diffscope {

namespace {
/// The saliency of `n` masks' weighted sum: / (n p), ReLU, min-max.
at::Tensor finish_map(const at::Tensor& sum, int n, double p) {
  const at::Tensor sal = at::relu(sum / (n * p));
  const float lo = sal.min().item<float>(), hi = sal.max().item<float>();
  return hi > lo ? (sal - lo) / (hi - lo) : at::zeros_like(sal);
}
}  // namespace

DfRiseResult df_rise_checkpoints(const StepContext& s, int samples, int batch, const std::string& sim, uint64_t seed,
                                 bool quiet, const std::vector<int>& checkpoints) {
  if (samples < 1) throw Error("--samples: expected at least 1");
  if (batch < 1) throw Error("--batch: expected at least 1");
  check_similarity(sim);
  std::vector<int> stops;
  for (int c : checkpoints)
    if (c >= 1 && c < samples) stops.push_back(c);
  std::sort(stops.begin(), stops.end());
  stops.erase(std::unique(stops.begin(), stops.end()), stops.end());
  at::NoGradGuard ng;
  const int64_t h = s.latent.size(2), w = s.latent.size(3);
  const int64_t cells = std::max<int64_t>(2, std::min(h, w) / 4);  // coarse grid (RISE: s x s cells)
  const double ch = double(h) / cells, cw = double(w) / cells;
  const int64_t uh = static_cast<int64_t>(std::ceil((cells + 1) * ch)), uw = static_cast<int64_t>(std::ceil((cells + 1) * cw));
  const double p = 0.5;
  at::Generator g = at::detail::createCPUGenerator(seed);
  const at::Tensor ref = ddim_x0(s, s.latent, guided_noise_batch(s, s.latent, 1));
  at::Tensor sal = at::zeros({h, w}, at::kFloat);
  DfRiseResult out;
  size_t next_stop = 0;
  int calls = 0;  // UNet batches: a checkpoint ends a batch early
  for (int d = 0, k = 0; d < samples; ++calls) {
    int b = std::min(batch, samples - d);
    if (k < static_cast<int>(stops.size())) b = std::min(b, stops[static_cast<size_t>(k)] - d);
    d += b;
    if (k < static_cast<int>(stops.size()) && d == stops[static_cast<size_t>(k)]) ++k;
  }
  Progress progress("DF-RISE", calls, quiet);
  for (int done = 0; done < samples;) {
    int b = std::min(batch, samples - done);
    if (next_stop < stops.size()) b = std::min(b, stops[next_stop] - done);
    // RISE masks, drawn one at a time (so the masks, and the map, do not depend on --batch): binary cells kept with
    // probability p, bilinear upsampling to (cells+1) cells, a random shift within one cell
    std::vector<at::Tensor> ms;
    for (int i = 0; i < b; ++i) {
      const at::Tensor grid = (at::rand({1, 1, cells, cells}, g) < p).to(at::kFloat);
      const at::Tensor shift = at::rand({2}, g);
      const at::Tensor up = at::upsample_bilinear2d(grid, {uh, uw}, false)[0];
      const int64_t dy = static_cast<int64_t>(shift[0].item<float>() * ch), dx = static_cast<int64_t>(shift[1].item<float>() * cw);
      ms.push_back(up.narrow(1, dy, h).narrow(2, dx, w));
    }
    const at::Tensor masks = at::stack(ms);  // [b,1,h,w]
    const at::Tensor x = s.latent * masks.to(s.latent.device());
    const at::Tensor x0 = ddim_x0(s, x, guided_noise_batch(s, x, b));
    const auto scores = similarity(x0, ref, sim);
    for (int i = 0; i < b; ++i) sal += masks[i][0] * static_cast<float>(scores[static_cast<size_t>(i)]);
    done += b;
    if (next_stop < stops.size() && done == stops[next_stop]) {
      out.checkpoints.push_back(done);
      out.at_checkpoints.push_back(finish_map(sal, done, p));
      ++next_stop;
    }
    progress.tick();
  }
  progress.finish();
  out.map = finish_map(sal, samples, p);
  return out;
}

at::Tensor df_rise(const StepContext& s, int samples, int batch, const std::string& sim, uint64_t seed, bool quiet) {
  return df_rise_checkpoints(s, samples, batch, sim, seed, quiet, {}).map;
}

}  // namespace diffscope
