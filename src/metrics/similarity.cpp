// Correlations, distances, histograms and trapezoid integrals (numpy / scipy / OpenCV definitions).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "diffscope/metrics/metrics.h"
#include "metrics/checks.h"

namespace diffscope::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double pearson_of(std::vector<double> x, std::vector<double> y) {
  detail::require_same_size("pearson", x.size(), y.size());
  if (x.size() < 2) return kNaN;
  const double n = static_cast<double>(x.size());
  const double mx = numpy_sum(x) / n, my = numpy_sum(y) / n;
  std::vector<double> xx(x.size()), yy(x.size()), xy(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] -= mx;
    y[i] -= my;
    xx[i] = x[i] * x[i];
    yy[i] = y[i] * y[i];
    xy[i] = x[i] * y[i];
  }
  const double sxx = numpy_sum(xx), syy = numpy_sum(yy), sxy = numpy_sum(xy);
  if (!(sxx > 0) || !(syy > 0)) return kNaN;
  double r = sxy / std::sqrt(sxx) / std::sqrt(syy);
  return std::clamp(r, -1.0, 1.0);
}

}  // namespace

double pearson(Span<float> a, Span<float> b) { return pearson_of(detail::to_double(a), detail::to_double(b)); }
double pearson(Span<double> a, Span<double> b) { return pearson_of(detail::to_double(a), detail::to_double(b)); }

double spearman(Span<float> a, Span<float> b) {
  detail::require_same_size("spearman", a.size, b.size);
  return pearson_of(rankdata(a), rankdata(b));
}

double mse(Span<float> a, Span<float> b) {
  detail::require_same_size("mse", a.size, b.size);
  detail::require_nonempty("mse", a.size);
  std::vector<double> d(a.size);
  for (size_t i = 0; i < a.size; ++i) {
    double e = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    d[i] = e * e;
  }
  return numpy_sum(d) / static_cast<double>(a.size);
}

double psnr(Span<float> a, Span<float> b, double data_range) {
  double e = mse(a, b);
  if (e == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(data_range * data_range / e);
}

double cosine(Span<float> a, Span<float> b) {
  detail::require_same_size("cosine", a.size, b.size);
  std::vector<double> ab(a.size), aa(a.size), bb(a.size);
  for (size_t i = 0; i < a.size; ++i) {
    double x = a[i], y = b[i];
    ab[i] = x * y;
    aa[i] = x * x;
    bb[i] = y * y;
  }
  const double na = std::sqrt(numpy_sum(aa)), nb = std::sqrt(numpy_sum(bb));
  if (!(na > 0) || !(nb > 0)) return kNaN;
  return numpy_sum(ab) / (na * nb);
}

std::vector<double> histogram(Span<float> values, int bins, double lo, double hi) {
  if (bins <= 0) throw Error("histogram: bin count must be positive", kExitFailure);
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi < lo) {
    throw Error("histogram: range must be finite with lo <= hi", kExitFailure);
  }
  if (lo == hi) lo -= 0.5, hi += 0.5;  // numpy widens an empty range
  // Edges as numpy.linspace computes them; bin index as numpy.histogram's uniform fast path.
  const double step = (hi - lo) / bins;
  std::vector<double> edges(bins + 1);
  for (int i = 0; i <= bins; ++i) edges[i] = static_cast<double>(i) * step + lo;
  edges[bins] = hi;
  const double norm = bins / (hi - lo);
  std::vector<double> counts(bins, 0.0);
  for (float f : values) {
    double v = f;
    if (!(v >= lo && v <= hi)) continue;
    auto idx = static_cast<int64_t>((v - lo) * norm);
    if (idx == bins) --idx;
    if (v < edges[idx]) --idx;
    if (v >= edges[idx + 1] && idx != bins - 1) ++idx;
    counts[idx] += 1;
  }
  return counts;
}

double histogram_correlation(Span<double> h1, Span<double> h2) {
  detail::require_same_size("histogram_correlation", h1.size, h2.size);
  detail::require_nonempty("histogram_correlation", h1.size);
  // cv::compareHist(HISTCMP_CORREL): single-pass sums.
  double s1 = 0, s2 = 0, s11 = 0, s22 = 0, s12 = 0;
  for (size_t i = 0; i < h1.size; ++i) {
    double a = h1[i], b = h2[i];
    s1 += a, s2 += b;
    s11 += a * a, s22 += b * b, s12 += a * b;
  }
  const double scale = 1.0 / static_cast<double>(h1.size);
  const double num = s12 - s1 * s2 * scale;
  const double denom2 = (s11 - s1 * s1 * scale) * (s22 - s2 * s2 * scale);
  return std::abs(denom2) > DBL_EPSILON ? num / std::sqrt(denom2) : 1.0;
}

double trapezoid(Span<double> x, Span<double> y) {
  detail::require_same_size("trapezoid", x.size, y.size);
  if (y.size < 2) return 0.0;
  std::vector<double> t(y.size - 1);
  for (size_t i = 0; i + 1 < y.size; ++i) t[i] = (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0;
  return numpy_sum(t);
}

double trapezoid_dx(Span<double> y, double dx) {
  if (y.size < 2) return 0.0;
  std::vector<double> t(y.size - 1);
  for (size_t i = 0; i + 1 < y.size; ++i) t[i] = dx * (y[i + 1] + y[i]) / 2.0;
  return numpy_sum(t);
}

std::vector<double> minmax_rescale(Span<double> y) {
  std::vector<double> out(y.size, 0.0);
  if (y.size == 0) return out;
  const auto [lo, hi] = std::minmax_element(y.data, y.data + y.size);
  if (!(*hi > *lo)) return out;
  for (size_t i = 0; i < y.size; ++i) out[i] = (y[i] - *lo) / (*hi - *lo);
  return out;
}

}  // namespace diffscope::metrics
