// Labelled image grids returned as images (cv::Mat), labels drawn with cairo; no figure calls it any more (every
// grid is a GridFigure, written as PNG + PDF + SVG by figure.cpp), so it can go with its test.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "util/canvas.h"
#include "util/draw.h"

namespace diffscope {

namespace {

const cv::Scalar kWhite(255, 255, 255), kEmptyCell(225, 225, 225);

// Fits `img` into a cell_px square (aspect kept, centred) drawn at `cell`.
void draw_cell(cv::Mat& canvas, const cv::Mat& img, cv::Rect cell) {
  if (img.empty()) {
    canvas(cell).setTo(kEmptyCell);
    return;
  }
  cv::Mat bgr = draw::to_bgr8(img);
  double s = std::min(static_cast<double>(cell.width) / bgr.cols, static_cast<double>(cell.height) / bgr.rows);
  int w = std::max(1, static_cast<int>(bgr.cols * s + 0.5)), h = std::max(1, static_cast<int>(bgr.rows * s + 0.5));
  w = std::min(w, cell.width);
  h = std::min(h, cell.height);
  cv::Mat fitted;
  cv::resize(bgr, fitted, cv::Size(w, h), 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  fitted.copyTo(canvas(cv::Rect(cell.x + (cell.width - w) / 2, cell.y + (cell.height - h) / 2, w, h)));
}

}  // namespace

cv::Mat grid(const std::vector<std::vector<cv::Mat>>& cells, const std::vector<std::string>& row_labels,
             const std::vector<std::string>& col_labels, int cell_px) {
  if (cell_px < 8) throw Error("grid: cell size must be at least 8 pixels", kExitFailure);
  const int rows = static_cast<int>(cells.size());
  int cols = static_cast<int>(col_labels.size());
  for (const auto& r : cells) cols = std::max(cols, static_cast<int>(r.size()));
  if (rows == 0 || cols == 0) throw Error("grid: no cells to draw", kExitFailure);
  if (!row_labels.empty() && static_cast<int>(row_labels.size()) != rows) {
    throw Error("grid: " + std::to_string(row_labels.size()) + " row labels for " + std::to_string(rows) + " rows",
                kExitFailure);
  }
  if (!col_labels.empty()) {
    for (const auto& r : cells) {
      if (r.size() != col_labels.size()) {
        throw Error("grid: " + std::to_string(col_labels.size()) + " column labels but a row has " +
                        std::to_string(r.size()) + " cells",
                    kExitFailure);
      }
    }
  }

  // label font in pixels (DejaVu Sans via cairo)
  const fig::Font font{std::clamp(cell_px / 256.0 * 18.0, 10.5, 27.0), cell_px >= 300};
  const int pad = std::max(4, cell_px / 32);
  const int gap = std::max(2, cell_px / 64);
  const int line_h = static_cast<int>(std::ceil(font.size * 1.2));

  int label_w = 0;
  std::vector<std::string> rlabels;
  for (const auto& l : row_labels) {
    rlabels.push_back(fig::fit(l, font, 2 * cell_px));
    label_w = std::max(label_w, static_cast<int>(std::ceil(fig::text_width(rlabels.back(), font))) + 2 * pad);
  }
  const int header_h = col_labels.empty() ? 0 : line_h + 2 * pad;

  const int width = label_w + cols * cell_px + (cols + 1) * gap;
  const int height = header_h + rows * cell_px + (rows + 1) * gap;
  cv::Mat canvas(height, width, CV_8UC3, kWhite);

  for (int r = 0; r < rows; ++r) {
    int y0 = header_h + gap + r * (cell_px + gap);
    for (int c = 0; c < cols; ++c) {
      int x0 = label_w + gap + c * (cell_px + gap);
      cv::Mat empty;
      const cv::Mat& img = c < static_cast<int>(cells[r].size()) ? cells[r][c] : empty;
      draw_cell(canvas, img, cv::Rect(x0, y0, cell_px, cell_px));
    }
  }
  {
    fig::MatPainter painter(canvas);
    fig::Canvas& c = painter.canvas();
    for (int k = 0; k < static_cast<int>(col_labels.size()); ++k) {
      const int x0 = label_w + gap + k * (cell_px + gap);
      c.text(fig::fit(col_labels[k], font, cell_px - 2), x0 + cell_px / 2.0, header_h / 2.0, font, fig::Anchor::Centre);
    }
    for (int r = 0; r < static_cast<int>(rlabels.size()); ++r)
      c.text(rlabels[r], pad, header_h + gap + r * (cell_px + gap) + cell_px / 2.0, font);
  }
  return canvas;
}

}  // namespace diffscope
