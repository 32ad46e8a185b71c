// Package and schedule descriptions for `info` and `schedule` (see describe.h).
#include "diffscope/study/describe.h"

#include "diffscope/engine/model.h"
#include "diffscope/engine/model_info.h"
#include "diffscope/sched/scheduler.h"
#include "diffscope/sched/scheduler_config.h"

namespace diffscope {

ModelDescription describe_model(const std::string& dir) {
  const Model m = Model::load(dir, "cpu");
  ModelDescription d;
  d.context_dim = m.context_dim();
  d.info = m.info();
  d.vocab_size = m.tokenizer().vocab_size();
  d.scheduler = m.default_scheduler();
  d.has_attention = m.has_attention();
  d.has_concepts = m.has_concepts();
  d.has_preview = m.has_preview();
  return d;
}

namespace {
ScheduleTable table(const SchedulerConfig& cfg, const std::string& scheduler, int steps, int64_t image_seq_len) {
  auto s = make_scheduler(scheduler.empty() ? default_scheduler_of(cfg) : scheduler, cfg);
  if (image_seq_len > 0) s->set_image_seq_len(image_seq_len);
  s->set_timesteps(steps);
  ScheduleTable t;
  t.scheduler = s->name();
  t.timesteps = s->timesteps();
  t.sigmas = s->sigmas();
  for (double ts : t.timesteps) t.alphas_cumprod.push_back(s->alpha_bar_at(ts));
  t.init_noise_sigma = s->init_noise_sigma();
  return t;
}
}  // namespace

ScheduleTable describe_schedule(const std::string& path, const std::string& scheduler, int steps,
                                int64_t image_seq_len) {
  return table(SchedulerConfig::from_file(path), scheduler, steps, image_seq_len);
}

ScheduleTable describe_package_schedule(const std::string& dir, const std::string& scheduler, int steps,
                                        int64_t image_seq_len) {
  ModelInfo info;
  info.dir = dir;
  read_model_index(info, dir + "/model_index.json");
  read_layers(info, dir + "/" + info.denoiser_dir + "/layers.json");
  const SchedulerConfig cfg = package_scheduler_config(info);
  if (image_seq_len <= 0 && cfg.use_dynamic_shifting) {  // the default size's tokens
    const int latent = info.sample_size / info.vae_scale_factor;
    image_seq_len = image_token_count(info, latent, latent);
  }
  return table(cfg, scheduler, steps, image_seq_len);
}

}  // namespace diffscope
