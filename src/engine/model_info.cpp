// The package's JSON files (model_index.json, unet/layers.json, vae/config.json) read into ModelInfo: every key
// checked and every size bounded before anything is allocated; LibTorch-free, so the sanitizer build fuzzes it.
#include "diffscope/engine/model_info.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"

namespace fs = std::filesystem;

namespace diffscope {
namespace {

template <typename T>
T get_key(const nlohmann::json& j, const std::string& key, const std::string& file, const char* expected) {
  if (!j.contains(key)) throw Error(file + ": missing key \"" + key + "\" (expected " + expected + ")");
  if constexpr (std::is_integral_v<T>) {
    // an integer is an integer: 512.5 is refused, not truncated to 512
    const auto& v = j.at(key);
    if (!v.is_number_integer() && !(v.is_number_float() && v.get<double>() == std::floor(v.get<double>())))
      throw Error(file + ": key \"" + key + "\" must be " + expected + ", got " + v.dump());
    const double d = v.get<double>();
    if (!(d >= static_cast<double>(std::numeric_limits<T>::lowest()) && d <= static_cast<double>(std::numeric_limits<T>::max())))
      throw Error(file + ": key \"" + key + "\" is " + v.dump() + ", out of range");
  }
  try {
    return j.at(key).get<T>();
  } catch (const std::exception&) {
    throw Error(file + ": key \"" + key + "\" must be " + expected + ", got " + j.at(key).dump());
  }
}

std::string get_optional_string(const nlohmann::json& j, const char* key, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (!j[key].is_string()) throw Error(file + ": key \"" + key + "\" must be a string, got " + j[key].dump());
  return j[key].get<std::string>();
}

/// format_version 2: a second model family; the denoiser's folder and its extra text rows are named.
void read_transformer_keys(ModelInfo& info, const nlohmann::json& index, const std::string& index_path) {
  info.family = get_key<std::string>(index, "family", index_path, "\"unet\" or \"mmdit\"");
  if (info.family != "unet" && info.family != "mmdit")
    throw Error(index_path + ": \"family\" must be \"unet\" or \"mmdit\", got \"" + info.family + "\"");
  info.denoiser_dir = get_key<std::string>(index, "denoiser", index_path, "\"unet\" or \"transformer\"");
  if (info.denoiser_dir != "unet" && info.denoiser_dir != "transformer")
    throw Error(index_path + ": \"denoiser\" must be \"unet\" or \"transformer\", got \"" + info.denoiser_dir + "\"");
  info.pooled_rows = get_key<int>(index, "pooled_rows", index_path, "0 or 1");
  if (info.pooled_rows != 0 && info.pooled_rows != 1)
    throw Error(index_path + ": \"pooled_rows\" must be 0 or 1, got " + std::to_string(info.pooled_rows));
  if (index.contains("t5_max_length")) {
    info.t5_max_length = get_key<int>(index, "t5_max_length", index_path, "an integer (T5 tokens per prompt)");
    if (info.t5_max_length < 2 || info.t5_max_length > 4096)
      throw Error(index_path + ": \"t5_max_length\" is " + std::to_string(info.t5_max_length) + ", expected 2..4096");
    if (info.family != "mmdit")
      throw Error(index_path + ": \"t5_max_length\" is for the mmdit family, but \"family\" is \"" + info.family + "\"");
  }
  const std::string rows = get_optional_string(index, "text_rows", index_path);
  if (!rows.empty() && rows != "clip" && rows != "t5")
    throw Error(index_path + ": \"text_rows\" must be \"clip\" or \"t5\", got \"" + rows + "\"");
  info.clip_text_rows = rows != "t5";
  if (!info.clip_text_rows && info.t5_max_length == 0)
    throw Error(index_path + ": \"text_rows\" is \"t5\", but there is no \"t5_max_length\" (no T5 input)");
  info.pipeline = get_optional_string(index, "pipeline", index_path);
  if (!info.pipeline.empty() && info.pipeline != "FluxPipeline" && info.pipeline != "StableDiffusion3Pipeline")
    throw Error(index_path + ": \"pipeline\" must be \"FluxPipeline\" or \"StableDiffusion3Pipeline\", got \"" +
                info.pipeline + "\"");
  const std::string guidance = get_optional_string(index, "guidance", index_path);
  if (!guidance.empty() && guidance != "cfg" && guidance != "distilled" && guidance != "none")
    throw Error(index_path + ": \"guidance\" must be \"cfg\", \"distilled\" or \"none\", got \"" + guidance + "\"");
  if (!guidance.empty()) info.guidance = guidance;
  if (info.guidance == "distilled") {
    if (info.pooled_rows != 1)
      throw Error(index_path + ": \"guidance\" \"distilled\" needs the pooled row (\"pooled_rows\": 1) to carry the scale");
    info.guidance_index = get_key<int>(index, "guidance_index", index_path, "an integer (the pooled row's guidance entry)");
    if (info.guidance_index < 0 || info.guidance_index >= 65536)
      throw Error(index_path + ": \"guidance_index\" is " + std::to_string(info.guidance_index) + ", expected 0..65535");
  } else if (index.contains("guidance_index")) {
    throw Error(index_path + ": \"guidance_index\" is for \"guidance\": \"distilled\"");
  }
}

/// format_version 3: SDXL (docs/package-format.md, "SDXL"): two CLIP encoders behind one text_encoder/model.pt that
/// returns (prompt_embeds, pooled), a UNet that takes the pooled vector and the time ids beside the context.
void read_sdxl_keys(ModelInfo& info, const nlohmann::json& index, const std::string& index_path) {
  info.family = get_key<std::string>(index, "family", index_path, "\"sdxl\"");
  if (info.family != "sdxl")
    throw Error(index_path + ": \"family\" must be \"sdxl\" for format_version 3, got \"" + info.family + "\"");
  info.denoiser_dir = get_key<std::string>(index, "denoiser", index_path, "\"unet\"");
  if (info.denoiser_dir != "unet")
    throw Error(index_path + ": \"denoiser\" must be \"unet\" for the sdxl family, got \"" + info.denoiser_dir + "\"");
  info.pipeline = get_optional_string(index, "pipeline", index_path);
  if (!info.pipeline.empty() && info.pipeline != "StableDiffusionXLPipeline")
    throw Error(index_path + ": \"pipeline\" must be \"StableDiffusionXLPipeline\", got \"" + info.pipeline + "\"");
  const auto& f = index.contains("force_zeros_for_empty_prompt") ? index["force_zeros_for_empty_prompt"] : nlohmann::json();
  if (!f.is_boolean())
    throw Error(index_path + ": key \"force_zeros_for_empty_prompt\" must be true or false" +
                (f.is_null() ? std::string(" (missing)") : ", got " + f.dump()));
  info.force_zeros_for_empty_prompt = f.get<bool>();
  info.pad_token_2 = get_key<std::string>(index, "pad_token_2", index_path, "a token string (tokenizer_2's pad token)");
  info.context_dim = get_key<int>(index, "context_dim", index_path, "an integer (D1 + D2)");
  info.pooled_dim = get_key<int>(index, "pooled_dim", index_path, "an integer (text_encoder_2's projection_dim)");
  info.time_ids_dim = get_key<int>(index, "time_ids_dim", index_path, "6");
  if (info.context_dim < 1 || info.context_dim > 65536)
    throw Error(index_path + ": \"context_dim\" is " + std::to_string(info.context_dim) + ", expected 1..65536");
  if (info.pooled_dim < 1 || info.pooled_dim > info.context_dim)
    throw Error(index_path + ": \"pooled_dim\" is " + std::to_string(info.pooled_dim) + ", expected 1..context_dim (" +
                std::to_string(info.context_dim) + ")");
  if (info.time_ids_dim != 6)
    throw Error(index_path + ": \"time_ids_dim\" is " + std::to_string(info.time_ids_dim) +
                ", expected 6 (original size, crop top-left, target size; the refiner's 5 are not supported)");
  if (!index.contains("default_time_ids") || !index["default_time_ids"].is_array() || index["default_time_ids"].size() != 6)
    throw Error(index_path + ": key \"default_time_ids\" must be 6 numbers [H, W, 0, 0, H, W]");
  for (const auto& v : index["default_time_ids"]) {
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      throw Error(index_path + ": key \"default_time_ids\" must be 6 finite numbers, got " + index["default_time_ids"].dump());
    info.default_time_ids.push_back(v.get<double>());
  }
  info.pooled_rows = 1;  // between encode_text and the family (see ModelInfo::pooled_rows)
}

// A UNet family's --concepts maps (cross-attention: one more key per concept)
const char* const kOneKeyConcepts = "each concept's probability in its own softmax beside the prompt's keys, then as maps";

const std::vector<FamilyTraits> kFamilies = {
    {"unet", 1, "unet", "cross_attention", "UNet with cross-attention", "CLIP text encoder: one embedding per token",
     "softmax probabilities",
     kOneKeyConcepts,
     false, false},
    {"mmdit", 2, "transformer", "joint_attention", "joint-attention transformer",
     "text encoder(s): one row per token, and a pooled vector",
     "the image-query x text-key block of each joint-attention softmax",
     "ConceptAttention: per image token, the softmax over the concepts of its attention output's dot products with "
     "each concept token's (before the output projections), then as maps",
     true, true},
    {"sdxl", 3, "unet", "cross_attention",
     "SDXL UNet with cross-attention, pooled-text and size conditioning (text_time)",
     "two CLIP text encoders: their penultimate rows side by side, and a pooled vector", "softmax probabilities",
     kOneKeyConcepts,
     false, false},
};

}  // namespace

const std::vector<FamilyTraits>& family_table() { return kFamilies; }

const FamilyTraits& family_traits(const std::string& family) {
  for (const auto& f : kFamilies)
    if (f.name == family) return f;
  std::string names;
  for (const auto& f : kFamilies) names += (names.empty() ? "\"" : ", \"") + f.name + "\"";
  throw Error("model family \"" + family + "\" is not known (expected one of " + names + ")");
}

void read_model_index(ModelInfo& info, const std::string& index_path) {
  if (!fs::exists(index_path))
    throw Error(index_path + ": missing (a diffscope package needs model_index.json; export one with scripts/export/)");
  nlohmann::json index = read_json_object(index_path);
  const std::string fmt = get_optional_string(index, "format", index_path);
  if (fmt != "diffscope-torchscript")
    throw Error(index_path + ": \"format\" must be \"diffscope-torchscript\"" +
                (index.contains("_class_name") ? " (this looks like a diffusers folder: convert it with "
                                                 "scripts/export/export_diffusers.py)"
                                               : ""));
  const int version = get_key<int>(index, "format_version", index_path, "an integer");
  if (version < 1 || version > 3)
    throw Error(index_path + ": format_version " + std::to_string(version) + " is not supported (expected 1, 2 or 3)");
  if (version == 2) read_transformer_keys(info, index, index_path);
  if (version == 3) read_sdxl_keys(info, index, index_path);
  info.name = get_key<std::string>(index, "name", index_path, "a string");
  info.sample_size = get_key<int>(index, "sample_size", index_path, "an integer (pixels)");
  info.vae_scale_factor = get_key<int>(index, "vae_scale_factor", index_path, "an integer");
  info.latent_channels = get_key<int>(index, "latent_channels", index_path, "an integer");
  const auto prediction =
      get_key<std::string>(index, "prediction_type", index_path, "\"epsilon\", \"v_prediction\" or \"flow\"");
  if (prediction != "epsilon" && prediction != "v_prediction" && prediction != "flow")
    throw Error(index_path + ": prediction_type must be \"epsilon\", \"v_prediction\" or \"flow\", got \"" + prediction +
                "\"");
  info.prediction_type = parse_prediction(prediction, index_path);
  info.max_length = get_key<int>(index, "max_length", index_path, "an integer");
  info.pad_token = get_key<std::string>(index, "pad_token", index_path, "a token string");
  // sizes are bounded before any memory is taken (a package may come from anywhere)
  auto bounded = [&](const char* key, int v, int lo, int hi) {
    if (v < lo || v > hi)
      throw Error(index_path + ": \"" + key + "\" is " + std::to_string(v) + ", expected " + std::to_string(lo) + ".." +
                  std::to_string(hi));
  };
  bounded("sample_size", info.sample_size, 8, kMaxImageSide);
  bounded("vae_scale_factor", info.vae_scale_factor, 1, 64);
  bounded("latent_channels", info.latent_channels, 1, 64);
  bounded("max_length", info.max_length, 2, 4096);
  if (info.sample_size % info.vae_scale_factor)
    throw Error(index_path + ": sample_size must be a multiple of vae_scale_factor");
}

void read_layers(ModelInfo& info, const std::string& path) {
  const std::string shown = info.denoiser_dir + "/layers.json";
  const std::string& key = info.traits().layers_key;
  nlohmann::json j = read_json_object(path);
  if (!j.is_object() || !j.contains(key) || !j[key].is_array())
    throw Error(shown + ": expected an object with a \"" + key + "\" array");
  for (const auto& e : j[key]) {
    if (!e.is_object()) throw Error(shown + ": every \"" + key + "\" entry must be an object");
    AttentionLayerInfo l;
    l.name = get_key<std::string>(e, "name", shown, "a string");
    l.block = get_optional_string(e, "block", shown);
    l.heads = get_key<int>(e, "heads", shown, "an integer");
    l.height = get_key<int>(e, "height", shown, "an integer");
    l.width = get_key<int>(e, "width", shown, "an integer");
    if (l.heads <= 0 || l.height <= 0 || l.width <= 0)
      throw Error(shown + ": layer " + l.name + " needs positive heads, height and width");
    info.attention_layers.push_back(l);
  }
  if (j.contains("features")) {
    if (!j["features"].is_array()) throw Error(shown + ": \"features\" must be an array");
    for (const auto& e : j["features"]) {
      if (!e.is_object()) throw Error(shown + ": every \"features\" entry must be an object");
      FeatureInfo f;
      f.name = get_key<std::string>(e, "name", shown, "a string");
      f.block = get_optional_string(e, "block", shown);
      f.channels = get_key<int>(e, "channels", shown, "an integer");
      f.height = get_key<int>(e, "height", shown, "an integer");
      f.width = get_key<int>(e, "width", shown, "an integer");
      info.features.push_back(f);
    }
  }
}

void read_vae_config(ModelInfo& info, const std::string& path) {
  info.scaling_factor = get_key<double>(read_json_object(path), "scaling_factor", path, "a number");
  if (!std::isfinite(info.scaling_factor) || info.scaling_factor <= 0)
    throw Error(path + ": \"scaling_factor\" must be a positive number, got " + std::to_string(info.scaling_factor));
}

int image_size_multiple(const ModelInfo& info) {
  int patch = 1;
  if (info.traits().patched && !info.attention_layers.empty() && info.attention_layers[0].height > 0)
    patch = std::max(1, info.sample_size / info.vae_scale_factor / info.attention_layers[0].height);
  return info.vae_scale_factor * patch;
}

std::vector<std::string> package_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const char* f : {"model_index.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/model.pt",
                        "unet/model.pt", "unet/layers.json", "transformer/model.pt", "transformer/layers.json",
                        "vae/decoder.pt", "vae/encoder.pt", "vae/config.json",
                        "vae/latent_rgb.json", "scheduler/scheduler_config.json", "tokenizer_3/spiece.model"}) {
    if (std::filesystem::exists(std::filesystem::path(dir) / f)) out.push_back(f);
  }
  return out;
}

std::pair<int, int> layer_size(const ModelInfo& info, size_t layer, int latent_h, int latent_w) {
  const auto& l = info.attention_layers.at(layer);
  int h = latent_h, w = latent_w, s = info.sample_size / info.vae_scale_factor;
  while (s > l.height && s > 1) {  // each downsampling halves, rounding up
    s = (s + 1) / 2;
    h = (h + 1) / 2;
    w = (w + 1) / 2;
  }
  return {h, w};
}

int64_t image_token_count(const ModelInfo& info, int latent_h, int latent_w) {
  if (info.attention_layers.empty()) return int64_t(latent_h) * latent_w;
  const auto [h, w] = layer_size(info, 0, latent_h, latent_w);
  return int64_t(h) * w;
}

SchedulerConfig package_scheduler_config(const ModelInfo& info) {
  SchedulerConfig c = SchedulerConfig::from_file((fs::path(info.dir) / "scheduler" / "scheduler_config.json").string());
  c.pipeline_linspace_sigmas = info.pipeline == "FluxPipeline";
  return c;
}

}  // namespace diffscope
