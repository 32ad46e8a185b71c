// SSIM and its luminance / contrast / structure components, computed as skimage's structural_similarity
// (gaussian_weights=True, sigma=1.5, use_sample_covariance=False) does, via scipy.ndimage's Gaussian filter.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "diffscope/metrics/metrics.h"
#include "metrics/checks.h"

namespace diffscope::metrics {

namespace {

constexpr double kSigma = 1.5, kTruncate = 3.5, kK1 = 0.01, kK2 = 0.03;
constexpr int kRadius = static_cast<int>(kTruncate * kSigma + 0.5);  // 5 -> an 11-tap window

// scipy.ndimage's normalised Gaussian taps exp(-0.5 / sigma^2 * x^2), x = -r..r.
std::vector<double> gaussian_taps() {
  std::vector<double> w(2 * kRadius + 1);
  const double s2 = kSigma * kSigma;
  for (int x = -kRadius; x <= kRadius; ++x) w[x + kRadius] = std::exp(-0.5 / s2 * static_cast<double>(x * x));
  const double sum = numpy_sum(w);
  for (double& v : w) v /= sum;
  return w;
}

// scipy's "reflect" boundary (d c b a | a b c d | d c b a), repeated for short lines.
int reflect(int i, int n) {
  const int period = 2 * n;
  int m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

// scipy.ndimage.correlate1d on one line with a symmetric kernel, in scipy's accumulation order:
// centre tap first, then (x[-j] + x[+j]) * w[j] from the outermost pair inwards.
void filter_line(const double* in, int n, size_t stride, double* out, size_t out_stride, const std::vector<double>& w,
                 std::vector<double>& buf) {
  buf.resize(n + 2 * kRadius);
  for (int i = -kRadius; i < n + kRadius; ++i) buf[i + kRadius] = in[reflect(i, n) * stride];
  const double* c = buf.data() + kRadius;
  const double* fw = w.data() + kRadius;
  for (int i = 0; i < n; ++i) {
    double acc = c[i] * fw[0];
    for (int j = -kRadius; j < 0; ++j) acc += (c[i + j] + c[i - j]) * fw[j];
    out[i * out_stride] = acc;
  }
}

// scipy.ndimage.gaussian_filter on an h x w image: axis 0 (columns) first, then axis 1 (rows).
std::vector<double> gaussian_filter(const std::vector<double>& img, int h, int w, const std::vector<double>& taps) {
  std::vector<double> tmp(img.size()), out(img.size()), buf;
  for (int x = 0; x < w; ++x) filter_line(img.data() + x, h, w, tmp.data() + x, w, taps, buf);
  for (int y = 0; y < h; ++y)
    filter_line(tmp.data() + static_cast<size_t>(y) * w, w, 1, out.data() + static_cast<size_t>(y) * w, 1, taps, buf);
  return out;
}

SsimParts ssim_channel(const std::vector<double>& x, const std::vector<double>& y, int h, int w, double data_range,
                       const std::vector<double>& taps) {
  const size_t n = x.size();
  std::vector<double> xx(n), yy(n), xy(n);
  for (size_t i = 0; i < n; ++i) {
    xx[i] = x[i] * x[i];
    yy[i] = y[i] * y[i];
    xy[i] = x[i] * y[i];
  }
  const std::vector<double> ux = gaussian_filter(x, h, w, taps), uy = gaussian_filter(y, h, w, taps);
  const std::vector<double> uxx = gaussian_filter(xx, h, w, taps), uyy = gaussian_filter(yy, h, w, taps);
  const std::vector<double> uxy = gaussian_filter(xy, h, w, taps);
  const double c1 = (kK1 * data_range) * (kK1 * data_range), c2 = (kK2 * data_range) * (kK2 * data_range);
  const double c3 = c2 / 2;

  // skimage crops (win_size - 1) / 2 pixels on each side before averaging; tiny images keep all pixels.
  const int pad = (h > 2 * kRadius && w > 2 * kRadius) ? kRadius : 0;
  std::vector<double> s, l, c, st;
  for (int r = pad; r < h - pad; ++r) {
    for (int q = pad; q < w - pad; ++q) {
      const size_t i = static_cast<size_t>(r) * w + q;
      const double vx = uxx[i] - ux[i] * ux[i], vy = uyy[i] - uy[i] * uy[i], vxy = uxy[i] - ux[i] * uy[i];
      const double a1 = 2 * ux[i] * uy[i] + c1, a2 = 2 * vxy + c2;
      const double b1 = ux[i] * ux[i] + uy[i] * uy[i] + c1, b2 = vx + vy + c2;
      s.push_back((a1 * a2) / (b1 * b2));
      const double sx = std::sqrt(std::max(vx, 0.0)), sy = std::sqrt(std::max(vy, 0.0));
      l.push_back(a1 / b1);
      c.push_back((2 * sx * sy + c2) / b2);
      st.push_back((vxy + c3) / (sx * sy + c3));
    }
  }
  return {mean(Span<double>(s)), mean(Span<double>(l)), mean(Span<double>(c)), mean(Span<double>(st))};
}

}  // namespace

SsimParts ssim_parts(const float* a, const float* b, int h, int w, int channels, double data_range,
                     bool channels_last) {
  if (h <= 0 || w <= 0 || channels <= 0) {
    throw Error("ssim: image size must be positive (got " + std::to_string(channels) + "x" + std::to_string(h) + "x" +
                    std::to_string(w) + ")",
                kExitFailure);
  }
  if (!(data_range > 0)) throw Error("ssim: data_range must be positive", kExitFailure);
  const std::vector<double> taps = gaussian_taps();
  const size_t plane = static_cast<size_t>(h) * w;
  std::vector<double> ch_ssim, ch_l, ch_c, ch_s;
  std::vector<double> x(plane), y(plane);
  for (int ch = 0; ch < channels; ++ch) {
    for (size_t i = 0; i < plane; ++i) {
      const size_t src = channels_last ? i * channels + ch : ch * plane + i;
      x[i] = a[src];
      y[i] = b[src];
    }
    SsimParts p = ssim_channel(x, y, h, w, data_range, taps);
    ch_ssim.push_back(p.ssim);
    ch_l.push_back(p.luminance);
    ch_c.push_back(p.contrast);
    ch_s.push_back(p.structure);
  }
  return {mean(Span<double>(ch_ssim)), mean(Span<double>(ch_l)), mean(Span<double>(ch_c)), mean(Span<double>(ch_s))};
}

double ssim(const float* a, const float* b, int h, int w, int channels, double data_range, bool channels_last) {
  return ssim_parts(a, b, h, w, channels, data_range, channels_last).ssim;
}

}  // namespace diffscope::metrics
