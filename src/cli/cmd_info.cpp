// `diffscope info`: what a model package holds (layers, heads, resolutions, limits).
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "diffscope/study/describe.h"

namespace diffscope::cli {
namespace {

struct Opts {
  std::string model = "models/shapes-v1";
  bool json = false;
};

int run(const Opts& o) {
  apply_quiet(true);
  const ModelDescription m = describe_model(o.model);
  const auto& i = m.info;
  const int latent = i.sample_size / i.vae_scale_factor;
  const FamilyTraits& family = i.traits();
  const bool sdxl = i.pooled_dim > 0;  // two CLIP encoders, a pooled vector and time ids beside the context
  if (o.json) {
    nlohmann::json layers = nlohmann::json::array(), feats = nlohmann::json::array();
    for (const auto& l : i.attention_layers)
      layers.push_back({{"name", l.name}, {"block", l.block}, {"heads", l.heads}, {"height", l.height}, {"width", l.width},
                        {"image_tokens", l.height * l.width}, {"text_tokens", i.text_tokens()}});
    for (const auto& f : i.features)
      feats.push_back({{"name", f.name}, {"block", f.block}, {"channels", f.channels}, {"height", f.height}, {"width", f.width}});
    nlohmann::json j{{"name", i.name}, {"family", i.family}, {"denoiser", i.denoiser_dir}, {"pooled_rows", i.pooled_rows},
                     {"sample_size", i.sample_size}, {"vae_scale_factor", i.vae_scale_factor},
                     {"latent_channels", i.latent_channels}, {"latent_size", latent},
                     {"prediction_type", prediction_name(i.prediction_type)}, {"max_length", i.max_length}, {"t5_max_length", i.t5_max_length},
                     {"pad_token", i.pad_token}, {"context_dim", m.context_dim}, {"vocab_size", m.vocab_size},
                     {"scaling_factor", i.scaling_factor}, {"scheduler", m.scheduler},
                     {"has_attention", m.has_attention}, {"has_concepts", m.has_concepts},
                     {"has_preview", m.has_preview}, {family.layers_key, layers},
                     {"text_rows", i.clip_text_rows ? "clip" : "t5"}, {"guidance", i.guidance},
                     {"guidance_index", i.guidance_index},
                     {"features", feats}, {"text_encoders", sdxl ? 2 : i.t5_max_length > 0 ? 3 : 1},
                     {"maps", family.maps}};
    if (sdxl)
      j["sdxl"] = {{"pooled_dim", i.pooled_dim}, {"time_ids_dim", i.time_ids_dim}, {"pad_token_2", i.pad_token_2},
                   {"force_zeros_for_empty_prompt", i.force_zeros_for_empty_prompt},
                   {"default_time_ids", i.default_time_ids}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("model            %s (%s)\n", i.name.c_str(), i.dir.c_str());
  std::printf("denoiser         %s%s, %s/\n", family.denoiser.c_str(),
              !family.joint ? "" : i.clip_text_rows ? " (MMDiT, as SD3)" : " (two- and single-stream blocks, as Flux)",
              i.denoiser_dir.c_str());
  std::printf("image size       %d x %d px (any multiple of %d works)\n", i.sample_size, i.sample_size,
              image_size_multiple(i));
  std::printf("latent           %d x %d x %d, scaling factor %.6g\n", i.latent_channels, latent, latent, i.scaling_factor);
  std::printf("prediction       %s; scheduler %s\n", prediction_name(i.prediction_type), m.scheduler.c_str());
  std::printf("text             %d tokens max, pad %s, vocabulary %zu, context width %d\n", i.max_length,
              i.pad_token.c_str(), m.vocab_size, m.context_dim);
  if (sdxl) {
    std::printf("text encoders    2 CLIP encoders on the same ids (text_encoder_2's padded with %s after the first end "
                "token): their penultimate states side by side (context width %d), text_encoder_2's pooled projection "
                "(%d) beside them\n", i.pad_token_2.c_str(), m.context_dim, i.pooled_dim);
    std::printf("size conditioning %d time ids (original size, crop top-left, target size) of the generated size; "
                "%s\n", i.time_ids_dim, i.force_zeros_for_empty_prompt
                                             ? "no negative prompt: zero negative embeddings (force_zeros_for_empty_prompt)"
                                             : "no negative prompt: the encoding of \"\"");
  }
  if (i.t5_max_length > 0 && i.clip_text_rows)
    std::printf("T5 text          %d tokens after the CLIP tokens (tokenizer_3/spiece.model)\n", i.t5_max_length);
  else if (i.t5_max_length > 0)
    std::printf("T5 text          %d tokens, the only text rows (tokenizer_3/spiece.model); CLIP gives the pooled "
                "vector\n", i.t5_max_length);
  if (i.guidance == "cfg")
    std::printf("guidance         classifier-free (--guidance > 1 adds a negative-prompt row)\n");
  else if (i.guidance == "distilled")
    std::printf("guidance         distilled: --guidance is a model input (pooled row entry %d), no negative prompt\n",
                i.guidance_index);
  else
    std::printf("guidance         none: the model takes no guidance scale and no negative prompt\n");
  std::printf("x0 preview       %s\n", m.has_preview ? "vae/latent_rgb.json (--x0-view preview)"
                                                     : "none (scripts/export/fit_latent_preview.py adds one)");
  if (!m.has_attention) {
    std::printf("attention        none: the denoiser was exported without attention outputs\n");
    return 0;
  }
  std::printf("concept maps     %s\n", m.has_concepts ? "yes (--concepts: forward_concepts)"
                                                     : "no (re-export for --concepts: the denoiser lacks forward_concepts)");
  if (family.joint)
    std::printf("\njoint-attention layers (%zu), in execution order (maps: the image-query x text-key block of the "
                "joint softmax):\n", i.attention_layers.size());
  else
    std::printf("\ncross-attention layers (%zu), in execution order:\n", i.attention_layers.size());
  int bw = 11;  // the block column: "single_transformer" (Flux) is wider than "down"/"transformer"
  for (const auto& l : i.attention_layers) bw = std::max(bw, static_cast<int>(l.block.size()));
  std::printf("  %-3s %-*s %-6s %-8s %-14s %s\n", "#", bw, "block", "heads", "size", "image x text", "module");
  for (size_t k = 0; k < i.attention_layers.size(); ++k) {
    const auto& l = i.attention_layers[k];
    std::printf("  %-3zu %-*s %-6d %-8s %-14s %s\n", k, bw, l.block.c_str(), l.heads,
                (std::to_string(l.height) + "x" + std::to_string(l.width)).c_str(),
                (std::to_string(l.height * l.width) + " x " + std::to_string(i.text_tokens())).c_str(), l.name.c_str());
  }
  std::printf("\nblock outputs (%zu):\n", i.features.size());
  for (size_t k = 0; k < i.features.size(); ++k) {
    const auto& f = i.features[k];
    std::printf("  %-3zu %-*s %-6d %-8s %s\n", k, bw, f.block.c_str(), f.channels,
                (std::to_string(f.height) + "x" + std::to_string(f.width)).c_str(), f.name.c_str());
  }
  const double per_step = static_cast<double>(i.text_tokens()) * latent * latent * 4 / 1e6;
  std::printf("\nattention capture keeps %.2f MB per step at the default size (tokens x latent pixels)\n", per_step);
  return 0;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  app.add_option("-m,--model", o->model, "model package folder")->default_val(o->model);
  app.add_flag("--json", o->json, "print JSON");
  add_examples(app, {"diffscope info -m models/shapes-v1", "diffscope info -m sd15-package --json"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"info", "list a model package's layers, heads, resolutions and limits", 35, setup});

}  // namespace
}  // namespace diffscope::cli
