// The SVG twin of line_plot: one polyline per unbroken run of points, escaped text, a legend entry per named series.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "diffscope/util/error.h"
#include "diffscope/util/matrix_plot.h"
#include "diffscope/util/plot.h"

#include <cstdio>

using namespace diffscope;

namespace {
size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("line_plot_svg: lines, breaks at non-finite points, escaped labels, legend", "[util][plot]") {
  Series a{"a<b & c", {0, 1, 2, 3, 4}, {0.0, 0.5, std::nan(""), 0.7, 1.0}, {}};
  Series b{"second", {0, 4}, {1.0, 0.0}, {"", "end"}};
  const std::string svg = line_plot_svg({a, b}, "Title \"quoted\"", "step", "value");
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(count(svg, "<polyline") == 3);        // a breaks at its NaN: two pieces; b one
  CHECK(count(svg, "<circle") == 4 + 2);      // markers on finite points (at most 40 per series)
  CHECK(svg.find("a&lt;b &amp; c") != std::string::npos);
  CHECK(svg.find("Title &quot;quoted&quot;") != std::string::npos);
  CHECK(svg.find(">end</text>") != std::string::npos);  // point labels
  CHECK(count(svg, "stroke-width=\"2\"/>") == 2);       // two legend samples
  CHECK(svg.find("a<b") == std::string::npos);          // nothing unescaped
  CHECK_THROWS(line_plot_svg({Series{"bad", {0, 1}, {0}, {}}}, "", "", ""));
}

TEST_CASE("matrix_plot: coloured cells with values, labels, colour bar; PNG and SVG agree on the cells", "[util][plot]") {
  MatrixFigure f;
  f.values = {{0.0, 0.5, 1.0}, {0.25, std::nan(""), 2.0}};
  f.row_labels = {"layer <0>", "layer 1"};
  f.col_labels = {"0", "12", "mean"};
  f.title = "AUC & friends";
  f.xlabel = "step";
  f.ylabel = "layer";
  const cv::Mat img = matrix_plot(f);
  REQUIRE(img.type() == CV_8UC3);
  CHECK(img.cols > 3 * 44);
  CHECK(img.rows > 2 * 26 + 40);
  const std::string svg = matrix_plot_svg(f);
  CHECK(count(svg, "<rect x=") == 6 + 1);  // 6 cells and the colour bar
  CHECK(svg.find(">0.50</text>") != std::string::npos);
  CHECK(svg.find(">2.00</text>") != std::string::npos);  // printed as is, coloured as the top of the scale
  CHECK(svg.find(">-</text>") != std::string::npos);     // the NaN cell
  CHECK(svg.find("layer &lt;0&gt;") != std::string::npos);
  CHECK(svg.find("AUC &amp; friends") != std::string::npos);
  // the value-1.0 and value-2.0 cells share the colour of the scale's top (clamped), 0.0 the bottom's
  const Colormap cm = f.colormap;
  float one = 1.f, zero = 0.f;
  const cv::Vec3b top = colorize(&one, 1, 1, cm).at<cv::Vec3b>(0, 0), bottom = colorize(&zero, 1, 1, cm).at<cv::Vec3b>(0, 0);
  char hex[16];
  std::snprintf(hex, sizeof hex, "#%02x%02x%02x", top[2], top[1], top[0]);
  CHECK(count(svg, std::string("fill=\"") + hex + "\"") == 2);
  std::snprintf(hex, sizeof hex, "#%02x%02x%02x", bottom[2], bottom[1], bottom[0]);
  CHECK(count(svg, std::string("fill=\"") + hex + "\"") == 1);
  // refusals: labels that do not fit the values, an empty colour scale
  MatrixFigure bad = f;
  bad.row_labels.pop_back();
  CHECK_THROWS_WITH(matrix_plot(bad), Catch::Contains("2 rows of values but 1 row labels"));
  bad = f;
  bad.col_labels.push_back("x");
  CHECK_THROWS_AS(matrix_plot_svg(bad), Error);
  bad = f;
  bad.lo = bad.hi = 1;
  CHECK_THROWS_WITH(matrix_plot(bad), Catch::Contains("lo < hi"));
}
