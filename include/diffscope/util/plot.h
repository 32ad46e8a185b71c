// Line plots (axes, ticks, gridlines, legend, title, axis labels), drawn once with cairo and written as PNG, PDF and
// SVG (see figure.h): one paper column, 3.5 x 2.625 in, the PNG at 300 dpi (1050 x 788 px).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "diffscope/util/figure.h"
#include "diffscope/util/image.h"
#include "diffscope/util/palette.h"

namespace diffscope {

/// One line of a plot; points with a non-finite x or y break the line there.
struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<std::string> point_labels;  ///< drawn beside the points when non-empty (empty strings skipped)
  std::optional<Rgb> colour;              ///< empty: series_colour(its index in the plot); a method's or word's
                                          ///< colour (palette.h) where the same thing is drawn in several figures
};

/// Draws `series` as coloured lines (markers too when a series has at most 40 points) on white, with "nice" ticks
/// and gridlines, a legend (when any series has a name), title and axis labels: the one-column figure at
/// width / 252 pixels a point, its height in proportion. Returns an 8-bit BGR image of width x height. Throws Error
/// when a series' x and y differ in length or the size is below 200 x 150.
cv::Mat line_plot(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, int width = 900, int height = 500);

/// The plot's SVG document (cairo's SVG surface; 3.5 x 2.625 in, as write_plot writes it).
std::string line_plot_svg(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                          const std::string& ylabel);

/// Writes `png_path` (300 dpi, 3.5 x 2.625 in) and, beside it, the same plot as `.pdf` and `.svg`.
void write_plot(const std::string& png_path, const std::vector<Series>& series, const std::string& title,
                const std::string& xlabel, const std::string& ylabel);

/// Tick positions covering [lo, hi] at a 1/2/5 x 10^k step, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace diffscope
