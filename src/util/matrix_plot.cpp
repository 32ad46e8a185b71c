// Labelled matrix figures with OpenCV (PNG) and as SVG text (see matrix_plot.h).
#include "diffscope/util/matrix_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"
#include "diffscope/util/xml.h"
#include "util/draw.h"

namespace diffscope {

namespace {

constexpr double kFontScale = 0.45;
constexpr int kBarWidth = 16;

/// Geometry shared by the PNG and the SVG so that both show the same figure.
struct Layout {
  int rows = 0, cols = 0, cell_w = 0, cell_h = 0;
  int left = 0, top = 0, bottom = 0, right = 0, width = 0, height = 0;
  int bar_x = 0, bar_h = 0;
};

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

Layout layout(const MatrixFigure& f) {
  Layout l;
  l.rows = static_cast<int>(f.values.size());
  l.cols = static_cast<int>(f.col_labels.size());
  int label_w = 0, col_label_w = 0;
  for (const auto& s : f.row_labels) label_w = std::max(label_w, draw::text_size(s, kFontScale, 1).width);
  for (const auto& s : f.col_labels) col_label_w = std::max(col_label_w, draw::text_size(s, kFontScale, 1).width);
  l.cell_h = 26;
  l.cell_w = std::max({44, col_label_w + 8, draw::text_size("0.00", kFontScale, 1).width + 10});
  l.left = label_w + 16 + (f.ylabel.empty() ? 0 : 22);
  l.top = 40;
  l.bottom = 26 + (f.xlabel.empty() ? 0 : 24);
  l.bar_x = l.left + l.cols * l.cell_w + 18;
  l.right = 18 + kBarWidth + 8 + draw::text_size("0.000", kFontScale, 1).width + 10;
  l.width = std::max(l.left + l.cols * l.cell_w + l.right, draw::text_size(f.title, 0.55, 1).width + 20);
  l.bar_h = std::max(l.rows * l.cell_h, 60);
  l.height = std::max(l.top + l.rows * l.cell_h + l.bottom, l.top + l.bar_h + 10);
  return l;
}

double unit(const MatrixFigure& f, double v) { return std::clamp((v - f.lo) / (f.hi - f.lo), 0.0, 1.0); }

cv::Scalar colour_of(const MatrixFigure& f, double v) {
  if (!std::isfinite(v)) return {200, 200, 200};
  const float u = static_cast<float>(unit(f, v));
  const cv::Mat c = colorize(&u, 1, 1, f.colormap);
  const cv::Vec3b b = c.at<cv::Vec3b>(0, 0);
  return {double(b[0]), double(b[1]), double(b[2])};
}

/// Black or white text, whichever reads on the cell's colour.
cv::Scalar ink_on(const cv::Scalar& bg) {
  const double luma = 0.114 * bg[0] + 0.587 * bg[1] + 0.299 * bg[2];
  return luma > 140 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
}

std::string cell_text(double v) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string scale_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

cv::Mat matrix_plot(const MatrixFigure& f) {
  check(f);
  const Layout l = layout(f);
  cv::Mat img(l.height, l.width, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Scalar black(0, 0, 0);
  draw::text_centred(img, f.title, {l.width / 2, 18}, 0.55, 1, black);
  for (int r = 0; r < l.rows; ++r) {
    const int y = l.top + r * l.cell_h;
    draw::text_left(img, f.row_labels[static_cast<size_t>(r)],
                    {l.left - 8 - draw::text_size(f.row_labels[static_cast<size_t>(r)], kFontScale, 1).width,
                     y + l.cell_h / 2},
                    kFontScale, 1, black);
    for (int c = 0; c < l.cols; ++c) {
      const double v = f.values[static_cast<size_t>(r)][static_cast<size_t>(c)];
      const cv::Scalar bg = colour_of(f, v);
      const cv::Rect cell(l.left + c * l.cell_w, y, l.cell_w, l.cell_h);
      cv::rectangle(img, cell, bg, cv::FILLED);
      if (f.annotate || !std::isfinite(v))
        draw::text_centred(img, cell_text(v), {cell.x + cell.width / 2, cell.y + cell.height / 2}, kFontScale, 1,
                           ink_on(bg));
    }
  }
  const int grid_bottom = l.top + l.rows * l.cell_h;
  for (int c = 0; c < l.cols; ++c)
    draw::text_centred(img, f.col_labels[static_cast<size_t>(c)], {l.left + c * l.cell_w + l.cell_w / 2, grid_bottom + 13},
                       kFontScale, 1, black);
  if (!f.xlabel.empty())
    draw::text_centred(img, f.xlabel, {l.left + l.cols * l.cell_w / 2, grid_bottom + 38}, kFontScale, 1, black);
  if (!f.ylabel.empty()) {  // rotated label: drawn on a transposed strip
    const cv::Size ts = draw::text_size(f.ylabel, kFontScale, 1);
    cv::Mat strip(20, ts.width + 8, CV_8UC3, cv::Scalar(255, 255, 255));
    draw::text_centred(strip, f.ylabel, {strip.cols / 2, 10}, kFontScale, 1, black);
    cv::Mat rot;
    cv::rotate(strip, rot, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int y0 = std::max(0, l.top + l.rows * l.cell_h / 2 - rot.rows / 2);
    const int h = std::min(rot.rows, l.height - y0);
    rot(cv::Rect(0, 0, rot.cols, h)).copyTo(img(cv::Rect(2, y0, rot.cols, h)));
  }
  // colour bar
  const int bar_h = l.bar_h;
  for (int y = 0; y < bar_h; ++y) {
    const double v = f.hi - (f.hi - f.lo) * y / std::max(1, bar_h - 1);
    cv::line(img, {l.bar_x, l.top + y}, {l.bar_x + kBarWidth - 1, l.top + y}, colour_of(f, v));
  }
  cv::rectangle(img, cv::Rect(l.bar_x, l.top, kBarWidth, bar_h), cv::Scalar(90, 90, 90));
  draw::text_left(img, scale_text(f.hi), {l.bar_x + kBarWidth + 4, l.top + 6}, kFontScale, 1, black);
  draw::text_left(img, scale_text(f.lo), {l.bar_x + kBarWidth + 4, l.top + bar_h - 6}, kFontScale, 1, black);
  return img;
}

std::string matrix_plot_svg(const MatrixFigure& f) {
  check(f);
  const Layout l = layout(f);
  const int bar_h = l.bar_h, height = l.height;
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(l.width) + "\" height=\"" +
                  std::to_string(height) + "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + std::to_string(l.width / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" +
       xml_escape(f.title) + "</text>\n";
  for (int r = 0; r < l.rows; ++r) {
    const int y = l.top + r * l.cell_h;
    s += "<text x=\"" + std::to_string(l.left - 8) + "\" y=\"" + std::to_string(y + l.cell_h / 2 + 4) +
         "\" text-anchor=\"end\">" + xml_escape(f.row_labels[static_cast<size_t>(r)]) + "</text>\n";
    for (int c = 0; c < l.cols; ++c) {
      const double v = f.values[static_cast<size_t>(r)][static_cast<size_t>(c)];
      const cv::Scalar bg = colour_of(f, v);
      const int x = l.left + c * l.cell_w;
      s += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"" + std::to_string(l.cell_w) +
           "\" height=\"" + std::to_string(l.cell_h) + "\" fill=\"" + draw::svg_colour(bg) + "\"/>\n";
      if (f.annotate || !std::isfinite(v))
        s += "<text x=\"" + std::to_string(x + l.cell_w / 2) + "\" y=\"" + std::to_string(y + l.cell_h / 2 + 4) +
             "\" text-anchor=\"middle\" fill=\"" + draw::svg_colour(ink_on(bg)) + "\">" + cell_text(v) + "</text>\n";
    }
  }
  const int grid_bottom = l.top + l.rows * l.cell_h;
  for (int c = 0; c < l.cols; ++c)
    s += "<text x=\"" + std::to_string(l.left + c * l.cell_w + l.cell_w / 2) + "\" y=\"" +
         std::to_string(grid_bottom + 17) + "\" text-anchor=\"middle\">" +
         xml_escape(f.col_labels[static_cast<size_t>(c)]) + "</text>\n";
  if (!f.xlabel.empty())
    s += "<text x=\"" + std::to_string(l.left + l.cols * l.cell_w / 2) + "\" y=\"" + std::to_string(grid_bottom + 42) +
         "\" text-anchor=\"middle\">" + xml_escape(f.xlabel) + "</text>\n";
  if (!f.ylabel.empty()) {
    const int cy = l.top + l.rows * l.cell_h / 2;
    s += "<text x=\"14\" y=\"" + std::to_string(cy) + "\" text-anchor=\"middle\" transform=\"rotate(-90 14 " +
         std::to_string(cy) + ")\">" + xml_escape(f.ylabel) + "</text>\n";
  }
  // colour bar as a vertical gradient of 16 stops
  s += "<defs><linearGradient id=\"bar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int i = 0; i <= 16; ++i) {
    const double u = i / 16.0;
    s += "<stop offset=\"" + std::to_string(u) + "\" stop-color=\"" +
         draw::svg_colour(colour_of(f, f.lo + u * (f.hi - f.lo))) + "\"/>";
  }
  s += "</linearGradient></defs>\n";
  s += "<rect x=\"" + std::to_string(l.bar_x) + "\" y=\"" + std::to_string(l.top) + "\" width=\"" +
       std::to_string(kBarWidth) + "\" height=\"" + std::to_string(bar_h) + "\" fill=\"url(#bar)\" stroke=\"#5a5a5a\"/>\n";
  s += "<text x=\"" + std::to_string(l.bar_x + kBarWidth + 4) + "\" y=\"" + std::to_string(l.top + 10) + "\">" +
       scale_text(f.hi) + "</text>\n";
  s += "<text x=\"" + std::to_string(l.bar_x + kBarWidth + 4) + "\" y=\"" + std::to_string(l.top + bar_h) + "\">" +
       scale_text(f.lo) + "</text>\n";
  s += "</svg>\n";
  return s;
}

void write_matrix_plot(const std::string& png_path, const MatrixFigure& f) {
  write_png(png_path, matrix_plot(f));
  std::string svg = png_path;
  if (svg.size() > 4 && svg.compare(svg.size() - 4, 4, ".png") == 0) svg.resize(svg.size() - 4);
  write_file_atomic(svg + ".svg", matrix_plot_svg(f));
}

}  // namespace diffscope
