// The self-contained HTML report (see report.h): the data of the study as JSON inside one page. Run and compare
// folders here; batch, merge, saliency, features/probe and SAE folders in report_study.cpp.
#include "diffscope/analysis/report.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "analysis/report_internal.h"
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

}  // namespace

namespace report_detail {

std::string png_uri(const std::string& png_bytes) { return "data:image/png;base64," + base64(png_bytes); }

std::string file_uri(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return png_uri(ss.str());
}

/// A figure as a data: URI: the PNG itself when it is small; a larger one (300-dpi paper figures, heatmap grids) is
/// scaled down to what a page shows (at most 1100 x 1600 px, area-averaged) and kept as PNG when that is under 200 KB,
/// else written as JPEG (quality 90). The files on disk stay the full-resolution figures.
std::string figure_uri(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string png = ss.str();
  if (png.size() <= 64 * 1024) return png_uri(png);
  cv::Mat img = read_image(path);
  const double scale = std::min({1.0, 1100.0 / img.cols, 1600.0 / img.rows});
  if (scale == 1.0 && png.size() <= 200 * 1024) return png_uri(png);
  if (scale < 1.0) {
    cv::Mat small;
    cv::resize(img, small, cv::Size(std::max(1, int(std::lround(img.cols * scale))), std::max(1, int(std::lround(img.rows * scale)))),
               0, 0, cv::INTER_AREA);
    img = small;
    std::vector<uchar> out;
    if (cv::imencode(".png", img, out, {cv::IMWRITE_PNG_COMPRESSION, 9}) && out.size() <= 200 * 1024)
      return png_uri(std::string(out.begin(), out.end()));
  }
  std::vector<uchar> jpg;
  if (!cv::imencode(".jpg", img, jpg, {cv::IMWRITE_JPEG_QUALITY, 90})) return png_uri(png);
  return "data:image/jpeg;base64," + base64(std::string(jpg.begin(), jpg.end()));
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

nlohmann::json summary_table(const std::string& path, const std::string& title, const std::string& skip) {
  const Summary s = Summary::load_or_empty(path);
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [k, v] : s.numbers())
    if (skip.empty() || k.find(skip) == std::string::npos) rows.push_back({k, shorten(v)});
  return {{"title", title}, {"columns", {"key", "value"}}, {"rows", rows}};
}

namespace {
struct Question {
  const char* id;
  const char* question;
  const char* intro;
};
// The page's sections, in this order (the pipeline overview, the step viewer and a sweep's slider come before them).
const Question kQuestions[] = {
    {"runs", "The runs", "One row per run: click a column to sort, type to filter, click a row for its details."},
    {"differ", "How the runs differ",
     "Each run against run 0 from the same seed: distances of the x0 estimates and latents over the steps, and the "
     "paths of the latents."},
    {"appears", "What appears when",
     "How each step's clean-image estimate x0 approaches the final image, and when each word's location is decided."},
    {"attends", "Where each word attends",
     "Each word's cross-attention map (DAAM), its scores against object masks, and how words bind to each other."},
    {"steps", "Which steps matter",
     "Saliency of single denoising steps (DF-RISE, DF-CAM, attention, against a random order) with insertion and "
     "deletion curves, and which words each step relies on."},
    {"layers", "What the layers represent",
     "What the denoiser's blocks encode: linear and convolutional probes per layer and timestep beside the pixel, "
     "latent and chance baselines, per-layer attention scores, and what sparse-autoencoder latents respond to."},
    {"numbers", "All numbers", "Every number of summary.json and the aggregate tables."},
    {"other", "Other figures", "Figures this report does not place under a question, captioned by their file."},
};
}  // namespace

Sections::Sections() {
  for (const auto& q : kQuestions)
    sections_[q.id] = {{"id", q.id}, {"question", q.question}, {"intro", q.intro}, {"figures", nlohmann::json::array()},
                       {"tables", nlohmann::json::array()}};
}

void Sections::figure(const std::string& section, const std::string& title, const std::string& caption,
                      const std::string& path, const std::string& facet) {
  const std::string s = sections_.contains(section) ? section : "other";
  sections_[s]["figures"].push_back(
      {{"title", title}, {"caption", caption}, {"src", figure_uri(path)}, {"facet", facet}});
  if (!facet.empty() && std::find(facets_.begin(), facets_.end(), facet) == facets_.end()) facets_.push_back(facet);
  ++figures_;
}

void Sections::table(const std::string& section, nlohmann::json t, const std::string& caption, const std::string& facet) {
  const std::string s = sections_.contains(section) ? section : "other";
  t["caption"] = caption;
  t["facet"] = facet;
  sections_[s]["tables"].push_back(std::move(t));
  if (!facet.empty() && std::find(facets_.begin(), facets_.end(), facet) == facets_.end()) facets_.push_back(facet);
  ++tables_;
}

void Sections::figures_under(const std::string& dir, const std::string& sub, const std::string& prefix) {
  const fs::path root = fs::path(dir) / sub;
  if (!fs::is_directory(root)) return;
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().extension() == ".png") found.push_back(fs::relative(e.path(), dir).string());
  std::sort(found.begin(), found.end());
  // the summary figures of a study first: probe accuracy with its intervals, the layer x timestep grid, then the
  // confusion matrices; an SAE's overviews before its contact sheets
  auto rank = [](const std::string& rel) {
    const std::string f = fs::path(rel).filename().string();
    for (const auto& [pre, r] : std::vector<std::pair<std::string, int>>{
             {"accuracy_", 0}, {"probe_", 1}, {"confusion_", 2}, {"overview_", 3}, {"latent_0", 5}})
      if (f.rfind(pre, 0) == 0) return r;
    return 4;
  };
  std::stable_sort(found.begin(), found.end(), [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  for (const auto& rel : found) {
    // a saliency map drawn with its colour bar (METHOD_figure.png) stands for its bare overlay
    const std::string suffix = "_overlay.png";
    if (rel.size() > suffix.size() && rel.compare(rel.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        std::find(found.begin(), found.end(), rel.substr(0, rel.size() - suffix.size()) + "_figure.png") != found.end())
      continue;
    const FigurePlace p = classify_figure(rel);
    if (p.section.empty()) continue;
    figure(p.section, prefix + rel, p.caption, (fs::path(dir) / rel).string(), p.facet);
  }
}

nlohmann::json Sections::json() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& q : kQuestions) {
    const auto& s = sections_[q.id];
    if (!s["figures"].empty() || !s["tables"].empty()) out.push_back(s);
  }
  return out;
}

nlohmann::json Sections::facets() const { return facets_; }

FigurePlace classify_figure(const std::string& rel) {
  const std::string file = fs::path(rel).filename().string();
  const std::string stem = fs::path(rel).stem().string();
  std::smatch m;
  std::string step;  // "step 12: " for a saliency step folder
  static const std::regex step_re(R"((^|/)step_(\d+)/)");
  if (std::regex_search(rel, m, step_re)) step = "step " + std::to_string(std::stoi(m[2].str())) + ": ";
  auto q = [](const std::string& w) { return "\u201c" + w + "\u201d"; };
  // run figures
  if (rel == "heatmaps/grid.png")
    return {"attends", "Each word's attention map at each step (word x timestep grid, DAAM), over the final image", ""};
  if (rel == "heatmaps/grid_x0.png")
    return {"appears", "Each word's attention map at each step over that step's own x0 estimate (X-Diffusion's view: "
                       "what the model attends to while the image is still noise)", ""};
  if (stem == "emergence")
    return {"appears", "How much of the final image each step's x0 estimate already holds (colour, layout, structure, "
                       "detail, SSIM)", ""};
  if (stem == "settle_corr")
    return {"appears", "When each word's location is decided: each step's map correlated with the word's final map", ""};
  if (stem == "settle_share") return {"appears", "Each word's share of the attention mass, step by step", ""};
  if (stem == "relevance") return {"steps", "Which words each step relies on (gradient x attention relevance)", ""};
  if (stem.rfind("layers", 0) == 0) return {"layers", "How well each kept layer and head localises the words", ""};
  if (stem.rfind("concept", 0) == 0) return {"attends", "Open-vocabulary concept maps (ConceptAttention)", ""};
  // compare figures
  if (stem == "filmstrips") return {"appears", "Each run's x0 estimates at chosen steps and its final image, a row per run", ""};
  if (stem == "difference") return {"differ", "|x0 - run 0's x0| per run at the same steps, on one colour scale", ""};
  if (stem == "latent_difference")
    return {"differ", "|latent - run 0's latent| (channel mean) per run at the same steps, on one colour scale", ""};
  if (stem == "distance_between") return {"differ", "Pixel RMSE between the x0 estimates of each pair of runs, per step", ""};
  if (stem == "latent_distance") return {"differ", "RMSE between the latents of each pair of runs, per step", ""};
  if (stem == "distance_to_final") return {"appears", "Each run's x0 estimate against its own final image, per step", ""};
  if (stem == "trajectory")
    return {"differ", "Every latent of every run (noise first) on the first two principal components of all of them", ""};
  if (stem == "words") return {"attends", "Each word's step-averaged map over each run's final image", ""};
  if (stem.rfind("share_", 0) == 0) return {"attends", "Attention share of " + q(stem.substr(6)) + " per step, run by run", ""};
  // saliency figures
  if (stem == "deletion_over_steps")
    return {"steps", "Each method's deletion AUC across the denoising steps (lower: the map finds what matters sooner)", ""};
  if (stem == "insertion_over_steps") return {"steps", "Each method's insertion AUC across the denoising steps (higher is better)", ""};
  if (stem == "deletion_mean") return {"steps", "Mean deletion curves over the prompt set", ""};
  if (stem == "insertion_mean") return {"steps", "Mean insertion curves over the prompt set", ""};
  if (stem == "deletion") return {"steps", step + "deletion curves (most salient latent pixels zeroed first), raw similarity", ""};
  if (stem == "insertion") return {"steps", step + "insertion curves (salient pixels restored into a blurred latent), raw similarity", ""};
  if (stem == "deletion_normalised") return {"steps", step + "deletion curves min-max normalised (their areas are the AUCs)", ""};
  if (stem == "insertion_normalised") return {"steps", step + "insertion curves min-max normalised (their areas are the AUCs)", ""};
  if (stem == "grid" && step.empty())
    return {"steps", "Saliency maps of every explained step (rows) and method (columns), with their colour scale", ""};
  if (!step.empty() && stem.size() > 7 && stem.compare(stem.size() - 7, 7, "_figure") == 0)
    return {"steps", step + stem.substr(0, stem.size() - 7) + " saliency map over the x0 estimate, with its colour bar", ""};
  if (!step.empty() && stem.size() > 8 && stem.compare(stem.size() - 8, 8, "_overlay") == 0)
    return {"steps", step + stem.substr(0, stem.size() - 8) + " saliency over the x0 estimate", ""};
  if (!step.empty() && (stem == "attention" || stem == "df-rise" || stem == "df-cam" || stem == "random"))
    return {"", "", ""};  // the raw map; its overlay is shown
  // probe figures
  static const std::regex probe_re(R"(^probe_(.+?)(_conv)?$)"), conf_re(R"(^confusion_(.+?)(_conv)?$)"),
      acc_re(R"(^accuracy_(.+?)(_conv)?$)");
  if (std::regex_match(stem, m, acc_re))
    return {"layers", std::string(m[2].matched ? "Convolutional-head" : "Linear") + " probe accuracy for " + q(m[1].str()) +
                          " per layer and timestep with 95% intervals, beside the pixel and latent baselines and chance",
            m[1].str()};
  if (std::regex_match(stem, m, probe_re))
    return {"layers", std::string(m[2].matched ? "Convolutional-head" : "Linear") + " probe test accuracy for " +
                          q(m[1].str()) + " per layer x timestep", m[1].str()};
  if (std::regex_match(stem, m, conf_re))
    return {"layers", "Confusion matrix of the best " + std::string(m[2].matched ? "convolutional " : "linear ") +
                          "probe for " + q(m[1].str()) + " (rows: true, columns: predicted)", m[1].str()};
  // SAE figures
  if (stem == "loss") return {"layers", "SAE training: normalised MSE per step", ""};
  if (stem == "latent_frequency")
    return {"layers", "How often the SAE's latents fire: a histogram of log10 of the share of vectors where each latent is active",
            ""};
  if (stem.rfind("overview_", 0) == 0)
    return {"layers", "The 8 purest SAE latents for " + q(stem.substr(9)) + ", a row each, with their top images",
            stem.substr(9)};
  static const std::regex latent_re(R"(^latent_0*(\d+)$)");
  if (std::regex_match(stem, m, latent_re))
    return {"layers", "SAE latent " + m[1].str() + ": its top images, their labels and activations", ""};
  (void)file;
  return {"other", rel, ""};
}

}  // namespace report_detail

namespace {
using report_detail::figure_uri;
using report_detail::file_uri;
using report_detail::png_uri;
using report_detail::Sections;
using report_detail::shorten;

/// One map [h, w] min-max scaled and coloured (the page's colour bar), at its own resolution.
std::string map_uri(std::vector<float> m, int h, int w) {
  normalize_minmax(m);
  return png_uri(encode_png(colorize(m.data(), h, w, Colormap::Turbo), "attention map"));
}

std::string dims(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? " x " : "") + std::to_string(s[i]);
  return out;
}

std::string seconds(double s) {
  char buf[32];
  if (s < 1.0)
    std::snprintf(buf, sizeof buf, "%.0f ms", s * 1000.0);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

/// Diffusion Explainer's overview of the pipeline, from what run.json recorded: the stages in order, each with what it
/// does, the tensor it hands on and its time when the run recorded timings.
nlohmann::json pipeline_json(const RunFolder& run) {
  const auto& j = run.meta;
  const auto obj = nlohmann::json::object();
  const auto in = j.value("inputs", obj);
  const auto model = j.contains("model") && j["model"].is_object() ? j["model"] : obj;
  const auto tim = j.contains("timings") && j["timings"].is_object() ? j["timings"] : obj;
  int64_t text_len = 0;
  std::vector<int64_t> maps;
  if (j.contains("attention") && j["attention"].is_object() && j["attention"].contains("shape"))
    maps = j["attention"]["shape"].get<std::vector<int64_t>>();
  if (maps.size() == 4) text_len = maps[1];
  const int64_t tokens = j.value("token_count", int64_t(0));
  std::vector<int64_t> lat;
  if (j.contains("latent_shape")) lat = j["latent_shape"].get<std::vector<int64_t>>();
  const double g = in.value("guidance_scale", 0.0);
  const bool cfg = in.value("guidance_mode", std::string("cfg")) == "cfg" && g > 1.0;
  const int steps = run.steps;
  nlohmann::json stages = nlohmann::json::array();
  auto stage = [&](const std::string& id, const std::string& name, const std::string& detail, const std::string& out,
                   const char* timing) {
    nlohmann::json s{{"id", id}, {"name", name}, {"detail", detail}, {"out", out}, {"time", ""}};
    if (timing && tim.contains(timing) && tim[timing].is_number()) s["time"] = seconds(tim[timing].get<double>());
    stages.push_back(s);
  };
  const std::string prompt = in.value("prompt", "");
  stage("prompt", "Prompt", "\u201c" + prompt + "\u201d" + (in.value("negative_prompt", "").empty() ? "" : " (with a negative prompt)"),
        tokens ? std::to_string(tokens) + " tokens" + (text_len ? " of " + std::to_string(text_len) : "") : "", nullptr);
  // run.json's model.text_encoder and model.denoiser are the family's own descriptions (FamilyTraits, written by the
  // run recorder); a run written before them gets a generic name
  auto described = [&](const char* key, const std::string& generic) {
    return model.contains(key) && model[key].is_string() ? model[key].get<std::string>() : generic;
  };
  stage("text_encoder", "Text encoder", described("text_encoder", "text encoder: one row per token"),
        text_len ? std::to_string(text_len) + " token embeddings" + std::string(cfg ? " (and the empty prompt's)" : "") : "",
        "text_encoder_s");
  std::string den = described("denoiser", "denoiser");
  if (!den.empty()) den[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(den[0])));
  std::string detail = std::to_string(steps) + " steps, " + (cfg ? "2 passes each (conditional and unconditional), guidance w = " + shorten(g)
                                                                 : "1 pass each (no classifier-free guidance)");
  if (model.contains("attention_layers") && model["attention_layers"].is_array())
    detail += "; " + std::to_string(model["attention_layers"].size()) + " cross-attention layers captured";
  if (maps.size() == 4) detail += " (maps " + dims(maps) + ")";
  std::string per_step;
  if (tim.contains("steps_s") && tim["steps_s"].is_array() && !tim["steps_s"].empty()) {
    auto v = tim["steps_s"].get<std::vector<double>>();
    std::sort(v.begin(), v.end());
    per_step = ", median " + seconds(v[v.size() / 2]) + " per step";
  }
  stage("denoiser", den + " denoiser", detail, lat.empty() ? "" : "noise prediction " + dims(lat), "loop_s");
  if (!per_step.empty()) stages.back()["time"] = stages.back()["time"].get<std::string>() + per_step;
  std::string sched = in.value("scheduler", "");
  if (!j.value("timestep_schedule", std::string()).empty()) sched += " (" + j["timestep_schedule"].get<std::string>() + " schedule)";
  if (!run.timesteps.empty())
    sched += ", t = " + shorten(run.timesteps.front()) + " \u2192 " + shorten(run.timesteps.back());
  if (model.contains("prediction_type")) sched += "; the model predicts " + model["prediction_type"].get<std::string>();
  stage("scheduler", "Scheduler", sched + "; each step turns the prediction into the next latent and the x0 estimate",
        lat.empty() ? "" : "latent " + dims(lat), nullptr);
  const int64_t H = in.value("height", int64_t(0)), W = in.value("width", int64_t(0));
  stage("vae", "VAE decoder",
        "the last latent to pixels" + (model.contains("vae_scale_factor") ? " (x" + std::to_string(model["vae_scale_factor"].get<int64_t>()) + " per side)" : std::string()),
        H && W ? "image 3 x " + std::to_string(H) + " x " + std::to_string(W) : "", "decode_s");
  return {{"stages", stages}, {"start", lat.empty() ? "" : "noise " + dims(lat)}};
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
  r["pipeline"] = pipeline_json(run);
  return r;
}

bool is_compare_folder(const fs::path& dir) {
  return fs::is_directory(dir / "runs") && fs::is_regular_file(dir / "tables" / "runs.csv");
}

bool has_step_folders(const fs::path& dir) {
  if (!fs::is_directory(dir)) return false;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("step_", 0) == 0 && fs::is_regular_file(e.path() / "auc.csv"))
      return true;
  return false;
}

bool has_batch_runs(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && fs::is_regular_file(e.path() / "batch.json")) return true;
  return false;
}

/// A guidance (and prompt) sweep of a compare folder: the distinct guidance values (sorted) and prompts, and which run
/// each pair is. Null when the runs are not one run per (prompt, guidance) pair with more than one of either.
nlohmann::json sweep_json(const nlohmann::json& runs, const Summary& s) {
  std::vector<double> gs;
  std::vector<std::string> ps;
  for (const auto& r : runs) {
    const double g = r["meta"]["guidance"].get<double>();
    const std::string p = r["meta"]["prompt"].get<std::string>();
    if (std::find(gs.begin(), gs.end(), g) == gs.end()) gs.push_back(g);
    if (std::find(ps.begin(), ps.end(), p) == ps.end()) ps.push_back(p);
  }
  std::sort(gs.begin(), gs.end());
  if (gs.size() < 2 && ps.size() < 2) return nullptr;
  std::vector<std::vector<int>> cells(ps.size(), std::vector<int>(gs.size(), -1));
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& m = runs[i]["meta"];
    const size_t pi = std::find(ps.begin(), ps.end(), m["prompt"].get<std::string>()) - ps.begin();
    const size_t gi = std::find(gs.begin(), gs.end(), m["guidance"].get<double>()) - gs.begin();
    if (cells[pi][gi] >= 0) return nullptr;  // two runs share a prompt and guidance (a schedule sweep)
    cells[pi][gi] = static_cast<int>(i);
  }
  nlohmann::json numbers = nlohmann::json::array();
  for (size_t i = 0; i < runs.size(); ++i) {
    nlohmann::json rows = nlohmann::json::array();
    const std::string pre = "compare.run" + std::to_string(i) + ".";
    for (const auto& [k, v] : s.numbers())
      if (k.rfind(pre, 0) == 0 && k.find(".word.") == std::string::npos) rows.push_back({k.substr(pre.size()), shorten(v)});
    numbers.push_back(rows);
  }
  nlohmann::json glabels = nlohmann::json::array();
  for (double g : gs) glabels.push_back(shorten(g));
  return {{"guidance", glabels}, {"prompts", ps}, {"cells", cells}, {"numbers", numbers}};
}

void run_sections(const std::string& dir, const std::string& prefix, Sections& sec, size_t max_rows) {
  using report_detail::csv_table;
  for (const char* g : {"heatmaps/grid.png", "heatmaps/grid_x0.png"})
    if (fs::is_regular_file(fs::path(dir) / g)) {
      const auto p = report_detail::classify_figure(g);
      sec.figure(p.section, prefix + g, p.caption, dir + "/" + g);
    }
  sec.figures_under(dir, "plots", prefix);
  sec.figures_under(dir, "saliency", prefix);
  struct T {
    const char *file, *section, *caption;
  };
  for (const T& t : {T{"tables/auc.csv", "attends", "ROC-AUC, AP and IoU of each word's map against its object's mask"},
                     T{"tables/auc_controls.csv", "attends", "The same scores for word-blind control maps (what a map gets without reading the word)"},
                     T{"tables/binding.csv", "attends", "Attribute-noun binding: each colour word's map against its own shape's and the other's"},
                     T{"tables/settle.csv", "appears", "Per step and word: attention mass, share, and correlation with the final map"},
                     T{"tables/emergence.csv", "appears", "Per step: what the x0 estimate shares with the final image"},
                     T{"saliency/over_steps.csv", "steps", "Per step and method: deletion and insertion AUC (normalised and raw)"}})
    if (fs::is_regular_file(fs::path(dir) / t.file))
      sec.table(t.section, csv_table(dir + "/" + t.file, prefix + t.file, max_rows), t.caption);
  if (fs::is_directory(fs::path(dir) / "saliency")) {
    std::vector<std::string> aucs;
    for (const auto& e : fs::directory_iterator(fs::path(dir) / "saliency"))
      if (e.is_directory() && fs::is_regular_file(e.path() / "auc.csv")) aucs.push_back(fs::relative(e.path() / "auc.csv", dir).string());
    std::sort(aucs.begin(), aucs.end());
    for (const auto& a : aucs)
      sec.table("steps", csv_table(dir + "/" + a, prefix + a, max_rows),
                "Each method's deletion (lower is better) and insertion (higher) AUC at this step, beside the random order");
  }
  auto sum = report_detail::summary_table(dir + "/summary.json", prefix + "summary.json");
  if (!sum["rows"].empty()) sec.table("numbers", sum, "Every number this run's analyses wrote");
}

void compare_sections(const std::string& dir, Sections& sec, size_t max_rows) {
  using report_detail::csv_table;
  sec.figures_under(dir, "plots");
  struct T {
    const char *file, *section, *caption;
  };
  for (const T& t : {T{"tables/runs.csv", "differ", "The runs compared and their labels (run 0 is the reference)"},
                     T{"tables/to_final.csv", "appears", "Each run's x0 against its own final image, per step (pixel RMSE, SSIM, PSNR)"},
                     T{"tables/words.csv", "attends", "Words in every run and words in some only"},
                     T{"tables/compare.csv", "differ", "Every pair of runs, every step: pixel RMSE of the x0 estimates and RMSE of the latents"}})
    if (fs::is_regular_file(fs::path(dir) / t.file))
      sec.table(t.section, csv_table(dir + "/" + t.file, std::string("comparison: ") + (t.file + 7), max_rows), t.caption);
  auto sum = report_detail::summary_table(dir + "/summary.json", "comparison: summary.json", ".word.");
  if (!sum["rows"].empty()) sec.table("numbers", sum, "Per run against run 0: final and mean distances, apart and together steps");
}

}  // namespace

ReportKind detect_report_kind(const std::string& dir_s) {
  const fs::path dir(dir_s);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return ReportKind::Unknown;
  auto file = [&](const char* f) { return fs::is_regular_file(dir / f, ec); };
  auto folder = [&](const char* f) { return fs::is_directory(dir / f, ec); };
  if (is_compare_folder(dir)) return ReportKind::Compare;
  if (file("run.json")) return ReportKind::Run;
  if (file("runs.csv") && file("runs.jsonl")) return ReportKind::Merge;
  if (file("saliency_prompts.csv")) return ReportKind::Saliency;
  if (file("over_steps.csv") || has_step_folders(dir)) return ReportKind::Saliency;
  if (file("index.json") && folder("features")) return ReportKind::Features;
  if (file("tables/probe.csv")) return ReportKind::Features;
  if (file("config.json") && folder("weights")) return ReportKind::Sae;
  if (file("tables/purity.csv")) return ReportKind::Sae;
  if (file("failures.jsonl") || has_batch_runs(dir)) return ReportKind::Batch;
  return ReportKind::Unknown;
}

const char* report_kind_name(ReportKind k) {
  switch (k) {
    case ReportKind::Run: return "run";
    case ReportKind::Compare: return "compare";
    case ReportKind::Batch: return "batch";
    case ReportKind::Merge: return "merge";
    case ReportKind::Saliency: return "saliency";
    case ReportKind::Features: return "features";
    case ReportKind::Sae: return "sae";
    default: return "unknown";
  }
}

namespace {
const char* const kExpected =
    "expected a run folder (run.json), or a compare, batch, merge, saliency, features, probe or SAE output folder";

/// The page: the template's two slots filled (located in the template itself, so that a title or prompt holding
/// "@DATA@" cannot move them); every '<' in the JSON written as \u003c, so no string can end the script element.
std::string fill_page(const std::string& title, const nlohmann::json& data) {
  const std::string raw = data.dump();
  std::string json;
  json.reserve(raw.size() + 64);
  for (char c : raw) {
    if (c == '<')
      json += "\\u003c";
    else
      json += c;
  }
  const std::string tpl = kPage;
  const size_t t_at = tpl.find("@TITLE@"), d_at = tpl.find("@DATA@");
  if (t_at == std::string::npos || d_at == std::string::npos || t_at > d_at)
    throw Error("report: the page template lacks its slots", kExitFailure);
  return tpl.substr(0, t_at) + xml_escape(title) + tpl.substr(t_at + 7, d_at - t_at - 7) + json + tpl.substr(d_at + 6);
}

nlohmann::json colour_assets() {
  std::vector<float> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[static_cast<size_t>(i)] = i / 255.0f;
  return {{"colorbar", png_uri(encode_png(colorize(ramp.data(), 1, 256, Colormap::Turbo), "colour bar"))},
          {"blank", png_uri(encode_png(cv::Mat(1, 1, CV_8UC4, cv::Scalar(0, 0, 0, 0)), "blank"))}};
}
}  // namespace

ReportInfo write_report(const std::vector<std::string>& dirs, const std::string& out_html, const ReportOptions& o) {
  if (dirs.empty()) throw Error("report: give at least one run or study folder");
  if (out_html.empty()) throw Error("report: -o must name the HTML file to write");
  {  // before any reading: never over an input or a file diffscope did not write (the page's head up to its CSP)
    const std::string tpl = kPage;
    claim_output_file(out_html, o.overwrite, tpl.substr(0, tpl.find("<meta name=\"viewport\"")));
  }
  std::vector<ReportKind> kinds;
  for (const auto& dir : dirs) {
    if (!fs::is_directory(dir)) throw Error(dir + ": not a folder (" + kExpected + ")");
    const ReportKind k = detect_report_kind(dir);
    if (k == ReportKind::Unknown) throw Error(dir + ": holds no run.json and no study outputs (" + kExpected + ")");
    kinds.push_back(k);
  }
  const ReportKind kind = kinds.front();
  nlohmann::json data;
  data["kind"] = report_kind_name(kind);
  data["runs"] = nlohmann::json::array();
  data["steps"] = 0;
  Sections sec;
  ReportInfo info;
  info.kind = report_kind_name(kind);
  std::string title = o.title;
  if (kind == ReportKind::Run || kind == ReportKind::Compare) {
    for (size_t i = 0; i < dirs.size(); ++i)
      if (kinds[i] != ReportKind::Run && !(kind == ReportKind::Compare && dirs.size() == 1))
        throw Error(dirs[i] + ": is a " + report_kind_name(kinds[i]) +
                    " folder; run folders can be reported together, every other folder on its own");
    bool compare = false;
    for (const auto& dir : dirs) {
      if (detect_report_kind(dir) == ReportKind::Compare) {
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
        compare_sections(dir, sec, o.max_table_rows);
        auto sw = sweep_json(data["runs"], s);
        if (!sw.is_null()) data["sweep"] = sw;
      } else {
        data["runs"].push_back(run_data(dir, "", info.words));
        run_sections(dir, dirs.size() > 1 ? fs::path(dir).filename().string() + ": " : "", sec, o.max_table_rows);
      }
    }
    auto& runs = data["runs"];
    if (runs.empty()) throw Error(dirs.front() + ": no runs to report (" + kExpected + ")");
    const size_t steps = runs[0]["timesteps"].size();
    for (const auto& r : runs)
      if (r["timesteps"].size() != steps)
        throw Error("report: the runs have different numbers of steps (" + std::to_string(steps) + " and " +
                    std::to_string(r["timesteps"].size()) + "); report them separately");
    if (steps < 2) throw Error("report: a run of one step has nothing to step through");
    data["steps"] = steps;
    data["pipeline"] = runs[0]["pipeline"];
    const auto& m = runs[0]["meta"];
    if (title.empty())
      title = compare || runs.size() > 1 ? "diffscope: comparison of " + std::to_string(runs.size()) + " runs"
                                         : "diffscope: \"" + m["prompt"].get<std::string>() + "\"";
    nlohmann::json header = nlohmann::json::array();
    header.push_back({"model", m["model"]});
    if (runs.size() == 1) header.push_back({"prompt", m["prompt"]});
    header.push_back({"seed", std::to_string(m["seed"].get<int64_t>())});
    header.push_back({"scheduler", m["scheduler"]});
    header.push_back({"steps", std::to_string(steps)});
    if (runs.size() == 1) header.push_back({"guidance", shorten(m["guidance"].get<double>())});
    header.push_back({"generated by", "diffscope " + m["version"].get<std::string>()});
    data["header"] = header;
    info.runs = static_cast<int>(runs.size());
    info.steps = static_cast<int>(steps);
  } else {
    for (size_t i = 1; i < dirs.size(); ++i)
      if (!(kind == ReportKind::Merge && kinds[i] == ReportKind::Batch))
        throw Error(dirs[i] + ": a " + std::string(report_kind_name(kind)) +
                    " folder is reported on its own (only a merge folder takes its batch folders after it, for drill-down)");
    data["header"] = nlohmann::json::array();
    report_detail::study_data(kind, dirs.front(), std::vector<std::string>(dirs.begin() + 1, dirs.end()), out_html, o,
                              data, sec);
    if (title.empty()) title = data["title_default"].get<std::string>();
    if (data.contains("runs_table")) info.runs = static_cast<int>(data["runs_table"]["rows"].size());
  }
  data["header"].push_back({"report by", std::string("diffscope ") + DIFFSCOPE_VERSION});
  data["title"] = title;
  data["sections"] = sec.json();
  data["facets"] = sec.facets();
  const auto assets = colour_assets();
  data["colorbar"] = assets["colorbar"];
  data["blank"] = assets["blank"];
  const std::string page = fill_page(title, data);
  if (fs::path(out_html).has_parent_path()) ensure_dir(fs::path(out_html).parent_path().string());
  write_file_atomic(out_html, page);
  info.bytes = page.size();
  info.figures = sec.figures();
  info.tables = sec.tables();
  return info;
}

}  // namespace diffscope
