// The UNet family (SD 1.x/2.x, format_version 1): text_encoder/model.pt returns the context [B,77,D] and the UNet
// takes it as it is; classifier-free guidance with the encoding of the negative prompt ("" included).
#include "families.h"

namespace diffscope {
namespace {
class UnetFamily final : public ModelFamily {
 public:
  const FamilyTraits& traits() const override { return family_traits("unet"); }
};
}  // namespace

const ModelFamily& unet_family() {
  static const UnetFamily f;
  return f;
}

}  // namespace diffscope
