// Revelio's figures: probe accuracy with intervals and baselines, confusion matrices, SAE contact sheets
// (see figure_revelio.h), drawn on the cairo canvas (canvas.h) and written as PNG + PDF + SVG.
#include "diffscope/util/figure_revelio.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "diffscope/util/error.h"
#include "diffscope/util/plot.h"
#include "util/canvas.h"

namespace diffscope {

namespace {

using fig::Anchor;
using fig::Canvas;
using fig::Font;

constexpr Font kTitleFont = fig::kMapTitleFont, kLabelFont = fig::kMapLabelFont;
constexpr Font kNoteFont{5.5, false}, kLegendFont{6.0, false}, kTickFont{6.0, false};
// A text line's extent about its anchor's y (the capitals' middle, canvas.h): 0.76 em above the baseline (DejaVu's
// ascenders), 0.24 em below (descenders); the baseline is 0.365 em below the anchor.
constexpr double kAbove = 0.76 - 0.365, kBelow = 0.24 + 0.365;

/// The box of `t` drawn at (x, y) with `a`, upright (angle 0) or standing (angle 90: reading upwards).
LabelBox text_box(const std::string& t, double x, double y, Font f, Anchor a, double angle) {
  const double tw = fig::text_width(t, f);
  const double s0 = a == Anchor::Left ? 0 : a == Anchor::Centre ? -tw / 2 : -tw;  // along the text
  LabelBox b;
  b.text = t;
  if (angle == 0) {
    b.x0 = x + s0, b.x1 = x + s0 + tw, b.y0 = y - kAbove * f.size, b.y1 = y + kBelow * f.size;
  } else {  // rotated 90 degrees counter-clockwise: along the text is up the page, the text's down is right
    b.y0 = y - (s0 + tw), b.y1 = y - s0, b.x0 = x - kAbove * f.size, b.x1 = x + kBelow * f.size;
  }
  return b;
}

Rgb colour_at(Colormap cm, double u) {
  const float v = static_cast<float>(std::clamp(u, 0.0, 1.0));
  const cv::Vec3b b = colorize(&v, 1, 1, cm).at<cv::Vec3b>(0, 0);
  return {b[2], b[1], b[0]};
}

void dot(Canvas& c, double x, double y, double r, Rgb col) {
  c.colour(col);
  cairo_new_path(c.cr());
  cairo_arc(c.cr(), x, y, r, 0, 2 * M_PI);
  cairo_fill(c.cr());
}

std::string num2(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

bool finite(double v) { return std::isfinite(v); }

// ---- probe accuracy with intervals ---------------------------------------------------------------------------

struct AccLayout {
  double width = 0, height = 0, top = 0, left = 0, plot_w = 0, plot_h = 130, legend_x = 0, label_h = 0;
  bool rotate = false;
  std::vector<std::string> legend;
};

std::string baseline_text(const AccuracyFigure::Baseline& b) {
  std::string t = b.name + " " + (finite(b.value.value) ? num2(b.value.value) : "-");
  if (finite(b.value.lo) && finite(b.value.hi)) t += " [" + num2(b.value.lo) + ", " + num2(b.value.hi) + "]";
  return t;
}

void check(const AccuracyFigure& f) {
  if (f.layers.empty()) throw Error("accuracy figure \"" + f.title + "\": no layers", kExitFailure);
  for (const auto& s : f.series)
    if (s.values.size() != f.layers.size())
      throw Error("accuracy figure \"" + f.title + "\": series " + s.name + " has " + std::to_string(s.values.size()) +
                  " values for " + std::to_string(f.layers.size()) + " layers", kExitFailure);
}

AccLayout acc_layout(const AccuracyFigure& f) {
  AccLayout l;
  const double points = static_cast<double>(f.layers.size() * std::max<size_t>(1, f.series.size()));
  l.width = (points <= 12 ? kOneColumnIn : kTwoColumnsIn) * fig::kPtPerIn;
  double legend_w = 0;
  for (const auto& s : f.series) legend_w = std::max(legend_w, fig::text_width(s.name, kLegendFont));
  for (const auto& b : f.baselines) legend_w = std::max(legend_w, fig::text_width(baseline_text(b), kLegendFont));
  legend_w = std::min(legend_w, 110.0) + 14;
  double title_h = f.title.empty() ? 0 : fig::wrap(f.title, kTitleFont, l.width - 8).size() * kTitleFont.size * 1.25;
  if (!f.note.empty()) title_h += fig::wrap(f.note, kNoteFont, l.width - 8).size() * kNoteFont.size * 1.25;
  l.top = 4 + title_h + 6;
  l.left = 4 + kLabelFont.size * 1.4 + fig::text_width("0.0", kTickFont) + 6;
  l.legend_x = l.width - legend_w - 2;
  l.plot_w = l.legend_x - 8 - l.left;
  const double slot = l.plot_w / static_cast<double>(f.layers.size());
  double label_w = 0;
  for (const auto& s : f.layers) label_w = std::max(label_w, fig::text_width(s, kLabelFont));
  l.rotate = label_w > slot - 2;
  l.label_h = l.rotate ? std::min(label_w, 80.0) + 4 : kLabelFont.size * 1.6;
  l.height = l.top + l.plot_h + l.label_h + kLabelFont.size * 1.6 + 4;
  return l;
}

void draw_accuracy(Canvas& c, const AccuracyFigure& f, const AccLayout& l) {
  double y = 4;
  if (!f.title.empty()) y = c.title(f.title, y, kTitleFont);
  if (!f.note.empty()) c.title(f.note, y, kNoteFont);
  const double x0 = l.left, y0 = l.top, w = l.plot_w, h = l.plot_h;
  auto Y = [&](double v) { return y0 + h - std::clamp(v, 0.0, 1.0) * h; };
  // gridlines, ticks, axis labels
  for (double t : nice_ticks(0, 1, 6)) {
    c.line(x0, Y(t), x0 + w, Y(t), 0.4, fig::kGrid);
    c.text(fig::tick_label(t, 0.2), x0 - 3, Y(t), kTickFont, Anchor::Right);
  }
  c.text("test accuracy", 4 + kLabelFont.size * 0.5, y0 + h / 2, kLabelFont, Anchor::Centre, fig::kInk, 90);
  // the baselines: a band for the interval, a line at the value
  for (const auto& b : f.baselines) {
    if (!finite(b.value.value)) continue;
    if (finite(b.value.lo) && finite(b.value.hi))
      c.fill_rect(x0, Y(b.value.hi), w, Y(b.value.lo) - Y(b.value.hi), b.colour, 0.15);
    c.line(x0, Y(b.value.value), x0 + w, Y(b.value.value), 0.9, b.colour, b.dashed);
  }
  // the probe's accuracies: a point per series within each layer's slot, the interval as an error bar
  const double slot = w / static_cast<double>(f.layers.size());
  const double n = static_cast<double>(std::max<size_t>(1, f.series.size()));
  for (size_t li = 0; li < f.layers.size(); ++li) {
    if (li > 0) c.line(x0 + li * slot, y0, x0 + li * slot, y0 + h, 0.3, fig::kGrid);
    for (size_t si = 0; si < f.series.size(); ++si) {
      const AccuracyPoint& p = f.series[si].values[li];
      const double x = x0 + li * slot + (static_cast<double>(si) + 0.5) / n * slot;
      const Rgb col = f.series[si].colour;
      if (finite(p.lo) && finite(p.hi)) {
        const double cap = std::min(1.5, slot / n * 0.3);
        c.line(x, Y(p.lo), x, Y(p.hi), 0.7, col);
        c.line(x - cap, Y(p.lo), x + cap, Y(p.lo), 0.7, col);
        c.line(x - cap, Y(p.hi), x + cap, Y(p.hi), 0.7, col);
      }
      if (finite(p.value)) dot(c, x, Y(p.value), std::min(1.8, slot / n * 0.35), col);
    }
    const double lx = x0 + (li + 0.5) * slot;
    if (l.rotate)
      c.text(fig::fit(f.layers[li], kLabelFont, 80), lx, y0 + h + 3, kLabelFont, Anchor::Right, fig::kInk, 90);
    else
      c.text(f.layers[li], lx, y0 + h + kLabelFont.size * 0.8, kLabelFont, Anchor::Centre);
  }
  c.stroke_rect(x0, y0, w, h, 0.5, fig::kFrame);
  c.text("layer", x0 + w / 2, y0 + h + l.label_h + kLabelFont.size * 0.8, kLabelFont, Anchor::Centre);
  // the legend: series (a dot), then baselines (a line) with their values
  double ly = y0 + 4;
  const double lw = l.width - l.legend_x - 14;
  for (const auto& s : f.series) {
    dot(c, l.legend_x + 5, ly, 1.8, s.colour);
    c.text(fig::fit(s.name, kLegendFont, lw), l.legend_x + 12, ly, kLegendFont);
    ly += kLegendFont.size * 1.45;
  }
  for (const auto& b : f.baselines) {
    c.line(l.legend_x, ly, l.legend_x + 10, ly, 0.9, b.colour, b.dashed);
    c.text(fig::fit(baseline_text(b), kLegendFont, lw), l.legend_x + 12, ly, kLegendFont);
    ly += kLegendFont.size * 1.45;
  }
}

// ---- confusion matrices ------------------------------------------------------------------------------------------

constexpr double kMaxLabelW = 110, kConfBarW = 6;

struct ConfLayout {
  ConfusionLayoutInfo info;
  double cell = 0, left = 0, top = 0, bar_x = 0, bar_h = 0, col_label_h = 0;
  Font font = kLabelFont, cell_font{6.0, false};
  bool rotate = false;
  std::vector<std::string> shown;  ///< the labels as drawn (shortened where longer than kMaxLabelW)
};

ColourScale conf_scale() { return {Colormap::Viridis, 0.0, 1.0, "share of the true class (per row)"}; }

void check(const ConfusionFigure& f) {
  const size_t n = f.labels.size();
  if (n == 0 || f.counts.size() != n) throw Error("confusion figure \"" + f.title + "\": counts and labels disagree", kExitFailure);
  for (const auto& r : f.counts)
    if (r.size() != n) throw Error("confusion figure \"" + f.title + "\": counts are not square", kExitFailure);
}

ConfLayout conf_layout(const ConfusionFigure& f) {
  ConfLayout l;
  const size_t n = f.labels.size();
  const double nd = static_cast<double>(n);
  const double ylabel_w = kLabelFont.size * 1.4;
  const double bar_total = 8 + Canvas::colour_bar_width(kConfBarW, 100, conf_scale()) + 4;
  auto place = [&](double width) {
    l.info.width = width;
    double label_w = 0;
    for (const auto& s : f.labels) label_w = std::max(label_w, std::min(fig::text_width(s, l.font), kMaxLabelW));
    l.left = 4 + ylabel_w + label_w + 3;
    l.cell = std::min(24.0, (width - l.left - bar_total) / nd);
  };
  place(kOneColumnIn * fig::kPtPerIn);
  if (l.cell < 10) place(kTwoColumnsIn * fig::kPtPerIn);
  // a label line must fit a cell's height (rows) and width (standing column labels)
  l.font.size = std::min(kLabelFont.size, (l.cell - 1) / (kAbove + kBelow));
  if (l.font.size < 2.5) throw Error("confusion figure: too many classes (" + std::to_string(n) + ")", kExitFailure);
  double col_w = 0;
  l.shown.clear();
  for (const auto& s : f.labels) {
    l.shown.push_back(fig::fit(s, l.font, kMaxLabelW));
    col_w = std::max(col_w, fig::text_width(l.shown.back(), l.font));
  }
  l.rotate = col_w > l.cell - 2;
  l.col_label_h = l.rotate ? col_w + 3 : l.font.size * 1.4;
  double title_h = f.title.empty() ? 0 : fig::wrap(f.title, kTitleFont, l.info.width - 8).size() * kTitleFont.size * 1.25;
  l.top = 4 + title_h + 4;
  l.bar_h = std::max(nd * l.cell, 60.0);
  l.bar_x = l.left + nd * l.cell + 8;
  l.info.height = std::max(l.top + nd * l.cell + l.col_label_h + kLabelFont.size * 1.5 + 4, l.top + l.bar_h + 6);
  l.info.grid = {l.left, l.top, l.left + nd * l.cell, l.top + nd * l.cell, ""};
  l.cell_font.size = std::min(6.0, l.cell * 0.45);
  // the label boxes, as draw_confusion places them
  for (size_t r = 0; r < n; ++r)
    l.info.labels.push_back(text_box(l.shown[r], l.left - 3, l.top + (r + 0.5) * l.cell, l.font, Anchor::Right, 0));
  const double gb = l.top + nd * l.cell;
  for (size_t k = 0; k < n; ++k) {
    const double x = l.left + (k + 0.5) * l.cell;
    l.info.labels.push_back(l.rotate ? text_box(l.shown[k], x, gb + 3, l.font, Anchor::Right, 90)
                                     : text_box(l.shown[k], x, gb + l.font.size * 0.75, l.font, Anchor::Centre, 0));
  }
  return l;
}

void draw_confusion(Canvas& c, const ConfusionFigure& f, const ConfLayout& l) {
  if (!f.title.empty()) c.title(f.title, 4, kTitleFont);
  const size_t n = f.labels.size();
  for (size_t r = 0; r < n; ++r) {
    int64_t total = 0;
    for (int64_t v : f.counts[r]) total += v;
    for (size_t k = 0; k < n; ++k) {
      const double x = l.left + k * l.cell, y = l.top + r * l.cell;
      const double share = total > 0 ? static_cast<double>(f.counts[r][k]) / static_cast<double>(total) : 0.0;
      const Rgb bg = total > 0 ? colour_at(Colormap::Viridis, share) : fig::kEmpty;
      c.fill_rect(x, y, l.cell, l.cell, bg);
      if (l.cell_font.size >= 3) {
        const Rgb ink = 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b > 140 ? fig::kInk : fig::kWhite;
        c.text(std::to_string(f.counts[r][k]), x + l.cell / 2, y + l.cell / 2, l.cell_font, Anchor::Centre, ink);
      }
    }
  }
  for (size_t i = 0; i < l.info.labels.size(); ++i) {
    const bool row = i < n;
    const size_t k = row ? i : i - n;
    if (row)
      c.text(l.shown[k], l.left - 3, l.top + (k + 0.5) * l.cell, l.font, Anchor::Right);
    else if (l.rotate)
      c.text(l.shown[k], l.left + (k + 0.5) * l.cell, l.info.grid.y1 + 3, l.font, Anchor::Right, fig::kInk, 90);
    else
      c.text(l.shown[k], l.left + (k + 0.5) * l.cell, l.info.grid.y1 + l.font.size * 0.75, l.font, Anchor::Centre);
  }
  const double nd = static_cast<double>(n);
  c.text("predicted", l.left + nd * l.cell / 2, l.info.grid.y1 + l.col_label_h + kLabelFont.size * 0.8, kLabelFont,
         Anchor::Centre);
  c.text("true", 4 + kLabelFont.size * 0.5, l.top + nd * l.cell / 2, kLabelFont, Anchor::Centre, fig::kInk, 90);
  c.colour_bar(l.bar_x, l.top, kConfBarW, l.bar_h, conf_scale());
}

// ---- SAE contact sheets --------------------------------------------------------------------------------------------

constexpr double kSheetBarW = 6, kSheetGap = 3, kStripH = 3.5;
constexpr Font kCaptionFont{5.5, false};
constexpr size_t kMaxCaptionLines = 5;

struct SheetLayout {
  double width = 0, height = 0, top = 0, cell = 0, bar_x = 0, bar_h = 0;
  std::vector<std::vector<std::string>> lines;  ///< per image, wrapped to the cell
};

void check(const ContactSheet& s) {
  if (s.images.empty()) throw Error("contact sheet \"" + s.title + "\": no images", kExitFailure);
  if (s.activations.size() != s.images.size() || s.captions.size() != s.images.size())
    throw Error("contact sheet \"" + s.title + "\": activations and captions must be one per image", kExitFailure);
  if (!(s.scale.lo < s.scale.hi)) throw Error("contact sheet \"" + s.title + "\": colour scale needs lo < hi", kExitFailure);
}

SheetLayout sheet_layout(const ContactSheet& s) {
  SheetLayout l;
  const double n = static_cast<double>(s.images.size());
  l.width = (s.images.size() <= 4 ? kOneColumnIn : kTwoColumnsIn) * fig::kPtPerIn;
  const double bar_total = 6 + Canvas::colour_bar_width(kSheetBarW, 80, s.scale) + 4;
  l.cell = std::min(96.0, (l.width - 8 - bar_total - (n - 1) * kSheetGap) / n);
  if (l.cell < 12) throw Error("contact sheet: too many images (" + std::to_string(s.images.size()) + ")", kExitFailure);
  double title_h = s.title.empty() ? 0 : fig::wrap(s.title, kTitleFont, l.width - 8).size() * kTitleFont.size * 1.25;
  if (!s.note.empty()) title_h += fig::wrap(s.note, kNoteFont, l.width - 8).size() * kNoteFont.size * 1.25;
  l.top = 4 + title_h + 4;
  size_t most = 0;
  for (const auto& cap : s.captions) {
    std::vector<std::string> lines;
    for (const auto& c : cap)
      for (const auto& w : fig::wrap(c, kCaptionFont, l.cell)) lines.push_back(w);
    if (lines.size() > kMaxCaptionLines) {
      lines.resize(kMaxCaptionLines);
      lines.back() = fig::fit(lines.back() + "...", kCaptionFont, l.cell);
    }
    most = std::max(most, lines.size());
    l.lines.push_back(lines);
  }
  l.bar_h = std::max(l.cell, 60.0);
  l.bar_x = 4 + n * l.cell + (n - 1) * kSheetGap + 6;
  const double below = 2 + kStripH + 2 + static_cast<double>(most) * kCaptionFont.size * 1.3;
  l.height = l.top + std::max(l.cell + below, l.bar_h) + 4;
  return l;
}

void draw_sheet(Canvas& c, const ContactSheet& s, const SheetLayout& l) {
  double y = 4;
  if (!s.title.empty()) y = c.title(s.title, y, kTitleFont);
  if (!s.note.empty()) c.title(s.note, y, kNoteFont);
  for (size_t i = 0; i < s.images.size(); ++i) {
    const double x = 4 + i * (l.cell + kSheetGap);
    const cv::Mat& img = s.images[i];
    if (img.empty()) {
      c.fill_rect(x, l.top, l.cell, l.cell, fig::kEmpty);
    } else {
      const double k = std::min(l.cell / img.cols, l.cell / img.rows);
      c.image(img, x + (l.cell - img.cols * k) / 2, l.top + (l.cell - img.rows * k) / 2, img.cols * k, img.rows * k,
              false);
    }
    // the activation on the scale: a strip filled to its share of the scale, in the scale's colour
    const double u = std::clamp((s.activations[i] - s.scale.lo) / (s.scale.hi - s.scale.lo), 0.0, 1.0);
    const double sy = l.top + l.cell + 2;
    c.fill_rect(x, sy, l.cell, kStripH, fig::kEmpty);
    c.fill_rect(x, sy, l.cell * u, kStripH, colour_at(s.scale.colormap, u));
    double ty = sy + kStripH + 2 + kCaptionFont.size * 0.6;
    for (const auto& line : l.lines[i]) {
      c.text(line, x, ty, kCaptionFont);
      ty += kCaptionFont.size * 1.3;
    }
  }
  c.colour_bar(l.bar_x, l.top, kSheetBarW, l.bar_h, s.scale);
}

}  // namespace

void write_accuracy_figure(const std::string& png_path, const AccuracyFigure& f) {
  check(f);
  const AccLayout l = acc_layout(f);
  fig::write_figure(png_path, l.width, l.height, [&](Canvas& c) { draw_accuracy(c, f, l); }, f.title);
}

std::string accuracy_figure_svg(const AccuracyFigure& f) {
  check(f);
  const AccLayout l = acc_layout(f);
  return fig::render_svg(l.width, l.height, [&](Canvas& c) { draw_accuracy(c, f, l); });
}

ConfusionLayoutInfo confusion_layout(const ConfusionFigure& f) {
  check(f);
  return conf_layout(f).info;
}

void write_confusion_figure(const std::string& png_path, const ConfusionFigure& f) {
  check(f);
  const ConfLayout l = conf_layout(f);
  fig::write_figure(png_path, l.info.width, l.info.height, [&](Canvas& c) { draw_confusion(c, f, l); }, f.title);
}

std::string confusion_figure_svg(const ConfusionFigure& f) {
  check(f);
  const ConfLayout l = conf_layout(f);
  return fig::render_svg(l.info.width, l.info.height, [&](Canvas& c) { draw_confusion(c, f, l); });
}

void write_contact_sheet(const std::string& png_path, const ContactSheet& s) {
  check(s);
  const SheetLayout l = sheet_layout(s);
  fig::write_figure(png_path, l.width, l.height, [&](Canvas& c) { draw_sheet(c, s, l); }, s.title);
}

std::string contact_sheet_svg(const ContactSheet& s) {
  check(s);
  const SheetLayout l = sheet_layout(s);
  return fig::render_svg(l.width, l.height, [&](Canvas& c) { draw_sheet(c, s, l); });
}

}  // namespace diffscope
