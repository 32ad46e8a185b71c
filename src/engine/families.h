// The family objects (one file each: family_unet.cpp, family_mmdit.cpp, family_sdxl.cpp), named in
// model_family()'s table (family.cpp). Add a family: its row in model_info.cpp's kFamilies, its file, its line here.
#pragma once
#include "diffscope/engine/family.h"

namespace diffscope {

const ModelFamily& unet_family();
const ModelFamily& mmdit_family();
const ModelFamily& sdxl_family();

/// "[2,77,48] Float": a tensor's shape and dtype, for error messages.
std::string tensor_shape_text(const at::Tensor& t);

}  // namespace diffscope
