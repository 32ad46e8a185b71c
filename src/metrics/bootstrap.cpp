// The percentile bootstrap interval of a mean (see metrics.h), reproducible in numpy with the same index stream.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "diffscope/metrics/metrics.h"

namespace diffscope::metrics {

namespace {
uint64_t splitmix64(uint64_t& state) {
  state += 0x9E3779B97F4A7C15ull;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// numpy.percentile's default (linear) on sorted values, q in [0, 1].
double percentile_sorted(const std::vector<double>& s, double q) {
  const double pos = q * static_cast<double>(s.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, s.size() - 1);
  const double t = pos - static_cast<double>(lo);
  return t >= 0.5 ? s[hi] - (s[hi] - s[lo]) * (1.0 - t) : s[lo] + (s[hi] - s[lo]) * t;  // numpy's _lerp
}
}  // namespace

Interval bootstrap_mean_interval(Span<double> v, int resamples, uint64_t seed, double level) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (v.size < 2 || resamples < 1 || !(level > 0.0 && level < 1.0)) return {nan, nan};
  std::vector<double> means(static_cast<size_t>(resamples)), sample(v.size);
  uint64_t state = seed;
  for (auto& m : means) {
    for (auto& x : sample) x = v.data[splitmix64(state) % v.size];
    m = mean(sample);
  }
  std::sort(means.begin(), means.end());
  return {percentile_sorted(means, (1.0 - level) / 2), percentile_sorted(means, (1.0 + level) / 2)};
}

}  // namespace diffscope::metrics
