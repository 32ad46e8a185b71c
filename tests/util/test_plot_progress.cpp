// Line plots (size, drawn content, ticks) and progress text.
#include <catch2/catch.hpp>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/plot.h"
#include "diffscope/util/progress.h"

using namespace diffscope;

namespace {

int count_colour(const cv::Mat& img, cv::Vec3b c, int tol) {
  int n = 0;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) {
      cv::Vec3b p = img.at<cv::Vec3b>(y, x);
      if (std::abs(p[0] - c[0]) <= tol && std::abs(p[1] - c[1]) <= tol && std::abs(p[2] - c[2]) <= tol) ++n;
    }
  return n;
}

}  // namespace

TEST_CASE("nice_ticks picks 1/2/5 steps covering the range", "[plot]") {
  std::vector<double> t = nice_ticks(0, 1, 5);
  REQUIRE(t.size() == 6);
  for (int i = 0; i < 6; ++i) CHECK(t[i] == Approx(0.2 * i).margin(1e-12));
  CHECK(nice_ticks(0, 50, 8) == std::vector<double>{0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50});
  t = nice_ticks(-0.2, 1.0, 6);
  CHECK(t.front() == Approx(-0.2));
  CHECK(t.back() == Approx(1.0));
  CHECK(t.size() == 7);
  CHECK(nice_ticks(3, 3, 5).empty());
}

TEST_CASE("line_plot draws axes, series colours and labels at the requested size", "[plot]") {
  Series a{"ssim", {}, {}}, b{"psnr", {}, {}};
  for (int i = 0; i < 50; ++i) {
    a.x.push_back(i), a.y.push_back(1 - std::exp(-i / 10.0));
    b.x.push_back(i), b.y.push_back(i == 20 ? NAN : 0.5 + 0.01 * i);
  }
  cv::Mat img = line_plot({a, b}, "Concepts per step", "step", "similarity");
  REQUIRE(img.type() == CV_8UC3);
  CHECK(img.size() == cv::Size(900, 500));
  cv::Mat gray;
  cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
  CHECK(cv::countNonZero(gray < 200) > 2000);      // lines, text, axes
  CHECK(count_colour(img, {0xB2, 0x72, 0x00}, 10) > 300);  // Okabe-Ito blue (first series), BGR
  CHECK(count_colour(img, {0x00, 0x5E, 0xD5}, 10) > 300);  // Okabe-Ito vermillion (second)
  // title area (top strip) and y-label area (left strip) hold text
  CHECK(cv::countNonZero(gray(cv::Rect(300, 0, 300, 30)) < 128) > 50);
  CHECK(cv::countNonZero(gray(cv::Rect(0, 150, 30, 200)) < 128) > 30);

  cv::Mat small = line_plot({a}, "", "", "", 320, 200);
  CHECK(small.size() == cv::Size(320, 200));
  cv::Mat empty = line_plot({}, "nothing", "x", "y");
  CHECK(empty.size() == cv::Size(900, 500));
  Series bad{"bad", {1, 2, 3}, {1, 2}};
  CHECK_THROWS_WITH(line_plot({bad}, "", "", ""), Catch::Contains("'bad'") && Catch::Contains("3 x values but 2 y"));
  CHECK_THROWS_AS(line_plot({a}, "", "", "", 100, 100), Error);
}

TEST_CASE("progress bar text, durations and log cadence", "[progress]") {
  CHECK(Progress::render_bar("generate", 5, 10, 10.0, "t=501", 10) ==
        "generate [#####.....] 5/10  50%  ETA 0:10  0:10  t=501");
  CHECK(Progress::render_bar("rise", 0, 4, 0.0, "", 4) == "rise [....] 0/4   0%  ETA ?  0:00");
  CHECK(Progress::render_bar("x", 3, 0, 61.0, "") == "x 3 done  1:01");
  CHECK(Progress::format_duration(3725) == "1:02:05");
  CHECK(Progress::format_duration(59.4) == "0:59");
  CHECK(Progress::format_duration(-1) == "?");
  int logged = 0;
  for (int i = 1; i <= 50; ++i) logged += Progress::should_log(i, 50);
  CHECK(logged == 10);
  for (int i = 1; i <= 7; ++i) CHECK(Progress::should_log(i, 7));
  Progress p("quiet", 3, true);
  p.tick();
  p.tick("s");
  CHECK(p.done() == 2);
  p.finish();
  p.finish();
}
