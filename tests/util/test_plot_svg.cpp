// The SVG twin of line_plot: one polyline per unbroken run of points, escaped text, a legend entry per named series.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "diffscope/util/plot.h"

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
