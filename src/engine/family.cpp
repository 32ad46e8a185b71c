// ModelFamily's defaults (one text tensor in, the whole of it as the denoiser's context) and the table of families.
#include "diffscope/engine/family.h"

#include "families.h"

#include "diffscope/util/error.h"

namespace diffscope {

std::string tensor_shape_text(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "] " + std::string(c10::toString(t.scalar_type()));
}

at::Tensor ModelFamily::text_tensor(const ModelInfo& info, const c10::IValue& out, const std::string& shown) const {
  const int64_t rows = int64_t(info.text_tokens()) + info.pooled_rows;
  const std::string expected = "float [B," + std::to_string(rows) + ",D]" +
                               (info.pooled_rows ? " (the tokens, then the pooled row)" : "");
  if (!out.isTensor()) throw Error(shown + ": returned " + out.tagKind() + ", expected " + expected);
  const at::Tensor t = out.toTensor();
  if (t.dim() != 3 || t.size(1) != rows || !t.is_floating_point())
    throw Error(shown + ": returned " + tensor_shape_text(t) + ", expected " + expected);
  return t;
}

Conditioning ModelFamily::condition(const ModelInfo&, const at::Tensor& text, const at::Tensor&) const {
  Conditioning c;
  c.context = text;  // a transformer export splits its pooled row off inside its traced forward
  return c;
}

std::vector<c10::IValue> ModelFamily::denoiser_inputs(const Conditioning& c, at::ScalarType dtype) const {
  return {c.context.to(dtype)};
}

const ModelFamily& model_family(const ModelInfo& info) {
  const std::string& name = info.traits().name;  // Error for a name the table does not know
  if (name == "unet") return unet_family();
  if (name == "mmdit") return mmdit_family();
  if (name == "sdxl") return sdxl_family();
  throw Error("model family \"" + name + "\" has no implementation (src/engine/family_" + name + ".cpp)", kExitFailure);
}

}  // namespace diffscope
