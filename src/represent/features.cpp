// Block outputs of the denoiser for real images (see features.h).
#include "diffscope/represent/features.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "diffscope/engine/model.h"
#include "diffscope/engine/pipeline.h"
#include "diffscope/sched/scheduler.h"
#include "diffscope/util/error.h"

namespace diffscope {

at::Tensor image_noise(uint64_t seed, uint64_t index, int64_t c, int64_t h, int64_t w) {
  // splitmix64 of (seed, index): a generator per image, so a batch of 8 and one of 32 draw the same noise
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  at::Generator g = at::detail::createCPUGenerator(z);
  return at::randn({1, c, h, w}, g, at::TensorOptions().dtype(at::kFloat));
}

FeatureBatch extract_features(const Model& model, const at::Tensor& images, const at::Tensor& noise,
                              const at::Tensor& context, const FeatureRequest& r) {
  const auto& info = model.info();
  for (int l : r.layers)
    if (l < 0 || l >= static_cast<int>(info.features.size()))
      throw Error("--layers: block output " + std::to_string(l) + " does not exist (the package has " +
                  std::to_string(info.features.size()) + "; see diffscope info)");
  if (r.timesteps.empty()) throw Error("--t: give at least one timestep");
  auto sched = training_scheduler(model);  // the model's own forward process (DDPM's, or flow matching's)
  check_training_timesteps(*sched, r.timesteps);
  if (r.spatial < 0 || r.spatial > 64) throw Error("--spatial: expected 0..64");

  at::NoGradGuard no_grad;
  FeatureBatch out;
  const at::Device dev = model.device();
  out.latent = model.encode(images.to(dev));
  const int64_t b = images.size(0);
  at::Tensor ctx = (context.size(0) == b ? context.to(dev) : context.to(dev).expand({b, -1, -1})).contiguous();
  for (int64_t t : r.timesteps) {
    at::Tensor xt = sched->add_noise(out.latent, noise.to(dev), t);
    at::Tensor ts = at::full({b}, static_cast<double>(t), at::TensorOptions().dtype(at::kFloat).device(dev));
    const DenoiserOutput o = model.denoise(sched->scale_model_input(xt, static_cast<double>(t)), ts, ctx);
    std::vector<at::Tensor> pooled, spatial;
    for (int l : r.layers) {
      const at::Tensor& f = o.features.at(static_cast<size_t>(l));
      pooled.push_back(f.mean({2, 3}).to(at::kCPU).contiguous());
      if (r.spatial > 0) spatial.push_back(at::adaptive_avg_pool2d(f, {r.spatial, r.spatial}).to(at::kCPU).contiguous());
    }
    out.pooled.push_back(std::move(pooled));
    if (r.spatial > 0) out.spatial.push_back(std::move(spatial));
  }
  out.latent = out.latent.to(at::kCPU).contiguous();
  return out;
}

}  // namespace diffscope
