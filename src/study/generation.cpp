// One captured generation into a run folder (see generation.h).
#include "diffscope/study/generation.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "diffscope/engine/attention_capture.h"
#include "diffscope/engine/pipeline.h"
#include "diffscope/engine/run_recorder.h"
#include "diffscope/engine/runtime.h"
#include "diffscope/sched/scheduler.h"
#include "diffscope/sched/timestep_schedule.h"
#include "diffscope/util/error.h"
#include "diffscope/util/output_folder.h"
#include "diffscope/util/utf8.h"
#include "study/internal.h"

namespace diffscope {

namespace {
/// --layers values -> layer indices (each value may select several layers: a block or a resolution).
std::vector<int> select_layers(const Model& model, const std::vector<std::string>& specs) {
  const auto& layers = model.info().attention_layers;
  std::vector<int> out;
  for (const auto& spec : specs) {
    bool hit = false;
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& l = layers[i];
      const std::string res = std::to_string(l.height) + "x" + std::to_string(l.width);
      if (spec == std::to_string(i) || spec == l.name || spec == l.block || spec == res) {
        if (std::find(out.begin(), out.end(), static_cast<int>(i)) == out.end()) out.push_back(static_cast<int>(i));
        hit = true;
      }
    }
    if (!hit)
      throw Error("--layers " + spec + ": matches no cross-attention layer (give an index 0.." +
                  std::to_string(layers.size() - 1) + ", a module name, down/mid/up or a size like " +
                  (layers.empty() ? std::string("16x16") : std::to_string(layers[0].height) + "x" + std::to_string(layers[0].width)) +
                  "; see diffscope info)");
  }
  return out;
}
}  // namespace

std::string auto_x0_view(bool has_preview, int image_side, std::uintmax_t decoder_bytes) {
  if (!has_preview) return "decode";
  return image_side >= 512 || decoder_bytes >= kLargeVaeDecoderBytes ? "preview" : "decode";
}

/// --x0-view auto (auto_x0_view): previews where decoding each step costs about as much as the denoiser.
static std::string resolve_x0_view(const Model& model, const GenerationSpec& g, const GenerateOptions& o) {
  if (g.x0_view != "auto" && g.x0_view != "decode" && g.x0_view != "preview")
    throw Error("--x0-view " + g.x0_view + ": expected auto, decode or preview");
  if (g.x0_view == "preview" && !model.has_preview())
    throw Error("--x0-view preview: " + model.info().dir + "/vae/latent_rgb.json is missing (scripts/export/"
                "fit_latent_preview.py --package " + model.info().dir + " fits it)");
  if (g.x0_view != "auto") return g.x0_view;
  const int size = std::max(o.height ? o.height : model.info().sample_size, o.width ? o.width : model.info().sample_size);
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(std::filesystem::path(model.info().dir) / "vae" / "decoder.pt", ec);
  return auto_x0_view(model.has_preview(), size, ec ? 0 : bytes);
}

void check_generation(const GenerationSpec& g) {
  if (!is_valid_utf8(g.prompt)) throw Error("--prompt: not valid UTF-8 text");
  if (!is_valid_utf8(g.negative_prompt)) throw Error("--negative-prompt: not valid UTF-8 text");
  const bool blank = g.prompt.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank && !g.allow_empty_prompt)
    throw Error("--prompt: required (use --prompt \"\" with --allow-empty-prompt for an unconditional run)");
  if (g.seed < 0) throw Error("--seed: expected 0..9223372036854775807, got " + std::to_string(g.seed));
}

namespace study {

Model load_model(const std::string& dir, const Session& session) {
  const std::string device = check_device(session.device);
  set_threads(session.threads);
  Model model = Model::load(dir, device, session.verify);
  model.set_precision(session.precision);
  return model;
}

namespace {
/// One generation made ready to run: its checked options, its claimed folder and its observers.
struct Prepared {
  GenerationSpec spec;
  GenerateOptions options;
  OutputFolder folder;
  std::unique_ptr<RunRecorder> recorder;
  std::unique_ptr<AttentionCapture> attention;
  std::vector<Observer*> observers;
};

std::unique_ptr<Prepared> prepare(const Model& model, const GenerationSpec& g, const Session& session) {
  check_generation(g);
  auto p = std::make_unique<Prepared>();
  p->spec = g;
  GenerateOptions& o = p->options;
  o.prompt = g.prompt;
  o.negative_prompt = g.negative_prompt;
  o.seed = g.seed;
  o.steps = g.steps;
  o.guidance_scale = g.guidance;
  o.height = g.height;
  o.width = g.width;
  o.scheduler = g.scheduler;
  o.eta = g.eta;
  o.init_latents_path = g.init_latents;
  o.concepts = g.concepts;
  o.concept_context = g.concept_context;
  o.capture_maps = g.capture_attention;
  o.text_queries = g.text_queries;
  o.show_progress = !session.quiet;
  if (!g.timestep_schedule.empty())
    o.custom_timesteps = timesteps_from_spec(g.timestep_schedule, g.steps, model.scheduler_config().num_train_timesteps);
  validate(model, o);
  const int n_steps = static_cast<int>(run_scheduler(model, o)->timesteps().size());
  if (!g.concepts.empty()) {
    if (!g.capture_attention) throw Error("--concepts: concept maps are attention maps, but --no-attention captures none");
    if (g.concept_context != "prompt" && g.concept_context != "alone")
      throw Error("--concept-context " + g.concept_context + ": expected prompt or alone");
    // refuse a package without forward_concepts or a bad word before any work
    model.encode_concepts(g.concepts, g.concept_context == "prompt" ? g.prompt : "");
  }
  for (const auto& [option, steps] : {std::pair<const char*, const std::vector<int>*>{"--keep-layers", &g.keep_layer_steps},
                                      {"--keep-heads", &g.keep_head_steps}}) {
    if (!steps->empty() && !g.capture_attention)
      throw Error(std::string(option) + ": keeps attention maps, but --no-attention captures none");
    for (int k : *steps)
      if (k < 0 || k >= n_steps)
        throw Error(std::string(option) + " " + std::to_string(k) + ": the run has steps 0.." +
                    std::to_string(n_steps - 1));
  }
  p->folder = claim_output_folder(g.out, g.overwrite);

  RunRecorderOptions ro;
  ro.dir = g.out;
  ro.x0_every = g.x0_every;
  ro.x0_view = resolve_x0_view(model, g, o);
  ro.filmstrip_columns = g.filmstrip_columns;
  p->recorder = std::make_unique<RunRecorder>(ro);
  p->observers.push_back(p->recorder.get());
  if (g.capture_attention) {
    AttentionCaptureOptions ao;
    ao.half = g.attention_half;
    ao.layers = select_layers(model, g.layers);
    ao.keep_layer_steps = g.keep_layer_steps;
    ao.keep_head_steps = g.keep_head_steps;
    p->attention = std::make_unique<AttentionCapture>(ao);
    p->observers.push_back(p->attention.get());
  }
  return p;
}
}  // namespace

std::vector<std::string> generate_batch_with(const Model& model, const std::vector<GenerationSpec>& specs,
                                             const Session& session, const std::string& command) {
  if (specs.empty()) return {};
  const std::string device = check_device(session.device);
  std::vector<std::unique_ptr<Prepared>> runs;
  std::vector<GenerateOptions> options;
  std::vector<std::vector<Observer*>> observers;
  for (const auto& g : specs) {
    runs.push_back(prepare(model, g, session));
    options.push_back(runs.back()->options);
    observers.push_back(runs.back()->observers);
    check_batchable(options.front(), options.back());
  }
  const int threads = set_threads(session.threads);
  for (const auto& g : specs)
    spdlog::info("{}: \"{}\" seed {} on {} ({} threads)", model.info().name, g.prompt, g.seed, device, threads);
  const std::vector<GenerateResult> results = generate_batch(model, options, observers);
  std::vector<std::string> out;
  for (size_t k = 0; k < runs.size(); ++k) {
    const Prepared& p = *runs[k];
    nlohmann::json extra;
    extra["command"] = command;
    extra["threads"] = threads;
    extra["device"] = device;
    extra["precision"] = model.precision();
    if (model.precision() == "bf16" && device.rfind("cuda", 0) != 0)  // timings read differently when emulated
      extra["precision_native"] = cpu_has_native_bf16();
    extra["x0_every"] = p.spec.x0_every;
    extra["timestep_schedule"] = p.spec.timestep_schedule;
    if (runs.size() > 1) extra["batch"] = {{"size", runs.size()}, {"index", k}};  // timings.loop_s is the batch's
    p.recorder->write(p.options, results[k], p.attention.get(), extra);
    spdlog::info("{} steps in {:.2f} s; wrote {}", results[k].timesteps.size(), results[k].seconds_loop, p.spec.out);
    out.push_back(p.spec.out);
  }
  return out;
}

std::string generate_with(const Model& model, const GenerationSpec& g, const Session& session,
                          const std::string& command) {
  return generate_batch_with(model, {g}, session, command).front();
}

void for_each_prompt(const Model& model, const GenerationSpec& base, const std::vector<PromptItem>& items,
                     const std::string& root, const Session& session, const std::string& command, bool quiet_runs,
                     const std::function<void(const PromptItem&, const std::string&)>& per_run) {
  Session run_session = session;
  run_session.quiet = session.quiet || quiet_runs;
  if (session.batch_size < 1) throw Error("--batch-size: expected 1 or more, got " + std::to_string(session.batch_size));
  const size_t batch = static_cast<size_t>(session.batch_size);
  for (size_t first = 0; first < items.size(); first += batch) {  // --batch-size prompts per denoiser call
    const size_t end = std::min(items.size(), first + batch);
    std::vector<GenerationSpec> specs;
    for (size_t i = first; i < end; ++i) {
      GenerationSpec g = base;
      g.seed = items[i].seed;
      g.prompt = items[i].prompt;
      g.out = root + "/" + items[i].folder;
      spdlog::info("prompt {}/{}: \"{}\" seed {}", items[i].index + 1, items.size(), g.prompt, g.seed);
      specs.push_back(g);
    }
    const auto dirs = generate_batch_with(model, specs, run_session, command);
    for (size_t i = first; i < end; ++i) per_run(items[i], dirs[i - first]);
  }
}

}  // namespace study

std::string generate_run(const GenerationSpec& spec, const Session& session, const std::string& command) {
  check_generation(spec);
  Model model = study::load_model(spec.model, session);
  model.set_encode_once(true);  // one run: the loop runs without the text encoder's weights
  return study::generate_with(model, spec, session, command);
}

}  // namespace diffscope
