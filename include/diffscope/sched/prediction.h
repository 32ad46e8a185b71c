// What a denoiser predicts (diffusers' prediction_type), parsed once where it is read.
#pragma once
#include <string>

namespace diffscope {

/// What the denoiser predicts (diffusers' prediction_type).
/// Flow: the velocity noise - x0 of rectified flow (SD3, Flux; x_t = (1 - sigma) x0 + sigma noise).
enum class Prediction { Epsilon, V, Sample, Flow };

/// "epsilon", "v_prediction", "sample", "flow" -> Prediction; Error naming `where` and the expected values otherwise.
Prediction parse_prediction(const std::string& name, const std::string& where);
/// The diffusers name of a prediction type.
const char* prediction_name(Prediction p);

}  // namespace diffscope
