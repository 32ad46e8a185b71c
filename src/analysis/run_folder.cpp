// Reading a run folder back (run.json, attention/maps.npy, final.png).
#include "diffscope/analysis/run_folder.h"

#include "diffscope/util/sha256.h"

#include <algorithm>
#include <cctype>

#include <cmath>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"

namespace fs = std::filesystem;

namespace diffscope {

std::string RunFolder::path(const std::string& rel) const { return (fs::path(dir) / rel).string(); }

namespace {
/// An array beside run.json must be the one that run wrote (its SHA-256 in run.json; runs written before the
/// hashes were recorded carry none and are not checked).
void check_belongs(const std::string& file, const std::string& recorded, const std::string& run_json) {
  if (recorded.empty()) return;
  if (sha256_file(file) != recorded)
    throw Error(file + ": does not belong to " + run_json + " (its SHA-256 differs from the one recorded there: a file "
                "from another run, or changed since)");
}
}  // namespace

NpyArray RunFolder::read_latents() const {
  const std::string p = path("latents.npy");
  std::string recorded;
  if (meta.contains("outputs") && meta["outputs"].is_object() && meta["outputs"].contains("latents_sha256") &&
      meta["outputs"]["latents_sha256"].is_string())
    recorded = meta["outputs"]["latents_sha256"].get<std::string>();
  check_belongs(p, recorded, path("run.json"));
  NpyArray lat = read_npy(p);
  if (lat.shape.size() != 4 || lat.shape[0] != steps + 1)
    throw Error(p + ": expected [" + std::to_string(steps + 1) + ", C, h, w]");
  require_finite(lat, p);
  return lat;
}

std::vector<CapturedLayer> RunFolder::captured_layers() const {
  const std::string rj = path("run.json");
  if (!has_attention) throw Error(rj + ": this run has no attention maps");
  std::vector<CapturedLayer> out;
  try {
    const auto& all = meta.at("model").at("attention_layers");
    for (const auto& i : meta.at("attention").at("layers")) {
      const int index = i.get<int>();
      if (index < 0 || index >= static_cast<int>(all.size()))
        throw Error(rj + ": attention.layers names layer " + std::to_string(index) + ", which model.attention_layers lacks");
      const auto& l = all.at(static_cast<size_t>(index));
      out.push_back({index, l.at("name").get<std::string>(), l.at("heads").get<int>(), l.at("height").get<int>(),
                     l.at("width").get<int>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(rj + ": missing or malformed layer list (" + std::string(e.what()).substr(0, 100) + ")");
  }
  return out;
}

namespace {
/// The kept-array entries of run.json of one kind ("layers,tokens,h,w" or "layers,heads,tokens,h,w").
std::vector<nlohmann::json> kept_entries(const nlohmann::json& meta, bool heads) {
  std::vector<nlohmann::json> out;
  if (!meta.contains("attention") || !meta["attention"].is_object() || !meta["attention"].contains("kept") ||
      !meta["attention"]["kept"].is_array())
    return out;
  const std::string axes = heads ? "layers,heads,tokens,h,w" : "layers,tokens,h,w";
  for (const auto& k : meta["attention"]["kept"])
    if (k.is_object() && k.value("axes", std::string()) == axes && k.contains("step") && k["step"].is_number_integer() &&
        k.contains("file") && k["file"].is_string())
      out.push_back(k);
  return out;
}
}  // namespace

std::vector<int> RunFolder::kept_steps(bool heads) const {
  std::vector<int> out;
  for (const auto& k : kept_entries(meta, heads)) out.push_back(k["step"].get<int>());
  std::sort(out.begin(), out.end());
  return out;
}

NpyArray RunFolder::read_kept(int step, bool heads) const {
  const std::string rj = path("run.json");
  for (const auto& k : kept_entries(meta, heads)) {
    if (k["step"].get<int>() != step) continue;
    const std::string file = k["file"].get<std::string>();
    if (file.find("..") != std::string::npos || fs::path(file).is_absolute())
      throw Error(rj + ": kept array \"" + file + "\" must be a path inside the run folder");
    const std::string p = path(file);
    check_belongs(p, k.value("sha256", std::string()), rj);
    NpyArray a = read_npy(p);
    const size_t layers = captured_layers().size();
    const size_t rank = heads ? 5 : 4;
    const bool ok = a.shape.size() == rank && a.shape[0] == static_cast<int64_t>(layers) &&
                    a.shape[rank - 3] == num_tokens && a.shape[rank - 2] == h && a.shape[rank - 1] == w;
    if (!ok)
      throw Error(p + ": expected [" + std::to_string(layers) + (heads ? ", heads" : "") + ", " +
                  std::to_string(num_tokens) + ", " + std::to_string(h) + ", " + std::to_string(w) +
                  "] (layers" + (heads ? ", heads" : "") + ", tokens, h, w of this run)");
    require_finite(a, p);
    return a;
  }
  throw Error(rj + ": no per-" + std::string(heads ? "head" : "layer") + " maps kept at step " + std::to_string(step) +
              " (generate with --keep-" + (heads ? "heads" : "layers") + " " + std::to_string(step) + ")");
}

RunFolder RunFolder::load(const std::string& dir, bool require_attention) {
  RunFolder r;
  r.dir = dir;
  if (!fs::is_directory(dir)) throw Error("--run " + dir + ": not a folder (expected a run folder from diffscope generate)");
  const std::string rj = r.path("run.json");
  if (!fs::exists(rj)) throw Error(rj + ": missing (an interrupted or foreign run folder; rerun diffscope generate)");
  r.meta = read_json_object(rj);
  try {
    r.timesteps = r.meta.at("timesteps").get<std::vector<double>>();
    r.tokens = r.meta.at("tokens").get<std::vector<std::string>>();
    r.token_count = r.meta.at("token_count").get<int>();
    for (const auto& w : r.meta.at("words")) {
      Word word;
      word.text = w.at("word").get<std::string>();
      word.positions = w.at("positions").get<std::vector<int>>();
      word.punctuation = w.value("punctuation", false);
      r.words.push_back(word);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(rj + ": missing or malformed key (" + std::string(e.what()).substr(0, 100) + ")");
  }
  r.has_attention = r.meta.contains("attention");
  if (r.has_attention && !r.meta["attention"].is_object())
    throw Error(rj + ": \"attention\" must be an object ({\"file\": ..., \"shape\": ...})");
  if (!r.has_attention && require_attention)
    throw Error(rj + ": this run has no attention maps (it was generated with --no-attention or a plain export)");
  r.steps = static_cast<int>(r.timesteps.size());
  // run.json against itself: generate writes inputs.steps as the number of timesteps it ran
  if (r.meta.contains("inputs") && r.meta["inputs"].is_object() && r.meta["inputs"].contains("steps") &&
      r.meta["inputs"]["steps"] != nlohmann::json(r.steps))
    throw Error(rj + ": inputs.steps says " + r.meta["inputs"]["steps"].dump() + " but timesteps lists " +
                std::to_string(r.steps) + " (an edited or damaged run.json; rerun diffscope generate)");
  if (r.has_attention) load_maps(r, rj);
  if (r.has_attention && r.meta["attention"].contains("concepts")) {
    try {
      r.concepts = r.meta["attention"]["concepts"].at("words").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception&) {
      throw Error(rj + ": attention.concepts.words must be a list of strings");
    }
  }
  cv::Mat final_img = cv::imread(r.path("final.png"), cv::IMREAD_UNCHANGED);
  if (final_img.empty()) throw Error(r.path("final.png") + ": missing or unreadable");
  r.image_h = final_img.rows;
  r.image_w = final_img.cols;
  return r;
}

void RunFolder::load_maps(RunFolder& r, const std::string& rj) {
  const std::string maps_path = r.path(r.meta["attention"].value("file", std::string("attention/maps.npy")));
  check_belongs(maps_path, r.meta["attention"].value("sha256", std::string()), rj);
  r.maps = read_npy(maps_path);
  require_finite(r.maps, maps_path);
  if (r.maps.shape.size() != 4 || r.maps.shape[0] != static_cast<int64_t>(r.timesteps.size()))
    throw Error(r.path("attention/maps.npy") + ": expected [steps, tokens, h, w] with " +
                std::to_string(r.timesteps.size()) + " steps");
  r.steps = static_cast<int>(r.maps.shape[0]);
  r.num_tokens = static_cast<int>(r.maps.shape[1]);
  r.h = static_cast<int>(r.maps.shape[2]);
  r.w = static_cast<int>(r.maps.shape[3]);
  for (const auto& w : r.words)
    for (int p : w.positions)
      if (p < 0 || p >= r.num_tokens) throw Error(rj + ": word \"" + w.text + "\" points outside the token axis");
}

RunFolder RunFolder::concept_view() const {
  const std::string rj = path("run.json");
  if (concepts.empty()) throw Error(rj + ": this run has no concept maps (generate it with --concepts)");
  const auto& c = meta["attention"]["concepts"];
  const std::string file = path(c.value("file", std::string("attention/concept_maps.npy")));
  check_belongs(file, c.value("sha256", std::string()), rj);
  RunFolder v;
  v.maps = read_npy(file);
  require_finite(v.maps, file);
  if (v.maps.shape != std::vector<int64_t>{steps, static_cast<int64_t>(concepts.size()), h, w})
    throw Error(file + ": expected [" + std::to_string(steps) + ", " + std::to_string(concepts.size()) + ", " +
                std::to_string(h) + ", " + std::to_string(w) + "] (steps, concepts, h, w) as run.json says");
  v.dir = dir;
  v.meta = meta;
  v.timesteps = timesteps;
  v.steps = steps, v.h = h, v.w = w, v.image_h = image_h, v.image_w = image_w;
  v.has_attention = true;
  v.concepts = concepts;
  v.tokens = concepts;
  v.num_tokens = v.token_count = static_cast<int>(concepts.size());
  for (size_t i = 0; i < concepts.size(); ++i) {
    Word word;
    word.text = concepts[i];
    word.positions = {static_cast<int>(i)};
    v.words.push_back(word);
  }
  return v;
}

const float* RunFolder::map(int step, int token) const {
  return maps.data.data() + (static_cast<size_t>(step) * num_tokens + token) * static_cast<size_t>(h) * w;
}

std::vector<float> RunFolder::word_map(int step, const Word& word) const {
  std::vector<float> out(static_cast<size_t>(h) * w, 0.f);
  for (int p : word.positions) {
    const float* m = map(step, p);
    for (size_t i = 0; i < out.size(); ++i) out[i] += m[i];
  }
  const float n = static_cast<float>(std::max<size_t>(1, word.positions.size()));
  for (auto& v : out) v /= n;
  return out;
}

std::vector<float> RunFolder::word_map(const std::vector<int>& sel, const Word& word) const {
  std::vector<float> out(static_cast<size_t>(h) * w, 0.f);
  for (int s : sel) {
    auto m = word_map(s, word);
    for (size_t i = 0; i < out.size(); ++i) out[i] += m[i];
  }
  for (auto& v : out) v /= static_cast<float>(std::max<size_t>(1, sel.size()));
  return out;
}

std::vector<Word> RunFolder::content_words() const {
  std::vector<Word> out;
  for (const auto& w : words)
    if (!w.punctuation) out.push_back(w);
  return out;
}

std::vector<int> parse_steps(const std::string& spec, int steps, const std::string& option) {
  if (spec.find(',') != std::string::npos) {  // a list of selections: their union, in order
    std::vector<int> all;
    size_t start = 0;
    for (size_t comma; start <= spec.size(); start = comma + 1) {
      comma = spec.find(',', start);
      if (comma == std::string::npos) comma = spec.size();
      const std::string part = spec.substr(start, comma - start);
      if (part.empty())
        throw Error(option + " " + spec + ": an empty item in the list (expected K,L,M or A:B items)");
      for (int k : parse_steps(part, steps, option)) all.push_back(k);
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    return all;
  }
  auto bad = [&] {
    return Error(option + " " + spec + ": expected all, K, A:B (B exclusive), A:B:STRIDE or fractions like 0.0:0.3 of " +
                 std::to_string(steps) + " steps");
  };
  std::vector<int> out;
  if (spec.empty() || spec == "all") {
    for (int i = 0; i < steps; ++i) out.push_back(i);
    return out;
  }
  auto parse_bound = [&](const std::string& s, bool is_end) -> int {
    if (s.empty()) return is_end ? steps : 0;
    try {
      size_t used = 0;
      if (s.find('.') != std::string::npos) {
        const double f = std::stod(s, &used);
        if (used != s.size() || f < 0 || f > 1) throw bad();
        return static_cast<int>(std::lround(f * steps));
      }
      int v = std::stoi(s, &used);
      if (used != s.size()) throw bad();
      if (v < 0) v += steps;
      return v;
    } catch (const Error&) {
      throw;
    } catch (const std::exception&) {
      throw bad();
    }
  };
  const auto colon = spec.find(':');
  if (colon == std::string::npos) {
    const int k = parse_bound(spec, false);
    if (k < 0 || k >= steps) throw bad();
    return {k};
  }
  // A:B or A:B:S (Python's slice: every S-th step from A, B exclusive)
  const auto colon2 = spec.find(':', colon + 1);
  int stride = 1;
  if (colon2 != std::string::npos) {
    const std::string st = spec.substr(colon2 + 1);
    if (st.empty() || st.size() > 6 || !std::all_of(st.begin(), st.end(), [](unsigned char c) { return std::isdigit(c); }))
      throw bad();
    stride = std::stoi(st);
    if (stride < 1) throw bad();
  }
  const int a = std::max(0, parse_bound(spec.substr(0, colon), false));
  const int b = std::min(steps, parse_bound(spec.substr(colon + 1, colon2 == std::string::npos ? std::string::npos
                                                                                                : colon2 - colon - 1),
                                            true));
  for (int i = a; i < b; i += stride) out.push_back(i);
  if (out.empty()) throw bad();
  return out;
}

std::vector<std::string> word_keys(const std::vector<Word>& words) {
  std::map<std::string, int> seen;
  std::vector<std::string> keys;
  for (const auto& w : words) {
    const int n = ++seen[w.text];
    keys.push_back(n == 1 ? w.text : w.text + "#" + std::to_string(n));
  }
  return keys;
}

}  // namespace diffscope
