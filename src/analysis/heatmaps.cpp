// Word heatmaps: aggregation over steps, bicubic upsampling, normalisation and the figures.
#include "diffscope/analysis/heatmaps.h"
#include "diffscope/analysis/analyze.h"
#include "diffscope/analysis/registry.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/image.h"
#include "diffscope/util/plot.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/npy.h"

namespace fs = std::filesystem;

namespace diffscope {

std::string safe_name(const std::string& word) {
  std::string s;
  for (unsigned char c : word) s += (std::isalnum(c) || c == '-') ? static_cast<char>(c) : '_';
  return s.empty() ? "_" : s;
}

std::vector<float> upsample_map(const std::vector<float>& latent, int h, int w, int H, int W) {
  auto out = resize_map(latent.data(), h, w, H, W, /*bicubic=*/true, /*clamp01=*/false);
  for (auto& v : out) v = std::max(v, 0.f);
  return out;
}

std::vector<WordHeatmap> compute_heatmaps(const RunFolder& run, const std::vector<int>& steps, const std::string& norm) {
  if (norm != "word" && norm != "global") throw Error("--normalize " + norm + ": expected word or global");
  std::vector<WordHeatmap> out;
  for (const auto& w : run.content_words()) {
    WordHeatmap hm;
    hm.word = w;
    hm.latent = run.word_map(steps, w);
    hm.image = upsample_map(hm.latent, run.h, run.w, run.image_h, run.image_w);
    out.push_back(std::move(hm));
  }
  if (norm == "word") {
    for (auto& hm : out) normalize_minmax(hm.image);
  } else {
    float mx = 0.f;
    for (const auto& hm : out) mx = std::max(mx, *std::max_element(hm.image.begin(), hm.image.end()));
    for (auto& hm : out)
      for (auto& v : hm.image) v = mx > 0 ? v / mx : 0.f;
  }
  return out;
}

namespace {
/// "04_a_2": the map's index and its word key (word_keys: "a#2" for a repeat), made safe for a file name.
std::string word_file(size_t i, const std::string& key) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02zu_", i);
  return buf + safe_name(key);
}

/// Per wanted step, the recorded x0 step nearest it (ties: the earlier), each once, in order.
std::vector<int> nearest_steps(const std::vector<int>& wanted, const std::vector<int>& recorded) {
  std::vector<int> out;
  if (recorded.empty()) return out;
  for (int w : wanted) {
    int best = recorded.front();
    for (int r : recorded)
      if (std::abs(r - w) < std::abs(best - w)) best = r;  // ties keep the earlier step
    if (std::find(out.begin(), out.end(), best) == out.end()) out.push_back(best);
  }
  std::sort(out.begin(), out.end());
  return out;
}

cv::Mat load_bgr(const std::string& path) {
  cv::Mat m = cv::imread(path, cv::IMREAD_COLOR);
  if (m.empty()) throw Error(path + ": missing or unreadable");
  return m;
}
}  // namespace

std::vector<std::string> write_heatmaps(const RunFolder& run, const std::vector<WordHeatmap>& maps,
                                        const HeatmapWriteOptions& o) {
  const Colormap cm = parse_colormap(o.colormap);
  const std::string dir = run.path(o.folder);
  ensure_dir(dir);
  std::vector<std::string> written;
  const cv::Mat final_img = load_bgr(run.path("final.png"));
  nlohmann::json words = nlohmann::json::array();
  std::vector<Word> plain;
  for (const auto& hm : maps) plain.push_back(hm.word);
  const auto wkeys = word_keys(plain);  // a repeated word is "a#2" in every label
  std::vector<float> stack;
  for (size_t i = 0; i < maps.size(); ++i) {
    const auto& hm = maps[i];
    const std::string base = word_file(i, wkeys[i]);
    cv::Mat heat = colorize(hm.image.data(), run.image_h, run.image_w, cm);
    write_png(dir + "/" + base + ".png", heat);
    const cv::Mat ov = overlay(final_img, heat, o.alpha);
    write_png(dir + "/" + base + "_overlay.png", ov);
    // the same overlay as a figure (PNG + PDF + SVG): titled, with its numeric colour scale and normalisation
    write_colorbar_figure(dir + "/" + base + "_figure.png", ov,
                          "\"" + wkeys[i] + "\" " + o.what + (o.steps_label.empty() ? "" : ", " + o.steps_label),
                          ColourScale{cm, 0.0, 1.0, o.scale_label}, o.figure_size);
    written.push_back(o.folder + "/" + base + ".png");
    written.push_back(o.folder + "/" + base + "_overlay.png");
    written.push_back(o.folder + "/" + base + "_figure.png");
    for (int s : o.x0_steps) {
      char name[32];
      std::snprintf(name, sizeof name, "steps/x0_%03d.png", s);
      cv::Mat x0 = load_bgr(run.path(name));
      const std::string f = base + "_x0_" + std::to_string(s) + ".png";
      write_png(dir + "/" + f, overlay(x0, heat, o.alpha));
      written.push_back(o.folder + "/" + f);
    }
    stack.insert(stack.end(), hm.image.begin(), hm.image.end());
    words.push_back({{"index", i}, {"word", hm.word.text}, {"key", wkeys[i]}, {"positions", hm.word.positions}, {"file", base + ".png"}});
  }
  if (!maps.empty()) {
    write_npy(dir + "/maps.npy", stack.data(), {static_cast<int64_t>(maps.size()), run.image_h, run.image_w});
    written.push_back(o.folder + "/maps.npy");
  }
  write_json_atomic(dir + "/words.json", words);

  // word x timestep figure: each cell is that word's map at one step (per-cell min-max), over final.png's size
  std::vector<int> cols;
  if (!o.grid_steps.empty()) {
    cols = parse_steps(o.grid_steps, run.steps, "--grid-steps");
  } else {
    const int n = std::min(o.grid_columns, run.steps);
    for (int c = 0; c < n; ++c) cols.push_back(n == 1 ? run.steps - 1 : c * (run.steps - 1) / (n - 1));
    cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
  }
  std::vector<std::vector<cv::Mat>> cells;
  std::vector<std::string> rows, col_labels;
  for (int c : cols) col_labels.push_back("t=" + format_number(run.timesteps[static_cast<size_t>(c)]));
  for (size_t mi = 0; mi < maps.size(); ++mi) {
    const auto& hm = maps[mi];
    std::vector<cv::Mat> row;
    for (int c : cols) {
      auto m = upsample_map(run.word_map(c, hm.word), run.h, run.w, run.image_h, run.image_w);
      normalize_minmax(m);
      row.push_back(overlay(final_img, colorize(m.data(), run.image_h, run.image_w, cm), o.alpha));
    }
    cells.push_back(row);
    rows.push_back(wkeys[mi]);
  }
  if (!cells.empty()) {
    GridFigure g;
    g.cells = std::move(cells), g.row_labels = rows, g.col_labels = col_labels;
    g.title = "Where each word attends, step by step (" + o.what + " over final.png)";
    g.scale = ColourScale{cm, 0.0, 1.0, "per cell: min-max to 0-1"};
    write_grid_figure(dir + "/grid.png", g);
    written.push_back(o.folder + "/grid.png");
  }

  // X-Diffusion's view: the same per-step maps over that step's own x0 estimate (steps/x0_NNN.png), at the recorded
  // x0 steps nearest the grid's columns
  std::vector<int> x0_recorded;
  if (run.meta.contains("x0_steps")) x0_recorded = run.meta["x0_steps"].get<std::vector<int>>();
  const std::vector<int> x0_cols = nearest_steps(cols, x0_recorded);
  if (!maps.empty() && !x0_cols.empty()) {
    const bool preview = run.meta.value("x0_view", std::string("decode")) == "preview";
    std::vector<cv::Mat> backgrounds;
    GridFigure g;
    for (int c : x0_cols) {
      char name[32];
      std::snprintf(name, sizeof name, "steps/x0_%03d.png", c);
      cv::Mat x0 = load_bgr(run.path(name));
      if (x0.rows != run.image_h || x0.cols != run.image_w)
        cv::resize(x0, x0, cv::Size(run.image_w, run.image_h), 0, 0, cv::INTER_LINEAR);
      backgrounds.push_back(x0);
      g.col_labels.push_back("step " + std::to_string(c) + "\nt=" + format_number(run.timesteps[static_cast<size_t>(c)]));
    }
    for (size_t mi = 0; mi < maps.size(); ++mi) {
      std::vector<cv::Mat> row;
      for (size_t k = 0; k < x0_cols.size(); ++k) {
        auto m = upsample_map(run.word_map(x0_cols[k], maps[mi].word), run.h, run.w, run.image_h, run.image_w);
        normalize_minmax(m);
        row.push_back(overlay(backgrounds[k], colorize(m.data(), run.image_h, run.image_w, cm), o.alpha));
      }
      g.cells.push_back(std::move(row));
      g.row_labels.push_back(wkeys[mi]);
    }
    g.title = "Where each word attends while the image forms (" + o.what + " over each step's " +
              (preview ? "previewed" : "decoded") + " x0 estimate)";
    g.scale = ColourScale{cm, 0.0, 1.0, "per cell: min-max to 0-1"};
    write_grid_figure(dir + "/grid_x0.png", g);
    written.push_back(o.folder + "/grid_x0.png");
  }
  return written;
}

HeatmapWriteOptions heatmap_write_options(const RunFolder& run, const AnalysisOptions& o, const std::vector<int>& steps) {
  HeatmapWriteOptions w;
  w.colormap = o.colormap;
  w.x0_steps = o.x0_overlay_steps;
  w.figure_size = o.figure_size;
  w.grid_steps = o.grid_steps;
  w.scale_label = o.normalize == "global" ? "all words: 0-1 of the largest value" : "per word: min-max to 0-1";
  w.steps_label = steps.size() == static_cast<size_t>(run.steps) ? "all steps"
                  : steps.size() == 1 ? "step " + std::to_string(steps.front())
                                      : "steps " + std::to_string(steps.front()) + ".." + std::to_string(steps.back());
  return w;
}

// The registered analysis: its tables, figures and summary keys.
namespace {

void do_heatmaps(const RunFolder& run, const AnalysisOptions& o, const std::vector<int>& steps, AnalysisKeys& s) {
  auto maps = compute_heatmaps(run, steps, o.normalize);
  write_heatmaps(run, maps, heatmap_write_options(run, o, steps));
  s["heatmaps.words"] = static_cast<double>(maps.size());
  s["heatmaps.steps_aggregated"] = static_cast<double>(steps.size());
}


DIFFSCOPE_ANALYSIS({"heatmaps", "per-word attention heatmaps, overlays and the word x timestep grid of a run", 10, kNeedsAttention, {"--run runs/demo --agg-steps 0.0:0.5 --colormap inferno"}, {"agg-steps", "normalize", "colormap", "x0-overlays", "figure-size", "grid-steps"},
                    [](const AnalysisInput& in, AnalysisKeys& keys) { do_heatmaps(in.run, in.options, in.steps, keys); }});

}  // namespace

}  // namespace diffscope
