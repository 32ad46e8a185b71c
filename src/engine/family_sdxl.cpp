// The SDXL family (format_version 3, docs/models/sdxl.md): text_encoder/model.pt runs both CLIP encoders on one id
// sequence and returns (prompt_embeds [B,77,D1+D2], pooled [B,P]); the UNet takes (sample, timestep, context,
// text_embeds, time_ids). Between encode_text and the UNet the pooled vector rides in one zero-padded row after the
// tokens (so every caller that hands the denoiser one text tensor, saliency and features included, works unchanged);
// condition() splits it off and adds the time ids of the generated size: StableDiffusionXLPipeline's defaults,
// original size = target size = (H, W), crop (0, 0). With no negative prompt the negative rows are zeros
// (force_zeros_for_empty_prompt). SDXL-Turbo is this family with a trailing-spacing scheduler and --guidance 0.
#include "families.h"

#include <ATen/ATen.h>

#include "diffscope/util/error.h"

namespace diffscope {
namespace {
class SdxlFamily final : public ModelFamily {
 public:
  const FamilyTraits& traits() const override { return family_traits("sdxl"); }

  at::Tensor text_tensor(const ModelInfo& info, const c10::IValue& out, const std::string& shown) const override {
    const std::string expected = "(prompt_embeds float [B," + std::to_string(info.max_length) + "," +
                                 std::to_string(info.context_dim) + "], pooled float [B," +
                                 std::to_string(info.pooled_dim) + "])";
    if (!out.isTuple() || out.toTupleRef().elements().size() != 2 || !out.toTupleRef().elements()[0].isTensor() ||
        !out.toTupleRef().elements()[1].isTensor())
      throw Error(shown + ": returned " + out.tagKind() + ", expected the tuple " + expected);
    const at::Tensor ctx = out.toTupleRef().elements()[0].toTensor(), pooled = out.toTupleRef().elements()[1].toTensor();
    if (ctx.dim() != 3 || ctx.size(1) != info.max_length || ctx.size(2) != info.context_dim || !ctx.is_floating_point() ||
        pooled.dim() != 2 || pooled.size(0) != ctx.size(0) || pooled.size(1) != info.pooled_dim)
      throw Error(shown + ": returned (" + tensor_shape_text(ctx) + ", " + tensor_shape_text(pooled) + "), expected " +
                  expected + " as model_index.json's context_dim and pooled_dim say");
    const at::Tensor row = at::zeros({ctx.size(0), 1, ctx.size(2)}, ctx.options());
    row.narrow(2, 0, pooled.size(1)).copy_(pooled.unsqueeze(1));
    return at::cat({ctx, row}, 1);
  }

  bool zero_empty_negative(const ModelInfo& info) const override { return info.force_zeros_for_empty_prompt; }

  Conditioning condition(const ModelInfo& info, const at::Tensor& text, const at::Tensor& sample) const override {
    const int64_t l = info.max_length;
    if (text.dim() != 3 || text.size(1) != l + 1 || text.size(0) != sample.size(0))
      throw Error(info.dir + "/unet/model.pt: text rows are " + tensor_shape_text(text) + ", expected [" +
                  std::to_string(sample.size(0)) + "," + std::to_string(l + 1) + ",D] (the tokens, then the pooled row)");
    Conditioning c;
    c.context = text.narrow(1, 0, l);
    c.pooled = text.select(1, l).narrow(1, 0, info.pooled_dim).contiguous();
    const double h = double(sample.size(2)) * info.vae_scale_factor, w = double(sample.size(3)) * info.vae_scale_factor;
    c.time_ids = at::tensor(std::vector<float>{float(h), float(w), 0.f, 0.f, float(h), float(w)},
                            at::TensorOptions().dtype(at::kFloat))
                     .to(text.device())
                     .unsqueeze(0)
                     .expand({sample.size(0), 6})
                     .contiguous();
    return c;
  }

  std::vector<c10::IValue> denoiser_inputs(const Conditioning& c, at::ScalarType dtype) const override {
    return {c.context.to(dtype), c.pooled.to(dtype), c.time_ids.to(dtype)};
  }
};
}  // namespace

const ModelFamily& sdxl_family() {
  static const SdxlFamily f;
  return f;
}

}  // namespace diffscope
