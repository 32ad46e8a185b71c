// diffscope::ModelFamily: the family seam. One object per model family (src/engine/family_<name>.cpp), chosen once
// when a package loads (model_family(info)); the loader, the loop and the prompt encoding ask it instead of testing
// the family's name. Its plain-data half, FamilyTraits (model_info.h), is what `info` and run.json say.
#pragma once
#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

#include "diffscope/engine/model_info.h"

namespace diffscope {

/// What the denoiser is conditioned on, explicitly. Callers hand the denoiser one text tensor (encode_text's
/// [B, text_tokens() + pooled_rows, D]: the context rows, then the pooled row); the family unpacks it here.
struct Conditioning {
  at::Tensor context;   ///< [B, L, D]: the rows the denoiser attends to (the maps' text axis); a transformer
                        ///< export whose traced forward splits its own pooled row gets that row here too
  at::Tensor pooled;    ///< [B, P]: the pooled text vector handed apart (SDXL's text_embeds); undefined otherwise
  at::Tensor time_ids;  ///< [B, 6]: SDXL's size conditioning (original size, crop top-left, target size)
};

class ModelFamily {
 public:
  virtual ~ModelFamily() = default;
  virtual const FamilyTraits& traits() const = 0;
  /// text_encoder/model.pt's output on ids [B, n] -> the text tensor [B, text_tokens() + pooled_rows, D];
  /// Error naming `shown` when it has another form.
  virtual at::Tensor text_tensor(const ModelInfo& info, const c10::IValue& out, const std::string& shown) const;
  /// Whether a guided batch's negative rows are zeros when the negative prompt is empty, rather than the encoding of
  /// "" (StableDiffusionXLPipeline's force_zeros_for_empty_prompt).
  virtual bool zero_empty_negative(const ModelInfo&) const { return false; }
  /// Whether --guidance is a model input rather than classifier-free guidance, and where it goes in the text tensor.
  virtual void set_guidance(const ModelInfo&, at::Tensor& /*text*/, double /*scale*/) const {}
  /// The text tensor, for a sample [B, C, h, w], as the denoiser takes it.
  virtual Conditioning condition(const ModelInfo& info, const at::Tensor& text, const at::Tensor& sample) const;
  /// The inputs of the denoiser's forward, forward_prediction and forward_text_queries after (sample, timestep):
  /// forward_concepts takes the concept embeddings after them.
  virtual std::vector<c10::IValue> denoiser_inputs(const Conditioning& c, at::ScalarType dtype) const;
};

/// The family object of a package (info.family); Error for a family with no object.
const ModelFamily& model_family(const ModelInfo& info);

}  // namespace diffscope
