// diffscope::Model: a loaded model package (model_index.json, tokenizer, text encoder, UNet, VAE, scheduler).
#pragma once
#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "diffscope/engine/model_info.h"
#include "diffscope/text/tokenizer.h"

namespace diffscope {

struct SchedulerConfig;

/// What one denoiser call returns (a UNet's, or later a joint-attention transformer's): the prediction
/// (epsilon, v or x0, per ModelInfo::prediction_type), the text-attention maps [B, heads, h_l*w_l, max_length] per
/// layer (a UNet's cross-attention; a joint-attention model's image-to-text block), and the block outputs.
/// With concept embeddings given (generate --concepts), also per layer the concept maps [B, heads, h_l*w_l, C]: each
/// concept's probability had its key joined the layer's keys, in a softmax that does not feed the output.
struct DenoiserOutput {
  at::Tensor prediction;
  std::vector<at::Tensor> text_attention;
  std::vector<at::Tensor> features;
  std::vector<at::Tensor> concept_attention;
  /// With text queries requested (generate --text-queries, a transformer package): per layer the joint softmax's
  /// text-query x image-key block, transposed to [B, heads, h_l*w_l, L] like text_attention (entry (n, l): how much
  /// text token l's query gives image token n).
  std::vector<at::Tensor> text_queries;
};

/// A loaded package. Loading validates every file; problems throw diffscope::Error naming the file.
/// Whether the CPU has bfloat16 instructions (x86: AVX-512 BF16); without them LibTorch emulates bf16 and
/// `--precision bf16` is much slower than fp32, so set_precision warns.
bool cpu_has_native_bf16();

class Model {
 public:
  /// Loads and checks the package in `dir` onto `device` ("cpu", "cuda", "cuda:1").
  static Model load(const std::string& dir, const std::string& device = "cpu", bool verify = true);
  /// The denoiser's arithmetic: "fp32" (the export's own dtype, default), "bf16" (autocast: matmuls and convolutions
  /// in bfloat16, on CPU and CUDA) or "fp16" (autocast, CUDA only). Outputs are float32 either way; the text encoder
  /// and VAE stay as exported. Error naming --precision for anything else.
  void set_precision(const std::string& precision);
  const std::string& precision() const;

  const ModelInfo& info() const;
  /// Wall time load() took (reading, checking and deserialising the package), in seconds.
  double load_seconds() const;
  const ClipTokenizer& tokenizer() const;
  /// Tokenizes to max_length with the package's pad token.
  Encoding tokenize(const std::string& prompt) const;
  /// Text encoder on [B, max_length] int64 ids -> [B, max_length, D] (plus ModelInfo::pooled_rows rows after the
  /// tokens for a transformer package: its pooled text vector).
  at::Tensor encode_text(const at::Tensor& ids) const;
  /// For a caller that encodes once and then runs a long loop (a single generation): end_of_encoding() then frees
  /// the text encoder's weights, so the loop runs without them (1.4 GB for SD 2.x, 0.5 GB for SD 1.x). A later
  /// encode_text loads them again. Off by default: prompt sets and batches encode before every run.
  void set_encode_once(bool once);
  /// Called by the pipeline when a run's prompts are encoded; frees the text encoder under set_encode_once(true).
  void end_of_encoding() const;
  /// Text encoder width D; runs the text encoder once on the empty prompt if it has not run yet.
  int context_dim() const;
  /// The denoiser (unet/model.pt, or transformer/model.pt of a format_version 2 package): sample [B,C,h,w],
  /// timestep float [B], context [B,L(+pooled rows),D] as encode_text returns it. Honours the caller's grad mode.
  /// Both families answer this same call (see docs/architecture.md).
  /// With `concepts` [B, C, D] defined (see encode_concepts), calls the export's forward_concepts and fills
  /// concept_attention; the prediction and text_attention are forward()'s, bit for bit.
  /// With `text_queries`, calls the export's forward_text_queries and fills text_queries (not together with
  /// concepts: Error naming both options).
  DenoiserOutput denoise(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context,
                         const at::Tensor& concepts = at::Tensor(), bool text_queries = false) const;
  /// The prediction alone, for callers that read no maps (saliency's denoiser calls, runs without capture): the
  /// export's forward_prediction, which computes the same and returns nothing else (bit-identical to
  /// denoise().prediction), or forward() for exports without it.
  at::Tensor predict(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context) const;
  /// True when the UNet export has forward_concepts (open-vocabulary concept maps, generate --concepts).
  bool has_concepts() const;
  /// True when the transformer export has forward_text_queries (generate --text-queries).
  bool has_text_queries() const;
  /// Throws the one-line "--text-queries: exported without forward_text_queries" error when !has_text_queries().
  void require_text_queries() const;
  /// Throws the one-line "--concepts: exported without forward_concepts" error when !has_concepts().
  void require_concepts() const;
  /// Concept-word embeddings [C, D] for open-vocabulary maps: the mean of the word's (or phrase's) token embeddings
  /// when it is encoded as the next words after `after` (the prompt: what the word would be had the prompt gone on
  /// with it; a causal text encoder leaves the prompt's own embeddings as they are), or on its own when `after` is
  /// empty. Error naming --concepts for an empty, repeated or truncated concept, or when the export has no
  /// forward_concepts.
  at::Tensor encode_concepts(const std::vector<std::string>& concepts, const std::string& after = "") const;
  /// True when the UNet returns cross-attention maps (not a plain single-tensor export).
  bool has_attention() const;
  /// Throws the one-sentence "exported without attention outputs" error when !has_attention().
  void require_attention(const std::string& what) const;
  /// Latents as the loop holds them -> image [B,3,H,W] in [-1,1] (divides by scaling_factor itself).
  at::Tensor decode(const at::Tensor& latents) const;
  /// Whether the package has a latent-to-RGB preview (vae/latent_rgb.json, fitted at export).
  bool has_preview() const;
  /// The cheap view of latents: RGB = W z + b per latent pixel (vae/latent_rgb.json), clamped to [-1,1] and
  /// bilinearly upsampled to the image size: [B,3,H,W] like decode(), for the cost of a 3 x C matrix product.
  /// Error naming the file when the package has none.
  at::Tensor preview(const at::Tensor& latents) const;
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
  /// SHA-256 of each of files(), computed on first use and kept for the model's lifetime (a batch or prompt set
  /// hashes the package once, not once per run).
  const std::map<std::string, std::string>& file_hashes() const;

  struct Impl;

 private:
  DenoiserOutput run_denoiser(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context,
                              const at::Tensor& concepts, bool prediction_only, bool text_queries = false) const;
  std::shared_ptr<Impl> impl_;
};

}  // namespace diffscope
