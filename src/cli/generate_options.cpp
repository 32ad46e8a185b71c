// Shared by `generate` and `analyze`: the generation options.
#include "cli/generate_options.h"
#include "cli/scheduler_help.h"

namespace diffscope::cli {

void add_generate_options(CLI::App& app, GenerateCli& cli) {
  GenerationSpec& g = cli.spec;
  app.add_option("-m,--model", g.model, "model package folder")->default_val(g.model);
  app.add_option("-p,--prompt", g.prompt, "the prompt");
  app.add_option("-n,--negative-prompt", g.negative_prompt, "negative prompt (default: unconditional \"\")");
  app.add_option("-o,--out", g.out, "run folder to write")->required();
  app.add_option("--seed", g.seed, "seed of torch.Generator(\"cpu\") for the initial noise")->default_val(0)->check(seed_range());
  app.add_option("--steps", g.steps, "inference steps")->default_val(25)->check(CLI::Range(1, 1000));
  app.add_option("-g,--guidance", g.guidance, "classifier-free guidance scale (<= 1 turns CFG off)")->default_val(7.5);
  app.add_option("--height", g.height, "image height in pixels (default: the package's sample_size)")
      ->check(CLI::Range(8, 1 << 30));  // the largest side is checked with the model (4096)
  app.add_option("--width", g.width, "image width in pixels (default: the package's sample_size)")
      ->check(CLI::Range(8, 1 << 30));  // the largest side is checked with the model (4096)
  app.add_option("--scheduler", g.scheduler, scheduler_help(" (default: the package's)"));
  app.add_option("--eta", g.eta, "DDIM eta")->default_val(0.0)->check(finite_range(0, 1));
  app.add_option("--timestep-schedule", g.timestep_schedule,
                 "exponential custom timesteps early:LAMBDA (packed at high noise) or late:LAMBDA (at low noise); "
                 "use with ddim, ddpm or euler");
  app.add_option("--init-latents", g.init_latents, ".npy [1,C,h,w] to start from instead of seeded noise");
  app.add_option("--x0-every", g.x0_every, "write steps/x0_NNN.png every N steps (0 = none)")->default_val(1)
      ->check(CLI::Range(0, 1000));
  app.add_option("--x0-view", g.x0_view,
                 "how x0 images are made: decode (one VAE decode each), preview (the package's fitted latent-to-RGB "
                 "map: nearly free, colours and layout) or auto (preview from 512 px when the package has one)")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "decode", "preview"}));
  app.add_option("--filmstrip-cols", g.filmstrip_columns, "wrap steps/filmstrip.png after N images (0 = at most 8 a row)")
      ->default_val(0)
      ->check(CLI::Range(0, 1000));
  app.add_flag("--no-attention", cli.no_attention, "do not capture cross-attention");
  app.add_option("--attention-half", g.attention_half, "CFG half whose attention is kept: cond or uncond")
      ->default_val("cond");
  app.add_option("--layers", g.layers,
                 "cross-attention layers to average: indices, module names, down/mid/up or resolutions like 16x16 "
                 "(default all; see diffscope info)")
      ->delimiter(',');
  app.add_option("--keep-layers", g.keep_layer_steps, "steps whose per-layer maps are kept (e.g. 0,12,24)")
      ->delimiter(',');
  app.add_option("--keep-heads", g.keep_head_steps, "steps whose per-head maps are kept")->delimiter(',');
  app.add_option("--concepts", g.concepts,
                 "open-vocabulary concept maps: words (need not be in the prompt), comma-separated; the image is "
                 "unchanged (the concepts analysis writes concepts/)")
      ->delimiter(',');
  app.add_flag("--text-queries", g.text_queries,
               "transformer packages: also the reverse maps, where each text token's query looks among the image tokens "
               "(attention/text_query_maps.npy; the joint softmax's text-query x image-key block)");
  app.add_option("--concept-context", g.concept_context,
                 "how a concept word is encoded: prompt (as the next word after the prompt, default) or alone")
      ->default_val("prompt")
      ->check(CLI::IsMember({"prompt", "alone"}));
  app.add_flag("--allow-empty-prompt", g.allow_empty_prompt, "accept an empty prompt (unconditional generation)");
  app.add_flag("--overwrite", g.overwrite,
               "replace an earlier diffscope output in --out (else a folder that holds one is refused)");
  add_common_options(app, cli.common);
}

void add_batch_size_option(CLI::App& app, CommonOptions& common) {
  app.add_option("--batch-size", common.batch_size,
                 "prompts denoised together: one denoiser call per step for all of them, each with its own seed "
                 "(run folders equal one-at-a-time runs up to float rounding; docs/performance.md#batching-prompts measures the speed-up)")
      ->default_val(1)
      ->check(CLI::Range(1, 256));
}

}  // namespace diffscope::cli
