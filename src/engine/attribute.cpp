// Real-image attribution: the same observers as a generation, fed by single-step denoising from noised latents.
#include "diffscope/engine/attribute.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <opencv2/imgproc.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/image.h"
#include "diffscope/engine/model.h"
#include "diffscope/engine/pipeline.h"
#include "diffscope/sched/scheduler.h"

namespace diffscope {

at::Tensor load_image_tensor(const std::string& path, int size) {
  cv::Mat bgr = read_image(path);
  if (bgr.channels() == 4) cv::cvtColor(bgr, bgr, cv::COLOR_BGRA2BGR);
  if (bgr.channels() == 1) cv::cvtColor(bgr, bgr, cv::COLOR_GRAY2BGR);
  if (bgr.rows != bgr.cols) {  // centre crop to a square
    const int s = std::min(bgr.rows, bgr.cols);
    bgr = bgr(cv::Rect((bgr.cols - s) / 2, (bgr.rows - s) / 2, s, s)).clone();
  }
  if (bgr.rows != size) cv::resize(bgr, bgr, cv::Size(size, size), 0, 0, cv::INTER_AREA);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  at::Tensor t = at::from_blob(rgb.data, {size, size, 3}, at::kByte).clone();
  return t.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).div(127.5).sub(1.0);
}

GenerateOptions attribute_as_generate_options(const AttributeOptions& a) {
  GenerateOptions o;
  o.prompt = a.prompt;
  o.negative_prompt = a.negative_prompt;
  o.seed = a.seed;
  o.steps = static_cast<int>(a.timesteps.size());
  o.guidance_scale = a.guidance_scale;
  o.height = o.width = a.size;
  o.custom_timesteps = a.timesteps;
  o.init_latents_path = a.image_path;
  o.show_progress = false;
  return o;
}

GenerateResult attribute(const Model& model, const AttributeOptions& a, const std::vector<Observer*>& observers) {
  const auto& info = model.info();
  const int size = a.size ? a.size : info.sample_size;
  if (size % info.vae_scale_factor) throw Error("--size: expected a multiple of " + std::to_string(info.vae_scale_factor));
  if (a.timesteps.empty()) throw Error("--t: expected at least one timestep");
  auto sched = training_scheduler(model);  // the model's own forward process (DDPM's, or flow matching's)
  check_training_timesteps(*sched, a.timesteps);

  at::NoGradGuard no_grad;
  GenerateResult res;
  res.scheduler = "forward-noise";
  res.timesteps.assign(a.timesteps.begin(), a.timesteps.end());
  res.encoding = model.tokenize(a.prompt);
  auto t0 = std::chrono::steady_clock::now();
  at::Tensor context = encode_prompts(model, res.encoding, a.negative_prompt, a.guidance_scale);
  at::Tensor image = load_image_tensor(a.image_path, size);
  at::Tensor x0 = model.encode(image.to(model.device()));
  at::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(a.seed));
  at::Tensor noise = at::randn(x0.sizes(), gen, at::TensorOptions().dtype(at::kFloat)).to(model.device());
  res.seconds_text = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  RunContext ctx;
  ctx.model = &model;
  ctx.encoding = &res.encoding;
  ctx.timesteps = res.timesteps;
  ctx.latent_height = static_cast<int>(x0.size(2));
  ctx.latent_width = static_cast<int>(x0.size(3));
  ctx.guided = uses_cfg(model.info(), a.guidance_scale);
  ctx.guidance_scale = a.guidance_scale;
  for (auto* ob : observers) ob->on_begin(ctx, x0);

  t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < a.timesteps.size(); ++i) {
    const int64_t t = a.timesteps[i];  // integers: the user's --t
    at::Tensor xt = sched->add_noise(x0, noise, t);
    DenoiserOutput raw;
    at::Tensor pred = guided_noise(model, sched->scale_model_input(xt, t), t, context, a.guidance_scale, &raw);
    at::Tensor x0_hat =
        predicted_x0(info.prediction_type, pred, xt, NoiseLevel::from_alpha_bar(sched->alpha_bar_at(static_cast<double>(t))));
    StepState st;
    st.index = static_cast<int>(i);
    st.timestep = t;
    st.latent_in = &xt;
    st.prediction = &pred;
    st.x0 = &x0_hat;
    st.latent_out = &x0_hat;
    st.text_attention = &raw.text_attention;
    st.features = &raw.features;
    for (auto* ob : observers) ob->on_step(ctx, st);
  }
  res.seconds_loop = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  res.initial_latent = x0.cpu();
  res.final_latent = x0.cpu();
  for (auto* ob : observers) ob->on_end(ctx, x0);
  res.image = image;
  return res;
}

}  // namespace diffscope
