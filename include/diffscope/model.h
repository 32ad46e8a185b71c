// diffscope::Model: a loaded model package (model_index.json, tokenizer, text encoder, UNet, VAE, scheduler).
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "diffscope/tokenizer.h"

namespace diffscope {

struct SchedulerConfig;

/// One cross-attention layer of the UNet, as unet/layers.json names it (sizes at the package's sample_size).
struct AttentionLayerInfo {
  std::string name;   ///< diffusers module path, e.g. down_blocks.0.attentions.0.transformer_blocks.0.attn2
  std::string block;  ///< "down", "mid" or "up"
  int heads = 0, height = 0, width = 0;
};

/// One block output of the UNet (the package's `features`).
struct FeatureInfo {
  std::string name;   ///< e.g. down_blocks.0
  std::string block;  ///< "down", "mid" or "up"
  int channels = 0, height = 0, width = 0;
};

/// Everything model_index.json, unet/layers.json and vae/config.json say about a package.
struct ModelInfo {
  std::string dir, name, prediction_type, pad_token;
  int sample_size = 0, vae_scale_factor = 8, latent_channels = 4, max_length = 77;
  int context_dim = 0;          ///< text encoder width D (known after the first encode; see Model::context_dim)
  double scaling_factor = 1.0;  ///< VAE latent scaling
  std::vector<AttentionLayerInfo> attention_layers;  ///< empty for a plain export
  std::vector<FeatureInfo> features;
};

/// What one UNet call returns; cross_attention is [B, heads, h_l*w_l, max_length] per layer.
struct UNetOutput {
  at::Tensor noise_pred;
  std::vector<at::Tensor> cross_attention;
  std::vector<at::Tensor> features;
};

/// A loaded package. Loading validates every file; problems throw diffscope::Error naming the file.
class Model {
 public:
  /// Loads and checks the package in `dir` onto `device` ("cpu", "cuda", "cuda:1").
  static Model load(const std::string& dir, const std::string& device = "cpu");

  const ModelInfo& info() const;
  const ClipTokenizer& tokenizer() const;
  /// Tokenizes to max_length with the package's pad token.
  Encoding tokenize(const std::string& prompt) const;
  /// Text encoder on [B, max_length] int64 ids -> [B, max_length, D].
  at::Tensor encode_text(const at::Tensor& ids) const;
  /// Text encoder width D; runs the text encoder once on the empty prompt if it has not run yet.
  int context_dim() const;
  /// UNet: sample [B,C,h,w], timestep float [B], context [B,L,D]. Honours the caller's grad mode.
  UNetOutput unet(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context) const;
  /// True when the UNet returns cross-attention maps (not a plain single-tensor export).
  bool has_attention() const;
  /// Throws the one-sentence "exported without attention outputs" error when !has_attention().
  void require_attention(const std::string& what) const;
  /// Latents as the loop holds them -> image [B,3,H,W] in [-1,1] (divides by scaling_factor itself).
  at::Tensor decode(const at::Tensor& latents) const;
  /// Image [B,3,H,W] in [-1,1] -> latent mean times scaling_factor (loads vae/encoder.pt on first use).
  at::Tensor encode(const at::Tensor& image) const;
  /// scheduler/scheduler_config.json
  SchedulerConfig scheduler_config() const;
  /// The diffusers class named in scheduler_config.json, as a diffscope scheduler name ("pndm", ...).
  std::string default_scheduler() const;
  at::Device device() const;
  /// Spatial size of attention layer `layer` for a latent of h x w (each downsampling halves, rounding up).
  std::pair<int, int> layer_size(size_t layer, int latent_h, int latent_w) const;
  /// Paths of the package's files, for hashing and reporting.
  std::vector<std::string> files() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace diffscope
