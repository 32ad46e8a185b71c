// The self-contained HTML report (see report.h): the data of every run as JSON inside one page.
#include "diffscope/analysis/report.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "diffscope/analysis/run_folder.h"
#include "diffscope/analysis/summary.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/xml.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/npy.h"
#include "diffscope/util/output_folder.h"
#include "diffscope/version.h"

namespace fs = std::filesystem;

namespace diffscope {
namespace {

const char* const kPage =
#include "report_page.inc"
    ;

std::string base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += k[v >> 18], out += k[(v >> 12) & 63], out += k[(v >> 6) & 63], out += k[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += k[v >> 18], out += k[(v >> 12) & 63], out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += k[v >> 18], out += k[(v >> 12) & 63], out += k[(v >> 6) & 63], out += '=';
  }
  return out;
}

std::string png_uri(const std::string& png_bytes) { return "data:image/png;base64," + base64(png_bytes); }

std::string file_uri(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return png_uri(ss.str());
}

/// A figure as a data: URI: the PNG itself, or a JPEG (quality 90) when the PNG exceeds 200 KB (photographic
/// grids of heatmaps compress poorly as PNG; line plots stay PNG).
std::string figure_uri(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string png = ss.str();
  if (png.size() <= 200 * 1024) return png_uri(png);
  std::vector<uchar> jpg;
  if (!cv::imencode(".jpg", read_image(path), jpg, {cv::IMWRITE_JPEG_QUALITY, 90})) return png_uri(png);
  return "data:image/jpeg;base64," + base64(std::string(jpg.begin(), jpg.end()));
}

/// One map [h, w] min-max scaled and coloured (the page's colour bar), at its own resolution.
std::string map_uri(std::vector<float> m, int h, int w) {
  normalize_minmax(m);
  return png_uri(encode_png(colorize(m.data(), h, w, Colormap::Turbo), "attention map"));
}

nlohmann::json csv_table(const std::string& path, const std::string& title, size_t max_rows) {
  auto rows = read_csv(path);
  nlohmann::json t{{"title", title}, {"columns", nlohmann::json::array()}, {"rows", nlohmann::json::array()}};
  if (rows.empty()) return t;
  t["columns"] = rows.front();
  const size_t n = rows.size() - 1;
  for (size_t i = 1; i < rows.size() && i <= max_rows; ++i) t["rows"].push_back(rows[i]);
  if (n > max_rows)
    t["note"] = "first " + std::to_string(max_rows) + " of " + std::to_string(n) + " rows; the whole table is " + path;
  return t;
}

std::string shorten(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

/// The figures an analysis wrote under `dir` (plots/, heatmaps/grid.png, steps/filmstrip.png, saliency/), sorted.
void add_figures(const std::string& dir, const std::string& prefix, nlohmann::json& figures) {
  std::vector<std::string> found;
  for (const char* sub : {"plots", "saliency"}) {
    const fs::path p = fs::path(dir) / sub;
    if (!fs::is_directory(p)) continue;
    for (const auto& e : fs::recursive_directory_iterator(p))
      if (e.is_regular_file() && e.path().extension() == ".png") found.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(found.begin(), found.end());
  // (steps/filmstrip.png is left out: the slider shows the same x0 estimates)
  if (fs::is_regular_file(fs::path(dir) / "heatmaps/grid.png")) found.insert(found.begin(), "heatmaps/grid.png");
  for (const auto& f : found) figures.push_back({{"title", prefix + f}, {"src", figure_uri((fs::path(dir) / f).string())}});
}

nlohmann::json run_data(const std::string& dir, const std::string& label, int& words_out) {
  const RunFolder run = RunFolder::load(dir, /*require_attention=*/false);
  nlohmann::json r;
  const auto& in = run.meta.value("inputs", nlohmann::json::object());
  r["label"] = label.empty() ? in.value("prompt", dir) : label;
  r["final"] = file_uri(run.path("final.png"));
  r["timesteps"] = numbers_json(run.timesteps);
  // x0 per step (null where the run kept none)
  nlohmann::json x0 = nlohmann::json::array();
  std::vector<int> have;
  if (run.meta.contains("x0_steps")) have = run.meta["x0_steps"].get<std::vector<int>>();
  for (int k = 0; k < run.steps; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "steps/x0_%03d.png", k);
    if (std::find(have.begin(), have.end(), k) != have.end() && fs::is_regular_file(run.path(name)))
      x0.push_back(file_uri(run.path(name)));
    else
      x0.push_back(nullptr);
  }
  r["x0"] = x0;
  // latents: the first three channels as RGB, each scaled over the whole run so colours compare across steps
  const NpyArray lat = run.read_latents();
  const int C = static_cast<int>(lat.shape[1]), lh = static_cast<int>(lat.shape[2]), lw = static_cast<int>(lat.shape[3]);
  const size_t plane = size_t(lh) * lw;
  std::vector<float> lo(3, 1e30f), hi(3, -1e30f);
  for (int64_t s = 0; s < lat.shape[0]; ++s)
    for (int c = 0; c < 3; ++c) {
      const float* p = lat.data.data() + (size_t(s) * C + std::min(c, C - 1)) * plane;
      for (size_t i = 0; i < plane; ++i) lo[c] = std::min(lo[c], p[i]), hi[c] = std::max(hi[c], p[i]);
    }
  nlohmann::json latents = nlohmann::json::array();
  for (int64_t s = 0; s < lat.shape[0]; ++s) {
    cv::Mat img(lh, lw, CV_8UC3);
    for (int c = 0; c < 3; ++c) {
      const float* p = lat.data.data() + (size_t(s) * C + std::min(c, C - 1)) * plane;
      const float range = hi[c] > lo[c] ? hi[c] - lo[c] : 1.0f;
      for (size_t i = 0; i < plane; ++i)
        img.data[i * 3 + (2 - c)] = static_cast<uint8_t>(std::lround(255.0f * (p[i] - lo[c]) / range));
    }
    latents.push_back(png_uri(encode_png(img, run.path("latents.npy"))));
  }
  r["latents"] = latents;
  // attention per word: each step's map and the mean over all steps
  nlohmann::json words = nlohmann::json::array();
  if (run.has_attention) {  // load() already read the maps
    const auto cw = run.content_words();
    const auto keys = word_keys(cw);
    std::vector<int> all(static_cast<size_t>(run.steps));
    for (int k = 0; k < run.steps; ++k) all[static_cast<size_t>(k)] = k;
    for (size_t w = 0; w < cw.size(); ++w) {
      nlohmann::json steps = nlohmann::json::array();
      for (int k = 0; k < run.steps; ++k) steps.push_back(map_uri(run.word_map(k, cw[w]), run.h, run.w));
      words.push_back({{"key", keys[w]}, {"steps", steps}, {"aggregate", map_uri(run.word_map(all, cw[w]), run.h, run.w)}});
    }
  }
  words_out = std::max(words_out, static_cast<int>(words.size()));
  r["words"] = words;
  r["meta"] = {{"prompt", in.value("prompt", "")},
               {"seed", in.value("seed", 0)},
               {"scheduler", in.value("scheduler", "")},
               {"guidance", in.value("guidance_scale", 0.0)},
               {"steps", run.steps},
               {"model", run.meta.contains("model") ? run.meta["model"].value("name", "") : ""},
               {"version", run.meta.value("diffscope_version", "")}};
  return r;
}

bool is_compare_folder(const std::string& dir) {
  return fs::is_directory(fs::path(dir) / "runs") && fs::is_regular_file(fs::path(dir) / "tables" / "runs.csv");
}

}  // namespace

ReportInfo write_report(const std::vector<std::string>& dirs, const std::string& out_html, const ReportOptions& o) {
  if (dirs.empty()) throw Error("report: give at least one run or compare folder");
  if (out_html.empty()) throw Error("report: -o must name the HTML file to write");
  {  // before any reading: never over an input or a file diffscope did not write (the page's head up to its CSP)
    const std::string tpl = kPage;
    claim_output_file(out_html, o.overwrite, tpl.substr(0, tpl.find("<meta name=\"viewport\"")));
  }
  nlohmann::json data;
  data["runs"] = nlohmann::json::array();
  data["figures"] = nlohmann::json::array();
  data["tables"] = nlohmann::json::array();
  ReportInfo info;
  bool compare = false;
  for (const auto& dir : dirs) {
    if (!fs::is_directory(dir)) throw Error(dir + ": not a folder (expected a run folder or a compare folder)");
    if (is_compare_folder(dir)) {
      compare = true;
      const Summary s = Summary::load_or_empty(dir + "/summary.json");
      std::vector<std::string> runs;
      for (const auto& e : fs::directory_iterator(fs::path(dir) / "runs"))
        if (e.is_directory()) runs.push_back(e.path().string());
      std::sort(runs.begin(), runs.end());
      for (size_t i = 0; i < runs.size(); ++i) {
        const auto& j = s.json();
        const std::string key = "compare.run" + std::to_string(i) + ".label";
        data["runs"].push_back(run_data(runs[i], j.contains(key) ? j[key].get<std::string>() : "", info.words));
      }
      add_figures(dir, "", data["figures"]);
      for (const char* t : {"runs", "words"})
        if (fs::is_regular_file(fs::path(dir) / "tables" / (std::string(t) + ".csv")))
          data["tables"].push_back(csv_table(dir + "/tables/" + t + ".csv", std::string("comparison: ") + t, o.max_table_rows));
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& [k, v] : s.numbers())
        if (k.find(".word.") == std::string::npos) rows.push_back({k, shorten(v)});
      data["tables"].push_back({{"title", "comparison: summary.json"}, {"columns", {"key", "value"}}, {"rows", rows}});
    } else {
      if (!fs::is_regular_file(fs::path(dir) / "run.json"))
        throw Error(dir + ": holds no run.json (expected a finished run folder or a compare folder)");
      data["runs"].push_back(run_data(dir, "", info.words));
      const std::string prefix = dirs.size() > 1 ? fs::path(dir).filename().string() + ": " : "";
      add_figures(dir, prefix, data["figures"]);
      for (const char* t : {"auc", "binding"})
        if (fs::is_regular_file(fs::path(dir) / "tables" / (std::string(t) + ".csv")))
          data["tables"].push_back(csv_table(dir + "/tables/" + t + ".csv", prefix + t, o.max_table_rows));
      const Summary s = Summary::load_or_empty(dir + "/summary.json");
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& [k, v] : s.numbers()) rows.push_back({k, shorten(v)});
      if (!rows.empty())
        data["tables"].push_back({{"title", prefix + "summary.json"}, {"columns", {"key", "value"}}, {"rows", rows}});
    }
  }
  auto& runs = data["runs"];
  if (runs.empty()) throw Error(dirs.front() + ": no runs to report");
  const size_t steps = runs[0]["timesteps"].size();
  for (const auto& r : runs)
    if (r["timesteps"].size() != steps)
      throw Error("report: the runs have different numbers of steps (" + std::to_string(steps) + " and " +
                  std::to_string(r["timesteps"].size()) + "); report them separately");
  if (steps < 2) throw Error("report: a run of one step has nothing to step through");
  data["steps"] = steps;
  const auto& m = runs[0]["meta"];
  std::string title = o.title;
  if (title.empty()) title = compare || runs.size() > 1 ? "diffscope: comparison of " + std::to_string(runs.size()) + " runs"
                                                       : "diffscope: \"" + m["prompt"].get<std::string>() + "\"";
  data["title"] = title;
  nlohmann::json header = nlohmann::json::array();
  header.push_back({"model", m["model"]});
  if (runs.size() == 1) header.push_back({"prompt", m["prompt"]});
  header.push_back({"seed", std::to_string(m["seed"].get<int64_t>())});
  header.push_back({"scheduler", m["scheduler"]});
  header.push_back({"steps", std::to_string(steps)});
  if (runs.size() == 1) header.push_back({"guidance", shorten(m["guidance"].get<double>())});
  header.push_back({"generated by", "diffscope " + m["version"].get<std::string>()});
  header.push_back({"report by", std::string("diffscope ") + DIFFSCOPE_VERSION});
  data["header"] = header;
  // the colour scale of the overlays, and a transparent pixel for runs without the chosen word
  std::vector<float> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[static_cast<size_t>(i)] = i / 255.0f;
  data["colorbar"] = png_uri(encode_png(colorize(ramp.data(), 1, 256, Colormap::Turbo), "colour bar"));
  data["blank"] = png_uri(encode_png(cv::Mat(1, 1, CV_8UC4, cv::Scalar(0, 0, 0, 0)), "blank"));

  std::string json = data.dump();
  for (size_t p = 0; (p = json.find("</", p)) != std::string::npos; p += 3) json.replace(p, 2, "<\\/");
  // the template's two slots, located in the template itself (a title or prompt holding "@DATA@" cannot move them)
  const std::string tpl = kPage;
  const size_t t_at = tpl.find("@TITLE@"), d_at = tpl.find("@DATA@");
  if (t_at == std::string::npos || d_at == std::string::npos || t_at > d_at)
    throw Error("report: the page template lacks its slots", kExitFailure);
  const std::string esc = xml_escape(title);
  const std::string page = tpl.substr(0, t_at) + esc + tpl.substr(t_at + 7, d_at - t_at - 7) + json + tpl.substr(d_at + 6);
  if (fs::path(out_html).has_parent_path()) ensure_dir(fs::path(out_html).parent_path().string());
  write_file_atomic(out_html, page);
  info.bytes = page.size();
  info.runs = static_cast<int>(runs.size());
  info.steps = static_cast<int>(steps);
  info.figures = static_cast<int>(data["figures"].size());
  return info;
}

}  // namespace diffscope
