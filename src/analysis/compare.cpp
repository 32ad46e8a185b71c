// Runs side by side (see compare.h): distances between runs and to each run's final image per step, latent
// trajectories on shared principal components, shared and differing words.
#include "diffscope/analysis/compare.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "diffscope/analysis/emergence.h"
#include "diffscope/analysis/heatmaps.h"
#include "diffscope/analysis/run_folder.h"
#include "diffscope/analysis/settle.h"
#include "diffscope/metrics/metrics.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "diffscope/util/npy.h"
#include "diffscope/util/plot.h"

namespace diffscope {

int stays_apart_from(const std::vector<double>& d, double fraction) {
  if (d.empty() || !(d.back() > 0)) return -1;
  const double bar = fraction * d.back();
  int from = static_cast<int>(d.size()) - 1;
  while (from > 0 && d[static_cast<size_t>(from) - 1] >= bar) --from;
  return from;
}

int stays_together_from(const std::vector<double>& d, double fraction) {
  if (d.empty()) return -1;
  const double bar = fraction * *std::max_element(d.begin(), d.end());
  if (d.back() > bar) return -1;
  int from = static_cast<int>(d.size()) - 1;
  while (from > 0 && d[static_cast<size_t>(from) - 1] <= bar) --from;
  return from;
}

namespace {

struct Loaded {
  RunFolder run;
  std::vector<cv::Mat> x0;  ///< float BGR in [0,1], one per compared step
  cv::Mat x0_bgr_last;
  cv::Mat final_f, final_bgr;
  NpyArray latents;         ///< [steps+1, C, h, w]
  size_t latent_size = 0;
};

cv::Mat to01(const cv::Mat& bgr8) {
  cv::Mat f;
  bgr8.convertTo(f, CV_32F, 1.0 / 255.0);
  return f;
}

double rmse(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d = a - b;
  const cv::Scalar m = cv::mean(d.mul(d));
  double s = 0;
  for (int c = 0; c < a.channels(); ++c) s += m[c];
  return std::sqrt(s / a.channels());
}

double latent_rmse(const Loaded& a, const Loaded& b, int index) {
  const float* p = a.latents.data.data() + static_cast<size_t>(index) * a.latent_size;
  const float* q = b.latents.data.data() + static_cast<size_t>(index) * b.latent_size;
  double s = 0;
  for (size_t i = 0; i < a.latent_size; ++i) s += double(p[i] - q[i]) * double(p[i] - q[i]);
  return std::sqrt(s / double(a.latent_size));
}

std::string step_name(int st) {
  char name[32];
  std::snprintf(name, sizeof name, "steps/x0_%03d.png", st);
  return name;
}

/// Up to n indices spread evenly over 0..count-1, the last one included.
std::vector<int> spread(int count, int n) {
  std::vector<int> idx;
  if (count <= 0) return idx;
  n = std::max(1, std::min(n, count));
  for (int i = 0; i < n; ++i) {
    const int v = n == 1 ? count - 1 : static_cast<int>(std::lround(double(i) * (count - 1) / (n - 1)));
    if (idx.empty() || idx.back() != v) idx.push_back(v);
  }
  return idx;
}

cv::Mat upscale(const cv::Mat& img, int px) {
  if (img.empty() || img.rows >= px) return img;
  cv::Mat out;
  const double f = double(px) / std::max(img.rows, img.cols);
  cv::resize(img, out, cv::Size(), f, f, cv::INTER_NEAREST);
  return out;
}

}  // namespace

std::map<std::string, double> compare_runs(const std::vector<CompareInput>& inputs, const std::string& out,
                                           const CompareOptions& o) {
  if (inputs.size() < 2) throw Error("compare: needs at least two runs, got " + std::to_string(inputs.size()));
  if (!(o.fraction > 0 && o.fraction < 1)) throw Error("compare: the stay-apart fraction must be in (0, 1)");
  std::vector<Loaded> runs;
  for (const auto& in : inputs) {
    Loaded l;
    l.run = RunFolder::load(in.dir, /*require_attention=*/false);
    l.final_bgr = read_image(l.run.path("final.png"));
    l.final_f = to01(l.final_bgr);
    l.latents = l.run.read_latents();
    l.latent_size = l.latents.size() / static_cast<size_t>(l.latents.shape[0]);
    runs.push_back(std::move(l));
  }
  const Loaded& ref = runs.front();
  for (const auto& l : runs) {
    if (l.run.steps != ref.run.steps)
      throw Error(l.run.dir + ": " + std::to_string(l.run.steps) + " steps, but " + ref.run.dir + " has " +
                  std::to_string(ref.run.steps) + " (compared runs need the same number of steps)");
    if (l.latents.shape != ref.latents.shape || l.final_bgr.size() != ref.final_bgr.size())
      throw Error(l.run.dir + ": image or latent size differs from " + ref.run.dir + "'s");
  }
  // the steps every run has an x0 image for
  std::vector<int> steps;
  if (ref.run.meta.contains("x0_steps")) steps = ref.run.meta["x0_steps"].get<std::vector<int>>();
  for (const auto& l : runs) {
    std::vector<int> have;
    if (l.run.meta.contains("x0_steps")) have = l.run.meta["x0_steps"].get<std::vector<int>>();
    std::vector<int> both;
    std::set_intersection(steps.begin(), steps.end(), have.begin(), have.end(), std::back_inserter(both));
    steps = both;
  }
  if (steps.empty())
    throw Error(ref.run.dir + ": the compared runs share no x0 images (generate them with --x0-every 1)");
  for (auto& l : runs) {
    for (int st : steps) l.x0.push_back(to01(read_image(l.run.path(step_name(st)))));
    l.x0_bgr_last = read_image(l.run.path(step_name(steps.back())));
  }
  const size_t R = runs.size(), S = steps.size();
  ensure_dir(out + "/tables");
  ensure_dir(out + "/plots");
  std::map<std::string, double> keys;
  keys["compare.runs"] = static_cast<double>(R);

  // the runs
  {
    CsvWriter csv(out + "/tables/runs.csv", {"run", "label", "folder", "prompt", "guidance", "scheduler",
                                             "timestep_schedule", "seed"});
    for (size_t i = 0; i < R; ++i) {
      const auto& in = runs[i].run.meta.value("inputs", nlohmann::json::object());
      csv.cell(static_cast<int64_t>(i)).cell(inputs[i].label).cell(inputs[i].dir).cell(in.value("prompt", ""));
      csv.cell(in.value("guidance_scale", 0.0)).cell(in.value("scheduler", ""));
      csv.cell(runs[i].run.meta.value("timestep_schedule", "")).cell(static_cast<int64_t>(in.value("seed", 0)));
      csv.end_row();
    }
    csv.commit();
  }

  // distances between every pair, per step
  std::vector<Series> pix_series, lat_series;
  {
    CsvWriter csv(out + "/tables/compare.csv", {"run_a", "run_b", "step", "timestep_a", "timestep_b", "pixel_rmse",
                                                "latent_rmse"});
    for (size_t a = 0; a < R; ++a)
      for (size_t b = a + 1; b < R; ++b) {
        std::vector<double> pix, lat;
        Series ps{inputs[b].label + " vs " + inputs[a].label, {}, {}, {}}, ls = ps;
        for (size_t k = 0; k < S; ++k) {
          const int st = steps[k];
          pix.push_back(rmse(runs[a].x0[k], runs[b].x0[k]));
          lat.push_back(latent_rmse(runs[a], runs[b], st + 1));
          csv.cell(static_cast<int64_t>(a)).cell(static_cast<int64_t>(b)).cell(static_cast<int64_t>(st));
          csv.cell(runs[a].run.timesteps[static_cast<size_t>(st)]).cell(runs[b].run.timesteps[static_cast<size_t>(st)]);
          csv.cell(pix.back()).cell(lat.back());
          csv.end_row();
          ps.x.push_back(st), ps.y.push_back(pix.back());
          ls.x.push_back(st), ls.y.push_back(lat.back());
        }
        if (a == 0) {
          const std::string p = "compare.run" + std::to_string(b) + ".";
          keys[p + "final_pixel_rmse"] = rmse(runs[a].final_f, runs[b].final_f);
          keys[p + "final_latent_rmse"] = latent_rmse(runs[a], runs[b], ref.run.steps);
          keys[p + "mean_pixel_rmse"] = metrics::mean(pix);
          // runs that end together (final distance within the fraction of the largest) have no stay-apart step
          const int together = stays_together_from(pix, o.fraction);
          const int apart = together >= 0 ? -1 : stays_apart_from(pix, o.fraction);
          keys[p + "apart_step"] = apart < 0 ? -1 : steps[static_cast<size_t>(apart)];
          keys[p + "together_step"] = together < 0 ? -1 : steps[static_cast<size_t>(together)];
          pix_series.push_back(ps);
          lat_series.push_back(ls);
        }
      }
    csv.commit();
  }
  write_plot(out + "/plots/distance_between.png", pix_series, "How far apart the runs' x0 estimates are (vs " + inputs[0].label + ")", "step",
                      "pixel RMSE (RGB in [0,1])");
  write_plot(out + "/plots/latent_distance.png", lat_series, "How far apart the runs' latents are (vs " + inputs[0].label + ")", "step",
                      "latent RMSE");

  // each run against its own final image (the emergence curves, overlaid)
  {
    std::vector<Series> dist, ssim;
    CsvWriter csv(out + "/tables/to_final.csv", {"run", "step", "timestep", "pixel_rmse", "ssim", "psnr"});
    for (size_t i = 0; i < R; ++i) {
      Series d{inputs[i].label, {}, {}, {}}, s = d;
      for (size_t k = 0; k < S; ++k) {
        const int st = steps[k];
        cv::Mat x8;
        runs[i].x0[k].convertTo(x8, CV_8U, 255.0);
        const EmergenceRow e = compare_to_final(x8, runs[i].final_bgr);
        const double r = rmse(runs[i].x0[k], runs[i].final_f);
        csv.cell(static_cast<int64_t>(i)).cell(static_cast<int64_t>(st)).cell(runs[i].run.timesteps[static_cast<size_t>(st)]);
        csv.cell(r).cell(e.ssim).cell(e.psnr);
        csv.end_row();
        d.x.push_back(st), d.y.push_back(r);
        s.x.push_back(st), s.y.push_back(e.ssim);
      }
      dist.push_back(d);
      ssim.push_back(s);
    }
    csv.commit();
    write_plot(out + "/plots/distance_to_final.png", dist, "How far each run's x0 estimate is from its own final image", "step", "pixel RMSE");
    write_plot(out + "/plots/emergence.png", ssim, "What each run's x0 estimate already shares with its final image", "step", "SSIM");
  }

  // latent trajectories on the principal components of all runs' latents together
  {
    const int n_lat = ref.run.steps + 1;
    const int D = static_cast<int>(ref.latent_size);
    cv::Mat data(static_cast<int>(R) * n_lat, D, CV_32F);
    for (size_t i = 0; i < R; ++i)
      for (int k = 0; k < n_lat; ++k)
        std::copy_n(runs[i].latents.data.data() + static_cast<size_t>(k) * ref.latent_size, ref.latent_size,
                    data.ptr<float>(static_cast<int>(i) * n_lat + k));
    cv::PCA pca(data, cv::noArray(), cv::PCA::DATA_AS_ROW, 2);
    cv::Mat proj = pca.project(data);
    // orientation: run 0's last point on the positive side of each axis (the sign of a component is arbitrary)
    for (int c = 0; c < proj.cols; ++c)
      if (proj.at<float>(n_lat - 1, c) < 0) proj.col(c) *= -1.0f;
    double total = 0;
    cv::Mat centred;
    cv::repeat(pca.mean, data.rows, 1, centred);
    centred = data - centred;
    total = cv::sum(centred.mul(centred))[0] / data.rows;
    for (int c = 0; c < std::min(2, pca.eigenvalues.rows); ++c)
      keys["compare.pca.pc" + std::to_string(c + 1) + "_variance"] =
          total > 0 ? pca.eigenvalues.at<float>(c) / total : 0.0;
    CsvWriter csv(out + "/tables/trajectory.csv", {"run", "label", "step", "pc1", "pc2"});
    std::vector<Series> paths;
    for (size_t i = 0; i < R; ++i) {
      Series s{inputs[i].label, {}, {}, {}};
      for (int k = 0; k < n_lat; ++k) {
        const int row = static_cast<int>(i) * n_lat + k;
        const double x = proj.at<float>(row, 0), y = proj.cols > 1 ? proj.at<float>(row, 1) : 0.0;
        csv.cell(static_cast<int64_t>(i)).cell(inputs[i].label).cell(static_cast<int64_t>(k - 1)).cell(x).cell(y);
        csv.end_row();
        s.x.push_back(x), s.y.push_back(y);
        // label the noise, the last step and steps 0, 5, 10, ... of the first run (the others share its steps)
        const bool label = (k == 0 && i == 0) || k == n_lat - 1 || (i == 0 && k >= 1 && (k - 1) % 5 == 0);
        s.point_labels.push_back(!label ? "" : k == 0 ? "noise" : std::to_string(k - 1));
      }
      paths.push_back(s);
    }
    csv.commit();
    write_plot(out + "/plots/trajectory.png", paths, "Latent trajectories (PCA of all runs' latents; step numbers after each step)", "PC 1",
                        "PC 2");
  }

  // filmstrips and difference maps: rows are runs, columns steps
  {
    const auto cols = spread(static_cast<int>(S), o.filmstrip_columns);
    std::vector<std::string> col_labels;
    for (int c : cols) col_labels.push_back("step " + std::to_string(steps[static_cast<size_t>(c)]));
    col_labels.push_back("final");
    std::vector<std::vector<cv::Mat>> cells;
    std::vector<std::string> row_labels;
    for (size_t i = 0; i < R; ++i) {
      std::vector<cv::Mat> row;
      for (int c : cols) {
        cv::Mat x8;
        runs[i].x0[static_cast<size_t>(c)].convertTo(x8, CV_8U, 255.0);
        row.push_back(upscale(x8, o.cell_px));
      }
      row.push_back(upscale(runs[i].final_bgr, o.cell_px));
      cells.push_back(row);
      row_labels.push_back(inputs[i].label);
    }
    {
      GridFigure g;
      g.cells = cells, g.row_labels = row_labels, g.col_labels = col_labels;
      g.title = "Each run's x0 estimates at the chosen steps and its final image";
      write_grid_figure(out + "/plots/filmstrips.png", g);
    }
    // |x0_i - x0_0| averaged over channels, on one scale for the whole figure
    std::vector<std::vector<cv::Mat>> diffs;
    float scale = 0;
    for (size_t i = 1; i < R; ++i) {
      std::vector<cv::Mat> row;
      auto add = [&](const cv::Mat& a, const cv::Mat& b) {
        cv::Mat d;
        cv::absdiff(a, b, d);
        cv::Mat grey;
        cv::transform(d, grey, cv::Matx13f(1.f / 3, 1.f / 3, 1.f / 3));
        double mx = 0;
        cv::minMaxLoc(grey, nullptr, &mx);
        scale = std::max(scale, static_cast<float>(mx));
        row.push_back(grey);
      };
      for (int c : cols) add(runs[i].x0[static_cast<size_t>(c)], runs[0].x0[static_cast<size_t>(c)]);
      add(runs[i].final_f, runs[0].final_f);
      diffs.push_back(row);
    }
    keys["compare.difference_scale"] = scale;
    std::vector<std::vector<cv::Mat>> dcells;
    std::vector<std::string> drows;
    for (size_t i = 0; i < diffs.size(); ++i) {
      std::vector<cv::Mat> row;
      for (const auto& g : diffs[i]) {
        cv::Mat n = scale > 0 ? cv::Mat(g / scale) : g;
        n = n.isContinuous() ? n : n.clone();
        row.push_back(upscale(colorize(n.ptr<float>(), n.rows, n.cols, Colormap::Inferno), o.cell_px));
      }
      dcells.push_back(row);
      drows.push_back("|" + inputs[i + 1].label + " - " + inputs[0].label + "|");
    }
    {
      GridFigure g;
      g.cells = std::move(dcells), g.row_labels = drows, g.col_labels = col_labels;
      g.title = "Where the runs' x0 estimates differ from " + inputs[0].label + "'s";
      g.scale = ColourScale{Colormap::Inferno, 0.0, scale > 0 ? scale : 1.0,
                            "|x0 difference|, mean of channels (0-1 intensity), one scale"};
      write_grid_figure(out + "/plots/difference.png", g);
    }

    // the same in latent space: |z_i - z_0| after each shown step, averaged over channels, one scale for the figure
    const int C = static_cast<int>(ref.latents.shape[1]), lh = static_cast<int>(ref.latents.shape[2]),
              lw = static_cast<int>(ref.latents.shape[3]);
    auto latent_diff = [&](size_t i, int index) {
      std::vector<float> d(static_cast<size_t>(lh) * lw, 0.f);
      const float* p = runs[i].latents.data.data() + static_cast<size_t>(index) * ref.latent_size;
      const float* q = runs[0].latents.data.data() + static_cast<size_t>(index) * ref.latent_size;
      for (int c = 0; c < C; ++c)
        for (size_t k = 0; k < d.size(); ++k) d[k] += std::fabs(p[c * d.size() + k] - q[c * d.size() + k]) / C;
      return d;
    };
    std::vector<int> lat_index;
    for (int c : cols) lat_index.push_back(steps[static_cast<size_t>(c)] + 1);
    lat_index.push_back(ref.run.steps);  // the final latent
    float lscale = 0;
    std::vector<std::vector<std::vector<float>>> lmaps;
    for (size_t i = 1; i < R; ++i) {
      std::vector<std::vector<float>> row;
      for (int li : lat_index) {
        row.push_back(latent_diff(i, li));
        lscale = std::max(lscale, *std::max_element(row.back().begin(), row.back().end()));
      }
      lmaps.push_back(row);
    }
    keys["compare.latent_difference_scale"] = lscale;
    std::vector<std::vector<cv::Mat>> lcells;
    for (auto& row : lmaps) {
      std::vector<cv::Mat> cells_row;
      for (auto& m : row) {
        for (auto& v : m) v = lscale > 0 ? v / lscale : 0.f;
        cv::Mat heat = colorize(m.data(), lh, lw, Colormap::Inferno), up;
        cv::resize(heat, up, cv::Size(o.cell_px, o.cell_px), 0, 0, cv::INTER_NEAREST);
        cells_row.push_back(up);
      }
      lcells.push_back(cells_row);
    }
    {
      GridFigure g;
      g.cells = std::move(lcells), g.row_labels = drows, g.col_labels = col_labels;
      g.title = "Where the runs' latents differ from " + inputs[0].label + "'s";
      g.scale = ColourScale{Colormap::Inferno, 0.0, lscale > 0 ? lscale : 1.0, "|latent difference|, mean of channels, one scale"};
      g.nearest = true;
      write_grid_figure(out + "/plots/latent_difference.png", g);
    }
  }

  // words: those in every run (their maps correlated with run 0's) and those in some runs only
  bool all_attention = true;
  for (const auto& l : runs) all_attention = all_attention && l.run.has_attention;
  if (all_attention) {
    std::vector<std::vector<std::string>> run_keys(R);
    std::vector<std::map<std::string, std::vector<float>>> maps(R);
    std::vector<std::map<std::string, std::vector<double>>> shares(R);
    std::vector<std::string> order;
    for (size_t i = 0; i < R; ++i) {
      const RunFolder& full = runs[i].run;  // loaded above, maps included
      const auto words = full.content_words();
      const auto wk = word_keys(words);
      std::vector<int> all(static_cast<size_t>(full.steps));
      for (int k = 0; k < full.steps; ++k) all[static_cast<size_t>(k)] = k;
      const auto settle = settle_table(full, all);
      for (size_t w = 0; w < words.size(); ++w) {
        run_keys[i].push_back(wk[w]);
        if (std::find(order.begin(), order.end(), wk[w]) == order.end()) order.push_back(wk[w]);
        maps[i][wk[w]] = full.word_map(all, words[w]);
        for (const auto& row : settle) shares[i][wk[w]].push_back(row.share[w]);
      }
    }
    std::vector<std::string> header{"word", "in_runs", "shared"};
    for (size_t i = 1; i < R; ++i) header.push_back("map_corr_run" + std::to_string(i) + "_vs_run0");
    CsvWriter csv(out + "/tables/words.csv", header);
    int shared = 0, differing = 0;
    std::vector<std::vector<cv::Mat>> cells;
    for (const auto& w : order) {
      std::string in_runs;
      bool everywhere = true;
      for (size_t i = 0; i < R; ++i) {
        const bool has = maps[i].count(w) > 0;
        everywhere = everywhere && has;
        if (has) in_runs += (in_runs.empty() ? "" : ";") + std::to_string(i);
      }
      (everywhere ? shared : differing) += 1;
      csv.cell(w).cell(in_runs).cell(everywhere ? "yes" : "no");
      for (size_t i = 1; i < R; ++i) {
        double c = std::nan("");
        if (maps[0].count(w) && maps[i].count(w)) {
          const auto& a = maps[0][w];
          const auto& b = maps[i][w];
          c = metrics::pearson({a.data(), a.size()}, {b.data(), b.size()});
          if (everywhere) keys["compare.run" + std::to_string(i) + ".word." + w + ".map_corr"] = c;
        }
        csv.cell(c);
      }
      csv.end_row();
      // the figure: the word's step-averaged map over each run's final image
      std::vector<cv::Mat> row;
      for (size_t i = 0; i < R; ++i) {
        if (!maps[i].count(w)) {
          row.emplace_back();
          continue;
        }
        std::vector<float> m = maps[i][w];
        const RunFolder& rf = runs[i].run;
        auto up = resize_map(m.data(), rf.h, rf.w, runs[i].final_bgr.rows, runs[i].final_bgr.cols);
        normalize_minmax(up);
        const cv::Mat heat = colorize(up.data(), runs[i].final_bgr.rows, runs[i].final_bgr.cols, Colormap::Inferno);
        row.push_back(upscale(overlay(runs[i].final_bgr, heat, 0.6f), o.cell_px));
      }
      cells.push_back(row);
      // how much of the prompt's attention the word takes at each step, run by run
      if (everywhere) {
        std::vector<Series> ss;
        for (size_t i = 0; i < R; ++i) {
          Series s{inputs[i].label, {}, {}, {}};
          for (size_t k = 0; k < shares[i][w].size(); ++k) s.x.push_back(double(k)), s.y.push_back(shares[i][w][k]);
          ss.push_back(s);
        }
        write_plot(out + "/plots/share_" + safe_name(w) + ".png", ss, "Attention share of \"" + w + "\" per step", "step", "share of the prompt's attention");
      }
    }
    csv.commit();
    keys["compare.words.shared"] = shared;
    keys["compare.words.differing"] = differing;
    std::vector<std::string> col_labels;
    for (const auto& in : inputs) col_labels.push_back(in.label);
    if (!cells.empty()) {
      GridFigure g;
      g.cells = std::move(cells), g.row_labels = order, g.col_labels = col_labels;
      g.title = "Each word's step-averaged attention over each run's final image (grey: the run lacks the word)";
      g.scale = ColourScale{Colormap::Inferno, 0.0, 1.0, "attention, per map: min-max to 0-1"};
      write_grid_figure(out + "/plots/words.png", g);
    }
  }
  return keys;
}

}  // namespace diffscope
