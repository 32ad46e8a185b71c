// The --scheduler help text, from the scheduler name table (every command lists the same names).
#pragma once
#include <string>

#include "diffscope/sched/scheduler_names.h"

namespace diffscope::cli {

/// "ddim, ddpm, pndm (PNDM/PLMS), ..., flow_euler (flow-matching Euler, SD3/Flux)" + `tail`.
inline std::string scheduler_help(const std::string& tail) {
  std::string s;
  for (const auto& spec : scheduler_specs())
    s += (s.empty() ? "" : ", ") + spec.name + (spec.description.empty() ? "" : " (" + spec.description + ")");
  return s + tail;
}

}  // namespace diffscope::cli
