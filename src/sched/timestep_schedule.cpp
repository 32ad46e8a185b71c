// Exponential early/late timestep schedules.
#include "diffscope/sched/timestep_schedule.h"

#include <cmath>

#include "diffscope/util/error.h"

namespace diffscope {

std::vector<int64_t> exponential_timesteps(const std::string& kind, double lambda, int steps, int T) {
  if (kind != "early" && kind != "late") throw Error("--timestep-schedule: kind must be early or late, got " + kind);
  if (!(lambda > 0) || lambda > 50) throw Error("--timestep-schedule: lambda must be in (0, 50]");
  if (steps < 2 || steps > T) throw Error("--steps: an exponential schedule needs 2.." + std::to_string(T) + " steps");
  auto g = [&](double u) { return (std::exp(lambda * u) - 1.0) / (std::exp(lambda) - 1.0); };
  std::vector<int64_t> t;
  for (int i = 0; i < steps; ++i) {
    const double u = double(i) / (steps - 1);
    const double v = kind == "early" ? (T - 1) * (1.0 - g(u)) : (T - 1) * g(1.0 - u);
    t.push_back(static_cast<int64_t>(std::llround(v)));
  }
  // strictly descending: push collisions down, then keep within 0..T-1 from the end
  for (size_t i = 1; i < t.size(); ++i)
    if (t[i] >= t[i - 1]) t[i] = t[i - 1] - 1;
  for (size_t i = t.size(); i-- > 0;) {
    const int64_t floor_i = static_cast<int64_t>(t.size() - 1 - i);
    if (t[i] < floor_i) t[i] = floor_i;
    if (i + 1 < t.size() && t[i] <= t[i + 1]) t[i] = t[i + 1] + 1;
  }
  return t;
}

std::vector<int64_t> timesteps_from_spec(const std::string& spec, int steps, int T) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos) throw Error("--timestep-schedule " + spec + ": expected early:LAMBDA or late:LAMBDA");
  double lambda = 0;
  try {
    lambda = std::stod(spec.substr(colon + 1));
  } catch (const std::exception&) {
    throw Error("--timestep-schedule " + spec + ": LAMBDA must be a number");
  }
  return exponential_timesteps(spec.substr(0, colon), lambda, steps, T);
}

}  // namespace diffscope
