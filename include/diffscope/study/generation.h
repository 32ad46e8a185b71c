// One captured generation into a run folder: the options of `generate` as plain data, and the call that loads the
// model, runs the hooked loop and writes the folder.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "diffscope/study/session.h"

namespace diffscope {

struct GenerationSpec {
  std::string model = "models/shapes-v1";
  std::string out;                ///< the run folder to write
  std::string prompt, negative_prompt;
  std::string scheduler;          ///< empty = the package's
  std::string init_latents;       ///< .npy [1,C,h,w] instead of seeded noise
  std::string timestep_schedule;  ///< "early:LAMBDA" / "late:LAMBDA"; empty = the scheduler's spacing
  int64_t seed = 0;
  int steps = 25, height = 0, width = 0;
  int x0_every = 1;               ///< steps/x0_NNN.png every N steps (0 = none)
  /// How those images are made: decode (a VAE decode each), preview (the package's latent-to-RGB map: nearly free,
  /// colours and layout only) or auto (preview from 512 px up when the package has one, else decode).
  std::string x0_view = "auto";
  int filmstrip_columns = 0;      ///< steps/filmstrip.png wraps after N images (0 = at most 8 a row)
  double guidance = 7.5, eta = 0.0;
  bool capture_attention = true;
  bool text_queries = false;            ///< also attention/text_query_maps.npy (transformer packages)
  bool allow_empty_prompt = false;
  bool overwrite = false;         ///< replace an earlier diffscope output in `out` (else it is refused)
  std::string attention_half = "cond";  ///< cond or uncond
  std::vector<std::string> layers;      ///< indices, module names, down/mid/up or resolutions like 16x16
  std::vector<int> keep_layer_steps, keep_head_steps;
  std::vector<std::string> concepts;    ///< open-vocabulary concept maps (words need not be in the prompt)
  std::string concept_context = "prompt";  ///< concepts encoded after the prompt, or "alone"
};

/// Loads spec.model, runs the captured loop and writes the run folder spec.out (run.json last). `command` is
/// recorded in run.json. Returns spec.out. Errors name the option or file at fault. The folder is claimed first
/// (util/output_folder.h): locked for the run, and refused when it holds earlier output unless spec.overwrite.
std::string generate_run(const GenerationSpec& spec, const Session& session, const std::string& command);

/// The checks that need no model: UTF-8 prompts, a prompt that is not blank (unless allow_empty_prompt), a seed
/// torch.Generator takes as diffusers does. Error naming the option.
void check_generation(const GenerationSpec& spec);

/// A VAE decoder this large is Stable Diffusion's class (SD 1.x/2.x: 198 MB in float32; the shipped shapes models'
/// are 2 MB): one decode per step costs about one denoiser step at any size (measured at 256 px on SD 1.5's widths:
/// 6.8 s per step with it, 3.1 s without; bench/bench_vs_diffusers.sh).
constexpr std::uintmax_t kLargeVaeDecoderBytes = std::uintmax_t{64} << 20;
/// --x0-view auto: "preview" (the package's latent-to-RGB map) when the image is 512 px or larger or the package's
/// vae/decoder.pt has kLargeVaeDecoderBytes or more, "decode" otherwise or without a preview.
std::string auto_x0_view(bool has_preview, int image_side, std::uintmax_t decoder_bytes);

}  // namespace diffscope
