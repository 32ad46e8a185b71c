// The denoising loop: StableDiffusionPipeline's order of operations, with observer hooks at each step.
#include "diffscope/engine/pipeline.h"

#include "diffscope/sched/scheduler_names.h"

#include "diffscope/engine/runtime.h"

#include <cmath>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>

#include <chrono>

#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/engine/model.h"
#include "diffscope/engine/family.h"
#include "diffscope/util/npy.h"
#include "diffscope/util/progress.h"
#include "diffscope/sched/scheduler.h"

namespace diffscope {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

at::Tensor ids_tensor(const Encoding& e) {
  return at::tensor(encoder_ids(e), at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
}

at::Tensor load_init_latents(const std::string& path, int64_t c, int64_t h, int64_t w) {
  NpyArray a = read_npy(path);
  require_finite(a, "--init-latents " + path);
  const bool ok = (a.shape.size() == 4 && a.shape[0] == 1 && a.shape[1] == c && a.shape[2] == h && a.shape[3] == w) ||
                  (a.shape.size() == 3 && a.shape[0] == c && a.shape[1] == h && a.shape[2] == w);
  if (!ok)
    throw Error("--init-latents " + path + ": expected shape [1," + std::to_string(c) + "," + std::to_string(h) + "," +
                std::to_string(w) + "] (or without the leading 1) for this size");
  return at::from_blob(a.data.data(), {1, c, h, w}, at::kFloat).clone();
}
}  // namespace

static std::string format_gb(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f GB", bytes / 1e9);
  return b;
}

void validate(const Model& model, const GenerateOptions& o) {
  const auto& info = model.info();
  const int f = info.vae_scale_factor, m = image_size_multiple(info);
  const int h = o.height ? o.height : info.sample_size, w = o.width ? o.width : info.sample_size;
  if (h <= 0 || w <= 0 || h % m || w % m)
    throw Error("--height/--width: expected positive multiples of " + std::to_string(m) +
                (m == f ? " (the VAE factor)" : " (the VAE factor times the transformer's patch size)") + ", got " +
                std::to_string(h) + "x" + std::to_string(w));
  if (h > kMaxImageSide || w > kMaxImageSide)
    throw Error("--height/--width: at most " + std::to_string(kMaxImageSide) + " pixels a side, got " + std::to_string(h) +
                "x" + std::to_string(w));
  // the peak of one denoiser call: the largest self-attention score matrix (batch x heads x (h_l w_l)^2 floats,
  // twice: scores and softmax), refused up front when the machine cannot hold it
  if (model.device().is_cpu() && !info.attention_layers.empty()) {
    double peak = 0;
    const int lh = h / f, lw = w / f;
    for (size_t l = 0; l < info.attention_layers.size(); ++l) {
      const auto [ah, aw] = model.layer_size(l, lh, lw);
      const double tokens = static_cast<double>(ah) * aw;
      peak = std::max(peak, 2.0 * (uses_cfg(info, o.guidance_scale) ? 2 : 1) * info.attention_layers[l].heads * tokens * tokens * 4);
    }
    const double avail = static_cast<double>(available_memory_bytes());
    if (avail > 0 && peak > avail)
      throw Error("--height/--width " + std::to_string(h) + "x" + std::to_string(w) + ": one denoiser call needs about " +
                  format_gb(peak) + " for its attention scores alone, and this machine has " + format_gb(avail) +
                  " available (use a smaller size)");
  }
  if (o.custom_timesteps.empty() && (o.steps < 1 || o.steps > 1000))
    throw Error("--steps: expected 1..1000, got " + std::to_string(o.steps));
  if (!(std::isfinite(o.guidance_scale) && o.guidance_scale >= 0.0))
    throw Error("--guidance: expected a finite number >= 0, got " + std::to_string(o.guidance_scale));
  if (!(o.eta >= 0.0 && o.eta <= 1.0)) throw Error("--eta: expected 0..1, got " + std::to_string(o.eta));
  if (o.text_queries) {
    model.require_text_queries();
    if (!o.concepts.empty())
      throw Error("--text-queries and --concepts: one at a time (each is its own pass of the exported transformer)");
    if (!o.capture_maps) throw Error("--text-queries: text-query maps are attention maps, but --no-attention captures none");
  }
  if (info.guidance != "cfg" && !o.negative_prompt.empty())
    throw Error("--negative: " + info.name + " runs without classifier-free guidance (" +
                (info.guidance == "distilled" ? std::string("its guidance is distilled into the model, as FLUX.1-dev's")
                                              : std::string("it takes no guidance, as FLUX.1-schnell")) +
                "), so there is no negative prompt");
}

bool uses_cfg(const ModelInfo& info, double guidance_scale) { return info.guidance == "cfg" && guidance_scale > 1.0; }

at::Tensor encode_prompts(const Model& model, const Encoding& prompt, const std::string& negative,
                          double guidance_scale) {
  const ModelInfo& info = model.info();
  const ModelFamily& family = model_family(info);
  at::Tensor context;
  if (!uses_cfg(info, guidance_scale)) {
    context = model.encode_text(ids_tensor(prompt));
  } else if (negative.empty() && family.zero_empty_negative(info)) {
    // StableDiffusionXLPipeline's force_zeros_for_empty_prompt: no negative prompt, zero negative rows (pooled too)
    const at::Tensor cond = model.encode_text(ids_tensor(prompt));
    context = at::cat({at::zeros_like(cond), cond}, 0);
  } else {
    context = model.encode_text(at::cat({ids_tensor(model.tokenize(negative)), ids_tensor(prompt)}, 0));  // [uncond, cond]
  }
  family.set_guidance(info, context, guidance_scale);  // a guidance-distilled model takes the scale as an input
  return context;
}

at::Tensor guided_noise(const Model& model, const at::Tensor& latent_in, double timestep, const at::Tensor& context,
                        double guidance_scale, DenoiserOutput* raw) {
  const int64_t b = context.size(0);
  // contiguous: a traced UNet given stride-0 (expanded) inputs runs many times slower (measured 15x on a batch of 16)
  at::Tensor x = b == 1 ? latent_in : latent_in.expand({b, -1, -1, -1}).contiguous();
  at::Tensor t = at::full({b}, timestep, at::TensorOptions().dtype(at::kFloat).device(x.device()));
  DenoiserOutput out = model.denoise(x, t, context);
  at::Tensor noise = out.prediction;
  if (b == 2) {
    noise = guidance_combine(noise.narrow(0, 0, 1), noise.narrow(0, 1, 1), guidance_scale);
  }
  if (raw) *raw = std::move(out);
  return noise;
}

std::unique_ptr<Scheduler> run_scheduler(const Model& model, const GenerateOptions& o) {
  auto sched = make_scheduler(o.scheduler.empty() ? model.default_scheduler() : o.scheduler, model.scheduler_config());
  const auto& info = model.info();
  const bool flow_model = info.prediction_type == Prediction::Flow;
  const bool flow_scheduler = scheduler_spec(sched->name()).flow;
  if (flow_scheduler && !flow_model) {
    std::string others;
    for (const auto& spec : scheduler_specs())
      if (!spec.flow) others += (others.empty() ? "" : ", ") + spec.name;
    throw Error("--scheduler " + sched->name() + ": samples models trained with flow matching (SD3, Flux), whose "
                "denoiser predicts a velocity; " + info.name + "'s predicts " + prediction_name(info.prediction_type) +
                " (choose one of " + others + ")");
  }
  if (!flow_scheduler && flow_model) {
    std::string flows;
    for (const auto& spec : scheduler_specs())
      if (spec.flow) flows += (flows.empty() ? "" : ", ") + spec.name;
    throw Error("--scheduler " + sched->name() + ": " + info.name + " was trained with flow matching (its denoiser "
                "predicts a velocity); use --scheduler " + flows);
  }
  if (flow_model) {  // Flux's resolution-dependent shift: the image's token count (the first map's positions)
    const int f = info.vae_scale_factor;
    sched->set_image_seq_len(image_token_count(info, (o.height ? o.height : info.sample_size) / f,
                                               (o.width ? o.width : info.sample_size) / f));
  }
  if (!o.custom_timesteps.empty()) {
    sched->set_custom_timesteps(o.custom_timesteps);
  } else {
    sched->set_timesteps(o.steps);
  }
  if (o.eta != 0.0 && sched->name() != "ddim") throw Error("--eta: only the DDIM scheduler takes eta");
  return sched;
}

std::unique_ptr<Scheduler> training_scheduler(const Model& model) {
  return make_scheduler(model.info().prediction_type == Prediction::Flow ? "flow_euler" : "ddim",
                        model.scheduler_config());
}

void check_training_timesteps(const Scheduler& training, const std::vector<int64_t>& timesteps) {
  const int64_t n = training.config().num_train_timesteps;
  for (int64_t t : timesteps)
    if (t < 0 || t >= n) throw Error("--t: timestep " + std::to_string(t) + " is outside 0.." + std::to_string(n - 1));
}

GenerateResult generate(const Model& model, const GenerateOptions& o, const std::vector<Observer*>& observers) {
  return std::move(generate_batch(model, {o}, {observers}).front());
}

void check_batchable(const GenerateOptions& a, const GenerateOptions& b) {
  const auto differ = [](const char* what) {
    throw Error(std::string("a prompt batch shares one denoising loop: ") + what +
                " must be the same for every prompt in it (give --batch-size 1 to run them one at a time)");
  };
  if (a.steps != b.steps || a.custom_timesteps != b.custom_timesteps) differ("--steps and --timestep-schedule");
  if (a.scheduler != b.scheduler) differ("--scheduler");
  if (a.guidance_scale != b.guidance_scale) differ("--guidance");
  if (a.height != b.height || a.width != b.width) differ("--height and --width");
  if (a.eta != b.eta) differ("--eta");
  if (a.capture_maps != b.capture_maps) differ("--no-attention");
  if (a.text_queries != b.text_queries) differ("--text-queries");
  if (a.concepts.size() != b.concepts.size() || a.concept_context != b.concept_context)
    differ("the number of --concepts and --concept-context");
}

std::vector<GenerateResult> generate_batch(const Model& model, const std::vector<GenerateOptions>& opts,
                                           const std::vector<std::vector<Observer*>>& observers) {
  if (opts.empty() || observers.size() != opts.size())
    throw Error("generate_batch: expected one observer list per prompt", kExitFailure);
  const size_t n = opts.size();
  for (const auto& o : opts) {
    validate(model, o);
    check_batchable(opts.front(), o);
  }
  const GenerateOptions& first = opts.front();
  const auto& info = model.info();
  const at::Device dev = model.device();
  const int height = first.height ? first.height : info.sample_size, width = first.width ? first.width : info.sample_size;
  const int64_t lh = height / info.vae_scale_factor, lw = width / info.vae_scale_factor, lc = info.latent_channels;
  const bool guided = uses_cfg(info, first.guidance_scale);
  const int64_t rows = guided ? 2 : 1;  // denoiser batch rows per prompt: [uncond, cond] or [cond]

  at::NoGradGuard no_grad;  // no autograd bookkeeping in the loop (observers may keep the tensors)
  std::vector<GenerateResult> res(n);
  auto t0 = Clock::now();
  // the denoiser batch, prompt after prompt: [uncond_0, cond_0, uncond_1, cond_1, ...]
  std::vector<at::Tensor> contexts, concept_rows;
  for (size_t k = 0; k < n; ++k) {
    res[k].encoding = model.tokenize(opts[k].prompt);
    contexts.push_back(encode_prompts(model, res[k].encoding, opts[k].negative_prompt, opts[k].guidance_scale));
    if (opts[k].concept_context != "prompt" && opts[k].concept_context != "alone")
      throw Error("--concept-context " + opts[k].concept_context + ": expected prompt or alone");
    if (!opts[k].concepts.empty())
      concept_rows.push_back(model.encode_concepts(opts[k].concepts, opts[k].concept_context == "prompt" ? opts[k].prompt : "")
                                 .to(dev)
                                 .unsqueeze(0)
                                 .expand({rows, -1, -1}));
  }
  const at::Tensor context = n == 1 ? contexts.front() : at::cat(contexts);
  const at::Tensor concepts = concept_rows.empty() ? at::Tensor() : at::cat(concept_rows).contiguous();
  const double seconds_text = since(t0);
  model.end_of_encoding();  // frees the text encoder for a one-shot caller (Model::set_encode_once)

  // one scheduler, generator and latent per prompt: each prompt steps exactly as it would alone
  std::vector<std::unique_ptr<Scheduler>> scheds;
  std::vector<at::Generator> gens;
  std::vector<at::Tensor> latents;
  std::vector<RunContext> ctxs(n);
  for (size_t k = 0; k < n; ++k) {
    const GenerateOptions& o = opts[k];
    scheds.push_back(run_scheduler(model, o));
    res[k].timesteps = scheds[k]->timesteps();
    res[k].scheduler = scheds[k]->name();
    // diffusers' prepare_latents: randn on a CPU generator seeded with `seed`, then times init_noise_sigma.
    gens.push_back(at::detail::createCPUGenerator(static_cast<uint64_t>(o.seed)));
    at::Tensor lat = o.init_latents_path.empty()
                         ? at::randn({1, lc, lh, lw}, gens[k], at::TensorOptions().dtype(at::kFloat))
                         : load_init_latents(o.init_latents_path, lc, lh, lw);
    latents.push_back((lat * scheds[k]->init_noise_sigma()).to(dev));
    res[k].initial_latent = latents[k].cpu();
    RunContext& ctx = ctxs[k];
    ctx.model = &model;
    ctx.encoding = &res[k].encoding;
    ctx.timesteps = res[k].timesteps;
    ctx.latent_height = static_cast<int>(lh);
    ctx.latent_width = static_cast<int>(lw);
    ctx.guided = guided;
    ctx.guidance_scale = o.guidance_scale;
    ctx.concepts = o.concepts;
    ctx.text_queries = o.text_queries;
    for (auto* ob : observers[k]) ob->on_begin(ctx, latents[k]);
  }

  t0 = Clock::now();
  const auto& timesteps = res.front().timesteps;
  Progress progress(n == 1 ? std::string("denoising") : "denoising " + std::to_string(n) + " prompts",
                    static_cast<int>(timesteps.size()), !first.show_progress);
  const auto slice = [&](const std::vector<at::Tensor>& all, size_t k) {
    if (n == 1) return all;
    std::vector<at::Tensor> out;
    for (const auto& a : all) out.push_back(a.narrow(0, static_cast<int64_t>(k) * rows, rows));
    return out;
  };
  std::vector<double> seconds_steps;
  for (size_t i = 0; i < timesteps.size(); ++i) {
    const auto step_start = Clock::now();
    const double t = timesteps[i];
    std::vector<at::Tensor> inputs;
    // contiguous: a traced UNet given stride-0 (expanded) inputs runs many times slower (measured 15x on a batch of 16)
    for (size_t k = 0; k < n; ++k) {
      const at::Tensor in = scheds[k]->scale_model_input(latents[k], t);
      inputs.push_back(rows == 1 ? in : in.expand({rows, -1, -1, -1}));
    }
    const at::Tensor x = n == 1 && rows == 1 ? inputs.front() : at::cat(inputs).contiguous();
    const at::Tensor ts = at::full({x.size(0)}, t, at::TensorOptions().dtype(at::kFloat).device(x.device()));
    DenoiserOutput raw;
    if (first.capture_maps || concepts.defined() || first.text_queries)
      raw = model.denoise(x, ts, context, concepts, first.text_queries);
    else
      raw.prediction = model.predict(x, ts, context);  // nobody reads maps: none are computed for output
    for (size_t k = 0; k < n; ++k) {
      const at::Tensor pred = raw.prediction.narrow(0, static_cast<int64_t>(k) * rows, rows);
      const at::Tensor noise =
          rows == 2 ? guidance_combine(pred.narrow(0, 0, 1), pred.narrow(0, 1, 1), first.guidance_scale) : pred;
      StepOutput so = scheds[k]->step(noise, t, latents[k], gens[k]);
      if (!at::isfinite(so.prev_sample).all().item<bool>())
        throw Error("step " + std::to_string(i) + " (t=" + format_number(t) + "): the latent is no longer finite (NaN or " +
                    (at::isfinite(noise).all().item<bool>() ? std::string("inf after the " + scheds[k]->name() + " update")
                                                            : std::string("inf in the denoiser's output")) +
                    "); the run was stopped before run.json was written. Check the scheduler configuration (e.g. zero "
                    "terminal SNR with epsilon prediction) and --init-latents", kExitFailure);
      const std::vector<at::Tensor> attention = slice(raw.text_attention, k), features = slice(raw.features, k),
                                    concept_attention = slice(raw.concept_attention, k),
                                    text_queries = slice(raw.text_queries, k);
      StepState st;
      st.index = static_cast<int>(i);
      st.timestep = t;
      st.latent_in = &latents[k];
      st.prediction = &noise;
      st.x0 = &so.pred_original_sample;
      st.latent_out = &so.prev_sample;
      st.text_attention = &attention;
      st.features = &features;
      st.concept_attention = &concept_attention;
      st.text_queries = &text_queries;
      for (auto* ob : observers[k]) ob->on_step(ctxs[k], st);
      latents[k] = so.prev_sample;
    }
    seconds_steps.push_back(since(step_start));
    progress.tick("t=" + format_number(t));
  }
  progress.finish();
  const double seconds_loop = since(t0);
  for (size_t k = 0; k < n; ++k) {
    res[k].final_latent = latents[k].cpu();
    for (auto* ob : observers[k]) ob->on_end(ctxs[k], latents[k]);
    t0 = Clock::now();
    res[k].image = model.decode(latents[k]).cpu();
    res[k].seconds_decode = since(t0);
    res[k].seconds_text = seconds_text;
    res[k].seconds_loop = seconds_loop;
    res[k].seconds_steps = seconds_steps;
  }
  return res;
}

}  // namespace diffscope
