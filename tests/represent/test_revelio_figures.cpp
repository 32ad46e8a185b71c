// Revelio's figures (util/figure_revelio.h): written as PNG (300 dpi) + PDF + SVG, bit-identical when drawn twice;
// the baselines' names, values and intervals and the colour bars' numeric ticks are text in the SVG; confusion matrix
// labels never overlap one another or the cells, whatever their lengths and number.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "diffscope/util/figure_revelio.h"
#include "test_support.h"

using namespace diffscope;

namespace {

std::string bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The three files exist: a PNG at 300 dpi (pHYs 11811 px/m), a PDF, an SVG. Returns the SVG.
std::string three_files(const std::string& png) {
  INFO(png);
  const std::string p = bytes(png);
  REQUIRE(p.size() > 40);
  CHECK(p.compare(1, 3, "PNG") == 0);
  const size_t phys = p.find("pHYs");
  REQUIRE(phys != std::string::npos);
  CHECK(uint8_t(p[phys + 6]) == 0x2e);  // 11811 = 0x2e23
  CHECK(uint8_t(p[phys + 7]) == 0x23);
  CHECK(!cv::imread(png).empty());
  const std::string stem = figure_stem(png);
  CHECK(bytes(stem + ".pdf").rfind("%PDF-", 0) == 0);
  const std::string svg = bytes(stem + ".svg");
  CHECK(svg.find("<svg") != std::string::npos);
  return svg;
}

bool has_text(const std::string& svg, const std::string& t) { return svg.find(">" + t + "</text>") != std::string::npos; }

bool overlap(const LabelBox& a, const LabelBox& b) {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

void check_no_overlap(const ConfusionFigure& f) {
  const ConfusionLayoutInfo l = confusion_layout(f);
  REQUIRE(l.labels.size() == 2 * f.labels.size());
  for (size_t i = 0; i < l.labels.size(); ++i) {
    const LabelBox& a = l.labels[i];
    INFO("label " << i << " '" << a.text << "' [" << a.x0 << ", " << a.x1 << "] x [" << a.y0 << ", " << a.y1 << "]");
    CHECK(a.x1 > a.x0);
    CHECK(a.y1 > a.y0);
    CHECK(!overlap(a, l.grid));
    CHECK(a.x0 >= 0);
    CHECK(a.y0 >= 0);
    CHECK(a.x1 <= l.width);
    CHECK(a.y1 <= l.height);
    for (size_t j = i + 1; j < l.labels.size(); ++j) {
      INFO("against '" << l.labels[j].text << "' [" << l.labels[j].x0 << ", " << l.labels[j].x1 << "] x ["
                       << l.labels[j].y0 << ", " << l.labels[j].y1 << "]");
      CHECK(!overlap(a, l.labels[j]));
    }
  }
}

ConfusionFigure confusion_of(const std::vector<std::string>& labels) {
  ConfusionFigure f;
  f.labels = labels;
  f.counts.assign(labels.size(), std::vector<int64_t>(labels.size(), 0));
  for (size_t i = 0; i < labels.size(); ++i) f.counts[i][i] = static_cast<int64_t>(i % 4), f.counts[i][(i + 1) % labels.size()] = 1;
  f.title = "test confusion";
  return f;
}

}  // namespace

TEST_CASE("probe accuracy figure: intervals, the baselines named with their values, three files", "[represent][figure]") {
  ds_test::TempDir dir("revelio-acc");
  AccuracyFigure f;
  f.title = "Linear probe test accuracy per layer: colour";
  f.note = "95% percentile bootstrap over the 54 test images (1000 resamples)";
  f.layers = {"down_blocks.0", "down_blocks.1", "mid_block", "up_blocks.0"};
  f.series.push_back({"t=25", {{0.9, 0.8, 0.97}, {0.7, 0.6, 0.8}, {0.5, 0.4, 0.62}, {std::nan(""), std::nan(""), std::nan("")}},
                      series_colour(0)});
  f.series.push_back({"t=500", {{0.4, 0.3, 0.5}, {0.45, 0.3, 0.6}, {0.3, 0.2, 0.4}, {0.2, std::nan(""), std::nan("")}},
                      series_colour(1)});
  f.baselines.push_back({"pixels", {0.48, 0.35, 0.61}, series_colour(4), false});
  f.baselines.push_back({"latent", {0.52, 0.39, 0.65}, series_colour(5), false});
  f.baselines.push_back({"chance", {1.0 / 6, std::nan(""), std::nan("")}, series_colour(6), true});
  const std::string png = dir.str() + "/accuracy_colour.png";
  write_accuracy_figure(png, f);
  const std::string svg = three_files(png);
  CHECK(has_text(svg, "pixels 0.48 [0.35, 0.61]"));
  CHECK(has_text(svg, "latent 0.52 [0.39, 0.65]"));
  CHECK(has_text(svg, "chance 0.17"));
  CHECK(has_text(svg, "t=25"));
  CHECK(has_text(svg, "t=500"));
  CHECK(has_text(svg, "mid_block"));
  for (const char* t : {"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}) CHECK(has_text(svg, t));
  CHECK(has_text(svg, "95% percentile bootstrap over the 54 test images (1000 resamples)"));
  // 8 points: one column, 3.5 in at 300 dpi
  CHECK(cv::imread(png).cols == 1050);
  // the same inputs: the same bytes
  CHECK(accuracy_figure_svg(f) == accuracy_figure_svg(f));
  write_accuracy_figure(dir.str() + "/again.png", f);
  CHECK(bytes(dir.str() + "/again.png") == bytes(png));
  CHECK(bytes(dir.str() + "/again.pdf") == bytes(figure_stem(png) + ".pdf"));
  f.series[0].values.pop_back();
  CHECK_THROWS_WITH(write_accuracy_figure(png, f), Catch::Contains("3 values for 4 layers"));
}

TEST_CASE("confusion figure: labels never overlap, counts and colour-bar ticks are text", "[represent][figure]") {
  // the shapes set's 12 positions (the figure issue 38 found colliding), short digits, Oxford-Pets-like 37 classes
  // with long names, and one label far longer than the rest
  const std::vector<std::string> positions{"bottom", "bottom-centre", "bottom-right", "left", "middle-centre",
                                           "middle-left", "middle-right", "right", "top", "top-centre", "top-left",
                                           "top-right"};
  check_no_overlap(confusion_of(positions));
  check_no_overlap(confusion_of({"1", "2", "3"}));
  std::vector<std::string> pets;
  for (int i = 0; i < 37; ++i) pets.push_back("Staffordshire_bull_terrier_" + std::to_string(i));
  check_no_overlap(confusion_of(pets));
  check_no_overlap(confusion_of({"a", "an extraordinarily long class name that no figure could print whole", "c"}));

  // short labels stay upright under their columns; long ones stand (their boxes are taller than wide)
  const ConfusionLayoutInfo digits = confusion_layout(confusion_of({"1", "2", "3"}));
  CHECK(digits.labels[3].x1 - digits.labels[3].x0 < digits.labels[3].y1 - digits.labels[3].y0 + 1);
  const ConfusionLayoutInfo pos = confusion_layout(confusion_of(positions));
  const LabelBox& col = pos.labels[12 + 1];  // "bottom-centre" under its column
  CHECK(col.y1 - col.y0 > 3 * (col.x1 - col.x0));
  CHECK(pos.width == Approx(3.5 * 72));       // 12 classes fit one column
  const ConfusionLayoutInfo many = confusion_layout(confusion_of(pets));
  CHECK(many.width == Approx(7.16 * 72));     // 37 do not: two columns

  ds_test::TempDir dir("revelio-conf");
  const std::string png = dir.str() + "/confusion_position.png";
  write_confusion_figure(png, confusion_of(positions));
  const std::string svg = three_files(png);
  for (const auto& l : positions) CHECK(has_text(svg, l));
  for (const char* t : {"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}) CHECK(has_text(svg, t));
  CHECK(has_text(svg, "share of the true class (per row)"));
  CHECK(has_text(svg, "predicted"));
  CHECK(has_text(svg, "3"));  // a count
  CHECK(confusion_figure_svg(confusion_of(positions)) == confusion_figure_svg(confusion_of(positions)));
  ConfusionFigure bad = confusion_of({"a", "b"});
  bad.counts.pop_back();
  CHECK_THROWS_WITH(write_confusion_figure(png, bad), Catch::Contains("counts and labels disagree"));
}

TEST_CASE("SAE contact sheet: the activation scale's ticks, its normalisation and the captions are text", "[represent][figure]") {
  ds_test::TempDir dir("revelio-sheet");
  ContactSheet s;
  s.title = "latent 7: colour red (purity 1.00), active on 12 images";
  s.note = "activation map over each image; colours and strips shared across the sheet: 0 to the latent's largest "
           "activation (2.50)";
  for (int i = 0; i < 6; ++i) {
    s.images.push_back(cv::Mat(32, 32, CV_8UC3, cv::Scalar(40 * i, 100, 200)));
    s.activations.push_back(2.5 - 0.3 * i);
    s.captions.push_back({std::to_string(2.5 - 0.3 * i).substr(0, 4), "red circle", "large top-left"});
  }
  s.scale = {Colormap::Inferno, 0.0, 2.5, "SAE activation"};
  const std::string png = dir.str() + "/latent_00007.png";
  write_contact_sheet(png, s);
  const std::string svg = three_files(png);
  for (const char* t : {"0", "1", "2"}) CHECK(has_text(svg, t));  // the colour bar's ticks over 0-2.5
  CHECK(has_text(svg, "SAE activation"));
  CHECK(has_text(svg, "red circle"));
  CHECK(has_text(svg, "2.20"));
  CHECK(svg.find("0 to the latent") != std::string::npos);
  CHECK(cv::imread(png).cols == 2148);  // 6 images: two columns, 7.16 in at 300 dpi
  CHECK(contact_sheet_svg(s) == contact_sheet_svg(s));
  s.activations.pop_back();
  CHECK_THROWS_WITH(write_contact_sheet(png, s), Catch::Contains("one per image"));
}
