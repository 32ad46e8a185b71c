// Line plots: one drawing routine (cairo, see canvas.h) rendered as PNG, PDF and SVG. One column: 3.5 x 2.625 in.
#include "diffscope/util/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "diffscope/util/error.h"
#include "util/canvas.h"

namespace diffscope {

namespace {

using fig::Anchor;
using fig::Canvas;
using fig::Font;

constexpr double kPlotW = kOneColumnIn * fig::kPtPerIn, kPlotH = kPlotW * 0.75;  // 3.5 x 2.625 in
constexpr Font kTitleFont{8.0, true}, kLabelFont{7.0, false}, kTickFont{6.5, false}, kLegendFont{6.0, false},
    kPointFont{5.5, false};

double nice_step(double range, int target) {
  double raw = range / std::max(1, target);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nice * mag;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  // An empty range becomes [0, 1]; a single value gets some room around it.
  void settle() {
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (lo == hi) {
      double d = lo == 0 ? 0.5 : std::abs(lo) * 0.1;
      lo -= d, hi += d;
    }
  }
};

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo)) return ticks;
  double step = nice_step(hi - lo, target);
  double first = std::ceil(lo / step - 1e-9) * step;
  for (int i = 0;; ++i) {
    double t = first + i * step;
    if (t > hi + step * 1e-9) break;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

namespace {

/// The data ranges, tick steps and ticks of a line plot; the series are checked.
struct Axes {
  Range xr, yr;
  double xstep = 1, ystep = 1;
  std::vector<double> xt, yt;
  bool any_name = false;
};

Axes plot_axes(const std::vector<Series>& series, double width_pt, double height_pt) {
  Axes a;
  for (const auto& s : series) {
    if (s.x.size() != s.y.size()) {
      throw Error("plot series '" + s.name + "': " + std::to_string(s.x.size()) + " x values but " +
                      std::to_string(s.y.size()) + " y values",
                  kExitFailure);
    }
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) a.xr.add(s.x[i]), a.yr.add(s.y[i]);
    a.any_name = a.any_name || !s.name.empty();
  }
  a.xr.settle();
  a.yr.settle();
  const int target_x = std::max(3, static_cast<int>(width_pt / 40)), target_y = std::max(3, static_cast<int>(height_pt / 28));
  a.xstep = nice_step(a.xr.hi - a.xr.lo, target_x), a.ystep = nice_step(a.yr.hi - a.yr.lo, target_y);
  a.xr.lo = std::floor(a.xr.lo / a.xstep + 1e-9) * a.xstep, a.xr.hi = std::ceil(a.xr.hi / a.xstep - 1e-9) * a.xstep;
  a.yr.lo = std::floor(a.yr.lo / a.ystep + 1e-9) * a.ystep, a.yr.hi = std::ceil(a.yr.hi / a.ystep - 1e-9) * a.ystep;
  a.xt = nice_ticks(a.xr.lo, a.xr.hi, target_x);
  a.yt = nice_ticks(a.yr.lo, a.yr.hi, target_y);
  return a;
}

Rgb colour_of(const std::vector<Series>& series, size_t i) {
  return series[i].colour ? *series[i].colour : series_colour(i);
}

/// The plot, drawn once for every surface.
void draw_line_plot(Canvas& c, const std::vector<Series>& series, const Axes& axes, const std::string& title,
                    const std::string& xlabel, const std::string& ylabel) {
  const double W = c.width(), H = c.height();
  const double top = title.empty() ? 8 : c.title(title, 4, kTitleFont) + 3;
  double ytick_w = 0;
  for (double t : axes.yt) ytick_w = std::max(ytick_w, fig::text_width(fig::tick_label(t, axes.ystep), kTickFont));
  const double left = 4 + (ylabel.empty() ? 0 : kLabelFont.size * 1.3) + ytick_w + 4.5;
  const double bottom = 3 + kTickFont.size * 1.4 + (xlabel.empty() ? 0 : kLabelFont.size * 1.4) + 3;
  const double right = 8;
  const double ax = left, ay = top, aw = W - left - right, ah = H - top - bottom;
  if (aw < 20 || ah < 20) throw Error("plot: labels leave no room for the plot", kExitFailure);
  auto px = [&](double x) { return ax + (x - axes.xr.lo) / (axes.xr.hi - axes.xr.lo) * aw; };
  auto py = [&](double y) { return ay + ah - (y - axes.yr.lo) / (axes.yr.hi - axes.yr.lo) * ah; };

  for (double t : axes.xt) {
    const double x = px(t);
    c.line(x, ay, x, ay + ah, 0.4, fig::kGrid);
    c.line(x, ay + ah, x, ay + ah + 2.5, 0.5, fig::kFrame);
    c.text(fig::tick_label(t, axes.xstep), x, ay + ah + 3 + kTickFont.size * 0.6, kTickFont, Anchor::Centre);
  }
  for (double t : axes.yt) {
    const double y = py(t);
    c.line(ax, y, ax + aw, y, 0.4, fig::kGrid);
    c.line(ax - 2.5, y, ax, y, 0.5, fig::kFrame);
    c.text(fig::tick_label(t, axes.ystep), ax - 4, y, kTickFont, Anchor::Right);
  }
  c.stroke_rect(ax, ay, aw, ah, 0.6, fig::kFrame);

  cairo_t* cr = c.cr();
  cairo_save(cr);
  cairo_rectangle(cr, ax - 3, ay - 3, aw + 6, ah + 6);
  cairo_clip(cr);
  for (size_t si = 0; si < series.size(); ++si) {
    const auto& s = series[si];
    const Rgb colour = colour_of(series, si);
    c.colour(colour);
    cairo_set_line_width(cr, 1.1);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    bool have_prev = false;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        have_prev = false;
        continue;
      }
      if (have_prev) cairo_line_to(cr, px(s.x[i]), py(s.y[i]));
      else cairo_move_to(cr, px(s.x[i]), py(s.y[i]));
      have_prev = true;
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if (s.x.size() <= 40) {
        cairo_arc(cr, px(s.x[i]), py(s.y[i]), 1.5, 0, 2 * M_PI);
        cairo_fill(cr);
      }
      if (i < s.point_labels.size() && !s.point_labels[i].empty())
        c.text(s.point_labels[i], px(s.x[i]) + 2.5, py(s.y[i]) - 3, kPointFont, Anchor::Left, colour);
    }
  }
  cairo_restore(cr);

  // the legend, in the corner of the axes whose box covers the fewest data points (top-right first on ties)
  if (axes.any_name) {
    double text_w = 0;
    for (const auto& s : series) text_w = std::max(text_w, fig::text_width(s.name, kLegendFont));
    text_w = std::min(text_w, aw - 30);
    const double row_h = kLegendFont.size * 1.35, sample = 10;
    const double bw = 3 + sample + 3 + text_w + 3, bh = static_cast<double>(series.size()) * row_h + 3;
    const double cx[4] = {ax + aw - bw - 3, ax + 3, ax + aw - bw - 3, ax + 3};
    const double cy[4] = {ay + 3, ay + 3, ay + ah - bh - 3, ay + ah - bh - 3};
    int best = 0;
    size_t fewest = SIZE_MAX;
    for (int k = 0; k < 4; ++k) {
      size_t n = 0;
      for (const auto& s : series)
        for (size_t i = 0; i < s.x.size(); ++i) {
          if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
          const double x = px(s.x[i]), y = py(s.y[i]);
          n += x >= cx[k] && x <= cx[k] + bw && y >= cy[k] && y <= cy[k] + bh;
        }
      if (n < fewest) fewest = n, best = k;
    }
    const double bx = cx[best], by = std::max(ay, cy[best]);
    c.fill_rect(bx, by, bw, std::min(bh, ah), fig::kWhite, 0.9);
    c.stroke_rect(bx, by, bw, std::min(bh, ah), 0.4, fig::kFrame);
    for (size_t si = 0; si < series.size(); ++si) {
      const double y = by + 1.5 + (static_cast<double>(si) + 0.5) * row_h;
      if (y > by + ah) break;
      c.line(bx + 3, y, bx + 3 + sample, y, 1.1, colour_of(series, si));
      c.text(fig::fit(series[si].name, kLegendFont, text_w), bx + 3 + sample + 3, y, kLegendFont);
    }
  }

  if (!xlabel.empty())
    c.text(fig::fit(xlabel, kLabelFont, aw), ax + aw / 2, H - 3 - kLabelFont.size * 0.5, kLabelFont, Anchor::Centre);
  if (!ylabel.empty())
    c.text(fig::fit(ylabel, kLabelFont, ah), 4 + kLabelFont.size * 0.5, ay + ah / 2, kLabelFont, Anchor::Centre, fig::kInk, 90);
}

fig::DrawFn plot_drawing(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                         const std::string& ylabel, double w_pt, double h_pt) {
  const Axes axes = plot_axes(series, w_pt, h_pt);
  return [&series, axes, &title, &xlabel, &ylabel](Canvas& c) { draw_line_plot(c, series, axes, title, xlabel, ylabel); };
}

}  // namespace

cv::Mat line_plot(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, int width, int height) {
  if (width < 200 || height < 150) throw Error("plot: size must be at least 200 x 150", kExitFailure);
  // one column wide, the height in proportion, drawn at width / 252 pixels a point
  const double w_pt = kPlotW, h_pt = kPlotW * height / width;
  return fig::render_bgr(w_pt, h_pt, width / w_pt, plot_drawing(series, title, xlabel, ylabel, w_pt, h_pt));
}

std::string line_plot_svg(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                          const std::string& ylabel) {
  return fig::render_svg(kPlotW, kPlotH, plot_drawing(series, title, xlabel, ylabel, kPlotW, kPlotH));
}

void write_plot(const std::string& png_path, const std::vector<Series>& series, const std::string& title,
                const std::string& xlabel, const std::string& ylabel) {
  fig::write_figure(png_path, kPlotW, kPlotH, plot_drawing(series, title, xlabel, ylabel, kPlotW, kPlotH), title);
}

}  // namespace diffscope
