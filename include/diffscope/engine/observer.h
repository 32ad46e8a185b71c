// diffscope::Observer: the hook interface the denoising loop calls; analyses and writers plug in here.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace diffscope {

class Model;
struct Encoding;

/// Facts about a run, given to observers before the first step.
struct RunContext {
  const Model* model = nullptr;
  const Encoding* encoding = nullptr;   ///< the prompt's tokens and word map
  std::vector<double> timesteps;        ///< what the loop iterates (float32 values; integers for discrete schedulers)
  int latent_height = 0, latent_width = 0;
  bool guided = false;                  ///< classifier-free guidance on (batch = [uncond, cond])
  double guidance_scale = 1.0;
  std::vector<std::string> concepts;    ///< generate --concepts (their maps come in StepState::concept_attention)
  bool text_queries = false;            ///< generate --text-queries (StepState::text_queries)
};

/// One denoising step as the loop saw it. Tensors are on the model's device.
struct StepState {
  int index = 0;                        ///< 0-based step number
  double timestep = 0;
  const at::Tensor* latent_in = nullptr;     ///< x_t before the step [1,C,h,w]
  const at::Tensor* prediction = nullptr;    ///< guided denoiser prediction [1,C,h,w] (noise, v or x0)
  const at::Tensor* x0 = nullptr;            ///< scheduler's clean-latent estimate [1,C,h,w]
  const at::Tensor* latent_out = nullptr;    ///< x_{t-1} [1,C,h,w]
  const std::vector<at::Tensor>* text_attention = nullptr;  ///< per layer [B,heads,HW_l,L]; B=2 when guided
  const std::vector<at::Tensor>* features = nullptr;         ///< per block output [B,C_l,h_l,w_l]
  const std::vector<at::Tensor>* concept_attention = nullptr;  ///< per layer [B,heads,HW_l,concepts]; empty without
                                                               ///< --concepts
  const std::vector<at::Tensor>* text_queries = nullptr;  ///< per layer [B,heads,HW_l,L] (text-query x image-key,
                                                          ///< transposed); empty without --text-queries
};

/// Implement to capture or reduce data while the loop runs. Called on the loop's thread, in order.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_begin(const RunContext& /*ctx*/, const at::Tensor& /*initial_latent*/) {}
  virtual void on_step(const RunContext& ctx, const StepState& step) = 0;
  virtual void on_end(const RunContext& /*ctx*/, const at::Tensor& /*final_latent*/) {}
};

}  // namespace diffscope
