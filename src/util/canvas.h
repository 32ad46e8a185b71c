// Internal: the cairo drawing layer under every figure (not a public header). A figure is one routine drawing onto a
// Canvas in points (1/72 in); write_figure renders it onto three cairo surfaces: an image surface (PNG at a given dpi,
// with a pHYs chunk saying so), a PDF surface (fixed creation date: the same inputs give the same bytes) and an SVG
// surface. cairo's SVG writes glyphs as outlines; so that the SVG's words can be searched, selected and read by
// tools (and tests), each text drawn is also written as an invisible <text> element at the same place.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <cairo.h>
#include <opencv2/core.hpp>

#include "diffscope/util/figure.h"
#include "diffscope/util/palette.h"

namespace diffscope::fig {

constexpr double kPtPerIn = 72.0;
constexpr Rgb kInk{0, 0, 0}, kWhite{255, 255, 255}, kGrid{224, 224, 224}, kFrame{89, 89, 89}, kEmpty{225, 225, 225};

enum class Anchor { Left, Centre, Right };

struct Font {
  double size = 7.0;  ///< points
  bool bold = false;
};

/// The title and label fonts of the map figures (image grids and matrices), so that they set alike on a page.
constexpr Font kMapTitleFont{8.0, true}, kMapLabelFont{6.5, false};

/// One text drawn, as the SVG's text layer repeats it.
struct TextItem {
  double x, y, size;  ///< anchor point on the baseline, points
  bool bold;
  Anchor anchor;
  double angle;  ///< degrees, counter-clockwise
  std::string text;
};

/// Width of `text` in points (unhinted metrics: the same on every surface).
double text_width(const std::string& text, Font f);
/// `text` shortened with "..." until it fits `max_w` points.
std::string fit(const std::string& text, Font f, double max_w);
/// `text` broken at spaces into lines of at most `max_w` points (a word longer than that is shortened).
std::vector<std::string> wrap(const std::string& text, Font f, double max_w);
/// A tick's label at a tick step of `step` ("0.25", "1e+06").
std::string tick_label(double v, double step);

class Canvas {
 public:
  Canvas(cairo_t* cr, double width, double height, std::vector<TextItem>* record)
      : cr_(cr), w_(width), h_(height), record_(record) {}
  cairo_t* cr() const { return cr_; }
  double width() const { return w_; }
  double height() const { return h_; }

  void colour(Rgb c, double alpha = 1.0);
  void line(double x0, double y0, double x1, double y1, double width, Rgb c, bool dashed = false);
  void fill_rect(double x, double y, double w, double h, Rgb c, double alpha = 1.0);
  void stroke_rect(double x, double y, double w, double h, double width, Rgb c);
  /// Text with its anchor at x and its capitals' middle at y (rotated `angle` degrees counter-clockwise about it).
  void text(const std::string& t, double x, double y, Font f, Anchor a = Anchor::Left, Rgb c = kInk, double angle = 0);
  /// Title lines, centred, wrapped to the width; returns the y below them.
  double title(const std::string& t, double y, Font f);
  /// An 8-bit BGR (or grey / BGRA) image into the rectangle, stretched; pixel replication when `nearest`.
  void image(const cv::Mat& img, double x, double y, double w, double h, bool nearest);
  /// A vertical colour bar at (x, y) of w x h with numeric ticks on its right and the scale's label beyond them.
  void colour_bar(double x, double y, double w, double h, const ColourScale& s);
  /// The width colour_bar takes with its ticks and label (for a bar `w` wide, `h` high).
  static double colour_bar_width(double w, double h, const ColourScale& s);

 private:
  cairo_t* cr_;
  double w_, h_;
  std::vector<TextItem>* record_;
};

using DrawFn = std::function<void(Canvas&)>;

/// Renders `draw` on a width_pt x height_pt page as `png_path` (at `dpi`), `<stem>.pdf` and `<stem>.svg`, atomically.
void write_figure(const std::string& png_path, double width_pt, double height_pt, const DrawFn& draw,
                  const std::string& title, double dpi = kFigureDpi);
/// The drawing as an 8-bit BGR image of lround(width_pt * px_per_pt) x lround(height_pt * px_per_pt) pixels.
cv::Mat render_bgr(double width_pt, double height_pt, double px_per_pt, const DrawFn& draw);
/// The PDF / SVG file bytes of the drawing.
std::string render_pdf(double width_pt, double height_pt, const DrawFn& draw, const std::string& title);
std::string render_svg(double width_pt, double height_pt, const DrawFn& draw);
/// PNG bytes of `bgr` with a pHYs chunk of `dpi`.
std::string encode_png_dpi(const cv::Mat& bgr, double dpi);

/// Draws text onto an existing 8-bit BGR image in pixels (the grids that callers still take as cv::Mat).
class MatPainter {
 public:
  explicit MatPainter(cv::Mat& bgr);
  ~MatPainter();  ///< writes the drawing back into the image
  MatPainter(const MatPainter&) = delete;
  MatPainter& operator=(const MatPainter&) = delete;
  Canvas& canvas() { return *canvas_; }

 private:
  cv::Mat& target_;
  cv::Mat bgra_;
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
  Canvas* canvas_ = nullptr;
};

}  // namespace diffscope::fig
