// x0-vs-final concept measures.
#include "diffscope/analysis/emergence.h"
#include <filesystem>

#include "diffscope/analysis/registry.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/image.h"
#include "diffscope/util/plot.h"

#include <opencv2/imgproc.hpp>

#include "diffscope/metrics/metrics.h"

namespace fs = std::filesystem;

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


// The registered analysis: its tables, figures and summary keys.
namespace {

void do_emergence(const RunFolder& run, AnalysisKeys& s) {
  std::vector<int> x0_steps;
  if (run.meta.contains("x0_steps")) x0_steps = run.meta["x0_steps"].get<std::vector<int>>();
  if (x0_steps.empty()) return;  // generated with --x0-every 0: nothing to compare
  // previews are compared with the final latent's preview, decoded x0 images with the decoded final image
  const bool preview = run.meta.value("x0_view", std::string("decode")) == "preview";
  const cv::Mat final_img = read_image(run.path(preview ? "steps/final_preview.png" : "final.png"));
  auto cols = emergence_columns();
  std::vector<std::string> header{"step", "timestep"};
  header.insert(header.end(), cols.begin(), cols.end());
  CsvWriter csv(run.path("tables/emergence.csv"), header);
  std::vector<Series> series;
  for (const auto& c : cols)
    if (c != "psnr" && c != "detail_ratio") series.push_back({c, {}, {}});
  std::vector<EmergenceRow> rows;
  for (int st : x0_steps) {
    char name[32];
    std::snprintf(name, sizeof name, "steps/x0_%03d.png", st);
    EmergenceRow r = compare_to_final(read_image(run.path(name)), final_img);
    r.step = st;
    rows.push_back(r);
    csv.cell(static_cast<int64_t>(st)).cell(run.timesteps[static_cast<size_t>(st)]);
    auto vals = emergence_values(r);
    for (double v : vals) csv.cell(v);
    csv.end_row();
    size_t k = 0;
    for (size_t c = 0; c < cols.size(); ++c) {
      if (cols[c] == "psnr" || cols[c] == "detail_ratio") continue;
      series[k].x.push_back(st);
      series[k].y.push_back(vals[c]);
      ++k;
    }
  }
  ensure_dir(run.path("tables"));
  csv.commit();
  ensure_dir(run.path("plots"));
  write_plot(run.path("plots/emergence.png"), series, "What the x0 estimate already shares with the final image",
             "step", "similarity to final");
  for (const auto& [pct, label] : std::vector<std::pair<double, std::string>>{{0.25, "25pct"}, {0.5, "50pct"}, {0.75, "75pct"}}) {
    const int target = static_cast<int>(std::lround(pct * (run.steps - 1)));
    const EmergenceRow* best = &rows.front();
    for (const auto& r : rows)
      if (std::abs(r.step - target) < std::abs(best->step - target)) best = &r;
    auto vals = emergence_values(*best);
    for (size_t c = 0; c < cols.size(); ++c) s["emergence." + cols[c] + "_at_" + label] = vals[c];
  }
}


DIFFSCOPE_ANALYSIS({"emergence", "each step's x0 against the final image: colour, layout, structure, detail", 30, kNeedsImages, {}, {},
                    [](const AnalysisInput& in, AnalysisKeys& keys) { do_emergence(in.run, keys); }});

}  // namespace

}  // namespace diffscope
