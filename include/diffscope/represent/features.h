// What the denoiser represents (Revelio): its block outputs for real images noised to chosen timesteps, pooled.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace diffscope {

class Model;

struct FeatureRequest {
  std::vector<int> layers;           ///< indices into ModelInfo::features (the UNet's block outputs)
  std::vector<int64_t> timesteps;    ///< training timesteps to noise to (Revelio: 25)
  int spatial = 0;                   ///< > 0: also an SxS adaptive average of each block output
};

/// Per timestep and requested layer: the global average [B,C] and, with spatial, [B,C,S,S] (CPU float32).
struct FeatureBatch {
  at::Tensor latent;                               ///< the clean latents [B,c,h,w] (VAE mean x scaling factor)
  std::vector<std::vector<at::Tensor>> pooled;     ///< [timestep][layer]
  std::vector<std::vector<at::Tensor>> spatial;    ///< [timestep][layer], empty without spatial
};

/// images [B,3,H,W] in [-1,1] -> VAE latent mean x scaling factor, noised to each t with `noise` [B,c,h,w] by the
/// package schedule's forward process (sqrt(abar) x0 + sqrt(1-abar) noise), one denoiser pass per t with `context`
/// [B,L,D]; the requested block outputs pooled. Error naming the option for a layer or timestep out of range.
FeatureBatch extract_features(const Model& model, const at::Tensor& images, const at::Tensor& noise,
                              const at::Tensor& context, const FeatureRequest& request);

/// The noise of image `index` for seed `seed`: one draw per image, independent of batching (shape [1,c,h,w]).
at::Tensor image_noise(uint64_t seed, uint64_t index, int64_t channels, int64_t height, int64_t width);

}  // namespace diffscope
