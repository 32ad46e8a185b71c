// The paper's exponential timestep schedules: steps packed early (semantic) or late (detail).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffscope {

/// u_i = i/(N-1), g(u) = (e^(lambda u) - 1) / (e^lambda - 1).
/// "early": t_i = round((T-1)(1 - g(u_i)))   -- small decrements first: steps packed at high noise (layout, semantics)
/// "late":  t_i = round((T-1) g(1 - u_i))    -- large decrements first: steps packed at low noise (detail)
/// lambda > 0 sets the strength (-> 0: evenly spaced). Descending, unique, within 0..T-1; Error on bad input.
std::vector<int64_t> exponential_timesteps(const std::string& kind, double lambda, int steps, int num_train_timesteps);

/// "early:LAMBDA" / "late:LAMBDA" (the --timestep-schedule option).
std::vector<int64_t> timesteps_from_spec(const std::string& spec, int steps, int num_train_timesteps);

}  // namespace diffscope
