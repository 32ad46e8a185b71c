// Single-channel map operations: resizing and min-max normalisation.
#include <algorithm>
#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/image.h"

namespace diffscope {

std::vector<float> resize_map(const float* map, int h, int w, int out_h, int out_w, bool bicubic, bool clamp01) {
  if (h <= 0 || w <= 0 || out_h <= 0 || out_w <= 0) {
    throw Error("resize_map: sizes must be positive (got " + std::to_string(h) + "x" + std::to_string(w) + " -> " +
                    std::to_string(out_h) + "x" + std::to_string(out_w) + ")",
                kExitFailure);
  }
  cv::Mat src(h, w, CV_32F, const_cast<float*>(map));
  std::vector<float> out(static_cast<size_t>(out_h) * out_w);
  cv::Mat dst(out_h, out_w, CV_32F, out.data());
  if (h == out_h && w == out_w) {
    src.copyTo(dst);
  } else {
    cv::resize(src, dst, cv::Size(out_w, out_h), 0, 0, bicubic ? cv::INTER_CUBIC : cv::INTER_LINEAR);
  }
  if (clamp01) {
    for (float& v : out) v = std::min(1.f, std::max(0.f, v));
  }
  return out;
}

void normalize_minmax(std::vector<float>& v) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (float x : v) {
    if (std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  if (!(hi > lo)) {
    std::fill(v.begin(), v.end(), 0.f);
    return;
  }
  const float range = hi - lo;
  for (float& x : v) x = std::isfinite(x) ? (x - lo) / range : 0.f;
}

}  // namespace diffscope
