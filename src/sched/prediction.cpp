// Prediction types by their diffusers names (see prediction.h); LibTorch-free.
#include "diffscope/sched/prediction.h"

#include "diffscope/util/error.h"

namespace diffscope {

Prediction parse_prediction(const std::string& name, const std::string& where) {
  if (name == "epsilon") return Prediction::Epsilon;
  if (name == "v_prediction") return Prediction::V;
  if (name == "sample") return Prediction::Sample;
  if (name == "flow") return Prediction::Flow;
  throw Error(where + ": prediction_type must be \"epsilon\", \"v_prediction\", \"sample\" or \"flow\", got \"" + name +
              "\"");
}

const char* prediction_name(Prediction p) {
  switch (p) {
    case Prediction::Epsilon: return "epsilon";
    case Prediction::V: return "v_prediction";
    case Prediction::Sample: return "sample";
    case Prediction::Flow: return "flow";
  }
  return "?";
}

}  // namespace diffscope
