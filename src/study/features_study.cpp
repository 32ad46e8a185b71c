// Dataset features and linear probes (see features_study.h).
#include "diffscope/study/features_study.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgproc.hpp>
#include <set>

#include "diffscope/engine/attribute.h"
#include "diffscope/engine/pipeline.h"
#include "diffscope/engine/run_recorder.h"
#include "diffscope/engine/runtime.h"
#include "diffscope/represent/features.h"
#include "diffscope/represent/probe.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/figure_revelio.h"
#include "diffscope/util/image.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/matrix_plot.h"
#include "diffscope/util/npy.h"
#include "diffscope/util/output_folder.h"
#include "diffscope/util/path_confine.h"
#include "diffscope/util/plot.h"
#include "diffscope/util/progress.h"
#include "study/feature_set.h"
#include "study/internal.h"

namespace fs = std::filesystem;

namespace diffscope {
namespace {

struct Item {
  std::string image;                          ///< path as given in the dataset
  std::string caption;                        ///< shapes format only
  std::map<std::string, std::string> labels;  ///< column -> class ("" = not defined for this image)
};

struct Dataset {
  std::vector<Item> items;
  std::vector<std::string> columns;
  std::string layout;  ///< "diffscope-shapes" or "imagefolder"
};

Dataset read_dataset(const std::string& dir, int limit) {
  Dataset d;
  if (!fs::is_directory(dir)) throw Error("--dataset " + dir + ": not a folder");
  const fs::path index = fs::path(dir) / "index.json";
  if (fs::is_regular_file(index)) {
    const auto j = read_json_object(index.string());
    if (!j.is_object() || j.value("format", "") != "diffscope-shapes" || !j.contains("items") || !j["items"].is_array())
      throw Error(index.string() + ": expected a diffscope-shapes dataset (scripts/shapes/shapes_dataset.py)");
    d.layout = "diffscope-shapes";
    d.columns = {"count", "shape", "colour", "size", "position"};
    size_t i = 0;
    for (const auto& it : j["items"]) {
      const std::string where = index.string() + ": items[" + std::to_string(i++) + "]";
      const auto text = [&](const nlohmann::json& o, const char* key, const std::string& at) {
        if (!o.contains(key)) return std::string();
        if (!o[key].is_string()) throw Error(at + "." + key + ": expected a string");
        return o[key].get<std::string>();
      };
      if (!it.is_object() || !it.contains("image") || !it["image"].is_string())
        throw Error(where + ": expected an object with an \"image\" path (and \"objects\")");
      if (!it.contains("objects") || !it["objects"].is_array())
        throw Error(where + ".objects: " + (it.contains("objects") ? "is not a list" : "is missing") +
                    " (expected the list of the image's objects)");
      Item item;
      item.image = confine_path(dir, it["image"].get<std::string>(), where + ".image");
      item.caption = text(it, "caption", where);
      const auto& objects = it["objects"];
      item.labels["count"] = std::to_string(objects.size());
      if (objects.size() == 1 && !objects[0].is_object()) throw Error(where + ".objects[0]: expected an object");
      for (const char* k : {"shape", "colour", "size", "position"})
        item.labels[k] = objects.size() == 1 ? text(objects[0], k, where + ".objects[0]") : "";
      d.items.push_back(std::move(item));
      if (limit > 0 && static_cast<int>(d.items.size()) >= limit) break;
    }
  } else {
    d.layout = "imagefolder";
    d.columns = {"class"};
    std::vector<fs::path> classes;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory()) classes.push_back(e.path());
    std::sort(classes.begin(), classes.end());
    for (const auto& c : classes) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(c)) {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
        if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        Item item;
        item.image = f.string();
        item.labels["class"] = c.filename().string();
        d.items.push_back(std::move(item));
      }
    }
    if (limit > 0 && static_cast<int>(d.items.size()) > limit) d.items.resize(static_cast<size_t>(limit));
  }
  if (d.items.size() < 2)
    throw Error("--dataset " + dir + ": found " + std::to_string(d.items.size()) +
                " images (expected a diffscope-shapes folder with index.json, or DIR/<class>/*.png|jpg)");
  return d;
}

/// The train/test split: a seeded shuffle (splitmix64 Fisher-Yates), the first test_fraction of it held out.
std::vector<std::string> split(size_t n, uint64_t seed, double test_fraction) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  uint64_t s = seed ^ 0x5eedfeedULL;
  auto next = [&]() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[next() % i]);
  const size_t n_test = std::max<size_t>(1, static_cast<size_t>(std::lround(test_fraction * n)));
  std::vector<std::string> out(n, "train");
  for (size_t i = 0; i < n_test && i < n; ++i) out[order[i]] = "test";
  return out;
}

/// The splits a --split file gives: lines "<image path relative to the dataset folder> <train|test>" ('#' starts a
/// comment). Images the file does not list are left out of the set (logged); a listed image the dataset lacks (unless
/// --limit cut the dataset), a
/// split other than train/test, or a set without both splits is an error naming the file and line.
std::vector<std::string> apply_split_file(Dataset& data, const std::string& dataset_dir, const std::string& path,
                                          bool limited) {
  std::ifstream in(path);
  if (!in) throw Error("--split " + path + ": cannot be read");
  std::map<std::string, std::string> listed;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    if (const size_t h = line.find('#'); h != std::string::npos) line.resize(h);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    const size_t a = line.find_first_not_of(" \t");
    if (a == std::string::npos) continue;
    const size_t sep = line.find_last_of(" \t");
    if (sep == std::string::npos || sep < a)
      throw Error("--split " + path + ":" + std::to_string(no) + ": expected \"<image> <train|test>\"");
    std::string image = line.substr(a, sep - a);
    while (!image.empty() && std::isspace(static_cast<unsigned char>(image.back()))) image.pop_back();
    const std::string which = line.substr(sep + 1);
    if (which != "train" && which != "test")
      throw Error("--split " + path + ":" + std::to_string(no) + ": split '" + which + "' (expected train or test)");
    listed[fs::path(image).lexically_normal().generic_string()] = which;
  }
  std::vector<Item> kept;
  std::vector<std::string> splits;
  std::set<std::string> seen;
  for (auto& it : data.items) {
    const std::string rel = fs::path(it.image).lexically_relative(dataset_dir).lexically_normal().generic_string();
    const auto f = listed.find(rel);
    if (f == listed.end()) continue;
    splits.push_back(f->second);
    seen.insert(rel);
    kept.push_back(std::move(it));
  }
  if (!limited)
    for (const auto& [image, which] : listed)
      if (!seen.count(image)) throw Error("--split " + path + ": lists " + image + ", which is not an image of " + dataset_dir);
  if (kept.size() < data.items.size())
    spdlog::info("features: {} of {} images are not in {}; left out", data.items.size() - kept.size(),
                 data.items.size(), path);
  if (std::count(splits.begin(), splits.end(), "test") == 0 || std::count(splits.begin(), splits.end(), "train") == 0)
    throw Error("--split " + path + ": needs both train and test images");
  data.items = std::move(kept);
  return splits;
}

/// Block-output selectors (index, name, or down/mid/up) -> indices; empty = all.
std::vector<int> resolve_layers(const ModelInfo& info, const std::vector<std::string>& sel) {
  std::vector<int> out;
  auto add = [&](int i) {
    if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
  };
  if (sel.empty())
    for (size_t i = 0; i < info.features.size(); ++i) add(static_cast<int>(i));
  for (const auto& s : sel) {
    bool found = false;
    for (size_t i = 0; i < info.features.size(); ++i)
      if (s == info.features[i].name || s == info.features[i].block || s == std::to_string(i)) add(static_cast<int>(i)), found = true;
    if (!found)
      throw Error("--layers " + s + ": no such block output (give an index, a name such as mid_block, or down/mid/up; "
                  "see diffscope info)");
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A .npy of shape `shape` whose rows are written as they come (header first, data preallocated).
struct RowFile {
  std::string path;
  std::vector<int64_t> shape;
  size_t header = 0, row_floats = 0;
  void create() {
    const std::string h = npy_header("<f4", shape);
    header = h.size();
    row_floats = 1;
    for (size_t i = 1; i < shape.size(); ++i) row_floats *= static_cast<size_t>(shape[i]);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    if (!out) throw Error(path + ": cannot be written");
    out.close();
    fs::resize_file(path, header + row_floats * 4 * static_cast<size_t>(shape[0]));
  }
  void open_existing() {
    header = npy_header("<f4", shape).size();
    row_floats = 1;
    for (size_t i = 1; i < shape.size(); ++i) row_floats *= static_cast<size_t>(shape[i]);
    if (!fs::is_regular_file(path) || fs::file_size(path) != header + row_floats * 4 * static_cast<size_t>(shape[0]))
      throw Error(path + ": missing or of the wrong size for resuming; start again with --overwrite");
  }
  void write_rows(int64_t first, const at::Tensor& rows) {
    const at::Tensor r = rows.to(at::kFloat).contiguous();
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(header + static_cast<size_t>(first) * row_floats * 4));
    f.write(reinterpret_cast<const char*>(r.data_ptr<float>()), static_cast<std::streamsize>(r.numel() * 4));
    if (!f) throw Error(path + ": write failed (disk full?)");
  }
};

std::string stem(const FeatureInfo& f, int64_t t) { return f.name + "_t" + std::to_string(t); }

}  // namespace

FeatureSetInfo extract_dataset_features(const FeatureSpec& spec, const Session& session) {
  if (spec.batch < 1 || spec.batch > 1024) throw Error("--batch: expected 1..1024");
  if (!(spec.test_fraction > 0 && spec.test_fraction < 1)) throw Error("--test-fraction: expected a fraction in (0, 1)");
  if (spec.limit < 0) throw Error("--limit: expected 0 (all images) or more, got " + std::to_string(spec.limit));
  Dataset data = read_dataset(spec.dataset, spec.limit);
  std::vector<std::string> splits;
  if (spec.split_file.empty()) {
    splits = split(data.items.size(), spec.seed, spec.test_fraction);
  } else {
    splits = apply_split_file(data, spec.dataset, spec.split_file, spec.limit > 0);
  }
  const size_t n = data.items.size();
  const Model model = study::load_model(spec.model, session);
  const auto& info = model.info();
  const std::vector<int> layers = resolve_layers(info, spec.layers);
  for (int l : layers) {  // pooling a map to a larger grid would only repeat its values
    const auto& fi = info.features[static_cast<size_t>(l)];
    if (spec.spatial > 0 && fi.height > 0 && spec.spatial > std::min(fi.height, fi.width))
      throw Error("--spatial " + std::to_string(spec.spatial) + ": layer " + fi.name + " is " + std::to_string(fi.height) +
                  "x" + std::to_string(fi.width) + " at " + info.name + "'s size; expected 0.." +
                  std::to_string(std::min(fi.height, fi.width)) + " for it (a larger grid would repeat its values)");
  }
  const int size = info.sample_size;
  const int64_t lc = info.latent_channels, lh = size / info.vae_scale_factor, lw = lh;

  // the settings an interrupted extraction must share to be resumed
  nlohmann::json settings{{"model", fs::absolute(spec.model).lexically_normal().string()},
                          {"dataset", fs::absolute(spec.dataset).lexically_normal().string()},
                          {"images", n}, {"timesteps", spec.timesteps}, {"layers", layers}, {"prompt", spec.prompt},
                          {"spatial", spec.spatial}, {"seed", spec.seed}, {"test_fraction", spec.test_fraction}};
  if (!spec.split_file.empty()) settings["split_file"] = fs::absolute(spec.split_file).lexically_normal().string();
  const std::string progress_path = spec.out + "/progress.json";
  int64_t done = 0;
  OutputFolder folder;
  if (!spec.overwrite && fs::is_regular_file(progress_path) && !fs::exists(spec.out + "/index.json")) {
    const auto p = read_json_object(progress_path);
    if (p.value("settings", nlohmann::json()) != settings)
      throw Error("--out " + spec.out + ": holds an unfinished extraction with other settings; pass --overwrite to "
                  "start again, or repeat its options to resume it");
    folder = claim_output_folder(spec.out, Claim::Resume);
    done = p.value("done", int64_t{0});
  } else {
    folder = claim_output_folder(spec.out, spec.overwrite ? Claim::Overwrite : Claim::Fresh);
  }
  ensure_dir(spec.out + "/features");

  // the files, one row per image
  std::vector<RowFile> files;
  nlohmann::json file_index = nlohmann::json::array();
  auto add_file = [&](const std::string& name, std::vector<int64_t> shape, nlohmann::json meta) {
    RowFile f{spec.out + "/features/" + name + ".npy", std::move(shape)};
    if (done > 0) f.open_existing();
    else f.create();
    meta["file"] = "features/" + name + ".npy";
    meta["shape"] = f.shape;
    file_index.push_back(meta);
    files.push_back(f);
  };
  for (int64_t t : spec.timesteps)
    for (int l : layers) {
      const auto& fi = info.features[static_cast<size_t>(l)];
      nlohmann::json m{{"layer", fi.name}, {"block", fi.block}, {"index", l}, {"t", t}, {"pooling", "mean"}};
      add_file(stem(fi, t), {static_cast<int64_t>(n), fi.channels}, m);
      if (spec.spatial > 0) {
        m["pooling"] = "adaptive_avg_" + std::to_string(spec.spatial);
        add_file(stem(fi, t) + "_s" + std::to_string(spec.spatial),
                 {static_cast<int64_t>(n), fi.channels, spec.spatial, spec.spatial}, m);
      }
    }
  const size_t n_unet_files = files.size();
  add_file("pixels", {static_cast<int64_t>(n), 3 * 16 * 16}, {{"layer", "pixels"}, {"baseline", "image, area-resized to 16x16 RGB in [-1, 1]"}});
  add_file("latent", {static_cast<int64_t>(n), lc * lh * lw}, {{"layer", "latent"}, {"baseline", "clean VAE latent (mean x scaling factor)"}});

  FeatureRequest req;
  req.layers = layers;
  req.timesteps = spec.timesteps;
  req.spatial = spec.spatial;
  const bool templated = spec.prompt.find('{') != std::string::npos;
  at::Tensor fixed_context;
  if (!templated) fixed_context = encode_prompts(model, model.tokenize(spec.prompt), "", 1.0);
  auto prompt_for = [&](const Item& it) {
    std::string p = spec.prompt;
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"{label}", it.labels.count("class") ? it.labels.at("class") : it.caption}, {"{caption}", it.caption}})
      for (size_t pos; (pos = p.find(key)) != std::string::npos;) p.replace(pos, key.size(), value);
    return p;
  };

  if (done > 0) spdlog::info("resuming the extraction at image {} of {}", done, n);
  const int64_t start = done;
  Progress progress("features", static_cast<int>(n), session.quiet);
  for (int64_t i = 0; i < done; ++i) progress.tick();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t first = done; first < static_cast<int64_t>(n); first += spec.batch) {
    const int64_t b = std::min<int64_t>(spec.batch, static_cast<int64_t>(n) - first);
    std::vector<at::Tensor> imgs, noise, ctx;
    for (int64_t k = 0; k < b; ++k) {
      const Item& it = data.items[static_cast<size_t>(first + k)];
      imgs.push_back(load_image_tensor(it.image, size));
      noise.push_back(image_noise(spec.seed, static_cast<uint64_t>(first + k), lc, lh, lw));
      if (templated) ctx.push_back(encode_prompts(model, model.tokenize(prompt_for(it)), "", 1.0));
    }
    const at::Tensor images = at::cat(imgs);
    const FeatureBatch fb = extract_features(model, images, at::cat(noise), templated ? at::cat(ctx) : fixed_context, req);
    size_t fi = 0;
    for (size_t ti = 0; ti < spec.timesteps.size(); ++ti)
      for (size_t li = 0; li < layers.size(); ++li) {
        files[fi++].write_rows(first, fb.pooled[ti][li]);
        if (spec.spatial > 0) files[fi++].write_rows(first, fb.spatial[ti][li]);
      }
    // the pixel baseline: each image area-averaged to 16x16 (what raw pixels tell a linear probe)
    files[n_unet_files].write_rows(first, at::adaptive_avg_pool2d(images, {16, 16}).reshape({b, -1}));
    files[n_unet_files + 1].write_rows(first, fb.latent.reshape({b, -1}));
    done = first + b;
    write_json_atomic(progress_path, {{"settings", settings}, {"done", done}});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char status[64];
    std::snprintf(status, sizeof status, "%.1f images/s", secs > 0 ? double(done) / secs : 0.0);
    for (int64_t k = 0; k < b; ++k) progress.tick(status);
  }
  progress.finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // labels.csv and index.json (last: a folder with index.json is complete)
  std::vector<std::string> header{"index", "image", "split"};
  header.insert(header.end(), data.columns.begin(), data.columns.end());
  CsvWriter csv(spec.out + "/labels.csv", header);
  nlohmann::json images = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    const Item& it = data.items[i];
    csv.cell(static_cast<int64_t>(i)).cell(it.image).cell(splits[i]);
    for (const auto& c : data.columns) csv.cell(it.labels.count(c) ? it.labels.at(c) : "");
    csv.end_row();
    images.push_back({{"index", i}, {"image", it.image}, {"sha256", sha256_file(it.image)}, {"split", splits[i]}});
  }
  csv.commit();
  nlohmann::json index{{"format", "diffscope-features"}, {"version", 1}, {"model", info.name},
                       {"model_dir", spec.model}, {"dataset", spec.dataset}, {"layout", data.layout},
                       {"root", fs::current_path().string()},
                       {"timesteps", spec.timesteps}, {"prompt", spec.prompt}, {"seed", spec.seed},
                       {"spatial", spec.spatial}, {"test_fraction", spec.test_fraction}, {"split_file", spec.split_file},
                       {"labels", data.columns},
                       {"noise", "one draw per image: torch.randn on a CPU generator seeded splitmix64(seed, index)"},
                       {"files", file_index}, {"images", images}};
  write_json_atomic(spec.out + "/index.json", index);
  fs::remove(progress_path);
  FeatureSetInfo r;
  r.images = static_cast<int>(n);
  r.layers = static_cast<int>(layers.size());
  r.timesteps = static_cast<int>(spec.timesteps.size());
  r.images_per_second = secs > 0 ? double(static_cast<int64_t>(n) - start) / secs : 0;
  r.resumed_at = static_cast<int>(start);
  r.labels = data.columns;
  return r;
}

namespace {

/// A feature file as [N, D] (flattened), or with `keep_shape` as stored ([N, C, S, S] for spatial files).
at::Tensor load_array(const std::string& path, bool keep_shape) {
  NpyArray a = read_npy(path);
  if (a.shape.empty()) throw Error(path + ": expected [N, ...] features");
  require_finite(a, path);
  const int64_t rows = a.shape[0];
  at::Tensor t = at::from_blob(a.data.data(), {static_cast<int64_t>(a.data.size())}, at::kFloat).clone();
  return keep_shape ? t.reshape(a.shape) : t.reshape({rows, -1});
}

/// Why `label` cannot be probed on this feature set ("" when it can): fewer than two classes, or no train or no test
/// image. probe skips such a label with a warning, and refuses the call when every label it was asked for is one.
std::string probe_label_problem(const study::FeatureSet& set, const std::string& label) {
  const int col = set.column(label), split_col = set.column("split");
  std::set<std::string> classes;
  size_t train = 0, test = 0;
  for (size_t r = 1; r < set.table.size(); ++r) {
    const std::string& v = set.table[r][static_cast<size_t>(col)];
    if (v.empty()) continue;
    classes.insert(v);
    (set.table[r][static_cast<size_t>(split_col)] == "test" ? test : train)++;
  }
  if (classes.size() < 2) return "label " + label + " has " + std::to_string(classes.size()) + " class(es) in this dataset";
  if (train == 0 || test == 0) return "label " + label + " has no " + std::string(train == 0 ? "train" : "test") + " images";
  return "";
}

}  // namespace

Summary probe_features(const ProbeSpec& spec, const Session& session) {
  if (spec.bootstrap < 0 || spec.bootstrap > 100000)
    throw Error("--bootstrap: expected 0 (no intervals) to 100000, got " + std::to_string(spec.bootstrap));
  const std::string dir = spec.features;
  const study::FeatureSet set = study::open_feature_set(dir);
  const auto& index = set.index;
  const std::string out = spec.out.empty() ? dir + "/probe" : spec.out;
  const auto& table = set.table;
  auto column = [&](const std::string& name) { return set.column(name); };
  const int split_col = column("split");
  std::vector<std::string> labels = spec.labels.empty() ? set.labels : spec.labels;
  for (const auto& l : labels)
    if (column(l) < 0) throw Error("--labels " + l + ": not a column of " + dir + "/labels.csv");
  {  // nothing to train is an error, not an empty table (checked before the output folder is claimed)
    std::string problems;
    size_t usable = 0;
    for (const auto& l : labels) {
      const std::string p = probe_label_problem(set, l);
      if (p.empty()) ++usable;
      else problems += (problems.empty() ? "" : "; ") + p;
    }
    if (usable == 0)
      throw Error("probe: nothing to train on " + dir + ": " + (labels.empty() ? std::string("no labels") : problems) +
                  " (a probe needs two classes with train and test images)");
  }
  const OutputFolder folder = claim_output_folder(out, spec.overwrite);
  set_threads(session.threads);

  // the feature files: UNet layers x timesteps (pooled: linear head; spatial: convolutional head), then the baselines
  const bool want_linear = std::count(spec.heads.begin(), spec.heads.end(), "linear") > 0;
  const bool want_conv = std::count(spec.heads.begin(), spec.heads.end(), "conv") > 0;
  for (const auto& h : spec.heads)
    if (h != "linear" && h != "conv") throw Error("--heads " + h + ": expected linear or conv");
  struct FeatureFile {
    std::string name, layer, file, head;
    int64_t t = -1;
  };
  std::vector<FeatureFile> ffiles;
  std::vector<std::string> layer_order;
  std::vector<int64_t> t_order;
  bool any_spatial = false;
  for (const auto& f : index.at("files")) {
    const bool spatial = f.value("pooling", "").rfind("adaptive_avg_", 0) == 0;
    any_spatial = any_spatial || spatial;
    if (spatial ? !want_conv : !want_linear) continue;
    FeatureFile ff{fs::path(f.at("file").get<std::string>()).stem().string(), f.at("layer").get<std::string>(),
                   dir + "/" + f.at("file").get<std::string>(), spatial ? "conv" : "linear", f.value("t", int64_t{-1})};
    if (ff.t >= 0) {
      if (std::find(layer_order.begin(), layer_order.end(), ff.layer) == layer_order.end()) layer_order.push_back(ff.layer);
      if (std::find(t_order.begin(), t_order.end(), ff.t) == t_order.end()) t_order.push_back(ff.t);
    }
    ffiles.push_back(ff);
  }
  if (want_conv && !any_spatial && !want_linear)
    throw Error("--heads conv: " + dir + " holds no spatial features (extract them with diffscope features --spatial S)");

  ensure_dir(out + "/tables");
  ensure_dir(out + "/plots");
  CsvWriter csv(out + "/tables/probe.csv", {"features", "layer", "t", "label", "head", "classes", "n_train", "n_test",
                                            "train_accuracy", "test_accuracy", "chance", "test_accuracy_ci_lo",
                                            "test_accuracy_ci_hi", "test_accuracy_se", "bootstrap_resamples"});
  Summary s;
  ProbeOptions po;
  po.c = spec.c;
  ConvProbeOptions co;
  co.hidden = spec.conv_hidden;
  co.epochs = spec.conv_epochs;
  co.lr = spec.conv_lr;
  co.seed = spec.seed;
  std::map<std::string, at::Tensor> cache;
  for (const auto& label : labels) {
    const int col = column(label);
    std::vector<std::string> classes;
    for (size_t r = 1; r < table.size(); ++r)
      if (!table[r][static_cast<size_t>(col)].empty()) classes.push_back(table[r][static_cast<size_t>(col)]);
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    if (const std::string p = probe_label_problem(set, label); !p.empty()) {
      spdlog::warn("probe: {}; skipped", p);
      continue;
    }
    std::vector<int64_t> train_rows, test_rows, train_y, test_y;
    for (size_t r = 1; r < table.size(); ++r) {
      const std::string& v = table[r][static_cast<size_t>(col)];
      if (v.empty()) continue;
      const int64_t y = std::lower_bound(classes.begin(), classes.end(), v) - classes.begin();
      const bool test = table[r][static_cast<size_t>(split_col)] == "test";
      (test ? test_rows : train_rows).push_back(static_cast<int64_t>(r - 1));
      (test ? test_y : train_y).push_back(y);
    }
    const at::Tensor tr = at::tensor(train_rows, at::kLong), te = at::tensor(test_rows, at::kLong);
    const at::Tensor ytr = at::tensor(train_y, at::kLong), yte = at::tensor(test_y, at::kLong);
    // per head: the layer x timestep grid and the best cell
    struct HeadBest {
      std::vector<std::vector<double>> grid;
      std::vector<std::vector<AccuracyInterval>> intervals;
      double best = -1;
      std::string name;
      ProbeResult result;
      AccuracyInterval interval;
    };
    // the baselines beside the grid (pixels, latent), with their intervals; chance as the test set gives it
    std::map<std::string, std::pair<double, AccuracyInterval>> baselines;
    double chance = std::nan("");
    // one bootstrap stream per label: every cell of it is resampled on the same test images (paired)
    const uint64_t boot_seed = spec.seed ^ 0xb0075742a9d1e3c5ULL;
    std::map<std::string, HeadBest> heads;
    spdlog::info("probe: {} ({} classes, {} train / {} test images)", label, classes.size(), train_rows.size(), test_rows.size());
    for (const auto& ff : ffiles) {
      if (!cache.count(ff.file)) cache[ff.file] = load_array(ff.file, ff.head == "conv");
      const at::Tensor& x = cache[ff.file];
      const int64_t n_classes = static_cast<int64_t>(classes.size());
      const ProbeResult r =
          ff.head == "conv"
              ? conv_probe(x.index_select(0, tr), ytr, x.index_select(0, te), yte, n_classes, co).result
              : linear_probe(x.index_select(0, tr), ytr, x.index_select(0, te), yte, n_classes, po);
      csv.cell(ff.name).cell(ff.layer);
      if (ff.t >= 0) csv.cell(ff.t);
      else csv.cell("");
      csv.cell(label).cell(ff.head).cell(n_classes).cell(static_cast<int64_t>(train_rows.size()));
      const AccuracyInterval ci = bootstrap_accuracy(r.test_correct, spec.bootstrap, boot_seed);
      csv.cell(static_cast<int64_t>(test_rows.size())).cell(r.train_accuracy).cell(r.test_accuracy).cell(r.chance);
      if (ci.resamples > 0) csv.cell(ci.lo).cell(ci.hi).cell(ci.se);
      else csv.cell("").cell("").cell("");
      csv.cell(static_cast<int64_t>(ci.resamples));
      csv.end_row();
      chance = r.chance;
      const std::string key = "probe." + label + (ff.head == "conv" ? ".conv." : ".");
      if (ff.t >= 0) {
        HeadBest& h = heads[ff.head];
        if (h.grid.empty()) {
          h.grid.assign(layer_order.size(), std::vector<double>(t_order.size(), std::nan("")));
          h.intervals.assign(layer_order.size(), std::vector<AccuracyInterval>(t_order.size()));
        }
        const size_t li = std::find(layer_order.begin(), layer_order.end(), ff.layer) - layer_order.begin();
        const size_t ti = std::find(t_order.begin(), t_order.end(), ff.t) - t_order.begin();
        h.grid[li][ti] = r.test_accuracy;
        h.intervals[li][ti] = ci;
        s.set(key + ff.layer + ".t" + std::to_string(ff.t), r.test_accuracy);
        if (r.test_accuracy > h.best)
          h.best = r.test_accuracy, h.name = ff.layer + ".t" + std::to_string(ff.t), h.result = r, h.interval = ci;
      } else {
        s.set(key + ff.layer, r.test_accuracy);  // pixels, latent
        if (ci.resamples > 0) s.set(key + ff.layer + ".ci_lo", ci.lo), s.set(key + ff.layer + ".ci_hi", ci.hi);
        if (ff.head == "linear") baselines[ff.layer] = {r.test_accuracy, ci};
      }
      s.set("probe." + label + ".chance", r.chance);
    }
    std::vector<std::string> cols;
    for (int64_t t : t_order) cols.push_back("t=" + std::to_string(t));
    for (const auto& [head, h] : heads) {
      const bool conv = head == "conv";
      const std::string key = "probe." + label + (conv ? ".conv" : ""), suffix = conv ? "_conv" : "";
      s.set(key + ".best", h.best);
      s.set_text(key + ".best_layer", h.name);
      if (h.interval.resamples > 0) s.set(key + ".best.ci_lo", h.interval.lo), s.set(key + ".best.ci_hi", h.interval.hi);
      const std::string head_name = conv ? "Convolutional" : "Linear";
      // the grid as a matrix (fixed 0-1 scale: every probe figure compares on one scale)
      MatrixFigure grid;
      grid.values = h.grid;
      grid.row_labels = layer_order;
      grid.col_labels = cols;
      grid.title = head_name + " probe test accuracy: " + label;
      grid.xlabel = "timestep";
      grid.ylabel = "layer";
      grid.scale_label = "test accuracy, fixed 0-1";
      write_matrix_plot(out + "/plots/probe_" + label + suffix + ".png", grid);
      // accuracy per layer for each timestep, with intervals, the baselines beside
      AccuracyFigure af;
      af.title = head_name + " probe test accuracy per layer: " + label;
      af.note = spec.bootstrap > 0
                    ? "bars and bands: 95% percentile bootstrap over the " + std::to_string(test_rows.size()) +
                          " test images (" + std::to_string(spec.bootstrap) + " resamples)"
                    : "no intervals (--bootstrap 0); " + std::to_string(test_rows.size()) + " test images";
      af.layers = layer_order;
      for (size_t ti = 0; ti < t_order.size(); ++ti) {
        AccuracyFigure::Series ser;
        ser.name = cols[ti];
        ser.colour = series_colour(ti < 4 ? ti : ti + 3);  // 4-6 (purple, sky blue, black) are the baselines'
        for (size_t li = 0; li < layer_order.size(); ++li)
          ser.values.push_back({h.grid[li][ti], h.intervals[li][ti].lo, h.intervals[li][ti].hi});
        af.series.push_back(ser);
      }
      const std::string lin = conv ? " (linear)" : "";
      for (const auto& [name, colour] : {std::pair<const char*, Rgb>{"pixels", series_colour(4)}, {"latent", series_colour(5)}})
        if (baselines.count(name)) {
          const auto& [acc, ci] = baselines.at(name);
          af.baselines.push_back({std::string(name) + lin, {acc, ci.lo, ci.hi}, colour, false});
        }
      af.baselines.push_back({"chance", {chance, std::nan(""), std::nan("")}, series_colour(6), true});
      write_accuracy_figure(out + "/plots/accuracy_" + label + suffix + ".png", af);
      ConfusionFigure cf;
      cf.counts = h.result.confusion;
      cf.labels = classes;
      cf.title = label + " at " + h.name + (conv ? " (conv head" : " (linear") + "; rows: true, columns: predicted)";
      write_confusion_figure(out + "/plots/confusion_" + label + suffix + ".png", cf);
    }
  }
  csv.commit();
  s.write(out + "/summary.json");
  return s;
}

}  // namespace diffscope
