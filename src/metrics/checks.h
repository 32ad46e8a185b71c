// Internal input checks and conversions shared by the metrics (not a public header).
#pragma once
#include <string>
#include <vector>

#include "diffscope/util/error.h"
#include "diffscope/metrics/metrics.h"

namespace diffscope::metrics::detail {

/// Throws Error "<what>: inputs differ in length (a vs b)" unless a == b.
inline void require_same_size(const char* what, size_t a, size_t b) {
  if (a != b) {
    throw Error(std::string(what) + ": inputs differ in length (" + std::to_string(a) + " vs " + std::to_string(b) +
                    ")",
                kExitFailure);
  }
}

/// Throws Error "<what>: no values" when n == 0.
inline void require_nonempty(const char* what, size_t n) {
  if (n == 0) throw Error(std::string(what) + ": no values", kExitFailure);
}

template <typename T>
std::vector<double> to_double(Span<T> v) {
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace diffscope::metrics::detail
