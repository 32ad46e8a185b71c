// Labelled matrix figures: one drawing routine (cairo, see canvas.h) rendered as PNG, PDF and SVG (see matrix_plot.h).
#include "diffscope/util/matrix_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "diffscope/util/error.h"
#include "util/canvas.h"

namespace diffscope {

namespace {

using fig::Anchor;
using fig::Canvas;
using fig::Font;

constexpr Font kTitleFont = fig::kMapTitleFont, kLabelFont = fig::kMapLabelFont;
constexpr double kMinCellW = 24, kCellH = 13, kBarW = 6;

void check(const MatrixFigure& f) {
  if (f.values.size() != f.row_labels.size())
    throw Error("matrix figure \"" + f.title + "\": " + std::to_string(f.values.size()) + " rows of values but " +
                std::to_string(f.row_labels.size()) + " row labels", kExitFailure);
  for (const auto& r : f.values)
    if (r.size() != f.col_labels.size())
      throw Error("matrix figure \"" + f.title + "\": a row of " + std::to_string(r.size()) + " values for " +
                  std::to_string(f.col_labels.size()) + " column labels", kExitFailure);
  if (!(f.lo < f.hi)) throw Error("matrix figure \"" + f.title + "\": colour scale needs lo < hi", kExitFailure);
}

/// Geometry in points: the page is one column wide when the cells fit at kMinCellW, else two columns.
struct Layout {
  double width = 0, height = 0, left = 0, top = 0, cell_w = 0, cell_h = kCellH, bar_x = 0, bar_h = 0;
  double col_label_h = 0;
  bool rotate_cols = false;
  Font cell_font{6.0, false};
  bool annotate = true;
};

ColourScale scale_of(const MatrixFigure& f) { return {f.colormap, f.lo, f.hi, f.scale_label}; }

Layout layout(const MatrixFigure& f) {
  Layout l;
  const double rows = static_cast<double>(f.values.size()), cols = static_cast<double>(f.col_labels.size());
  double label_w = 0, col_label_w = 0;
  for (const auto& s : f.row_labels) label_w = std::max(label_w, fig::text_width(s, kLabelFont));
  for (const auto& s : f.col_labels) col_label_w = std::max(col_label_w, fig::text_width(s, kLabelFont));
  label_w = std::min(label_w, 90.0);
  l.left = 4 + (f.ylabel.empty() ? 0 : kLabelFont.size * 1.4) + label_w + 3;
  l.bar_h = std::max(rows * kCellH, 60.0);
  const double bar_total = 8 + Canvas::colour_bar_width(kBarW, l.bar_h, scale_of(f)) + 4;
  const double natural = l.left + std::max(1.0, cols) * kMinCellW + bar_total;
  l.width = (natural <= kOneColumnIn * fig::kPtPerIn ? kOneColumnIn : kTwoColumnsIn) * fig::kPtPerIn;
  l.cell_w = (l.width - l.left - bar_total) / std::max(1.0, cols);
  l.cell_w = std::max(l.cell_w, 4.0);
  // column labels wider than their cells stand upright
  l.rotate_cols = col_label_w > l.cell_w - 2;
  l.col_label_h = l.rotate_cols ? std::min(col_label_w, 60.0) + 3 : kLabelFont.size * 1.4;
  const double title_h = f.title.empty() ? 0 : static_cast<double>(fig::wrap(f.title, kTitleFont, l.width - 8).size()) *
                                                   kTitleFont.size * 1.25;
  l.top = 4 + title_h + 4;
  l.bar_x = l.left + cols * l.cell_w + 8;
  const double bottom = l.col_label_h + (f.xlabel.empty() ? 0 : kLabelFont.size * 1.5) + 4;
  l.height = std::max(l.top + rows * kCellH + bottom, l.top + l.bar_h + 6);
  // the values in the cells, smaller where the cells are narrow, left out where they would not read
  l.cell_font.size = std::min(6.0, 6.0 * (l.cell_w - 2) / std::max(1.0, fig::text_width("0.00", {6.0, false})));
  l.annotate = f.annotate && l.cell_font.size >= 4.0;
  return l;
}

Rgb colour_of(const MatrixFigure& f, double v) {
  if (!std::isfinite(v)) return {200, 200, 200};
  const float u = static_cast<float>(std::clamp((v - f.lo) / (f.hi - f.lo), 0.0, 1.0));
  const cv::Vec3b b = colorize(&u, 1, 1, f.colormap).at<cv::Vec3b>(0, 0);
  return {b[2], b[1], b[0]};
}

/// Black or white text, whichever reads on the cell's colour.
Rgb ink_on(Rgb bg) { return 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b > 140 ? fig::kInk : fig::kWhite; }

std::string cell_text(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

void draw_matrix(Canvas& c, const MatrixFigure& f, const Layout& l) {
  if (!f.title.empty()) c.title(f.title, 4, kTitleFont);
  const size_t rows = f.values.size(), cols = f.col_labels.size();
  const double label_w = l.left - 3 - 4 - (f.ylabel.empty() ? 0 : kLabelFont.size * 1.4);
  for (size_t r = 0; r < rows; ++r) {
    const double y = l.top + static_cast<double>(r) * l.cell_h;
    c.text(fig::fit(f.row_labels[r], kLabelFont, label_w), l.left - 3, y + l.cell_h / 2, kLabelFont, Anchor::Right);
    for (size_t col = 0; col < cols; ++col) {
      const double v = f.values[r][col];
      const Rgb bg = colour_of(f, v);
      const double x = l.left + static_cast<double>(col) * l.cell_w;
      c.fill_rect(x, y, l.cell_w, l.cell_h, bg);
      if ((l.annotate || !std::isfinite(v)) && l.cell_font.size >= 3)
        c.text(cell_text(v), x + l.cell_w / 2, y + l.cell_h / 2, l.cell_font, Anchor::Centre, ink_on(bg));
    }
  }
  const double grid_bottom = l.top + static_cast<double>(rows) * l.cell_h;
  for (size_t col = 0; col < cols; ++col) {
    const double x = l.left + (static_cast<double>(col) + 0.5) * l.cell_w;
    if (l.rotate_cols)
      c.text(fig::fit(f.col_labels[col], kLabelFont, 60), x, grid_bottom + 3, kLabelFont, Anchor::Right, fig::kInk, 90);
    else
      c.text(f.col_labels[col], x, grid_bottom + kLabelFont.size * 0.75, kLabelFont, Anchor::Centre);
  }
  if (!f.xlabel.empty())
    c.text(fig::fit(f.xlabel, kLabelFont, l.width - l.left), l.left + static_cast<double>(cols) * l.cell_w / 2,
           grid_bottom + l.col_label_h + kLabelFont.size * 0.8, kLabelFont, Anchor::Centre);
  if (!f.ylabel.empty())
    c.text(fig::fit(f.ylabel, kLabelFont, std::max(l.bar_h, static_cast<double>(rows) * l.cell_h)),
           4 + kLabelFont.size * 0.5, l.top + static_cast<double>(rows) * l.cell_h / 2, kLabelFont, Anchor::Centre,
           fig::kInk, 90);
  c.colour_bar(l.bar_x, l.top, kBarW, l.bar_h, scale_of(f));
}

}  // namespace

cv::Mat matrix_plot(const MatrixFigure& f) {
  check(f);
  const Layout l = layout(f);
  return fig::render_bgr(l.width, l.height, kFigureDpi / fig::kPtPerIn, [&](Canvas& c) { draw_matrix(c, f, l); });
}

std::string matrix_plot_svg(const MatrixFigure& f) {
  check(f);
  const Layout l = layout(f);
  return fig::render_svg(l.width, l.height, [&](Canvas& c) { draw_matrix(c, f, l); });
}

void write_matrix_plot(const std::string& png_path, const MatrixFigure& f) {
  check(f);
  const Layout l = layout(f);
  fig::write_figure(png_path, l.width, l.height, [&](Canvas& c) { draw_matrix(c, f, l); }, f.title);
}

}  // namespace diffscope
