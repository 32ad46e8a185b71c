// The figure layer: every figure is drawn once (with cairo) and written as PNG (300 dpi at a stated physical size:
// one paper column, 3.5 in, or two, 7.16 in), PDF and SVG beside it; map figures carry a numeric colour bar.
//
// Sizes: line plots 3.5 x 2.625 in (one column); matrix figures one column when their cells fit at 24 pt, else two
// columns, the height following the rows; image grids (word x step heatmaps, compare's filmstrips and difference maps)
// one column when their cells are at least 56 pt (0.78 in) there, else two (cells at most 100 pt, square); a single map
// with its colour bar one column (the map at most 190 pt high).
// Text is DejaVu Sans (fontconfig), unhinted so the three files agree. The same inputs give bit-identical files.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "diffscope/util/image.h"
#include "diffscope/util/palette.h"

namespace diffscope {

constexpr double kOneColumnIn = 3.5, kTwoColumnsIn = 7.16;  ///< paper column widths (inches)
constexpr int kFigureDpi = 300;                             ///< the PNGs' resolution (their pHYs chunk says so)

/// What a map's colours mean: `colormap` spans [lo, hi]; `label` states the normalisation ("per word: min-max to
/// 0-1"), drawn beside the colour bar, whose ticks are numbers.
struct ColourScale {
  Colormap colormap = Colormap::Turbo;
  double lo = 0.0, hi = 1.0;
  std::string label;
};

/// `path` without a trailing ".png" (the stem the .pdf and .svg take).
std::string figure_stem(const std::string& png_path);

/// A labelled grid of images (rows x columns) with an optional colour bar on the right.
struct GridFigure {
  std::vector<std::vector<cv::Mat>> cells;  ///< empty cells are drawn light grey; images letterboxed, aspect kept
  std::vector<std::string> row_labels, col_labels;  ///< either may be empty; else one per row / column ("\n" breaks
                                                    ///< a column label into lines)
  /// A caption above each cell (a filmstrip wrapped into rows: each row's own step labels); empty, or one row of
  /// captions per row of cells, each the length of its row; "\n" breaks a caption into lines.
  std::vector<std::vector<std::string>> cell_labels;
  std::vector<Rgb> col_colours;  ///< empty, or one per column: a swatch under its label (a method's palette colour)
  std::string title;
  std::optional<ColourScale> scale;  ///< the cells' colour scale, when they show a map
  bool nearest = false;              ///< upscale cells by pixel replication (latent-resolution maps)
};

/// Writes `png_path`, and beside it `.pdf` and `.svg`, of the grid. Error when the labels disagree with the cells.
void write_grid_figure(const std::string& png_path, const GridFigure& figure);
/// The grid's PNG rendering (300 dpi) as an 8-bit BGR image, as write_grid_figure writes it.
cv::Mat grid_figure(const GridFigure& figure);

/// `n` cells wrapped into rows of at most `per_row` (`per_row` <= 0: of at most 8); the rows' lengths.
std::vector<size_t> wrap_rows(size_t n, int per_row);

/// One map image (`img`, BGR, already coloured with scale.colormap, perhaps blended over an image) titled, with its
/// colour bar: one column wide. The PNG's resolution is raised above 300 dpi where the image would be drawn with
/// fewer than `min_px` pixels on its longer side.
cv::Mat figure_with_colorbar(const cv::Mat& img, const std::string& title, const ColourScale& scale, int min_px = 256);
/// The same figure written as `png_path` + `.pdf` + `.svg`.
void write_colorbar_figure(const std::string& png_path, const cv::Mat& img, const std::string& title,
                           const ColourScale& scale, int min_px = 256);

}  // namespace diffscope
