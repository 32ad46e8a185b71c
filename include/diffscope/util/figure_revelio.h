// Revelio's figures (what the denoiser represents), drawn with the figure layer (figure.h: cairo, PNG 300 dpi + PDF +
// SVG, the SVG's words searchable): probe accuracy per layer x timestep with intervals and the baselines beside it,
// confusion matrices whose labels never collide, and SAE contact sheets with their activation scale.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "diffscope/util/figure.h"
#include "diffscope/util/palette.h"

namespace diffscope {

/// An accuracy and its interval (lo/hi NaN: none drawn).
struct AccuracyPoint {
  double value = std::numeric_limits<double>::quiet_NaN();
  double lo = std::numeric_limits<double>::quiet_NaN(), hi = std::numeric_limits<double>::quiet_NaN();
};

/// Probe accuracy per layer (x, in the given order) for each timestep (a coloured series, points offset within a
/// layer's slot, each with its interval as an error bar), with the baselines as horizontal lines across the plot
/// (their intervals as bands) and a legend naming each with its value. y is accuracy, 0 to 1.
struct AccuracyFigure {
  std::string title, note;  ///< note: a line under the title (what the intervals are)
  std::vector<std::string> layers;
  struct Series {
    std::string name;                  ///< "t=25"
    std::vector<AccuracyPoint> values;  ///< one per layer
    Rgb colour;
  };
  std::vector<Series> series;
  struct Baseline {
    std::string name;  ///< "chance", "pixels", "latent"
    AccuracyPoint value;
    Rgb colour;
    bool dashed = false;
  };
  std::vector<Baseline> baselines;
};

/// Writes `png_path` + `.pdf` + `.svg`: one column (3.5 in) wide up to 12 points (layers x series), else two.
/// Error when a series' values do not match the layers.
void write_accuracy_figure(const std::string& png_path, const AccuracyFigure& figure);
std::string accuracy_figure_svg(const AccuracyFigure& figure);

/// A confusion matrix: counts[true][predicted], the cells coloured by the row's share (each true class's images:
/// per-row normalisation, 0-1 on the colour bar) and annotated with the counts.
struct ConfusionFigure {
  std::vector<std::vector<int64_t>> counts;
  std::vector<std::string> labels;  ///< the classes, rows and columns alike
  std::string title;
};

/// A drawn label's box in points (x0 < x1, y0 < y1; y down), as the figure places it.
struct LabelBox {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  std::string text;
};

/// Where write_confusion_figure puts things, in points: the page, the cells' rectangle and every row and column
/// label's box (rows first, then columns). The margins are sized from the labels' widths (column labels stand upright
/// when wider than a cell; labels longer than 110 pt are shortened with "..."), the cells are at least as tall and
/// wide as a label line, and the label font shrinks with the cells: no two boxes overlap, none overlaps the cells.
struct ConfusionLayoutInfo {
  double width = 0, height = 0;
  LabelBox grid;
  std::vector<LabelBox> labels;
};
ConfusionLayoutInfo confusion_layout(const ConfusionFigure& figure);
void write_confusion_figure(const std::string& png_path, const ConfusionFigure& figure);
std::string confusion_figure_svg(const ConfusionFigure& figure);

/// An SAE latent's contact sheet: its top images in a row (already coloured, e.g. the activation map over the image),
/// under each a strip in the scale's colours at the image's activation and the caption lines, and the colour bar.
struct ContactSheet {
  std::string title, note;  ///< note: a line under the title (the normalisation)
  std::vector<cv::Mat> images;
  std::vector<double> activations;               ///< one per image
  std::vector<std::vector<std::string>> captions;  ///< lines under each image
  ColourScale scale;
};

/// Writes `png_path` + `.pdf` + `.svg`: one column up to 4 images, else two columns (cells at most 96 pt).
void write_contact_sheet(const std::string& png_path, const ContactSheet& sheet);
std::string contact_sheet_svg(const ContactSheet& sheet);

}  // namespace diffscope
