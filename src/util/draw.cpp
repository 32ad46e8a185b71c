// Internal image helper: conversion to 8-bit BGR.
#include "util/draw.h"

#include <opencv2/imgproc.hpp>

namespace diffscope::draw {

cv::Mat to_bgr8(const cv::Mat& img) {
  cv::Mat m = img;
  if (m.depth() != CV_8U) {
    double scale = m.depth() == CV_16U ? 1.0 / 257.0 : (m.depth() == CV_32F || m.depth() == CV_64F ? 255.0 : 1.0);
    m.convertTo(m, CV_8U, scale);
  }
  if (m.channels() == 1) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR);
  else if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2BGR);
  return m;
}

}  // namespace diffscope::draw
