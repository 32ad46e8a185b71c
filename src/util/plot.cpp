// Line plots drawn with OpenCV: nice ticks, gridlines, axes, legend, title and axis labels.
#include "diffscope/util/plot.h"

#include "diffscope/util/atomic_file.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/xml.h"
#include "util/draw.h"

namespace diffscope {

namespace {

const cv::Scalar kWhite(255, 255, 255), kBlack(0, 0, 0), kGridGrey(225, 225, 225), kAxisGrey(90, 90, 90);
// matplotlib's tab10 palette, BGR.
const cv::Scalar kPalette[] = {{180, 119, 31}, {14, 127, 255},  {44, 160, 44},   {40, 39, 214},  {189, 103, 148},
                               {75, 86, 140},  {194, 119, 227}, {127, 127, 127}, {34, 189, 188}, {207, 190, 23}};
constexpr int kShift = 4;  // sub-pixel bits for line drawing
constexpr double kSub = 1 << kShift;

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

std::string tick_label(double v, double step) {
  char buf[64];
  if (std::abs(v) < step * 1e-9) v = 0;
  if (std::abs(v) >= 1e6 || (step < 1e-4 && v != 0)) {
    std::snprintf(buf, sizeof(buf), "%.3g", v);
  } else {
    int digits = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  }
  return buf;
}

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
/// The data ranges, tick steps and ticks both renderings (PNG and SVG) of a line plot draw; the series are checked.
struct Axes {
  Range xr, yr;
  double xstep = 1, ystep = 1;
  std::vector<double> xt, yt;
  bool any_name = false;
};

Axes plot_axes(const std::vector<Series>& series, int width, int height) {
  if (width < 200 || height < 150) throw Error("plot: size must be at least 200 x 150", kExitFailure);
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
  const int target_x = std::max(3, width / 110), target_y = std::max(3, height / 70);
  a.xstep = nice_step(a.xr.hi - a.xr.lo, target_x), a.ystep = nice_step(a.yr.hi - a.yr.lo, target_y);
  a.xr.lo = std::floor(a.xr.lo / a.xstep + 1e-9) * a.xstep, a.xr.hi = std::ceil(a.xr.hi / a.xstep - 1e-9) * a.xstep;
  a.yr.lo = std::floor(a.yr.lo / a.ystep + 1e-9) * a.ystep, a.yr.hi = std::ceil(a.yr.hi / a.ystep - 1e-9) * a.ystep;
  a.xt = nice_ticks(a.xr.lo, a.xr.hi, target_x);
  a.yt = nice_ticks(a.yr.lo, a.yr.hi, target_y);
  return a;
}
}  // namespace

cv::Mat line_plot(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                  const std::string& ylabel, int width, int height) {
  const Axes axes = plot_axes(series, width, height);

  const double fs = std::clamp(height / 1000.0, 0.38, 0.6);  // tick / label font scale
  const double title_fs = fs * 1.25;
  const int line_h = draw::text_size("Ag", fs, 1).height;
  int ytick_w = 0;
  for (double t : axes.yt) ytick_w = std::max(ytick_w, draw::text_size(tick_label(t, axes.ystep), fs, 1).width);

  const int left = 12 + (ylabel.empty() ? 0 : line_h + 10) + ytick_w + 10;
  const int top = title.empty() ? 18 : draw::text_size("Ag", title_fs, 2).height + 22;
  const int bottom = 10 + line_h + (xlabel.empty() ? 0 : line_h + 10) + 12;
  const int right = 24;
  const cv::Rect area(left, top, width - left - right, height - top - bottom);
  if (area.width < 20 || area.height < 20) throw Error("plot: labels leave no room for the plot", kExitFailure);

  auto px = [&](double x) { return area.x + (x - axes.xr.lo) / (axes.xr.hi - axes.xr.lo) * area.width; };
  auto py = [&](double y) { return area.y + area.height - (y - axes.yr.lo) / (axes.yr.hi - axes.yr.lo) * area.height; };
  auto sub = [](double a, double b) { return cv::Point(static_cast<int>(std::lround(a * kSub)), static_cast<int>(std::lround(b * kSub))); };

  cv::Mat img(height, width, CV_8UC3, kWhite);
  // Gridlines and tick labels.
  for (double t : axes.xt) {
    int x = static_cast<int>(std::lround(px(t)));
    cv::line(img, {x, area.y}, {x, area.y + area.height}, kGridGrey, 1);
    cv::line(img, {x, area.y + area.height}, {x, area.y + area.height + 5}, kAxisGrey, 1);
    draw::text_centred(img, tick_label(t, axes.xstep), {x, area.y + area.height + 10 + line_h / 2}, fs, 1, kBlack);
  }
  for (double t : axes.yt) {
    int y = static_cast<int>(std::lround(py(t)));
    cv::line(img, {area.x, y}, {area.x + area.width, y}, kGridGrey, 1);
    cv::line(img, {area.x - 5, y}, {area.x, y}, kAxisGrey, 1);
    std::string l = tick_label(t, axes.ystep);
    int w = draw::text_size(l, fs, 1).width;
    draw::text_left(img, l, {area.x - 8 - w, y}, fs, 1, kBlack);
  }
  cv::rectangle(img, area, kAxisGrey, 1);

  // Series.
  for (size_t si = 0; si < series.size(); ++si) {
    const auto& s = series[si];
    const cv::Scalar colour = kPalette[si % (sizeof(kPalette) / sizeof(kPalette[0]))];
    bool have_prev = false;
    cv::Point prev;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        have_prev = false;
        continue;
      }
      cv::Point p = sub(px(s.x[i]), py(s.y[i]));
      if (have_prev) cv::line(img, prev, p, colour, 2, cv::LINE_AA, kShift);
      if (s.x.size() <= 40) cv::circle(img, p, static_cast<int>(3 * kSub), colour, cv::FILLED, cv::LINE_AA, kShift);
      if (i < s.point_labels.size() && !s.point_labels[i].empty())
        draw::text_left(img, s.point_labels[i], cv::Point(static_cast<int>(p.x / kSub) + 6, static_cast<int>(p.y / kSub) - 8), fs * 0.85, 1, colour);
      prev = p;
      have_prev = true;
    }
  }

  // Legend, top-right inside the axes.
  if (axes.any_name) {
    int text_w = 0;
    for (const auto& s : series) text_w = std::max(text_w, draw::text_size(s.name, fs, 1).width);
    const int row_h = line_h + 6, sample = 26;
    const int box_w = 10 + sample + 8 + text_w + 10, box_h = static_cast<int>(series.size()) * row_h + 10;
    // The corner whose box covers the fewest data points (top-right first on ties).
    const cv::Point corners[] = {{area.x + area.width - box_w - 8, area.y + 8},
                                 {area.x + 8, area.y + 8},
                                 {area.x + area.width - box_w - 8, area.y + area.height - box_h - 8},
                                 {area.x + 8, area.y + area.height - box_h - 8}};
    cv::Rect box;
    size_t best = std::numeric_limits<size_t>::max();
    for (const cv::Point& c : corners) {
      cv::Rect r(c.x, c.y, box_w, box_h);
      size_t covered = 0;
      for (const auto& s : series)
        for (size_t i = 0; i < s.x.size(); ++i)
          if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && r.contains(cv::Point(px(s.x[i]), py(s.y[i]))))
            ++covered;
      if (covered < best) best = covered, box = r;
    }
    box &= area;
    img(box).setTo(kWhite);
    cv::rectangle(img, box, kAxisGrey, 1);
    for (size_t si = 0; si < series.size(); ++si) {
      int y = box.y + 5 + static_cast<int>(si) * row_h + row_h / 2;
      if (y > box.y + box.height) break;
      const cv::Scalar colour = kPalette[si % (sizeof(kPalette) / sizeof(kPalette[0]))];
      cv::line(img, {box.x + 10, y}, {box.x + 10 + sample, y}, colour, 2, cv::LINE_AA);
      draw::text_left(img, series[si].name, {box.x + 10 + sample + 8, y}, fs, 1, kBlack);
    }
  }

  // Title and axis labels.
  if (!title.empty()) {
    std::string t = draw::fit_text(title, title_fs, 2, width - 20);
    draw::text_centred(img, t, {width / 2, top / 2}, title_fs, 2, kBlack);
  }
  if (!xlabel.empty()) {
    std::string t = draw::fit_text(xlabel, fs, 1, area.width);
    draw::text_centred(img, t, {area.x + area.width / 2, height - 12 - line_h / 2}, fs, 1, kBlack);
  }
  if (!ylabel.empty()) {
    std::string t = draw::fit_text(ylabel, fs, 1, area.height);
    cv::Size ts = draw::text_size(t, fs, 1);
    cv::Mat label(ts.height + 4, ts.width + 4, CV_8UC3, kWhite);
    draw::text_left(label, t, {2, label.rows / 2}, fs, 1, kBlack);
    cv::rotate(label, label, cv::ROTATE_90_COUNTERCLOCKWISE);
    int x = 12, y = area.y + area.height / 2 - label.rows / 2;
    y = std::clamp(y, 0, height - label.rows);
    label.copyTo(img(cv::Rect(x, y, label.cols, label.rows)));
  }
  return img;
}

cv::Mat figure_with_colorbar(const cv::Mat& img, const std::string& title, Colormap cm, int min_px,
                             const std::string& lo_label, const std::string& hi_label) {
  if (img.empty()) throw Error("figure: empty image", kExitFailure);
  cv::Mat body = img;
  const int longer = std::max(img.rows, img.cols);
  if (longer < min_px) {
    const double f = double(min_px) / longer;
    cv::resize(img, body, cv::Size(), f, f, cv::INTER_CUBIC);
  }
  const double fs = std::clamp(body.cols / 420.0, 0.45, 0.8);
  const int line_h = draw::text_size("Ag", fs, 1).height;
  const int pad = 10, title_h = line_h + 2 * pad, bar_w = std::max(12, body.cols / 20), label_w = 60;
  cv::Mat canvas(body.rows + title_h + pad, pad + body.cols + pad + bar_w + label_w, CV_8UC3, cv::Scalar(255, 255, 255));
  body.copyTo(canvas(cv::Rect(pad, title_h, body.cols, body.rows)));
  draw::text_centred(canvas, draw::fit_text(title, fs, 1, canvas.cols - 2 * pad), {canvas.cols / 2, title_h / 2}, fs, 1,
                     cv::Scalar(0, 0, 0));
  std::vector<float> ramp(static_cast<size_t>(body.rows));
  for (int y = 0; y < body.rows; ++y) ramp[static_cast<size_t>(y)] = 1.0f - float(y) / std::max(1, body.rows - 1);
  cv::Mat bar = colorize(ramp.data(), body.rows, 1, cm);
  cv::resize(bar, bar, cv::Size(bar_w, body.rows), 0, 0, cv::INTER_NEAREST);
  const int bx = pad + body.cols + pad;
  bar.copyTo(canvas(cv::Rect(bx, title_h, bar_w, body.rows)));
  cv::rectangle(canvas, cv::Rect(bx, title_h, bar_w, body.rows), cv::Scalar(120, 120, 120), 1);
  draw::text_left(canvas, hi_label, {bx + bar_w + 4, title_h + line_h / 2 + 1}, fs * 0.85, 1, cv::Scalar(0, 0, 0));
  draw::text_left(canvas, lo_label, {bx + bar_w + 4, title_h + body.rows - line_h / 2 - 1}, fs * 0.85, 1,
                  cv::Scalar(0, 0, 0));
  return canvas;
}

namespace {
using draw::svg_colour;
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
}  // namespace

std::string line_plot_svg(const std::vector<Series>& series, const std::string& title, const std::string& xlabel,
                          const std::string& ylabel, int width, int height) {
  const Axes axes = plot_axes(series, width, height);
  const double left = 80, right = 24, top = title.empty() ? 18 : 44, bottom = xlabel.empty() ? 40 : 62;
  const double aw = width - left - right, ah = height - top - bottom;
  auto px = [&](double x) { return left + (x - axes.xr.lo) / (axes.xr.hi - axes.xr.lo) * aw; };
  auto py = [&](double y) { return top + ah - (y - axes.yr.lo) / (axes.yr.hi - axes.yr.lo) * ah; };
  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
       std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
       "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!title.empty())
    o += "<text x=\"" + num(width / 2.0) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">" +
         xml_escape(title) + "</text>\n";
  for (double t : axes.xt)
    o += "<line x1=\"" + num(px(t)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(px(t)) + "\" y2=\"" + num(top + ah) +
         "\" stroke=\"#e3e3e3\"/>\n<text x=\"" + num(px(t)) + "\" y=\"" + num(top + ah + 18) +
         "\" text-anchor=\"middle\">" + xml_escape(tick_label(t, axes.xstep)) + "</text>\n";
  for (double t : axes.yt)
    o += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(t)) + "\" x2=\"" + num(left + aw) + "\" y2=\"" + num(py(t)) +
         "\" stroke=\"#e3e3e3\"/>\n<text x=\"" + num(left - 8) + "\" y=\"" + num(py(t) + 4) + "\" text-anchor=\"end\">" +
         xml_escape(tick_label(t, axes.ystep)) + "</text>\n";
  o += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(aw) + "\" height=\"" + num(ah) +
       "\" fill=\"none\" stroke=\"#8c8c8c\"/>\n";
  if (!xlabel.empty())
    o += "<text x=\"" + num(left + aw / 2) + "\" y=\"" + num(height - 14.0) + "\" text-anchor=\"middle\">" +
         xml_escape(xlabel) + "</text>\n";
  if (!ylabel.empty())
    o += "<text transform=\"translate(18," + num(top + ah / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         xml_escape(ylabel) + "</text>\n";
  for (size_t si = 0; si < series.size(); ++si) {
    const auto& s = series[si];
    const std::string colour = svg_colour(kPalette[si % (sizeof(kPalette) / sizeof(kPalette[0]))]);
    std::string pts;
    auto flush = [&] {
      if (!pts.empty()) o += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"2\" points=\"" + pts + "\"/>\n";
      pts.clear();
    };
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      pts += (pts.empty() ? "" : " ") + num(px(s.x[i])) + "," + num(py(s.y[i]));
      if (s.x.size() <= 40)
        o += "<circle cx=\"" + num(px(s.x[i])) + "\" cy=\"" + num(py(s.y[i])) + "\" r=\"3\" fill=\"" + colour + "\"/>\n";
      if (i < s.point_labels.size() && !s.point_labels[i].empty())
        o += "<text x=\"" + num(px(s.x[i]) + 6) + "\" y=\"" + num(py(s.y[i]) - 6) + "\" fill=\"" + colour +
             "\" font-size=\"11\">" + xml_escape(s.point_labels[i]) + "</text>\n";
    }
    flush();
  }
  if (axes.any_name) {
    size_t longest = 0;
    for (const auto& s : series) longest = std::max(longest, s.name.size());
    const double bw = 46 + 7.2 * longest, bh = 10 + 20.0 * series.size();
    // the corner whose box covers the fewest data points (top-right first on ties), as the PNG's legend
    const double cx[4] = {left + aw - bw - 8, left + 8, left + aw - bw - 8, left + 8};
    const double cy[4] = {top + 8, top + 8, top + ah - bh - 8, top + ah - bh - 8};
    int best = 0;
    size_t fewest = SIZE_MAX;
    for (int c = 0; c < 4; ++c) {
      size_t n = 0;
      for (const auto& s : series)
        for (size_t i = 0; i < s.x.size(); ++i) {
          if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
          const double x = px(s.x[i]), y = py(s.y[i]);
          n += x >= cx[c] && x <= cx[c] + bw && y >= cy[c] && y <= cy[c] + bh;
        }
      if (n < fewest) fewest = n, best = c;
    }
    const double bx = cx[best], by = cy[best];
    o += "<rect x=\"" + num(bx) + "\" y=\"" + num(by) + "\" width=\"" + num(bw) + "\" height=\"" + num(bh) +
         "\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#8c8c8c\"/>\n";
    for (size_t si = 0; si < series.size(); ++si) {
      const std::string colour = svg_colour(kPalette[si % (sizeof(kPalette) / sizeof(kPalette[0]))]);
      const double y = by + 15 + 20.0 * si;
      o += "<line x1=\"" + num(bx + 8) + "\" y1=\"" + num(y) + "\" x2=\"" + num(bx + 32) + "\" y2=\"" + num(y) +
           "\" stroke=\"" + colour + "\" stroke-width=\"2\"/>\n<text x=\"" + num(bx + 38) + "\" y=\"" + num(y + 4) +
           "\">" + xml_escape(series[si].name) + "</text>\n";
    }
  }
  o += "</svg>\n";
  return o;
}

void write_plot(const std::string& png_path, const std::vector<Series>& series, const std::string& title,
                const std::string& xlabel, const std::string& ylabel) {
  write_png(png_path, line_plot(series, title, xlabel, ylabel));
  std::string svg = png_path;
  if (svg.size() > 4 && svg.compare(svg.size() - 4, 4, ".png") == 0) svg.resize(svg.size() - 4);
  write_file_atomic(svg + ".svg", line_plot_svg(series, title, xlabel, ylabel));
}

}  // namespace diffscope

