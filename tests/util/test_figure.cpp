// The figure layer (cairo): every figure written as PNG (300 dpi, its stated physical size), PDF and SVG, bit-identical
// when drawn twice; numeric colour bars whose tick labels are text in the SVG; the one palette.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/figure.h"
#include "diffscope/util/matrix_plot.h"
#include "diffscope/util/palette.h"
#include "diffscope/util/plot.h"
#include "test_support.h"

using namespace diffscope;
namespace fs = std::filesystem;

namespace {
size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

std::string bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The contract of one written figure: PNG of width x height pixels with a 300 dpi pHYs chunk, a PDF, an SVG that
/// Python's xml.etree parses. Returns the SVG's text.
std::string check_figure(const std::string& png, int width, int height) {
  INFO(png);
  const std::string p = bytes(png);
  REQUIRE(p.size() > 33);
  CHECK(p.compare(1, 3, "PNG") == 0);
  CHECK(be32(p, 16) == uint32_t(width));
  CHECK(be32(p, 20) == uint32_t(height));
  const size_t phys = p.find("pHYs");
  REQUIRE(phys != std::string::npos);
  CHECK(be32(p, phys + 4) == 11811);  // 300 dpi in pixels per metre
  CHECK(be32(p, phys + 8) == 11811);
  CHECK(p[phys + 12] == 1);
  CHECK(cv::imread(png).size() == cv::Size(width, height));
  const std::string stem = figure_stem(png);
  CHECK(bytes(stem + ".pdf").rfind("%PDF-", 0) == 0);
  const std::string svg = bytes(stem + ".svg");
  CHECK(svg.find("<svg") != std::string::npos);
  const auto r = ds_test::run_command(std::string(DS_PYTHON) + " -c \"import sys, xml.etree.ElementTree as E; "
                                      "E.parse(sys.argv[1])\" " + ds_test::quote(stem + ".svg"));
  CHECK(r.exit_code == 0);
  INFO(r.output);
  return svg;
}

void check_identical(const std::string& a, const std::string& b) {
  for (const char* ext : {".png", ".pdf", ".svg"}) {
    INFO(ext);
    CHECK(bytes(figure_stem(a) + ext) == bytes(figure_stem(b) + ext));
  }
}
}  // namespace

TEST_CASE("write_plot: PNG 3.5 x 2.625 in at 300 dpi + PDF + SVG, identical when drawn twice", "[util][plot][figure]") {
  ds_test::TempDir tmp("figure");
  Series a{"a<b & c", {0, 1, 2, 3, 4}, {0.0, 0.5, std::nan(""), 0.7, 1.0}, {}};
  Series b{"second", {0, 4}, {1.0, 0.0}, {"", "end"}};
  for (const char* d : {"one", "two"}) {
    fs::create_directories(tmp.path / d);
    write_plot((tmp.path / d / "p.png").string(), {a, b}, "Title \"quoted\"", "step", "value");
  }
  const std::string svg = check_figure((tmp.path / "one/p.png").string(), 1050, 788);
  check_identical((tmp.path / "one/p.png").string(), (tmp.path / "two/p.png").string());
  // the text is in the SVG, escaped: title, legend (each name once), point label, axis labels
  CHECK(svg.find(">Title &quot;quoted&quot;</text>") != std::string::npos);
  CHECK(count(svg, ">a&lt;b &amp; c</text>") == 1);
  CHECK(count(svg, ">second</text>") == 1);
  CHECK(svg.find(">end</text>") != std::string::npos);
  CHECK(svg.find(">step</text>") != std::string::npos);
  CHECK(svg.find("a<b") == std::string::npos);
  // the PDF carries the fixed date, not today's
  CHECK(bytes((tmp.path / "one/p.pdf").string()).find("20000101000000") != std::string::npos);
  CHECK(line_plot_svg({a, b}, "Title \"quoted\"", "step", "value") == svg);
  CHECK_THROWS(write_plot((tmp.path / "bad.png").string(), {Series{"bad", {0, 1}, {0}, {}}}, "", "", ""));
}

TEST_CASE("Series colours: the palette's by index, or the explicit one (a method's colour)", "[util][plot][figure]") {
  Series a{"df-cam", {0, 1, 2}, {0, 1, 0.5}, {}}, b{"df-rise", {0, 1, 2}, {1, 0, 0.2}, {}};
  auto pixels_of = [](const cv::Mat& img, Rgb c) {
    int n = 0;
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x) {
        const cv::Vec3b v = img.at<cv::Vec3b>(y, x);
        n += std::abs(v[2] - c.r) < 8 && std::abs(v[1] - c.g) < 8 && std::abs(v[0] - c.b) < 8;
      }
    return n;
  };
  const cv::Mat plain = line_plot({a, b}, "", "", "");
  CHECK(plain.size() == cv::Size(900, 500));
  CHECK(pixels_of(plain, series_colour(0)) > 300);
  CHECK(pixels_of(plain, series_colour(1)) > 300);
  a.colour = method_colour("df-cam"), b.colour = method_colour("df-rise");
  const cv::Mat coloured = line_plot({b, a}, "", "", "");  // order no longer matters
  CHECK(pixels_of(coloured, okabe_ito::kVermillion) > 300);
  CHECK(pixels_of(coloured, okabe_ito::kBluishGreen) > 300);
  CHECK(pixels_of(coloured, okabe_ito::kBlue) < 50);
  // one fixed colour per method, distinct; words by index
  CHECK(method_colour("attention") == okabe_ito::kBlue);
  CHECK(method_colour("df-rise") == okabe_ito::kVermillion);
  CHECK(method_colour("df-cam") == okabe_ito::kBluishGreen);
  CHECK(method_colour("random") == okabe_ito::kBlack);
  CHECK(method_colour("word:red") == okabe_ito::kReddishPurple);
  CHECK(word_colour(2) == series_colour(2));
  CHECK(series_colour(8) == series_colour(0));
  CHECK(hex(okabe_ito::kOrange) == "#e69f00");
}

TEST_CASE("write_matrix_plot: cells, labels, a numeric colour bar with its normalisation", "[util][plot][figure]") {
  ds_test::TempDir tmp("matrix");
  MatrixFigure f;
  f.values = {{0.0, 0.5, 1.0}, {0.25, std::nan(""), 2.0}};
  f.row_labels = {"layer <0>", "layer 1"};
  f.col_labels = {"0", "12", "mean"};
  f.title = "AUC & friends";
  f.xlabel = "step";
  f.ylabel = "layer";
  f.scale_label = "ROC-AUC, fixed 0-1";
  const std::string a = (tmp.path / "a.png").string(), b = (tmp.path / "b.png").string();
  write_matrix_plot(a, f);
  write_matrix_plot(b, f);
  const cv::Mat img = cv::imread(a);
  CHECK(img.cols == 1050);  // one column: three cells fit
  const std::string svg = check_figure(a, 1050, img.rows);
  check_identical(a, b);
  CHECK(svg.find(">0.50</text>") != std::string::npos);  // cell values
  CHECK(svg.find(">2.00</text>") != std::string::npos);
  CHECK(svg.find(">-</text>") != std::string::npos);     // the NaN cell
  CHECK(svg.find(">layer &lt;0&gt;</text>") != std::string::npos);
  CHECK(svg.find(">AUC &amp; friends</text>") != std::string::npos);
  // the colour bar: numbers at its ticks, and what it shows
  for (const char* tick : {">0.0</text>", ">0.5</text>", ">1.0</text>"}) {
    INFO(tick);
    CHECK(svg.find(tick) != std::string::npos);
  }
  CHECK(svg.find(">ROC-AUC, fixed 0-1</text>") != std::string::npos);
  CHECK(matrix_plot_svg(f) == svg);
  // many columns: two columns wide
  MatrixFigure wide = f;
  wide.col_labels.clear();
  for (auto& r : wide.values) r.assign(20, 0.5);
  for (int i = 0; i < 20; ++i) wide.col_labels.push_back(std::to_string(i));
  CHECK(matrix_plot(wide).cols == 2148);  // 7.16 in at 300 dpi
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

TEST_CASE("grid and single-map figures carry a numeric colour bar; PNG + PDF + SVG", "[util][figure]") {
  ds_test::TempDir tmp("grid");
  cv::Mat cell(16, 16, CV_8UC3, cv::Scalar(20, 200, 40));
  GridFigure g;
  g.cells = {{cell, cell, cell}, {cell, cv::Mat(), cell}};
  g.row_labels = {"red", "circle"};
  g.col_labels = {"t=981", "t=501", "t=1"};
  g.title = "Where each word attends";
  g.scale = ColourScale{Colormap::Inferno, 0.0, 0.37, "mean |x0 - x0 of run 0|, one scale"};
  const std::string a = (tmp.path / "g.png").string(), b = (tmp.path / "g2.png").string();
  write_grid_figure(a, g);
  write_grid_figure(b, g);
  const cv::Mat img = cv::imread(a);
  CHECK(img.cols == 1050);  // three cells fit one column
  const std::string svg = check_figure(a, 1050, img.rows);
  check_identical(a, b);
  for (const char* t : {">0.0</text>", ">0.1</text>", ">0.2</text>", ">0.3</text>", ">t=501</text>", ">circle</text>",
                        ">mean |x0 - x0 of run 0|, one scale</text>"}) {
    INFO(t);
    CHECK(svg.find(t) != std::string::npos);
  }
  g.row_labels = {"one"};
  CHECK_THROWS_WITH(write_grid_figure(a, g), Catch::Contains("1 row labels for 2 rows"));

  cv::Mat map(32, 32, CV_8UC3, cv::Scalar(0, 0, 255));
  const ColourScale s{Colormap::Turbo, 0, 1, "per word: min-max to 0-1"};
  const std::string m = (tmp.path / "m.png").string();
  write_colorbar_figure(m, map, "\"red\" cross-attention", s, 256);
  const cv::Mat mi = cv::imread(m);
  CHECK(mi.cols == 1050);
  const std::string msvg = check_figure(m, 1050, mi.rows);
  CHECK(msvg.find(">0.5</text>") != std::string::npos);
  CHECK(msvg.find(">per word: min-max to 0-1</text>") != std::string::npos);
  CHECK(msvg.find(">&quot;red&quot; cross-attention</text>") != std::string::npos);
  CHECK(figure_with_colorbar(map, "x", s, 256).cols == 1050);
  CHECK(figure_with_colorbar(map, "x", s, 4000).cols > 1050);  // a larger image side raises the resolution
}

namespace {
/// The y of each text in the SVG's text layer whose content is exactly `text`.
std::vector<double> text_ys(const std::string& svg, const std::string& text) {
  std::vector<double> ys;
  const std::string end = ">" + text + "</text>";
  for (size_t p = svg.find(end); p != std::string::npos; p = svg.find(end, p + 1)) {
    const size_t t = svg.rfind("translate(", p);
    double x = 0, y = 0;
    if (t != std::string::npos && std::sscanf(svg.c_str() + t, "translate(%lf %lf)", &x, &y) == 2) ys.push_back(y);
  }
  return ys;
}

const Rgb fig_empty{225, 225, 225};  // an empty cell's grey

int pixels_near(const cv::Mat& img, Rgb c, int tol = 6) {
  int n = 0;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) {
      const cv::Vec3b v = img.at<cv::Vec3b>(y, x);
      n += std::abs(v[2] - c.r) <= tol && std::abs(v[1] - c.g) <= tol && std::abs(v[0] - c.b) <= tol;
    }
  return n;
}
}  // namespace

TEST_CASE("wrap_rows: at most 8 a row and even rows by default, else the given count", "[util][figure]") {
  CHECK(wrap_rows(26, 0) == std::vector<size_t>{7, 7, 7, 5});
  CHECK(wrap_rows(8, 0) == std::vector<size_t>{8});
  CHECK(wrap_rows(9, 0) == std::vector<size_t>{5, 4});
  CHECK(wrap_rows(26, 10) == std::vector<size_t>{10, 10, 6});
  CHECK(wrap_rows(3, 1000) == std::vector<size_t>{3});
  CHECK(wrap_rows(0, 0).empty());
}

TEST_CASE("grid figures: captions over each cell (a wrapped filmstrip), two-line labels, method swatches",
          "[util][figure]") {
  ds_test::TempDir tmp("grid-captions");
  cv::Mat cell(24, 24, CV_8UC3, cv::Scalar(200, 200, 200));
  // 11 images wrapped as a filmstrip is: rows of 6 and 5, each captioned "step N\nt=T"
  GridFigure f;
  f.title = "Each step's x0 estimate";
  size_t at = 0;
  for (size_t n : wrap_rows(11, 0)) {
    f.cells.emplace_back(n, cell);
    f.cell_labels.emplace_back();
    for (size_t k = 0; k < n; ++k, ++at) f.cell_labels.back().push_back("step " + std::to_string(at) + "\nt=" + std::to_string(1000 - 100 * at));
  }
  REQUIRE(f.cells.size() == 2);
  const std::string a = (tmp.path / "strip.png").string(), b = (tmp.path / "strip2.png").string();
  write_grid_figure(a, f);
  write_grid_figure(b, f);
  const cv::Mat img = cv::imread(a);
  CHECK(img.cols == 2148);  // six 24 px cells would be under 0.78 in in one column: two columns, 7.16 in
  const std::string svg = check_figure(a, 2148, img.rows);
  check_identical(a, b);
  CHECK(grid_figure(f).size() == img.size());
  // every caption's two lines are text; the rows' captions sit at two heights, the second line below the first
  std::set<double> caption_rows;
  for (int s = 0; s < 11; ++s) {
    INFO(s);
    const auto y1 = text_ys(svg, "step " + std::to_string(s)), y2 = text_ys(svg, "t=" + std::to_string(1000 - 100 * s));
    REQUIRE(y1.size() == 1);
    REQUIRE(y2.size() == 1);
    CHECK(y2[0] > y1[0]);
    caption_rows.insert(y1[0]);
  }
  CHECK(caption_rows.size() == 2);
  CHECK(text_ys(svg, "step 5") == text_ys(svg, "step 0"));
  CHECK(text_ys(svg, "step 6")[0] > text_ys(svg, "step 5")[0]);
  // the shorter last row leaves its end white: padded with an empty cell instead, that cell is drawn grey
  GridFigure padded = f;
  padded.cells.back().emplace_back();
  padded.cell_labels.back().emplace_back();
  const int cell_px = 83 * 83 * 300 * 300 / (72 * 72);  // about one 83.5 pt cell at 300 dpi
  CHECK(pixels_near(img, fig_empty, 0) < cell_px / 20);
  CHECK(pixels_near(grid_figure(padded), fig_empty, 0) > cell_px * 9 / 10);
  // one row more adds one row's height
  GridFigure taller = f;
  taller.cells.push_back(taller.cells.front());
  taller.cell_labels.push_back(taller.cell_labels.front());
  // six cells in 7.16 in: (515.52 - 4 - 7 x 1.5) / 6 = 83.50 pt each, a two-line caption band of 2 x 1.25 x 6.5
  // + 0.35 x 6.5 = 18.53 pt and a 1.5 pt gap: 103.53 pt = 431.4 px at 300 dpi
  CHECK(grid_figure(taller).rows - img.rows == Approx(431.4).margin(1.0));
  // refusals: captions that do not fit the cells
  GridFigure bad = f;
  bad.cell_labels.back().pop_back();
  CHECK_THROWS_WITH(grid_figure(bad), Catch::Contains("row 1 has 5 cells but 4 cell labels"));
  bad = f;
  bad.cell_labels.pop_back();
  CHECK_THROWS_WITH(grid_figure(bad), Catch::Contains("1 rows of cell labels for 2 rows"));

  // method columns: each label with its palette colour beneath it
  GridFigure m;
  m.cells = {{cell, cell, cell}, {cell, cell, cell}};
  m.row_labels = {"step 0, t=961", "step 12, t=481"};
  m.col_labels = {"df-rise", "df-cam", "attention"};
  for (const auto& c : m.col_labels) m.col_colours.push_back(method_colour(c));
  m.scale = ColourScale{Colormap::Turbo, 0, 1, "per map: min-max to 0-1"};
  const cv::Mat plain = [&] {
    GridFigure p = m;
    p.col_colours.clear();
    return grid_figure(p);
  }();
  const cv::Mat swatched = grid_figure(m);
  CHECK(swatched.rows > plain.rows);  // the swatch band
  for (const auto& c : m.col_labels) {
    INFO(c);
    CHECK(pixels_near(plain, method_colour(c)) == 0);
    CHECK(pixels_near(swatched, method_colour(c)) > 1000);  // a cell wide, 2.5 pt high at 300 dpi
  }
  m.col_colours.pop_back();
  CHECK_THROWS_WITH(grid_figure(m), Catch::Contains("2 column colours for 3 columns"));
}
