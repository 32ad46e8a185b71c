// Internal drawing helpers: conversion to BGR and text placement with OpenCV's Hershey font.
#include "util/draw.h"

#include <cstdio>
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

cv::Size text_size(const std::string& text, double scale, int thickness) {
  int baseline = 0;
  cv::Size s = cv::getTextSize(text, kFont, scale, thickness, &baseline);
  return {s.width, s.height + baseline};
}

std::string fit_text(const std::string& text, double scale, int thickness, int max_width) {
  if (text_size(text, scale, thickness).width <= max_width) return text;
  std::string t = text;
  while (!t.empty() && text_size(t + "...", scale, thickness).width > max_width) t.pop_back();
  return t.empty() ? std::string() : t + "...";
}

void text_centred(cv::Mat& img, const std::string& text, cv::Point centre, double scale, int thickness,
                  const cv::Scalar& colour) {
  int baseline = 0;
  cv::Size s = cv::getTextSize(text, kFont, scale, thickness, &baseline);
  cv::putText(img, text, {centre.x - s.width / 2, centre.y + s.height / 2}, kFont, scale, colour, thickness,
              cv::LINE_AA);
}

void text_left(cv::Mat& img, const std::string& text, cv::Point left_mid, double scale, int thickness,
               const cv::Scalar& colour) {
  int baseline = 0;
  cv::Size s = cv::getTextSize(text, kFont, scale, thickness, &baseline);
  cv::putText(img, text, {left_mid.x, left_mid.y + s.height / 2}, kFont, scale, colour, thickness, cv::LINE_AA);
}

std::string svg_colour(const cv::Scalar& bgr) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(bgr[2]), int(bgr[1]), int(bgr[0]));
  return buf;
}

}  // namespace diffscope::draw
