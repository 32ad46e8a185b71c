// Colour maps and heatmap overlays.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "util/draw.h"

namespace diffscope {

Colormap parse_colormap(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "turbo") return Colormap::Turbo;
  if (n == "jet") return Colormap::Jet;
  if (n == "viridis") return Colormap::Viridis;
  if (n == "inferno") return Colormap::Inferno;
  if (n == "gray" || n == "grey") return Colormap::Gray;
  throw Error("colour map '" + name + "' is not known (expected turbo, jet, viridis, inferno or gray)");
}

std::string colormap_name(Colormap cm) {
  switch (cm) {
    case Colormap::Turbo: return "turbo";
    case Colormap::Jet: return "jet";
    case Colormap::Viridis: return "viridis";
    case Colormap::Inferno: return "inferno";
    case Colormap::Gray: return "gray";
  }
  return "gray";
}

cv::Mat colorize(const float* map01, int h, int w, Colormap cm) {
  if (h <= 0 || w <= 0) throw Error("colorize: map size must be positive", kExitFailure);
  cv::Mat gray(h, w, CV_8U);
  for (int y = 0; y < h; ++y) {
    auto* row = gray.ptr<uchar>(y);
    for (int x = 0; x < w; ++x) {
      float v = map01[static_cast<size_t>(y) * w + x];
      v = std::isnan(v) ? 0.f : std::min(1.f, std::max(0.f, v));
      row[x] = static_cast<uchar>(std::lround(v * 255.f));
    }
  }
  cv::Mat out;
  switch (cm) {
    case Colormap::Turbo: cv::applyColorMap(gray, out, cv::COLORMAP_TURBO); break;
    case Colormap::Jet: cv::applyColorMap(gray, out, cv::COLORMAP_JET); break;
    case Colormap::Viridis: cv::applyColorMap(gray, out, cv::COLORMAP_VIRIDIS); break;
    case Colormap::Inferno: cv::applyColorMap(gray, out, cv::COLORMAP_INFERNO); break;
    case Colormap::Gray: cv::cvtColor(gray, out, cv::COLOR_GRAY2BGR); break;
  }
  return out;
}

cv::Mat overlay(const cv::Mat& base_bgr, const cv::Mat& heat_bgr, float alpha) {
  if (base_bgr.empty() || heat_bgr.empty()) throw Error("overlay: empty image", kExitFailure);
  cv::Mat base = draw::to_bgr8(base_bgr);
  cv::Mat heat = draw::to_bgr8(heat_bgr);
  if (heat.size() != base.size()) cv::resize(heat, heat, base.size(), 0, 0, cv::INTER_LINEAR);
  float a = std::min(1.f, std::max(0.f, alpha));
  cv::Mat out;
  cv::addWeighted(base, 1.0 - a, heat, a, 0.0, out);
  return out;
}

}  // namespace diffscope
