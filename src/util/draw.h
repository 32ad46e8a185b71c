// Internal image helper shared by the grid and colour-map code (not a public header); text and figures are drawn
// with cairo (util/canvas.h).
#pragma once
#include <opencv2/core.hpp>

namespace diffscope::draw {

/// Any image (8/16-bit or float in [0,1]; 1, 3 or 4 channels) as 8-bit BGR.
cv::Mat to_bgr8(const cv::Mat& img);

}  // namespace diffscope::draw
