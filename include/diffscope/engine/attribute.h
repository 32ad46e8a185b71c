// attribute(): attention attribution on a real image (encode, noise to each t, one UNet pass per t).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "diffscope/engine/observer.h"
#include "diffscope/engine/pipeline.h"

namespace diffscope {

class Model;

/// Image file (anything OpenCV reads) -> [1,3,S,S] RGB in [-1,1]: centre-cropped to a square, area-resized to S.
at::Tensor load_image_tensor(const std::string& path, int size);

/// Inputs of a real-image attribution.
struct AttributeOptions {
  std::string image_path;               ///< any image OpenCV reads; resized to the model's sample_size
  std::string prompt, negative_prompt;
  std::vector<int64_t> timesteps{100, 300, 600};  ///< each is one "step" of the resulting run, in this order
  double guidance_scale = 1.0;          ///< > 1 runs the guided (batched) UNet like the loop does
  int64_t seed = 0;                     ///< the one noise draw shared by every t
  int size = 0;                         ///< pixels; 0 = sample_size
};

/// Encodes the image with the VAE, noises it to each t with the same seeded noise (the scheduler's forward
/// process), runs one UNet pass per t, and calls the observers as if each t were a denoising step (x0 is the
/// clean-latent estimate at t). The result's image is the input image as the model saw it.
GenerateResult attribute(const Model& model, const AttributeOptions& options, const std::vector<Observer*>& observers);

/// The GenerateOptions that describe an attribution in run.json.
GenerateOptions attribute_as_generate_options(const AttributeOptions& options);

}  // namespace diffscope
