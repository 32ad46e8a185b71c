// AttentionCapture: an Observer that reduces cross-attention at every step (streaming) to [tokens, h, w] maps.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "diffscope/engine/observer.h"

namespace diffscope {

/// What to keep. Per step the maps are averaged over heads and the selected layers, taken from one CFG half,
/// and each layer is upsampled (bilinear) to the latent grid, so memory is steps x tokens x h x w.
struct AttentionCaptureOptions {
  std::string half = "cond";              ///< "cond" or "uncond" half of the guided batch
  std::vector<int> layers;                ///< layer indices to include; empty = all
  std::vector<int> keep_layer_steps;      ///< steps whose per-layer maps [layers, tokens, h, w] are also kept
  std::vector<int> keep_head_steps;       ///< steps whose per-head maps [layers, heads, tokens, h, w] are kept
};

/// Streams attention reduction during the loop; read the results after generate() returns.
class AttentionCapture : public Observer {
 public:
  explicit AttentionCapture(AttentionCaptureOptions options = {});
  void on_begin(const RunContext& ctx, const at::Tensor& initial_latent) override;
  void on_step(const RunContext& ctx, const StepState& step) override;

  /// [steps, tokens, h, w] float32 on CPU.
  const at::Tensor& maps() const { return maps_; }
  /// [steps, concepts, h, w] (generate --concepts; undefined without), reduced exactly as maps().
  const at::Tensor& concept_maps() const { return concept_maps_; }
  /// [steps, tokens, h, w] (generate --text-queries; undefined without): per text token, where its query looks among
  /// the image tokens, reduced exactly as maps().
  const at::Tensor& text_query_maps() const { return text_query_maps_; }
  /// Per-layer maps of the chosen steps, keyed by step index: [layers, tokens, h, w].
  const std::vector<std::pair<int, at::Tensor>>& layer_maps() const { return layer_maps_; }
  /// Per-head maps of the chosen steps: [layers, heads, tokens, h, w] (heads padded to the widest layer with 0).
  const std::vector<std::pair<int, at::Tensor>>& head_maps() const { return head_maps_; }
  /// Indices of the layers averaged into maps().
  const std::vector<int>& layers_used() const { return layers_used_; }
  const AttentionCaptureOptions& options() const { return options_; }

  /// The reduction for one layer's probabilities [B, heads, HW, L] -> [L, h, w] (exposed for tests and explain/).
  static at::Tensor reduce_layer(const at::Tensor& probs, int64_t batch_index, int layer_h, int layer_w, int out_h,
                                 int out_w, bool keep_heads = false);

 private:
  AttentionCaptureOptions options_;
  std::vector<int> layers_used_;
  at::Tensor maps_, concept_maps_, text_query_maps_;
  std::vector<std::pair<int, at::Tensor>> layer_maps_, head_maps_;
};

}  // namespace diffscope
