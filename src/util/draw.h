// Internal drawing helpers shared by the grid and plot code (not a public header).
#pragma once
#include <string>

#include <opencv2/core.hpp>

namespace diffscope::draw {

/// Any image (8/16-bit or float in [0,1]; 1, 3 or 4 channels) as 8-bit BGR.
cv::Mat to_bgr8(const cv::Mat& img);

/// Font used for every label.
constexpr int kFont = 0;  // cv::FONT_HERSHEY_SIMPLEX

/// Size of `text` at `scale` / `thickness` (height includes the baseline).
cv::Size text_size(const std::string& text, double scale, int thickness);

/// `text` shortened with "..." until it fits `max_width` pixels at `scale`.
std::string fit_text(const std::string& text, double scale, int thickness, int max_width);

/// Draws `text` centred on (cx, cy) (its visual centre).
void text_centred(cv::Mat& img, const std::string& text, cv::Point centre, double scale, int thickness,
                  const cv::Scalar& colour);

/// Draws `text` with its left edge at x, vertically centred on y.
void text_left(cv::Mat& img, const std::string& text, cv::Point left_mid, double scale, int thickness,
               const cv::Scalar& colour);

/// "#rrggbb" for a BGR colour.
std::string svg_colour(const cv::Scalar& bgr);

}  // namespace diffscope::draw
