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
  if (!f.cell_labels.empty()) {
    if (f.cell_labels.size() != rows)
      throw Error("grid figure: " + std::to_string(f.cell_labels.size()) + " rows of cell labels for " +
                      std::to_string(rows) + " rows", kExitFailure);
    for (size_t r = 0; r < rows; ++r)
      if (f.cell_labels[r].size() != f.cells[r].size())
        throw Error("grid figure: row " + std::to_string(r) + " has " + std::to_string(f.cells[r].size()) +
                        " cells but " + std::to_string(f.cell_labels[r].size()) + " cell labels", kExitFailure);
  }
  if (!f.col_colours.empty() && f.col_colours.size() != cols)
    throw Error("grid figure: " + std::to_string(f.col_colours.size()) + " column colours for " +
                    std::to_string(cols) + " columns", kExitFailure);
  if (f.scale && !(f.scale->lo < f.scale->hi))
    throw Error("grid figure \"" + f.title + "\": colour scale needs lo < hi", kExitFailure);
}

struct GridLayout {
  double width = 0, height = 0, left = 0, top = 0, header = 0, cell = 0, bar_x = 0, grid_h = 0;
  double caption = 0;  ///< the band above each row's cells that holds their captions (cell_labels)
  double swatch = 0;   ///< the column colours' band under the column labels
  size_t rows = 0, cols = 0;
  double pitch() const { return caption + cell + kGap; }
};

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  for (size_t b = s.find('\n'); b != std::string::npos; a = b + 1, b = s.find('\n', a)) out.push_back(s.substr(a, b - a));
  out.push_back(s.substr(a));
  return out;
}

/// The height of a band holding `lines` lines of labels.
double band(size_t lines) { return lines == 0 ? 0 : static_cast<double>(lines) * kLabelFont.size * 1.25 + 0.35 * kLabelFont.size; }

size_t max_lines(const std::vector<std::string>& labels) {
  size_t n = 0;
  for (const auto& l : labels) n = std::max(n, lines_of(l).size());
  return n;
}

/// `label`'s lines centred at x inside a band starting at y.
void draw_lines(Canvas& c, const std::string& label, double x, double y, double max_w) {
  const auto ls = lines_of(label);
  for (size_t i = 0; i < ls.size(); ++i)
    c.text(fig::fit(ls[i], kLabelFont, max_w), x, y + 0.175 * kLabelFont.size + (static_cast<double>(i) + 0.5) * 1.25 * kLabelFont.size,
           kLabelFont, Anchor::Centre);
}

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
  l.swatch = f.col_colours.empty() ? 0 : 3.5;
  l.header = band(max_lines(f.col_labels)) + l.swatch;
  size_t caption_lines = 0;
  for (const auto& r : f.cell_labels) caption_lines = std::max(caption_lines, max_lines(r));
  l.caption = band(caption_lines);
  l.grid_h = static_cast<double>(l.rows) * l.pitch() + kGap;
  l.bar_x = l.left + n * (l.cell + kGap) + kGap + 6;
  l.height = l.top + l.header + std::max(l.grid_h, f.scale ? 60.0 : 0.0) + 4;
  return l;
}

void draw_grid(Canvas& c, const GridFigure& f, const GridLayout& l) {
  if (!f.title.empty()) c.title(f.title, 4, kTitleFont);
  const double y_grid = l.top + l.header;
  for (size_t k = 0; k < f.col_labels.size(); ++k) {
    const double x = l.left + kGap + static_cast<double>(k) * (l.cell + kGap);
    draw_lines(c, f.col_labels[k], x + l.cell / 2, l.top, l.cell);
  }
  for (size_t k = 0; k < f.col_colours.size(); ++k) {
    const double x = l.left + kGap + static_cast<double>(k) * (l.cell + kGap);
    c.fill_rect(x, l.top + l.header - l.swatch, l.cell, 2.5, f.col_colours[k]);
  }
  for (size_t r = 0; r < l.rows; ++r) {
    const double y = y_grid + kGap + static_cast<double>(r) * l.pitch() + l.caption;
    if (!f.cell_labels.empty())
      for (size_t k = 0; k < f.cell_labels[r].size(); ++k)
        draw_lines(c, f.cell_labels[r][k], l.left + kGap + static_cast<double>(k) * (l.cell + kGap) + l.cell / 2,
                   y - l.caption, l.cell);
    if (!f.row_labels.empty())
      c.text(fig::fit(f.row_labels[r], kLabelFont, l.left - 6), l.left - 3, y + l.cell / 2, kLabelFont, Anchor::Right);
    for (size_t k = 0; k < l.cols; ++k) {
      const double x = l.left + kGap + static_cast<double>(k) * (l.cell + kGap);
      if (k >= f.cells[r].size()) break;  // a shorter last row (a wrapped filmstrip) leaves its end blank
      const cv::Mat* img = &f.cells[r][k];
      if (img->empty()) {
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

cv::Mat grid_figure(const GridFigure& f) {
  check(f);
  const GridLayout l = grid_layout(f);
  return fig::render_bgr(l.width, l.height, kFigureDpi / fig::kPtPerIn, [&](Canvas& c) { draw_grid(c, f, l); });
}

std::vector<size_t> wrap_rows(size_t n, int per_row) {
  std::vector<size_t> rows;
  if (n == 0) return rows;
  size_t per = per_row > 0 ? static_cast<size_t>(per_row) : 0;
  if (per == 0) {  // automatic: at most 8 a row, the rows as even as they can be
    const size_t nrows = (n + 7) / 8;
    per = (n + nrows - 1) / nrows;
  }
  for (size_t i = 0; i < n; i += per) rows.push_back(std::min(per, n - i));
  return rows;
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
