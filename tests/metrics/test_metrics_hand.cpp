// Metrics on small hand-computed cases (each expected value worked out by hand in the comment).
#include <catch2/catch.hpp>
#include <cmath>

#include "diffscope/util/error.h"
#include "diffscope/metrics/metrics.h"

using namespace diffscope;
using namespace diffscope::metrics;
using V = std::vector<float>;
using D = std::vector<double>;

TEST_CASE("roc_auc: hand cases, ties count half, one class is NaN", "[metrics][roc]") {
  // sklearn's documented example: positives 0.35, 0.8 vs negatives 0.1, 0.4 -> 3 of 4 pairs ordered.
  CHECK(roc_auc(V{0.1f, 0.4f, 0.35f, 0.8f}, V{0, 0, 1, 1}) == 0.75);
  // pairs (pos, neg): (0.5,0.2)=1 (0.5,0.5)=1/2 (0.9,0.2)=1 (0.9,0.5)=1 -> 3.5/4
  CHECK(roc_auc(V{0.2f, 0.5f, 0.5f, 0.9f}, V{0, 0, 1, 1}) == 0.875);
  CHECK(roc_auc(V{0.3f, 0.3f, 0.3f}, V{0, 1, 1}) == 0.5);  // all tied
  CHECK(roc_auc(V{1, 2, 3}, V{0, 1, 1}) == 1.0);
  CHECK(roc_auc(V{3, 2, 1}, V{0, 1, 1}) == 0.0);
  CHECK(std::isnan(roc_auc(V{1, 2, 3}, V{1, 1, 1})));
  CHECK(std::isnan(roc_auc(V{1, 2, 3}, V{0, 0, 0})));
  // labels: positive when > 0.5
  CHECK(roc_auc(V{0.1f, 0.9f}, V{0.2f, 0.7f}) == 1.0);
}

TEST_CASE("roc_curve drops collinear points like sklearn and starts at (0, 0)", "[metrics][roc]") {
  // scores 4,3,2,1 labels 1,1,0,0 -> points (0,.5) (0,1) (.5,1) (1,1); (0,.5) and (.5,1) are collinear
  RocCurve r = roc_curve(V{4, 3, 2, 1}, V{1, 1, 0, 0});
  CHECK(r.fpr == D{0, 0, 0, 1});
  CHECK(r.tpr == D{0, 0.5, 1, 1});
  CHECK(r.thresholds == D{5, 4, 3, 1});
  RocCurve one = roc_curve(V{1, 2}, V{1, 1});
  CHECK(std::isnan(one.fpr[1]));
}

TEST_CASE("average_precision: step-wise, tie groups as one threshold", "[metrics][ap]") {
  // thresholds 0.9 (P=1, R=.5) and 0.7 (P=2/3, R=1): .5*1 + .5*2/3
  CHECK(average_precision(V{0.9f, 0.8f, 0.7f, 0.6f}, V{1, 0, 1, 0}) == Approx(5.0 / 6).epsilon(1e-15));
  // tie group {0.5, 0.5} with one positive: thresholds 0.9 (P=1,R=.5), 0.5 (P=2/3,R=1)
  CHECK(average_precision(V{0.9f, 0.5f, 0.5f, 0.1f}, V{1, 1, 0, 0}) == Approx(5.0 / 6).epsilon(1e-15));
  // all tied: AP = prevalence
  CHECK(average_precision(V{2, 2, 2, 2}, V{1, 0, 0, 0}) == 0.25);
  CHECK(average_precision(V{1, 2, 3}, V{0, 0, 0}) == 0.0);  // sklearn 1.2: no positives -> 0
  PrCurve p = precision_recall_curve(V{0.9f, 0.5f, 0.5f, 0.1f}, V{1, 1, 0, 0});
  CHECK(p.precision == D{0.5, 2.0 / 3, 1, 1});
  CHECK(p.recall == D{1, 1, 0.5, 0});
  CHECK(p.thresholds == D{0.1f, 0.5f, 0.9f});
}

TEST_CASE("iou thresholds strictly (DAAM) and handles empty sets", "[metrics][iou]") {
  // map > 0.4 (0.4f is not > 0.4f) -> {2, 3}; mask -> {1, 2}; intersection {2}, union {1, 2, 3}
  CHECK(iou(V{0.1f, 0.4f, 0.5f, 0.9f}, V{0, 1, 1, 0}, 0.4) == Approx(1.0 / 3).epsilon(1e-15));
  CHECK(iou(V{0.1f, 0.4f}, V{0, 0}, 0.5) == 0.0);  // both empty
  CHECK(iou(V{1, 1}, V{1, 1}, 0.5) == 1.0);
}

TEST_CASE("rankdata averages ties (scipy)", "[metrics]") {
  CHECK(rankdata(V{3, 1, 4, 1, 5}) == D{3, 1.5, 4, 1.5, 5});
  CHECK(rankdata(V{2, 2, 2}) == D{2, 2, 2});
  CHECK_THROWS_AS(rankdata(V{1, NAN}), Error);
}

TEST_CASE("correlations and distances", "[metrics]") {
  CHECK(pearson(V{1, 2, 3}, V{2, 4, 6}) == Approx(1.0).epsilon(1e-15));
  CHECK(pearson(V{1, 2, 3}, V{3, 2, 1}) == Approx(-1.0).epsilon(1e-15));
  // x = -1,0,1 ; y = 1,0,2 - 1 = centered (0,-1,1): sxy = 1, sxx = 2, syy = 2 -> 0.5
  CHECK(pearson(V{1, 2, 3}, V{2, 1, 3}) == Approx(0.5).epsilon(1e-15));
  CHECK(std::isnan(pearson(V{1, 1, 1}, V{1, 2, 3})));
  CHECK(spearman(V{1, 2, 3, 4}, V{1, 4, 9, 16}) == Approx(1.0).epsilon(1e-15));
  CHECK(mse(V{0, 0}, V{1, 3}) == 5.0);
  CHECK(psnr(V{0, 0, 0, 0}, V{0.1f, 0.1f, 0.1f, 0.1f}, 1.0) == Approx(20.0).epsilon(1e-6));  // mse = 0.01
  CHECK(std::isinf(psnr(V{1, 2}, V{1, 2}, 1.0)));
  CHECK(cosine(V{1, 0}, V{0, 1}) == 0.0);
  CHECK(cosine(V{1, 2}, V{2, 4}) == Approx(1.0).epsilon(1e-15));
  CHECK(std::isnan(cosine(V{0, 0}, V{1, 1})));
  CHECK_THROWS_WITH(pearson(V{1, 2}, V{1, 2, 3}), Catch::Contains("pearson: inputs differ in length (2 vs 3)"));
  CHECK_THROWS_AS(roc_auc(V{1, 2}, V{1}), Error);
  CHECK_THROWS_WITH(roc_auc(V{1, NAN}, V{0, 1}), Catch::Contains("NaN"));
}

TEST_CASE("histogram (numpy edges) and OpenCV's histogram correlation", "[metrics]") {
  // [0,1] in 4 bins: 0 -> 0, 0.25 -> 1 (left-closed), 0.5 -> 2, 1.0 -> 3 (last bin closed); -0.1, 1.5 dropped
  CHECK(histogram(V{0, 0.25f, 0.5f, 1.0f, 1.5f, -0.1f, NAN}, 4, 0, 1) == D{1, 1, 1, 1});
  CHECK(histogram(V{0.3f, 0.3f}, 2, 0.3, 0.3) == D{0, 2});  // empty range widened by 0.5 each side
  CHECK(histogram_correlation(D{1, 2, 3}, D{3, 2, 1}) == Approx(-1.0).epsilon(1e-15));
  CHECK(histogram_correlation(D{1, 2, 3}, D{2, 4, 6}) == Approx(1.0).epsilon(1e-15));
  CHECK(histogram_correlation(D{5, 5, 5}, D{1, 2, 3}) == 1.0);  // OpenCV's degenerate convention
  CHECK_THROWS_AS(histogram(V{1}, 0, 0, 1), Error);
}

TEST_CASE("minmax_rescale", "[metrics]") {
  CHECK(minmax_rescale(D{1.0, 0.4, 0.6}) == D{1.0, 0.0, (0.6 - 0.4) / (1.0 - 0.4)});
  CHECK(minmax_rescale(D{-2, 2, 0}) == D{0.0, 1.0, 0.5});
  CHECK(minmax_rescale(D{0.3, 0.3}) == D{0.0, 0.0});  // constant: zeros, like the map normalisation
  CHECK(minmax_rescale(D{}).empty());
}

TEST_CASE("trapezoid, sums, moments", "[metrics]") {
  CHECK(trapezoid(D{0, 1, 2}, D{0, 1, 0}) == 1.0);
  CHECK(trapezoid(D{0, 0.5, 2}, D{1, 1, 3}) == 0.5 + 3.0);
  CHECK(trapezoid_dx(D{0, 1, 0}, 0.5) == 0.5);
  CHECK(trapezoid_dx(D{2}) == 0.0);
  CHECK(numpy_sum(D{1, 2, 3}) == 6.0);
  CHECK(mean(V{1, 2, 3, 4}) == 2.5);
  CHECK(stddev(V{2, 4, 4, 4, 5, 5, 7, 9}) == 2.0);
  CHECK(stddev(V{1, 3}, 1) == Approx(std::sqrt(2.0)).epsilon(1e-15));
  CHECK(std::isnan(mean(V{})));
  CHECK(std::isnan(stddev(V{1}, 1)));
}

TEST_CASE("ssim: identical images, constants, layouts", "[metrics][ssim]") {
  std::vector<float> a(3 * 20 * 18);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(std::sin(0.37 * i) * 0.5 + 0.5);
  SsimParts same = ssim_parts(a.data(), a.data(), 20, 18, 3, 1.0);
  CHECK(same.ssim == Approx(1.0).epsilon(1e-12));
  CHECK(same.luminance == Approx(1.0).epsilon(1e-12));
  CHECK(same.contrast == Approx(1.0).epsilon(1e-12));
  CHECK(same.structure == Approx(1.0).epsilon(1e-12));
  // two constant images 0.2 and 0.6: mx = 0.2, my = 0.6, no variance -> contrast = structure = 1,
  // luminance = ssim = (2*.2*.6 + C1) / (.04 + .36 + C1), C1 = 1e-4
  std::vector<float> c1(16 * 16, 0.2f), c2(16 * 16, 0.6f);
  SsimParts k = ssim_parts(c1.data(), c2.data(), 16, 16, 1, 1.0);
  const double m1 = 0.2f, m2 = 0.6f, expect = (2 * m1 * m2 + 1e-4) / (m1 * m1 + m2 * m2 + 1e-4);
  CHECK(k.luminance == Approx(expect).epsilon(1e-9));
  CHECK(k.ssim == Approx(expect).epsilon(1e-9));
  CHECK(k.contrast == Approx(1.0).epsilon(1e-9));
  CHECK(k.structure == Approx(1.0).epsilon(1e-9));
  // channels_last gives the same result on the interleaved copy
  std::vector<float> b(a.size()), a_hwc(a.size()), b_hwc(a.size());
  for (size_t i = 0; i < a.size(); ++i) b[i] = static_cast<float>(std::cos(0.11 * i));
  const size_t plane = 20 * 18;
  for (size_t ch = 0; ch < 3; ++ch)
    for (size_t i = 0; i < plane; ++i) a_hwc[i * 3 + ch] = a[ch * plane + i], b_hwc[i * 3 + ch] = b[ch * plane + i];
  CHECK(ssim(a.data(), b.data(), 20, 18, 3, 2.0) == ssim(a_hwc.data(), b_hwc.data(), 20, 18, 3, 2.0, true));
  CHECK(ssim(a.data(), b.data(), 20, 18, 3, 2.0) < 0.5);
  CHECK_THROWS_AS(ssim(a.data(), b.data(), 0, 18, 3, 1.0), Error);
  CHECK_THROWS_AS(ssim(a.data(), b.data(), 20, 18, 3, 0.0), Error);
}
