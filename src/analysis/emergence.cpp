// x0-vs-final concept measures.
#include "diffscope/emergence.h"

#include <opencv2/imgproc.hpp>

#include "diffscope/metrics.h"

namespace diffscope {

namespace {
std::vector<float> to_vec(const cv::Mat& m) {
  cv::Mat f;
  m.convertTo(f, CV_32F);
  f = f.reshape(1, 1);
  return std::vector<float>(f.begin<float>(), f.end<float>());
}

cv::Mat grey(const cv::Mat& bgr) {
  cv::Mat g;
  cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
  g.convertTo(g, CV_32F);
  return g;
}

std::vector<double> colour_hist(const cv::Mat& bgr) {
  std::vector<double> h;
  std::vector<cv::Mat> ch;
  cv::split(bgr, ch);
  for (const auto& c : ch) {
    auto v = metrics::histogram(to_vec(c), 32, 0.0, 256.0);
    h.insert(h.end(), v.begin(), v.end());
  }
  return h;
}

std::vector<float> planar_rgb(const cv::Mat& bgr) {
  std::vector<cv::Mat> ch;
  cv::split(bgr, ch);
  std::vector<float> out;
  for (int k = 2; k >= 0; --k) {
    auto v = to_vec(ch[static_cast<size_t>(k)]);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}
}  // namespace

EmergenceRow compare_to_final(const cv::Mat& a, const cv::Mat& b) {
  EmergenceRow r;
  r.colour = metrics::histogram_correlation(colour_hist(a), colour_hist(b));
  const cv::Mat ga = grey(a), gb = grey(b);
  const cv::Size low(std::max(1, a.cols / 8), std::max(1, a.rows / 8));
  cv::Mat la, lb;
  cv::resize(ga, la, low, 0, 0, cv::INTER_AREA);
  cv::resize(gb, lb, low, 0, 0, cv::INTER_AREA);
  r.layout = metrics::pearson(to_vec(la), to_vec(lb));
  auto edges = [](const cv::Mat& g) {
    cv::Mat dx, dy, mag;
    cv::Sobel(g, dx, CV_32F, 1, 0);
    cv::Sobel(g, dy, CV_32F, 0, 1);
    cv::magnitude(dx, dy, mag);
    return mag;
  };
  r.structure = metrics::pearson(to_vec(edges(ga)), to_vec(edges(gb)));
  auto high = [](const cv::Mat& g) {
    cv::Mat blur;
    cv::GaussianBlur(g, blur, cv::Size(0, 0), 2.0);
    return cv::Mat(g - blur);
  };
  const cv::Mat ha = high(ga), hb = high(gb);
  const double ea = cv::sum(ha.mul(ha))[0], eb = cv::sum(hb.mul(hb))[0];
  r.detail_ratio = eb > 0 ? ea / eb : 0.0;
  r.detail_corr = metrics::pearson(to_vec(ha), to_vec(hb));
  const auto pa = planar_rgb(a), pb = planar_rgb(b);
  r.ssim = metrics::ssim_parts(pa.data(), pb.data(), a.rows, a.cols, 3, 255.0).ssim;
  r.psnr = metrics::psnr(pa, pb, 255.0);
  return r;
}

std::vector<std::string> emergence_columns() {
  return {"colour", "layout", "structure", "detail_ratio", "detail_corr", "ssim", "psnr"};
}

std::vector<double> emergence_values(const EmergenceRow& r) {
  return {r.colour, r.layout, r.structure, r.detail_ratio, r.detail_corr, r.ssim, r.psnr};
}

}  // namespace diffscope
