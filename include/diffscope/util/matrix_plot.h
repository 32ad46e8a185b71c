// Labelled matrix figures (a value per row x column cell, coloured, annotated, with a numeric colour bar), drawn once
// with cairo and written as PNG (300 dpi), PDF and SVG (see figure.h): one column (3.5 in) wide when the cells fit at
// 24 pt, else two columns (7.16 in); 13 pt a row.
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "diffscope/util/figure.h"
#include "diffscope/util/image.h"

namespace diffscope {

/// A matrix of values to draw: values[row][col]; non-finite cells are drawn grey with "-".
struct MatrixFigure {
  std::vector<std::vector<double>> values;
  std::vector<std::string> row_labels, col_labels;
  std::string title, xlabel, ylabel;
  double lo = 0.0, hi = 1.0;      ///< the colour scale's ends (values outside are clamped in colour only)
  Colormap colormap = Colormap::Viridis;
  bool annotate = true;            ///< print each value ("%.2f") in its cell (where the cells are wide enough)
  std::string scale_label;         ///< what the colour bar shows ("ROC-AUC, fixed 0-1"), beside it
};

/// The figure as an 8-bit BGR image at 300 dpi: row labels left, column labels below, title above, colour bar right.
/// Error when the labels do not match the values' shape or lo >= hi.
cv::Mat matrix_plot(const MatrixFigure& figure);

/// The same figure as an SVG document (cairo's SVG surface).
std::string matrix_plot_svg(const MatrixFigure& figure);

/// Writes `png_path` and, beside it, the `.pdf` and `.svg`, atomically.
void write_matrix_plot(const std::string& png_path, const MatrixFigure& figure);

}  // namespace diffscope
