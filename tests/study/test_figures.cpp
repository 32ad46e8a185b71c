// X-Diffusion's figures on a real (tiny-package) run, as the commands write them: the filmstrip wrapped into rows
// with step/timestep captions, the word x step heatmaps over each step's x0 estimate, and saliency as a step x method
// grid and per-method figures with numeric colour bars; PNG (300 dpi) + PDF + SVG, identical when written twice, and
// each method in its palette colour in every saliency figure.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "diffscope/study/analysis_study.h"
#include "diffscope/study/generation.h"
#include "diffscope/study/session.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/palette.h"
#include "test_support.h"

using namespace diffscope;
namespace fs = std::filesystem;

namespace {
const Session kQuiet{"cpu", 1, true};

std::string bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

/// `png` is a PNG `width` px wide at 300 dpi with a PDF and an SVG beside it; returns the SVG.
std::string figure_svg(const std::string& png, uint32_t width) {
  INFO(png);
  const std::string p = bytes(png);
  REQUIRE(p.size() > 33);
  CHECK(p.compare(1, 3, "PNG") == 0);
  CHECK(be32(p, 16) == width);
  const size_t phys = p.find("pHYs");
  REQUIRE(phys != std::string::npos);
  CHECK(be32(p, phys + 4) == 11811);  // 300 dpi in pixels per metre
  const std::string stem = png.substr(0, png.size() - 4);
  CHECK(bytes(stem + ".pdf").rfind("%PDF-", 0) == 0);
  const std::string svg = bytes(stem + ".svg");
  CHECK(svg.find("<svg") != std::string::npos);
  return svg;
}

bool has_text(const std::string& svg, const std::string& text) { return svg.find(">" + text + "</text>") != std::string::npos; }

/// The y of each SVG text whose content is exactly `text`.
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

int pixels_near(const cv::Mat& img, Rgb c, int tol = 6) {
  int n = 0;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) {
      const cv::Vec3b v = img.at<cv::Vec3b>(y, x);
      n += std::abs(v[2] - c.r) <= tol && std::abs(v[1] - c.g) <= tol && std::abs(v[0] - c.b) <= tol;
    }
  return n;
}

/// A 5-step DDIM run on the tiny package, x0 every 2 steps (0, 2, 4), the filmstrip wrapped after 2 images, with
/// heatmaps and saliency at steps 0 and 2 (attention, DF-CAM and the random baseline).
void make_run(const std::string& out) {
  GenerationSpec g;
  g.model = DS_TEST_PACKAGE_DIR;
  g.out = out;
  g.prompt = "a red circle";
  g.steps = 5;
  g.scheduler = "ddim";
  g.guidance = 3.0;
  g.x0_every = 2;
  g.filmstrip_columns = 2;
  AnalysisOptions a;
  a.which = {"heatmaps", "saliency"};
  a.saliency.steps = "0,2";
  a.saliency.methods = {"attention", "df-cam"};
  a.saliency.k = 2;
  a.saliency.batch = 4;
  analyze_run(g, a, kQuiet);
}
}  // namespace

TEST_CASE("X-Diffusion's figures: wrapped filmstrip, heatmaps over each x0, saliency step x method grid",
          "[study][figure]") {
  ds_test::TempDir dir("xdiff-figures");
  const std::string run = dir.str() + "/a", again = dir.str() + "/b";
  make_run(run);
  make_run(again);
  const nlohmann::json meta = read_json_object(run + "/run.json");
  const auto timesteps = meta.at("timesteps").get<std::vector<double>>();
  REQUIRE(timesteps.size() == 5);
  CHECK(meta.at("x0_steps").get<std::vector<int>>() == std::vector<int>{0, 2, 4});
  auto t_of = [&](int s) { return "t=" + format_number(timesteps[static_cast<size_t>(s)]); };

  // same inputs, same bytes: every new figure in all three formats
  for (const char* f : {"steps/filmstrip", "heatmaps/grid_x0", "saliency/grid", "saliency/step_000/df-cam_figure",
                        "saliency/step_002/attention_figure", "saliency/step_002/random_figure"})
    for (const char* ext : {".png", ".pdf", ".svg"}) {
      INFO(f << ext);
      const std::string a = bytes(run + "/" + f + ext);
      CHECK(a.size() > 1000);
      CHECK(a == bytes(again + "/" + f + ext));
    }

  SECTION("the filmstrip: x0 at steps 0, 2, 4 and the final image, two a row, each captioned step and timestep") {
    const std::string svg = figure_svg(run + "/steps/filmstrip.png", 1050);  // two 64 px cells fit one column
    std::set<double> rows;
    for (int s : {0, 2, 4}) {
      INFO(s);
      const auto y = text_ys(svg, "step " + std::to_string(s));
      REQUIRE(y.size() == 1);
      rows.insert(y[0]);
      CHECK(has_text(svg, t_of(s)));
      CHECK(text_ys(svg, t_of(s))[0] > y[0]);  // the timestep on the caption's second line
    }
    REQUIRE(text_ys(svg, "final").size() == 1);
    rows.insert(text_ys(svg, "final")[0]);
    CHECK(rows.size() == 2);  // 4 images wrapped after 2: two rows of captions
    CHECK(text_ys(svg, "step 2") == text_ys(svg, "step 0"));
    CHECK(text_ys(svg, "final") == text_ys(svg, "step 4"));
    CHECK(text_ys(svg, "step 4")[0] > text_ys(svg, "step 0")[0]);
    // the title (escaped; wrapped to the column, so in pieces)
    CHECK(svg.find(">Each step&apos;s x0 estimate") != std::string::npos);
    CHECK(svg.find("(decoded)") != std::string::npos);
    CHECK(svg.find(">step 1</text>") == std::string::npos);  // not recorded
  }

  SECTION("heatmaps over each step's x0: the recorded steps nearest the grid's columns, a numeric colour bar") {
    const std::string svg = figure_svg(run + "/heatmaps/grid_x0.png", 1050);
    // the grid's columns are steps 0..4; the recorded x0 steps nearest them are 0, 2 and 4 (ties keep the earlier)
    for (int s : {0, 2, 4}) {
      INFO(s);
      CHECK(text_ys(svg, "step " + std::to_string(s)).size() == 1);
      CHECK(has_text(svg, t_of(s)));
    }
    CHECK_FALSE(has_text(svg, "step 1"));
    CHECK_FALSE(has_text(svg, "step 3"));
    for (const char* w : {"a", "red", "circle"}) CHECK(has_text(svg, w));  // a row per word
    for (const char* t : {"0.0", "0.5", "1.0", "per cell: min-max to 0-1"}) {
      INFO(t);
      CHECK(has_text(svg, t));
    }
    CHECK(svg.find(">Where each word attends while the image forms") != std::string::npos);
    CHECK(svg.find("decoded x0") != std::string::npos);
    // the cells blend the maps over each step's own x0, so the figure differs from the final-image grid's cells
    CHECK(bytes(run + "/heatmaps/grid_x0.png") != bytes(run + "/heatmaps/grid.png"));
  }

  SECTION("saliency: a step x method grid and per-method figures, each method in its palette colour everywhere") {
    // three methods with their step labels are under 0.78 in a cell in one column: two columns, 7.16 in
    const std::string svg = figure_svg(run + "/saliency/grid.png", 2148);
    for (const std::string& t : {std::string("attention"), std::string("df-cam"), std::string("random"),
                                 "step 0, " + t_of(0), "step 2, " + t_of(2), std::string("per map: min-max to 0-1"),
                                 std::string("0.0"), std::string("0.5"), std::string("1.0")}) {
      INFO(t);
      CHECK(has_text(svg, t));
    }
    CHECK(text_ys(svg, "step 2, " + t_of(2))[0] > text_ys(svg, "step 0, " + t_of(0))[0]);
    // one colour per method in the grid's swatches, the per-step curves and the AUC-over-steps plot
    for (const char* f : {"saliency/grid.png", "saliency/step_000/deletion.png", "saliency/step_002/insertion.png",
                          "saliency/deletion_over_steps.png"}) {
      const cv::Mat img = cv::imread(run + "/" + f);
      REQUIRE_FALSE(img.empty());
      for (const char* m : {"attention", "df-cam"}) {
        INFO(f << " " << m);
        CHECK(pixels_near(img, method_colour(m)) > 200);
      }
      // df-rise was not run: its colour is in none of them
      INFO(f);
      CHECK(pixels_near(img, method_colour("df-rise")) < 20);
    }
    for (const char* m : {"attention", "df-cam", "random"}) {
      INFO(m);
      const std::string fsvg = figure_svg(run + "/saliency/step_002/" + std::string(m) + "_figure.png", 1050);
      CHECK(has_text(fsvg, std::string(m) + " saliency, step 2, " + t_of(2) + " (over final.png)"));
      CHECK(has_text(fsvg, "per map: min-max to 0-1"));
      CHECK(has_text(fsvg, "0.5"));
    }
  }
}
