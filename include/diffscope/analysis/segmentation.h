// Ground-truth masks for scoring heatmaps: a --masks folder (one PNG per word), or segmentation of a generated
// image with the model's concepts.json (palette colours + a contour shape test).
#pragma once
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace diffscope {

/// concepts.json: palette colours, shape names and the thresholds of the shape test.
struct Concepts {
  std::vector<std::pair<std::string, cv::Vec3b>> palette;  ///< colour word -> RGB
  std::vector<std::string> shapes;
  double colour_tolerance = 70.0, square_min_extent = 0.86, circle_min_extent = 0.66;
  int min_area = 12, small_max_area = 420;
  std::map<std::string, std::vector<std::string>> word_classes;  ///< class -> words (colour, shape, size, position)

  static Concepts load(const std::string& path);
  /// The class of a word ("colour", "shape", ...) or "" when concepts.json does not name it.
  std::string word_class(const std::string& word) const;
};

/// One segmented object of a generated image.
struct SegmentedObject {
  std::string colour, shape;
  int area = 0;
  cv::Point2d centroid;
  cv::Mat mask;  ///< CV_8U, 255 inside
};

/// Pixels within colour_tolerance of a palette colour, split into connected components (>= min_area); each is a
/// shape by its extent (area / bounding box): square, circle, else triangle.
std::vector<SegmentedObject> segment_image(const cv::Mat& bgr, const Concepts& c);

/// Word -> mask (CV_8U 0/255) for every word concepts.json can ground: colour words -> that colour's objects,
/// shape words -> objects of that shape, small/large -> objects by area, left/right/top/bottom -> objects in
/// that half. Words it cannot ground are absent (unscored, never scored against nothing).
std::map<std::string, cv::Mat> masks_from_concepts(const std::vector<SegmentedObject>& objects,
                                                   const std::vector<std::string>& words, const Concepts& c,
                                                   cv::Size size);

/// `<dir>/<word>.png` for each word that has one (resized with nearest neighbour to `size`, > 127 inside).
std::map<std::string, cv::Mat> masks_from_dir(const std::string& dir, const std::vector<std::string>& words,
                                              cv::Size size);

}  // namespace diffscope
