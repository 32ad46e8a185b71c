// The denoising loop: StableDiffusionPipeline's order of operations, with observer hooks at each step.
#include "diffscope/engine/pipeline.h"

#include "diffscope/engine/runtime.h"

#include <cmath>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>

#include <chrono>

#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/engine/model.h"
#include "diffscope/util/npy.h"
#include "diffscope/util/progress.h"
#include "diffscope/sched/scheduler.h"

namespace diffscope {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

at::Tensor ids_tensor(const Encoding& e) {
  return at::tensor(e.ids, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
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
  const int f = info.vae_scale_factor;
  const int h = o.height ? o.height : info.sample_size, w = o.width ? o.width : info.sample_size;
  if (h <= 0 || w <= 0 || h % f || w % f)
    throw Error("--height/--width: expected positive multiples of " + std::to_string(f) + " (the VAE factor), got " +
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
      peak = std::max(peak, 2.0 * (o.guidance_scale > 1.0 ? 2 : 1) * info.attention_layers[l].heads * tokens * tokens * 4);
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
}

at::Tensor encode_prompts(const Model& model, const Encoding& prompt, const std::string& negative, bool guided) {
  at::Tensor ids = ids_tensor(prompt);
  if (guided) ids = at::cat({ids_tensor(model.tokenize(negative)), ids}, 0);  // diffusers: [uncond, cond]
  return model.encode_text(ids);
}

at::Tensor guided_noise(const Model& model, const at::Tensor& latent_in, double timestep, const at::Tensor& context,
                        double guidance_scale, DenoiserOutput* raw, const at::Tensor& concepts) {
  const int64_t b = context.size(0);
  // contiguous: a traced UNet given stride-0 (expanded) inputs runs many times slower (measured 15x on a batch of 16)
  at::Tensor x = b == 1 ? latent_in : latent_in.expand({b, -1, -1, -1}).contiguous();
  at::Tensor t = at::full({b}, timestep, at::TensorOptions().dtype(at::kFloat).device(x.device()));
  DenoiserOutput out = model.denoise(
      x, t, context, concepts.defined() ? concepts.unsqueeze(0).expand({b, -1, -1}).contiguous() : at::Tensor());
  at::Tensor noise = out.prediction;
  if (b == 2) {
    noise = guidance_combine(noise.narrow(0, 0, 1), noise.narrow(0, 1, 1), guidance_scale);
  }
  if (raw) *raw = std::move(out);
  return noise;
}

std::unique_ptr<Scheduler> run_scheduler(const Model& model, const GenerateOptions& o) {
  auto sched = make_scheduler(o.scheduler.empty() ? model.default_scheduler() : o.scheduler, model.scheduler_config());
  if (sched->name() == "flow_euler")
    throw Error("--scheduler flow_euler: samples models trained with flow matching (SD3, Flux), whose denoiser predicts "
                "a velocity; " + model.info().name + "'s predicts " + prediction_name(model.info().prediction_type) +
                " (choose ddim, ddpm, pndm, euler, euler_a, lms or dpm++2m)");
  if (!o.custom_timesteps.empty()) {
    sched->set_custom_timesteps(o.custom_timesteps);
  } else {
    sched->set_timesteps(o.steps);
  }
  if (o.eta != 0.0 && sched->name() != "ddim") throw Error("--eta: only the DDIM scheduler takes eta");
  return sched;
}

GenerateResult generate(const Model& model, const GenerateOptions& o, const std::vector<Observer*>& observers) {
  validate(model, o);
  const auto& info = model.info();
  const at::Device dev = model.device();
  const int height = o.height ? o.height : info.sample_size, width = o.width ? o.width : info.sample_size;
  const int64_t lh = height / info.vae_scale_factor, lw = width / info.vae_scale_factor, lc = info.latent_channels;
  const bool guided = o.guidance_scale > 1.0;

  at::NoGradGuard no_grad;  // no autograd bookkeeping in the loop (observers may keep the tensors)
  GenerateResult res;
  auto t0 = Clock::now();
  res.encoding = model.tokenize(o.prompt);
  at::Tensor context = encode_prompts(model, res.encoding, o.negative_prompt, guided);
  if (o.concept_context != "prompt" && o.concept_context != "alone")
    throw Error("--concept-context " + o.concept_context + ": expected prompt or alone");
  const at::Tensor concepts =
      o.concepts.empty() ? at::Tensor()
                         : model.encode_concepts(o.concepts, o.concept_context == "prompt" ? o.prompt : "").to(dev);
  res.seconds_text = since(t0);

  auto sched = run_scheduler(model, o);
  res.timesteps = sched->timesteps();
  res.scheduler = sched->name();

  // diffusers' prepare_latents: randn on a CPU generator seeded with `seed`, then times init_noise_sigma.
  at::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(o.seed));
  at::Tensor latents = o.init_latents_path.empty()
                           ? at::randn({1, lc, lh, lw}, gen, at::TensorOptions().dtype(at::kFloat))
                           : load_init_latents(o.init_latents_path, lc, lh, lw);
  latents = (latents * sched->init_noise_sigma()).to(dev);
  res.initial_latent = latents.cpu();

  RunContext ctx;
  ctx.model = &model;
  ctx.encoding = &res.encoding;
  ctx.timesteps = res.timesteps;
  ctx.latent_height = static_cast<int>(lh);
  ctx.latent_width = static_cast<int>(lw);
  ctx.guided = guided;
  ctx.guidance_scale = o.guidance_scale;
  ctx.concepts = o.concepts;
  for (auto* ob : observers) ob->on_begin(ctx, latents);

  t0 = Clock::now();
  Progress progress("denoising", static_cast<int>(res.timesteps.size()), !o.show_progress);
  for (size_t i = 0; i < res.timesteps.size(); ++i) {
    const double t = res.timesteps[i];
    at::Tensor latent_in = sched->scale_model_input(latents, t);
    DenoiserOutput raw;
    at::Tensor noise = guided_noise(model, latent_in, t, context, o.guidance_scale, &raw, concepts);
    StepOutput so = sched->step(noise, t, latents, gen);
    if (!at::isfinite(so.prev_sample).all().item<bool>())
      throw Error("step " + std::to_string(i) + " (t=" + format_number(t) + "): the latent is no longer finite (NaN or " +
                  (at::isfinite(noise).all().item<bool>() ? std::string("inf after the " + sched->name() + " update")
                                                          : std::string("inf in the denoiser's output")) +
                  "); the run was stopped before run.json was written. Check the scheduler configuration (e.g. zero terminal "
                  "SNR with epsilon prediction) and --init-latents", kExitFailure);
    StepState st;
    st.index = static_cast<int>(i);
    st.timestep = t;
    st.latent_in = &latents;
    st.prediction = &noise;
    st.x0 = &so.pred_original_sample;
    st.latent_out = &so.prev_sample;
    st.text_attention = &raw.text_attention;
    st.features = &raw.features;
    st.concept_attention = &raw.concept_attention;
    for (auto* ob : observers) ob->on_step(ctx, st);
    latents = so.prev_sample;
    progress.tick("t=" + format_number(t));
  }
  progress.finish();
  res.seconds_loop = since(t0);
  res.final_latent = latents.cpu();
  for (auto* ob : observers) ob->on_end(ctx, latents);

  t0 = Clock::now();
  res.image = model.decode(latents).cpu();
  res.seconds_decode = since(t0);
  return res;
}

}  // namespace diffscope
