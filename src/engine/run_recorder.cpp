// Records a run while it happens and writes the run folder (run.json last, so its presence means complete).
#include "diffscope/engine/run_recorder.h"

#include <ATen/ATen.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <thread>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/engine/attention_capture.h"
#include "diffscope/util/error.h"
#include "diffscope/util/figure.h"
#include "diffscope/util/image.h"
#include "diffscope/util/json_util.h"
#include "diffscope/engine/model.h"
#include "diffscope/util/npy.h"
#include "diffscope/engine/pipeline.h"
#include "diffscope/engine/runtime.h"
#include "diffscope/version.h"

namespace fs = std::filesystem;

namespace diffscope {

namespace {

/// Writes PNGs on one background thread so image encoding overlaps with the denoising loop.
class PngQueue {
 public:
  PngQueue() : worker_([this] { run(); }) {}
  ~PngQueue() { close(); }
  void push(std::string path, cv::Mat img) {
    std::lock_guard<std::mutex> lk(m_);
    q_.emplace_back(std::move(path), std::move(img));
    cv_.notify_one();
  }
  /// Waits for every queued image; rethrows the first write error.
  void close() {
    {
      std::lock_guard<std::mutex> lk(m_);
      if (closed_) return;
      closed_ = true;
      cv_.notify_one();
    }
    worker_.join();
    if (!error_.empty()) throw Error(error_, kExitFailure);
  }

 private:
  void run() {
    for (;;) {
      std::pair<std::string, cv::Mat> item;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return closed_ || !q_.empty(); });
        if (q_.empty()) return;
        item = std::move(q_.front());
        q_.pop_front();
      }
      try {
        write_png(item.first, item.second);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lk(m_);
        if (error_.empty()) error_ = e.what();
      }
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, cv::Mat>> q_;
  bool closed_ = false;
  std::string error_;
  std::thread worker_;
};

cv::Mat to_bgr(const at::Tensor& image) {  // [1,3,H,W] in [-1,1]
  at::Tensor c = image.to(at::kCPU).to(at::kFloat).contiguous();
  return chw_to_bgr8(c.data_ptr<float>(), 3, static_cast<int>(c.size(2)), static_cast<int>(c.size(3)));
}

void write_tensor_npy(const std::string& path, const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU).to(at::kFloat).contiguous();
  std::vector<int64_t> shape(c.sizes().begin(), c.sizes().end());
  write_npy(path, c.data_ptr<float>(), shape);
}

char step_name_buf[32];
std::string step_file(int index) {
  std::snprintf(step_name_buf, sizeof step_name_buf, "x0_%03d.png", index);
  return step_name_buf;
}

}  // namespace

struct RunRecorder::Impl {
  RunRecorderOptions options;
  std::vector<at::Tensor> latents;
  std::vector<int> x0_steps;
  std::vector<cv::Mat> thumbs;
  std::unique_ptr<PngQueue> queue;
  int num_steps = 0;
  const Model* model = nullptr;
};

RunRecorder::RunRecorder(RunRecorderOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (impl_->options.x0_every < 0) throw Error("--x0-every: expected a number >= 0 (0 = no x0 images)");
  if (impl_->options.x0_view != "decode" && impl_->options.x0_view != "preview")
    throw Error("--x0-view " + impl_->options.x0_view + ": expected decode or preview");
}

RunRecorder::~RunRecorder() {
  try {
    if (impl_->queue) impl_->queue->close();
  } catch (...) {
  }
}

void RunRecorder::on_begin(const RunContext& ctx, const at::Tensor& initial_latent) {
  ensure_dir(impl_->options.dir);
  if (impl_->options.x0_every > 0) ensure_dir((fs::path(impl_->options.dir) / "steps").string());
  impl_->latents.assign(1, initial_latent.to(at::kCPU).squeeze(0));
  impl_->num_steps = static_cast<int>(ctx.timesteps.size());
  impl_->model = ctx.model;
  impl_->queue = std::make_unique<PngQueue>();
}

void RunRecorder::on_step(const RunContext& ctx, const StepState& step) {
  impl_->latents.push_back(step.latent_out->to(at::kCPU).squeeze(0));
  const int every = impl_->options.x0_every;
  if (every <= 0) return;
  if (step.index % every != 0 && step.index != impl_->num_steps - 1) return;
  const bool preview = impl_->options.x0_view == "preview";
  cv::Mat img = to_bgr(preview ? ctx.model->preview(*step.x0) : ctx.model->decode(*step.x0));
  impl_->x0_steps.push_back(step.index);
  impl_->thumbs.push_back(img);
  impl_->queue->push((fs::path(impl_->options.dir) / "steps" / step_file(step.index)).string(), img);
}

void RunRecorder::on_end(const RunContext&, const at::Tensor&) {}

at::Tensor RunRecorder::latents() const { return at::stack(impl_->latents); }

void RunRecorder::write(const GenerateOptions& o, const GenerateResult& r, const AttentionCapture* attention,
                        const nlohmann::json& extra) {
  const fs::path dir(impl_->options.dir);
  cv::Mat final_img = to_bgr(r.image);
  impl_->queue->push((dir / "final.png").string(), final_img);
  if (impl_->options.x0_view == "preview" && !impl_->x0_steps.empty())  // what emergence compares previews with
    impl_->queue->push((dir / "steps" / "final_preview.png").string(), to_bgr(impl_->model->preview(r.final_latent)));
  if (!impl_->thumbs.empty()) {  // wrapped into rows, each image captioned with its step and timestep
    std::vector<cv::Mat> cells = impl_->thumbs;
    std::vector<std::string> labels;
    for (int st : impl_->x0_steps) labels.push_back("step " + std::to_string(st) + "\nt=" + format_number(r.timesteps[st]));
    cells.push_back(final_img);
    labels.push_back("final\n ");
    GridFigure strip;
    strip.title = std::string("Each step's x0 estimate (") + (impl_->options.x0_view == "preview" ? "previewed" : "decoded") +
                  "), then the final image";
    size_t at = 0;
    for (size_t n : wrap_rows(cells.size(), impl_->options.filmstrip_columns)) {
      strip.cells.emplace_back(cells.begin() + static_cast<long>(at), cells.begin() + static_cast<long>(at + n));
      strip.cell_labels.emplace_back(labels.begin() + static_cast<long>(at), labels.begin() + static_cast<long>(at + n));
      at += n;
    }
    write_grid_figure((dir / "steps" / "filmstrip.png").string(), strip);
  }
  write_tensor_npy((dir / "latents.npy").string(), latents());

  nlohmann::json j;
  j["diffscope_version"] = DIFFSCOPE_VERSION;
  j["torch_version"] = torch_version();
  nlohmann::json in;
  in["prompt"] = o.prompt;
  in["negative_prompt"] = o.negative_prompt;
  in["seed"] = o.seed;
  in["steps"] = static_cast<int>(r.timesteps.size());
  in["guidance_scale"] = o.guidance_scale;
  in["height"] = r.image.size(2);
  in["width"] = r.image.size(3);
  in["eta"] = o.eta;
  in["init_latents"] = o.init_latents_path;
  in["scheduler"] = r.scheduler;
  in["concepts"] = o.concepts;
  // how the scale acted: "cfg" (a negative-prompt row), "off" (<= 1), "distilled" (a model input, Flux-dev) or
  // "ignored" (a model without guidance, Flux-schnell)
  if (const Model* m = impl_->model) {
    const std::string& mode = m->info().guidance;
    in["guidance_mode"] = mode == "cfg" ? (o.guidance_scale > 1.0 ? "cfg" : "off") : mode == "distilled" ? "distilled" : "ignored";
  }
  j["inputs"] = in;
  if (const Model* m = impl_->model) {
    const auto& info = m->info();
    nlohmann::json files = nlohmann::json::object();
    for (const auto& [f, hash] : m->file_hashes()) files[f] = hash;
    const fs::path concepts = fs::path(info.dir) / "concepts.json";
    j["model"] = {{"name", info.name},
                  {"dir", fs::absolute(info.dir).lexically_normal().string()},
                  {"sample_size", info.sample_size},
                  {"vae_scale_factor", info.vae_scale_factor},
                  {"family", info.family},
                  {"denoiser", info.traits().denoiser},
                  {"text_encoder", info.traits().text_encoder},
                  {"prediction_type", prediction_name(info.prediction_type)},
                  {"concepts", fs::exists(concepts) ? fs::absolute(concepts).lexically_normal().string() : ""},
                  {"files", files}};
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : info.attention_layers)
      layers.push_back({{"name", l.name}, {"block", l.block}, {"heads", l.heads}, {"height", l.height}, {"width", l.width}});
    j["model"]["attention_layers"] = layers;
  }
  j["timesteps"] = numbers_json(r.timesteps);
  j["latent_shape"] = {r.final_latent.size(1), r.final_latent.size(2), r.final_latent.size(3)};
  j["ids"] = r.encoding.ids;
  if (!r.encoding.leading_ids.empty()) j["clip_ids"] = r.encoding.leading_ids;  // Flux: CLIP's, for the pooled vector
  j["tokens"] = r.encoding.tokens;
  j["token_count"] = r.encoding.length;
  nlohmann::json words = nlohmann::json::array();
  for (const auto& w : r.encoding.words)
    words.push_back({{"word", w.text}, {"positions", w.positions}, {"punctuation", w.punctuation}});
  j["words"] = words;
  j["dropped_words"] = r.encoding.dropped_words;
  j["x0_steps"] = impl_->x0_steps;
  j["x0_view"] = impl_->options.x0_view;
  j["timings"] = {{"text_encoder_s", r.seconds_text}, {"loop_s", r.seconds_loop}, {"decode_s", r.seconds_decode}};
  if (!r.seconds_steps.empty()) j["timings"]["steps_s"] = r.seconds_steps;
  if (const Model* m = impl_->model) j["timings"]["load_s"] = m->load_seconds();  // shared by a process's runs
  if (attention) {
    ensure_dir((dir / "attention").string());
    write_tensor_npy((dir / "attention" / "maps.npy").string(), attention->maps());
    nlohmann::json a;
    a["file"] = "attention/maps.npy";
    a["shape"] = std::vector<int64_t>(attention->maps().sizes().begin(), attention->maps().sizes().end());
    a["half"] = attention->options().half;
    a["layers"] = attention->layers_used();
    const FamilyTraits& traits = impl_->model ? impl_->model->info().traits() : family_traits("unet");
    a["reduction"] = traits.maps + " averaged over heads, bilinear to the latent grid, averaged over layers";
    a["sha256"] = sha256_file((dir / "attention" / "maps.npy").string());  // ties the array to this run.json
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& [step, t] : attention->layer_maps()) {
      std::string f = "attention/layers_step" + std::to_string(step) + ".npy";
      write_tensor_npy((dir / f).string(), t);
      kept.push_back({{"step", step}, {"file", f}, {"axes", "layers,tokens,h,w"}, {"sha256", sha256_file((dir / f).string())}});
    }
    for (const auto& [step, t] : attention->head_maps()) {
      std::string f = "attention/heads_step" + std::to_string(step) + ".npy";
      write_tensor_npy((dir / f).string(), t);
      kept.push_back({{"step", step}, {"file", f}, {"axes", "layers,heads,tokens,h,w"}, {"sha256", sha256_file((dir / f).string())}});
    }
    a["kept"] = kept;
    if (attention->concept_maps().defined()) {  // generate --concepts: same reduction, one map per concept
      const std::string f = "attention/concept_maps.npy";
      write_tensor_npy((dir / f).string(), attention->concept_maps());
      const auto& sz = attention->concept_maps().sizes();
      a["concepts"] = {{"file", f}, {"words", o.concepts}, {"context", o.concept_context},
                       {"shape", std::vector<int64_t>(sz.begin(), sz.end())},
                       {"reduction", traits.concept_maps},
                       {"sha256", sha256_file((dir / f).string())}};
    }
    if (attention->text_query_maps().defined()) {  // generate --text-queries: the reverse direction, same reduction
      const std::string f = "attention/text_query_maps.npy";
      write_tensor_npy((dir / f).string(), attention->text_query_maps());
      const auto& sz = attention->text_query_maps().sizes();
      a["text_queries"] = {{"file", f}, {"shape", std::vector<int64_t>(sz.begin(), sz.end())},
                           {"reduction", "per text token, its query's probabilities over the image tokens (the joint "
                                         "softmax's text-query x image-key block), averaged as maps.npy"},
                           {"sha256", sha256_file((dir / f).string())}};
    }
    j["attention"] = a;
  }
  impl_->queue->close();
  j["outputs"] = {{"final", "final.png"}, {"latents", "latents.npy"},
                  {"latents_sha256", sha256_file((dir / "latents.npy").string())}};
  if (extra.is_object()) j.update(extra);
  write_json_atomic((dir / "run.json").string(), j);
}

}  // namespace diffscope
