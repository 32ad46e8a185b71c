// diffscope::generate: the denoising loop (text encoding, CFG, scheduler steps, observer hooks).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diffscope/engine/model.h"
#include "diffscope/engine/observer.h"
#include "diffscope/sched/scheduler.h"
#include "diffscope/text/tokenizer.h"

namespace diffscope {

/// Inputs of one generation, mirroring StableDiffusionPipeline's arguments.
struct GenerateOptions {
  std::string prompt;
  std::string negative_prompt;          ///< "" = unconditional, as diffusers
  int64_t seed = 0;                     ///< torch.Generator("cpu").manual_seed(seed) equivalent
  int steps = 25;
  double guidance_scale = 7.5;          ///< CFG active when > 1
  int height = 0, width = 0;            ///< pixels; 0 = the package's sample_size
  std::string scheduler;                ///< "" = the package's scheduler_config class
  double eta = 0.0;                     ///< DDIM only
  std::vector<int64_t> custom_timesteps;  ///< overrides steps when non-empty
  std::string init_latents_path;        ///< .npy [1,C,h,w] or [C,h,w]; replaces the seeded noise
  std::vector<std::string> concepts;    ///< open-vocabulary concept words (maps only; the image is unchanged)
  std::string concept_context = "prompt";  ///< concepts encoded after the prompt ("prompt") or on their own ("alone")
  bool capture_maps = true;             ///< false: the denoiser's prediction alone (Model::predict), no maps for observers
  bool text_queries = false;            ///< also the text-query x image-key maps (transformer packages)
  bool show_progress = true;
};

/// What the loop produced; the observers hold everything per step.
struct GenerateResult {
  Encoding encoding;
  std::string scheduler;                    ///< the scheduler used ("pndm", "ddim", ...)
  std::vector<double> timesteps;
  at::Tensor initial_latent, final_latent;  ///< [1,C,h,w] on CPU
  at::Tensor image;                         ///< decoded final image [1,3,H,W] in [-1,1], CPU
  double seconds_text = 0, seconds_loop = 0, seconds_decode = 0;
  std::vector<double> seconds_steps;  ///< each step's wall time (denoiser, scheduler, observers); a batch's are shared
};

/// Checks options against the model (size multiple of the VAE factor, steps > 0, ...); Error on the first problem.
void validate(const Model& model, const GenerateOptions& options);

/// The scheduler a run of `options` uses (the package's unless options.scheduler), set to its timesteps; its
/// timesteps() are the loop's steps (PNDM runs one more than --steps, as diffusers does).
std::unique_ptr<Scheduler> run_scheduler(const Model& model, const GenerateOptions& options);
/// A scheduler that knows the model's training forward process (add_noise at an integer t, alpha_bar_at): DDIM's
/// table for epsilon/v packages, flow_euler's (1 - t/T) x0 + (t/T) noise for flow-matching ones. For real-image
/// attribution, features and step reconstruction.
std::unique_ptr<Scheduler> training_scheduler(const Model& model);
/// Error naming --t unless 0 <= t < the training schedule's num_train_timesteps.
void check_training_timesteps(const Scheduler& training, const std::vector<int64_t>& timesteps);

/// Runs the loop, calling every observer at each step. Deterministic for a seed and thread count.
GenerateResult generate(const Model& model, const GenerateOptions& options,
                        const std::vector<Observer*>& observers);

/// The same loop for several prompts at once: one denoiser call per step for all of them (batch rows
/// [uncond_0, cond_0, uncond_1, cond_1, ...]), each prompt with its own seed, generator, scheduler state and
/// observers, which see exactly what they would see in a run of that prompt alone (its [uncond, cond] slice of every
/// map). Results equal single-prompt runs up to the denoiser's batched arithmetic. The options must agree on
/// everything the loop shares (check_batchable); seconds_loop is the batch's. generate() is this with one prompt.
std::vector<GenerateResult> generate_batch(const Model& model, const std::vector<GenerateOptions>& options,
                                           const std::vector<std::vector<Observer*>>& observers);

/// Error naming what differs when two generations cannot share one batched loop (steps, scheduler, guidance, size,
/// eta, concept count).
void check_batchable(const GenerateOptions& a, const GenerateOptions& b);

/// Whether a run with this guidance scale batches a negative-prompt row (classifier-free guidance): --guidance > 1 on
/// a package whose "guidance" is "cfg"; never on a guidance-distilled or unguided one (Flux).
bool uses_cfg(const ModelInfo& info, double guidance_scale);

/// Text embeddings for [negative, prompt] (uses_cfg) or [prompt]: [B, L, D]. On a guidance-distilled package the
/// scale is written into the pooled row's guidance entry, which the transformer embeds.
at::Tensor encode_prompts(const Model& model, const Encoding& prompt, const std::string& negative,
                          double guidance_scale);
/// Not a guidance scale: a bool would convert to 0 or 1 and silently drop the negative-prompt row.
at::Tensor encode_prompts(const Model&, const Encoding&, const std::string&, bool) = delete;

/// One guided UNet evaluation on an already scale_model_input'ed latent [1,C,h,w]: noise = u + w (c - u).
/// `context` is encode_prompts' output (batch 2 when guided); `raw` receives the batched UNet output.
at::Tensor guided_noise(const Model& model, const at::Tensor& latent_in, double timestep, const at::Tensor& context,
                        double guidance_scale, DenoiserOutput* raw = nullptr);

}  // namespace diffscope
