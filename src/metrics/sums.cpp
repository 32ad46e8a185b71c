// numpy-order summation, means and standard deviations.
#include <algorithm>
#include <cmath>
#include <limits>

#include "diffscope/metrics/metrics.h"
#include "metrics/checks.h"

namespace diffscope::metrics {

namespace {

// numpy's pairwise_sum (umath loops): plain loop below 8, eight accumulators up to 128, halves above.
double pairwise_sum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

constexpr size_t kNumpyBuffer = 8192;  // numpy reduces in buffer-sized chunks

template <typename T>
double moment_std(Span<T> v, int ddof) {
  const double n = static_cast<double>(v.size);
  if (v.size == 0 || n - ddof <= 0) return std::numeric_limits<double>::quiet_NaN();
  std::vector<double> d = detail::to_double(v);
  const double m = numpy_sum(d) / n;
  for (double& x : d) {
    x -= m;
    x *= x;
  }
  return std::sqrt(numpy_sum(d) / (n - ddof));
}

}  // namespace

double numpy_sum(Span<double> v) {
  double acc = 0.;
  for (size_t i = 0; i < v.size; i += kNumpyBuffer) {
    acc += pairwise_sum(v.data + i, std::min(kNumpyBuffer, v.size - i));
  }
  return acc;
}

double mean(Span<double> v) {
  if (v.size == 0) return std::numeric_limits<double>::quiet_NaN();
  return numpy_sum(v) / static_cast<double>(v.size);
}

double mean(Span<float> v) {
  std::vector<double> d = detail::to_double(v);
  return mean(Span<double>(d));
}

double stddev(Span<float> v, int ddof) { return moment_std(v, ddof); }
double stddev(Span<double> v, int ddof) { return moment_std(v, ddof); }

}  // namespace diffscope::metrics
