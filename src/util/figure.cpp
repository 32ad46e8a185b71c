// Image-grid and single-map figures with colour bars, drawn once with cairo and written as PNG + PDF + SVG (figure.h).
#include "diffscope/util/figure.h"

#include <algorithm>
#include <cmath>

#include "diffscope/util/error.h"
#include "util/canvas.h"

namespace diffscope {

namespace {

using fig::Anchor;
using fig::Canvas;
using fig::Font;

constexpr Font kTitleFont = fig::kMapTitleFont, kLabelFont = fig::kMapLabelFont;
constexpr double kBarW = 6, kMaxCell = 100, kMinOneColumnCell = 56, kGap = 1.5;

void check(const GridFigure& f) {
  const size_t rows = f.cells.size();
  size_t cols = f.col_labels.size();
  for (const auto& r : f.cells) cols = std::max(cols, r.size());
  if (rows == 0 || cols == 0) throw Error("grid figure: no cells to draw", kExitFailure);
  if (!f.row_labels.empty() && f.row_labels.size() != rows)
    throw Error("grid figure: " + std::to_string(f.row_labels.size()) + " row labels for " + std::to_string(rows) +
                    " rows", kExitFailure);
  if (!f.col_labels.empty())
    for (const auto& r : f.cells)
      if (r.size() != f.col_labels.size())
        throw Error("grid figure: " + std::to_string(f.col_labels.size()) + " column labels but a row has " +
                        std::to_string(r.size()) + " cells", kExitFailure);
  if (f.scale && !(f.scale->lo < f.scale->hi))
    throw Error("grid figure \"" + f.title + "\": colour scale needs lo < hi", kExitFailure);
}

struct GridLayout {
  double width = 0, height = 0, left = 0, top = 0, header = 0, cell = 0, bar_x = 0, grid_h = 0;
  size_t rows = 0, cols = 0;
};

GridLayout grid_layout(const GridFigure& f) {
  GridLayout l;
  l.rows = f.cells.size();
  l.cols = f.col_labels.size();
  for (const auto& r : f.cells) l.cols = std::max(l.cols, r.size());
  double label_w = 0;
  for (const auto& s : f.row_labels) label_w = std::max(label_w, fig::text_width(s, kLabelFont));
  l.left = f.row_labels.empty() ? 2 : std::min(label_w, 80.0) + 6;
  const double bar_total = f.scale ? 6 + Canvas::colour_bar_width(kBarW, 100, *f.scale) + 3 : 2;
  const double n = static_cast<double>(l.cols);
  // one column when its cells would be at least kMinOneColumnCell (0.78 in), else two
  const double one = (kOneColumnIn * fig::kPtPerIn - l.left - bar_total - (n + 1) * kGap) / n;
  l.width = (one >= kMinOneColumnCell ? kOneColumnIn : kTwoColumnsIn) * fig::kPtPerIn;
  l.cell = std::min(kMaxCell, (l.width - l.left - bar_total - (n + 1) * kGap) / n);
  if (l.cell < 4) throw Error("grid figure: too many columns (" + std::to_string(l.cols) + ")", kExitFailure);
  const double title_h = f.title.empty() ? 0 : static_cast<double>(fig::wrap(f.title, kTitleFont, l.width - 8).size()) *
                                                   kTitleFont.size * 1.25 + 3;
  l.top = 4 + title_h;
  l.header = f.col_labels.empty() ? 0 : kLabelFont.size * 1.6;
  l.grid_h = static_cast<double>(l.rows) * (l.cell + kGap) + kGap;
  l.bar_x = l.left + n * (l.cell + kGap) + kGap + 6;
  l.height = l.top + l.header + std::max(l.grid_h, f.scale ? 60.0 : 0.0) + 4;
  return l;
}

void draw_grid(Canvas& c, const GridFigure& f, const GridLayout& l) {
  if (!f.title.empty()) c.title(f.title, 4, kTitleFont);
  const double y_grid = l.top + l.header;
  for (size_t k = 0; k < f.col_labels.size(); ++k) {
    const double x = l.left + kGap + static_cast<double>(k) * (l.cell + kGap);
    c.text(fig::fit(f.col_labels[k], kLabelFont, l.cell), x + l.cell / 2, l.top + l.header / 2, kLabelFont,
           Anchor::Centre);
  }
  for (size_t r = 0; r < l.rows; ++r) {
    const double y = y_grid + kGap + static_cast<double>(r) * (l.cell + kGap);
    if (!f.row_labels.empty())
      c.text(fig::fit(f.row_labels[r], kLabelFont, l.left - 6), l.left - 3, y + l.cell / 2, kLabelFont, Anchor::Right);
    for (size_t k = 0; k < l.cols; ++k) {
      const double x = l.left + kGap + static_cast<double>(k) * (l.cell + kGap);
      const cv::Mat* img = k < f.cells[r].size() ? &f.cells[r][k] : nullptr;
      if (!img || img->empty()) {
        c.fill_rect(x, y, l.cell, l.cell, fig::kEmpty);
        continue;
      }
      const double s = std::min(l.cell / img->cols, l.cell / img->rows);
      const double w = img->cols * s, h = img->rows * s;
      c.image(*img, x + (l.cell - w) / 2, y + (l.cell - h) / 2, w, h, f.nearest);
    }
  }
  if (f.scale) c.colour_bar(l.bar_x, y_grid + kGap, kBarW, std::max(l.grid_h - 2 * kGap, 60.0), *f.scale);
}

/// The single-map figure's geometry in points and the resolution its PNG needs.
struct MapLayout {
  double width = 0, height = 0, top = 0, x = 0, w = 0, h = 0, bar_x = 0, dpi = kFigureDpi;
};

MapLayout map_layout(const cv::Mat& img, const std::string& title, const ColourScale& scale, int min_px) {
  if (img.empty()) throw Error("figure: empty image", kExitFailure);
  if (!(scale.lo < scale.hi)) throw Error("figure \"" + title + "\": colour scale needs lo < hi", kExitFailure);
  MapLayout l;
  l.width = kOneColumnIn * fig::kPtPerIn;
  const double title_h =
      title.empty() ? 0 : static_cast<double>(fig::wrap(title, kTitleFont, l.width - 8).size()) * kTitleFont.size * 1.25 + 3;
  l.top = 4 + title_h;
  const double bar_total = 6 + Canvas::colour_bar_width(kBarW, 150, scale) + 4;
  const double max_w = l.width - 8 - bar_total, max_h = 190;
  const double s = std::min(max_w / img.cols, max_h / img.rows);
  l.w = img.cols * s, l.h = img.rows * s;
  l.x = 4 + (max_w - l.w) / 2;
  l.bar_x = l.x + l.w + 6;
  l.height = l.top + std::max(l.h, 60.0) + 5;
  l.dpi = std::max<double>(kFigureDpi, std::ceil(min_px / (std::max(l.w, l.h) / fig::kPtPerIn)));
  return l;
}

void draw_map(Canvas& c, const cv::Mat& img, const std::string& title, const ColourScale& scale, const MapLayout& l) {
  if (!title.empty()) c.title(title, 4, kTitleFont);
  c.image(img, l.x, l.top, l.w, l.h, false);
  c.colour_bar(l.bar_x, l.top, kBarW, std::max(l.h, 60.0), scale);
}

}  // namespace

void write_grid_figure(const std::string& png_path, const GridFigure& f) {
  check(f);
  const GridLayout l = grid_layout(f);
  fig::write_figure(png_path, l.width, l.height, [&](Canvas& c) { draw_grid(c, f, l); }, f.title);
}

cv::Mat figure_with_colorbar(const cv::Mat& img, const std::string& title, const ColourScale& scale, int min_px) {
  const MapLayout l = map_layout(img, title, scale, min_px);
  return fig::render_bgr(l.width, l.height, l.dpi / fig::kPtPerIn, [&](Canvas& c) { draw_map(c, img, title, scale, l); });
}

void write_colorbar_figure(const std::string& png_path, const cv::Mat& img, const std::string& title,
                           const ColourScale& scale, int min_px) {
  const MapLayout l = map_layout(img, title, scale, min_px);
  fig::write_figure(png_path, l.width, l.height, [&](Canvas& c) { draw_map(c, img, title, scale, l); }, title, l.dpi);
}

}  // namespace diffscope
