// Line plots drawn with OpenCV (axes, ticks, gridlines, legend, title, axis labels).
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "diffscope/util/image.h"

namespace diffscope {

/// One line of a plot; points with a non-finite x or y break the line there.
struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<std::string> point_labels;  ///< drawn beside the points when non-empty (empty strings skipped)
};

/// Draws `series` as coloured lines (markers too when a series has at most 40 points) on white, with
/// "nice" ticks and gridlines, a legend (when any series has a name), title and axis labels.
/// Returns an 8-bit BGR image of width x height. Throws Error when a series' x and y differ in length
/// or the size is below 200 x 150.
cv::Mat line_plot(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, int width = 900, int height = 500);

/// A figure for a paper: `img` (BGR) upscaled bicubically so that its longer side is at least `min_px`, a title
/// above, and on the right a colour bar of `cm` labelled `lo_label` at the bottom and `hi_label` at the top.
cv::Mat figure_with_colorbar(const cv::Mat& img, const std::string& title, Colormap cm, int min_px = 256,
                             const std::string& lo_label = "0", const std::string& hi_label = "1");

/// The same plot as SVG text (vector, for papers): axes, ticks, gridlines, lines, markers, legend, title, labels.
std::string line_plot_svg(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                          const std::string& ylabel, int width = 900, int height = 500);

/// Writes `png_path` (line_plot) and, beside it, the same plot as SVG (`.png` replaced by `.svg`).
void write_plot(const std::string& png_path, const std::vector<Series>& series, const std::string& title,
                const std::string& xlabel, const std::string& ylabel);

/// Tick positions covering [lo, hi] at a 1/2/5 x 10^k step, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace diffscope
