// Palette segmentation and the contour shape test (the same rule as scripts/shapes/shapes_concepts.py).
#include "diffscope/analysis/segmentation.h"

#include <cmath>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "diffscope/util/json_util.h"

namespace fs = std::filesystem;

namespace diffscope {

Concepts Concepts::load(const std::string& path) {
  const auto j = read_json_object(path);
  Concepts c;
  try {
    for (const auto& [name, rgb] : j.at("palette").items()) {
      auto v = rgb.get<std::vector<int>>();
      if (v.size() != 3) throw Error(path + ": palette colour " + name + " must be [r, g, b]");
      c.palette.emplace_back(name, cv::Vec3b(static_cast<uchar>(v[0]), static_cast<uchar>(v[1]), static_cast<uchar>(v[2])));
    }
    c.shapes = j.at("shapes").get<std::vector<std::string>>();
    c.colour_tolerance = j.value("colour_tolerance", c.colour_tolerance);
    c.min_area = j.value("min_area", c.min_area);
    if (j.contains("shape_test")) {
      c.square_min_extent = j["shape_test"].value("square_min_extent", c.square_min_extent);
      c.circle_min_extent = j["shape_test"].value("circle_min_extent", c.circle_min_extent);
    }
    if (j.contains("sizes") && j["sizes"].contains("small"))
      c.small_max_area = j["sizes"]["small"].value("max_area", c.small_max_area);
    if (j.contains("word_classes"))
      for (const auto& [k, v] : j["word_classes"].items()) c.word_classes[k] = v.get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": expected {\"palette\": {colour: [r,g,b]}, \"shapes\": [...]} (" +
                std::string(e.what()).substr(0, 80) + ")");
  }
  if (!(c.colour_tolerance >= 0) || !std::isfinite(c.colour_tolerance))
    throw Error(path + ": \"colour_tolerance\" must be a finite number >= 0, got " + std::to_string(c.colour_tolerance));
  if (c.min_area < 0) throw Error(path + ": \"min_area\" must be >= 0, got " + std::to_string(c.min_area));
  if (c.word_classes.empty()) {
    for (const auto& [n, _] : c.palette) c.word_classes["colour"].push_back(n);
    c.word_classes["shape"] = c.shapes;
  }
  return c;
}

std::string Concepts::word_class(const std::string& word) const {
  for (const auto& [cls, words] : word_classes)
    for (const auto& w : words)
      if (w == word) return cls;
  return "";
}

std::vector<SegmentedObject> segment_image(const cv::Mat& bgr, const Concepts& c) {
  const int H = bgr.rows, W = bgr.cols;
  cv::Mat label(H, W, CV_32S, cv::Scalar(-1));
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      double best = 1e30;
      int arg = -1;
      for (size_t k = 0; k < c.palette.size(); ++k) {
        const cv::Vec3b& q = c.palette[k].second;  // RGB
        const double dr = double(p[2]) - q[0], dg = double(p[1]) - q[1], db = double(p[0]) - q[2];
        const double d = std::sqrt(dr * dr + dg * dg + db * db);
        if (d < best) {
          best = d;
          arg = static_cast<int>(k);
        }
      }
      if (best < c.colour_tolerance) label.at<int>(y, x) = arg;
    }
  std::vector<SegmentedObject> out;
  for (size_t k = 0; k < c.palette.size(); ++k) {
    cv::Mat m = (label == static_cast<int>(k));
    cv::Mat comps, stats, cents;
    const int n = cv::connectedComponentsWithStats(m, comps, stats, cents, 8, CV_32S);
    for (int i = 1; i < n; ++i) {
      const int area = stats.at<int>(i, cv::CC_STAT_AREA);
      if (area < c.min_area) continue;
      const double box = double(stats.at<int>(i, cv::CC_STAT_WIDTH)) * stats.at<int>(i, cv::CC_STAT_HEIGHT);
      const double extent = area / box;
      SegmentedObject o;
      o.colour = c.palette[k].first;
      o.shape = extent >= c.square_min_extent ? "square" : extent >= c.circle_min_extent ? "circle" : "triangle";
      o.area = area;
      o.centroid = {cents.at<double>(i, 0), cents.at<double>(i, 1)};
      o.mask = (comps == i);
      out.push_back(o);
    }
  }
  return out;
}

std::map<std::string, cv::Mat> masks_from_concepts(const std::vector<SegmentedObject>& objects,
                                                   const std::vector<std::string>& words, const Concepts& c,
                                                   cv::Size size) {
  std::map<std::string, cv::Mat> out;
  for (const auto& w : words) {
    const std::string cls = c.word_class(w);
    if (cls.empty()) continue;
    cv::Mat m = cv::Mat::zeros(size, CV_8U);
    bool any_rule = true;
    for (const auto& o : objects) {
      bool hit = false;
      if (cls == "colour") hit = o.colour == w;
      else if (cls == "shape") hit = o.shape == w;
      else if (cls == "size") hit = (w == "small") == (o.area <= c.small_max_area);
      else if (cls == "position")
        hit = (w == "left" && o.centroid.x < size.width / 2.0) || (w == "right" && o.centroid.x >= size.width / 2.0) ||
              (w == "top" && o.centroid.y < size.height / 2.0) || (w == "bottom" && o.centroid.y >= size.height / 2.0);
      else any_rule = false;
      if (hit) m.setTo(255, o.mask);
    }
    if (any_rule) out[w] = m;  // an all-zero mask means "the image lacks it": scored (AUC undefined -> NaN)
  }
  return out;
}

std::map<std::string, cv::Mat> masks_from_dir(const std::string& dir, const std::vector<std::string>& words,
                                              cv::Size size) {
  if (!fs::is_directory(dir)) throw Error("--masks " + dir + ": not a folder (expected one <word>.png per word)");
  std::map<std::string, cv::Mat> out;
  for (const auto& w : words) {
    const fs::path p = fs::path(dir) / (w + ".png");
    if (!fs::exists(p)) continue;
    cv::Mat m;
    try {  // read_image keeps libpng's own complaints off stderr and says in one line why it failed
      m = read_image(p.string(), cv::IMREAD_GRAYSCALE);
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + " (expected a grey-scale mask)");
    }
    if (m.size() != size) cv::resize(m, m, size, 0, 0, cv::INTER_NEAREST);
    out[w] = m > 127;
  }
  return out;
}

}  // namespace diffscope
