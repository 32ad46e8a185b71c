// The joint-attention transformer family (format_version 2): SD3 (CLIP rows, then T5's) and Flux (T5's rows, CLIP's
// pooled vector) as variants of model_index.json's keys. The text encoder returns the token rows, then the pooled
// row; the traced transformer splits that row off itself, so the text tensor goes in whole. FLUX.1-dev's distilled
// guidance is a model input: the scale is written into the pooled row (model_index.json "guidance_index").
#include "families.h"

#include "diffscope/util/error.h"

namespace diffscope {
namespace {
class MmditFamily final : public ModelFamily {
 public:
  const FamilyTraits& traits() const override { return family_traits("mmdit"); }

  void set_guidance(const ModelInfo& info, at::Tensor& text, double scale) const override {
    if (info.guidance != "distilled") return;  // FluxPipeline: torch.full([1], guidance_scale) beside the pooled vector
    if (info.guidance_index >= text.size(2))
      throw Error(info.dir + "/model_index.json: \"guidance_index\" " + std::to_string(info.guidance_index) +
                  " is outside the text encoder's rows of width " + std::to_string(text.size(2)));
    text.select(1, text.size(1) - 1).select(1, info.guidance_index).fill_(scale);
  }
};
}  // namespace

const ModelFamily& mmdit_family() {
  static const MmditFamily f;
  return f;
}

}  // namespace diffscope
