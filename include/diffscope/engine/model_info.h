// What a model package says about itself (model_index.json, unet/layers.json, vae/config.json): plain data, no
// LibTorch, so the study layer and the CLI can describe a model without including the engine.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "diffscope/sched/prediction.h"
#include "diffscope/sched/scheduler_config.h"

namespace diffscope {

/// One text-attention layer of the denoiser (a UNet's cross-attention), as unet/layers.json names it (sizes at the package's sample_size).
/// The largest image side diffscope takes (a package's sample_size or --height/--width), in pixels.
constexpr int kMaxImageSide = 4096;

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

/// What a model family is, in plain data (the one name table of families, model_info.cpp): the LibTorch-free half of
/// the family seam; engine/family.h holds the other half (what a prompt encodes into, how the denoiser is called).
/// `info`, run.json and layers.json reading ask it instead of testing the family's name.
struct FamilyTraits {
  std::string name;        ///< model_index.json "family": "unet" (SD 1.x/2.x), "mmdit" (SD3, Flux), "sdxl"
  int format_version = 1;  ///< the package format that introduced it
  std::string denoiser_dir;  ///< the denoiser's package folder: "unet" or "transformer"
  std::string layers_key;  ///< layers.json's array of text-attention layers: "cross_attention" or "joint_attention"
  std::string denoiser;    ///< what `info` calls the denoiser
  std::string text_encoder;  ///< what the text stage is (run.json's model.text_encoder, the report's overview)
  std::string maps;        ///< what one captured map is (info, run.json's attention.reduction)
  std::string concept_maps;  ///< what one --concepts map is (run.json's attention.concepts.reduction)
  bool patched = false;    ///< image sides are multiples of the VAE factor times the patch size (a transformer)
  bool joint = false;      ///< joint attention: text tokens ask queries too (generate --text-queries)
};
/// The table's row for `family`; Error listing the known families otherwise.
const FamilyTraits& family_traits(const std::string& family);
/// Every row, in the table's order.
const std::vector<FamilyTraits>& family_table();

/// Everything model_index.json, unet/layers.json and vae/config.json say about a package.
struct ModelInfo {
  std::string dir, name, pad_token;
  /// The denoiser's family (family_traits): "unet" (format_version 1: cross-attention UNet in unet/), "mmdit"
  /// (format_version 2: a joint-attention transformer such as SD3's in transformer/) or "sdxl" (format_version 3:
  /// SDXL's UNet with two CLIP text encoders, a pooled vector and size conditioning).
  std::string family = "unet";
  const FamilyTraits& traits() const { return family_traits(family); }
  std::string denoiser_dir = "unet";  ///< the package folder of the denoiser (model.pt, layers.json)
  /// Rows after the max_length token rows in the text encoder's output: SD3's pooled text vector (1) or none (0).
  /// The denoiser reads them; the maps and analyses see the token rows only. SDXL's pooled vector rides in such a row
  /// too (zero-padded to the context width) between encode_text and the family, which hands it to the UNet apart.
  int pooled_rows = 0;
  /// SDXL (format_version 3): the pooled vector's width P (text_encoder_2's projection; 0 for the other families),
  /// the UNet's size conditioning width (time ids: original size, crop top-left, target size), tokenizer_2's pad
  /// token, and StableDiffusionXLPipeline's force_zeros_for_empty_prompt (no negative prompt: zero negative rows).
  int pooled_dim = 0, time_ids_dim = 0;
  std::string pad_token_2;
  bool force_zeros_for_empty_prompt = false;
  /// model_index.json "default_time_ids" (SDXL: [H, W, 0, 0, H, W] at sample_size); the loop uses the generated size.
  std::vector<double> default_time_ids;
  Prediction prediction_type = Prediction::Epsilon;  ///< epsilon, v_prediction or flow (velocity)
  int sample_size = 0, vae_scale_factor = 8, latent_channels = 4, max_length = 77;
  /// format_version 2 with a T5 text input (SD3 with text_encoder_3): T5's tokens per prompt, after the max_length
  /// CLIP tokens (tokenizer_3/spiece.model); 0 without T5.
  int t5_max_length = 0;
  /// Where the text rows come from (model_index.json "text_rows"): CLIP's tokens, then T5's when there is T5
  /// (SD3: "clip"), or T5's alone (Flux: "t5"; CLIP's ids are read only for the pooled vector).
  bool clip_text_rows = true;
  /// How the prompt steers the denoiser (model_index.json "guidance"): "cfg" (classifier-free guidance: a second,
  /// negative-prompt batch row when --guidance > 1), "distilled" (FLUX.1-dev: one row; the loop writes the guidance
  /// scale into the pooled row's entry guidance_index, the transformer embeds it) or "none" (FLUX.1-schnell).
  std::string guidance = "cfg";
  /// The diffusers pipeline class whose loop the package reproduces, when it matters (model_index.json "pipeline":
  /// "FluxPipeline" passes its own sigmas to the scheduler); empty otherwise.
  std::string pipeline;
  int guidance_index = -1;
  /// The text rows the denoiser attends to and the maps' last axis: the CLIP tokens, then T5's (or T5's alone).
  int text_tokens() const { return (clip_text_rows ? max_length : 0) + t5_max_length; }
  int context_dim = 0;          ///< text encoder width D (known after the first encode; see Model::context_dim)
  double scaling_factor = 1.0;  ///< VAE latent scaling
  std::vector<AttentionLayerInfo> attention_layers;  ///< empty for a plain export
  std::vector<FeatureInfo> features;
};

/// What image sides must be a multiple of: the VAE factor, times a transformer's patch size (its first map's
/// positions per latent pixel, from layers.json) for the mmdit family.
int image_size_multiple(const ModelInfo& info);

/// model_index.json into `info` (name, sizes, prediction type, max_length, pad token), each key checked and each size
/// bounded; Error naming the file and the key otherwise.
void read_model_index(ModelInfo& info, const std::string& index_path);
/// The package files that identify a model (weights, tokenizer, configs), relative to `dir`: those that exist of
/// model_index.json, tokenizer/{vocab.json,merges.txt}, text_encoder/model.pt, {unet,transformer}/{model.pt,layers.json},
/// vae/{decoder.pt,encoder.pt,config.json,latent_rgb.json}, scheduler/scheduler_config.json, tokenizer_3/spiece.model.
/// hashes.json lists the same files.
std::vector<std::string> package_files(const std::string& dir);
/// <denoiser>/layers.json: the text-attention layers ("cross_attention" of a UNet, "joint_attention" of a
/// transformer) and the block outputs (features).
void read_layers(ModelInfo& info, const std::string& path);
/// vae/config.json: the latent scaling factor.
void read_vae_config(ModelInfo& info, const std::string& path);

/// Text-attention layer `layer`'s map size for a latent of latent_h x latent_w (each downsampling halves, rounding up,
/// from the package's default size to the layer's).
std::pair<int, int> layer_size(const ModelInfo& info, size_t layer, int latent_h, int latent_w);
/// The image's token count for a latent of latent_h x latent_w: the first map's positions (a transformer's patches),
/// or the latent's pixels for a package without maps. Flux's resolution-dependent shift reads it.
int64_t image_token_count(const ModelInfo& info, int latent_h, int latent_w);
/// scheduler/scheduler_config.json, with what the package's pipeline adds (FluxPipeline: its own sigmas).
SchedulerConfig package_scheduler_config(const ModelInfo& info);

}  // namespace diffscope
