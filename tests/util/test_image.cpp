// Images: PNG round trips, model-output conversion (checked against numpy), map resizing (checked against
// torch's interpolate), normalisation, colour maps, overlays and grids.
#include <catch2/catch.hpp>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <random>

#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "diffscope/util/npy.h"
#include "python_run.h"

using namespace diffscope;
using ds_test::TempDir;

namespace {

cv::Mat random_bgr(int h, int w, unsigned seed) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

int non_white(const cv::Mat& bgr, cv::Rect r) {
  cv::Mat g;
  cv::cvtColor(bgr(r), g, cv::COLOR_BGR2GRAY);
  return cv::countNonZero(g < 250);
}

}  // namespace

TEST_CASE("PNG round trip is pixel-exact; write is atomic", "[image]") {
  TempDir dir("png");
  cv::Mat bgr = random_bgr(37, 53, 1);
  std::string p = (dir.path / "sub" / "a.png").string();
  write_png(p, bgr);
  CHECK(same(read_image(p), bgr));
  cv::Mat gray(20, 30, CV_8U, cv::Scalar(77));
  write_png(p, gray);
  CHECK(same(read_image(p, cv::IMREAD_GRAYSCALE), gray));
  cv::Mat deep(10, 12, CV_16UC1);
  cv::randu(deep, 0, 65535);
  write_png(p, deep);
  CHECK(same(read_image(p, cv::IMREAD_UNCHANGED), deep));
  CHECK(ds_test::fs::directory_iterator(dir.path / "sub")->path().filename() == "a.png");
}

TEST_CASE("image errors name the file", "[image]") {
  TempDir dir("png-bad");
  std::string missing = (dir.path / "missing.png").string();
  CHECK_THROWS_WITH(read_image(missing), Catch::StartsWith(missing + ": cannot be read as an image"));
  ds_test::write_text(dir.path / "text.png", "not a png");
  CHECK_THROWS_WITH(read_image((dir.path / "text.png").string()), Catch::Contains("text.png: cannot be read"));
  CHECK_THROWS_WITH(write_png((dir.path / "e.png").string(), cv::Mat()), Catch::Contains("e.png"));
  CHECK_THROWS_WITH(write_png((dir.path / "f.png").string(), cv::Mat(4, 4, CV_32FC3)),
                    Catch::Contains("f.png: PNG needs an 8- or 16-bit image"));
  CHECK_FALSE(ds_test::fs::exists(dir.path / "f.png"));
}

TEST_CASE("chw_to_bgr8 matches diffusers' numpy_to_pil on the same floats", "[image][python]") {
  TempDir dir("chw");
  const int c = 3, h = 9, w = 11;
  std::vector<float> v(c * h * w);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.3f, 1.3f);
  for (float& x : v) x = u(rng);
  // exact half-way values: (v/2+0.5)*255 = k + 0.5 -> numpy rounds half to even
  v[0] = -1.f, v[1] = 1.f, v[2] = 0.f, v[3] = 2.f * (127.5f / 255.f) - 1.f, v[4] = std::nanf("");
  write_npy((dir.path / "v.npy").string(), v.data(), {c, h, w});
  ds_test::run_python(dir, R"(
import numpy as np, sys
d = sys.argv[0].rsplit('/', 1)[0]
x = np.load(d + '/v.npy')
img = np.clip(x / 2 + 0.5, 0, 1)             # diffusers: (image / 2 + 0.5).clamp(0, 1)
img = np.nan_to_num(img, nan=0.0)
rgb = (img.transpose(1, 2, 0) * 255).round().astype(np.uint8)   # numpy_to_pil
np.save(d + '/expect.npy', rgb[:, :, ::-1].astype(np.float32))  # BGR
)");
  cv::Mat got = chw_to_bgr8(v.data(), c, h, w);
  REQUIRE(got.type() == CV_8UC3);
  NpyArray e = read_npy((dir.path / "expect.npy").string());
  REQUIRE(e.shape == std::vector<int64_t>{h, w, 3});
  int mismatches = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k) mismatches += got.at<cv::Vec3b>(y, x)[k] != e.data[(y * w + x) * 3 + k];
  CHECK(mismatches == 0);
  // spot checks: v[0]=-1 is red channel of pixel 0 -> BGR index 2
  CHECK(static_cast<int>(got.at<cv::Vec3b>(0, 0)[2]) == 0);
  CHECK(static_cast<int>(got.at<cv::Vec3b>(0, 1)[2]) == 255);
  CHECK(static_cast<int>(got.at<cv::Vec3b>(0, 2)[2]) == 128);  // 127.5 -> 128 (even)
  // one channel becomes grey
  cv::Mat g = chw_to_bgr8(v.data(), 1, h, w, -1.f, 1.f);
  CHECK(g.at<cv::Vec3b>(0, 1) == cv::Vec3b(255, 255, 255));
  CHECK_THROWS_AS(chw_to_bgr8(v.data(), 2, h, w), Error);
}

TEST_CASE("resize_map matches torch.nn.functional.interpolate (bicubic and bilinear)", "[image][python]") {
  TempDir dir("resize");
  const int h = 8, w = 6, oh = 32, ow = 20;
  std::vector<float> m(h * w);
  for (int i = 0; i < h * w; ++i) m[i] = static_cast<float>(std::sin(i * 0.7) * 0.5 + 0.5);
  write_npy((dir.path / "m.npy").string(), m.data(), {h, w});
  ds_test::run_python(dir, R"(
import numpy as np, sys, torch
d = sys.argv[0].rsplit('/', 1)[0]
m = torch.from_numpy(np.load(d + '/m.npy'))[None, None]
for mode in ('bicubic', 'bilinear'):
    r = torch.nn.functional.interpolate(m, size=(32, 20), mode=mode, align_corners=False)[0, 0]
    np.save(d + '/' + mode + '.npy', r.numpy())
)");
  for (bool bicubic : {true, false}) {
    std::vector<float> got = resize_map(m.data(), h, w, oh, ow, bicubic);
    NpyArray e = read_npy((dir.path / (bicubic ? "bicubic.npy" : "bilinear.npy")).string());
    REQUIRE(got.size() == e.data.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(double(got[i]) - e.data[i]));
    INFO("bicubic " << bicubic);
    CHECK(worst < 1e-5);
  }
  std::vector<float> clamped = resize_map(m.data(), h, w, oh, ow, true, true);
  CHECK(*std::min_element(clamped.begin(), clamped.end()) >= 0.f);
  CHECK(*std::max_element(clamped.begin(), clamped.end()) <= 1.f);
  CHECK(resize_map(m.data(), h, w, h, w) == m);
  CHECK_THROWS_AS(resize_map(m.data(), h, w, 0, 5), Error);
}

TEST_CASE("normalize_minmax", "[image]") {
  std::vector<float> v = {2, 4, 6, 3};
  normalize_minmax(v);
  CHECK(v == std::vector<float>{0, 0.5f, 1, 0.25f});
  std::vector<float> c = {5, 5, 5};
  normalize_minmax(c);
  CHECK(c == std::vector<float>{0, 0, 0});
  std::vector<float> n = {1, std::nanf(""), 3};
  normalize_minmax(n);
  CHECK(n == std::vector<float>{0, 0, 1});
  std::vector<float> empty;
  normalize_minmax(empty);
  CHECK(empty.empty());
}

TEST_CASE("colour maps: names, endpoints, NaN", "[image]") {
  CHECK(parse_colormap("Turbo") == Colormap::Turbo);
  CHECK(parse_colormap("grey") == Colormap::Gray);
  CHECK(parse_colormap("INFERNO") == Colormap::Inferno);
  for (Colormap cm : {Colormap::Turbo, Colormap::Jet, Colormap::Viridis, Colormap::Inferno, Colormap::Gray})
    CHECK(parse_colormap(colormap_name(cm)) == cm);
  CHECK_THROWS_WITH(parse_colormap("rainbow"), Catch::Contains("'rainbow'") && Catch::Contains("turbo, jet, viridis"));

  std::vector<float> ramp = {0.f, 0.5f, 1.f, std::nanf(""), -3.f, 7.f};
  cv::Mat g = colorize(ramp.data(), 2, 3, Colormap::Gray);
  REQUIRE(g.type() == CV_8UC3);
  CHECK(g.size() == cv::Size(3, 2));
  CHECK(g.at<cv::Vec3b>(0, 0) == cv::Vec3b(0, 0, 0));
  CHECK(g.at<cv::Vec3b>(0, 1) == cv::Vec3b(128, 128, 128));
  CHECK(g.at<cv::Vec3b>(0, 2) == cv::Vec3b(255, 255, 255));
  CHECK(g.at<cv::Vec3b>(1, 0) == cv::Vec3b(0, 0, 0));      // NaN -> 0
  CHECK(g.at<cv::Vec3b>(1, 1) == cv::Vec3b(0, 0, 0));      // clipped
  CHECK(g.at<cv::Vec3b>(1, 2) == cv::Vec3b(255, 255, 255));
  cv::Mat t = colorize(ramp.data(), 2, 3, Colormap::Turbo);
  CHECK(t.at<cv::Vec3b>(0, 0) != t.at<cv::Vec3b>(0, 2));
  cv::Mat jet = colorize(ramp.data(), 2, 3, Colormap::Jet);
  CHECK(jet.at<cv::Vec3b>(0, 2)[2] > 100);  // jet's top is red
  CHECK(jet.at<cv::Vec3b>(0, 0)[0] > 100);  // and bottom blue
}

TEST_CASE("overlay blends and resizes the heatmap to the base", "[image]") {
  cv::Mat base(40, 60, CV_8UC3, cv::Scalar(100, 0, 200));
  cv::Mat heat(10, 15, CV_8UC3, cv::Scalar(0, 250, 0));
  cv::Mat o = overlay(base, heat, 0.5f);
  CHECK(o.size() == base.size());
  CHECK(o.type() == CV_8UC3);
  CHECK(o.at<cv::Vec3b>(20, 30) == cv::Vec3b(50, 125, 100));
  CHECK(same(overlay(base, heat, 0.f), base));
  cv::Mat gray_base(40, 60, CV_8U, cv::Scalar(10));
  CHECK(overlay(gray_base, heat, 1.f).at<cv::Vec3b>(0, 0) == cv::Vec3b(0, 250, 0));
}

TEST_CASE("grid: sizes, labels drawn, checks", "[image]") {
  cv::Mat a = random_bgr(64, 64, 2), wide = random_bgr(32, 64, 3);
  const int cell = 96;
  cv::Mat plain = grid({{a, wide}, {a, cv::Mat()}}, {}, {}, cell);
  const int gap = 2;
  CHECK(plain.size() == cv::Size(2 * cell + 3 * gap, 2 * cell + 3 * gap));
  // the empty cell is light grey, the wide image is letterboxed on white
  CHECK(plain.at<cv::Vec3b>(gap + cell + gap + cell / 2, gap + cell + gap + cell / 2) == cv::Vec3b(225, 225, 225));
  CHECK(plain.at<cv::Vec3b>(gap + 2, gap + cell + gap + cell / 2) == cv::Vec3b(255, 255, 255));

  cv::Mat labelled = grid({{a, a, a}, {a, a, a}}, {"red", "circle"}, {"t=981", "t=501", "t=1"}, cell);
  CHECK(labelled.cols > 3 * cell);
  CHECK(labelled.rows > 2 * cell);
  const int label_w = labelled.cols - (3 * cell + 4 * gap), header_h = labelled.rows - (2 * cell + 3 * gap);
  CHECK(label_w > 20);
  CHECK(header_h > 8);
  CHECK(non_white(labelled, cv::Rect(0, header_h, label_w, labelled.rows - header_h)) > 20);   // row labels
  CHECK(non_white(labelled, cv::Rect(label_w, 0, labelled.cols - label_w, header_h)) > 20);  // column labels

  CHECK_THROWS_WITH(grid({{a}, {a}}, {"only one"}, {}, cell), Catch::Contains("1 row labels for 2 rows"));
  CHECK_THROWS_AS(grid({{a, a}}, {}, {"one"}, cell), Error);
  CHECK_THROWS_AS(grid({}, {}, {}, cell), Error);

}
