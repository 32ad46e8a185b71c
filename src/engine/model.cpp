// Model package loading and validation (the contract in README "Model package").
#include "diffscope/engine/model.h"
#include "diffscope/engine/family.h"
#include "diffscope/engine/model_info.h"
#include "diffscope/engine/prompt_tokenizer.h"
#include "diffscope/engine/runtime.h"
#include "torch_compat.h"

#include <torch/script.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/version.h>

#include <filesystem>
#include <algorithm>
#include <array>
#include <map>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "diffscope/util/error.h"
#include "diffscope/util/file_hashes.h"
#include "diffscope/util/zip_check.h"
#include "diffscope/util/json_util.h"
#include "diffscope/sched/scheduler.h"

namespace fs = std::filesystem;

namespace diffscope {

struct Model::Impl {
  ModelInfo info;
  const ModelFamily* family = nullptr;  ///< chosen once, when the package loads
  PromptTokenizer tokenizer;  ///< CLIP's, and T5's when info.t5_max_length > 0
  at::Device device{at::kCPU};
  mutable std::optional<torch::jit::Module> text_encoder;  ///< empty once end_of_encoding() freed it (encode_once)
  mutable std::mutex text_encoder_mutex;
  bool encode_once = false;
  torch::jit::Module unet, decoder;
  mutable std::once_flag encoder_once;
  mutable torch::jit::Module encoder;
  at::ScalarType text_dtype = at::kFloat, unet_dtype = at::kFloat, vae_dtype = at::kFloat;
  bool plain_unet = false;
  bool concepts_method = false;  ///< unet/model.pt has forward_concepts
  bool text_queries_method = false;  ///< transformer/model.pt has forward_text_queries
  bool prediction_method = false;  ///< unet/model.pt has forward_prediction
  std::string precision = "fp32";  ///< denoiser autocast: fp32 (none), bf16, fp16
  at::Tensor preview_w, preview_b;  ///< vae/latent_rgb.json: [3,C], [3] (undefined without the file)
  double load_seconds = 0;
  bool verify = true;  ///< CRC-check the TorchScript archives (the lazily loaded encoder too)
  mutable bool unet_checked = false, text_checked = false;
  mutable std::once_flag hash_once;
  mutable std::map<std::string, std::string> hashes;  ///< file -> SHA-256, computed once per loaded model
  std::string rel(const std::string& p) const { return (fs::path(info.dir) / p).string(); }
};

namespace {
/// How LibTorch runs the package's TorchScript graphs. Its default (profiling) executor runs a graph's first call
/// recording every tensor's type, and optimises the graph in its second call; on CPU those passes fuse nothing in
/// the LibTorch we build against, but the graph they leave needs less memory, so it is kept and the profiling call
/// skipped: the graph is optimised in its first call. Measured on SD 2.x widths at 256 px (4 steps, one process
/// each): the first two denoiser calls 4.68 + 3.30 s by default, 4.17 + 2.77 s optimised at once, 3.78 + 2.88 s
/// not optimised at all, which, however, raised peak RSS from 5.45 to 6.20 GB (optimised at once: 5.31 GB). Latents
/// and maps are bit-identical in all three. On GPUs the profiling call is what LibTorch's fusers specialise on, so
/// it is left there. The setting is process-wide (LibTorch's); the last model loaded decides it.
void optimise_graphs_at_first_call(const at::Device& device) {
  torch::jit::getNumProfiledRuns() = device.is_cpu() ? 0 : 1;
}

/// The reason in a LibTorch message in one line: for a TorchScript interpreter failure the final
/// "RuntimeError: ..." line (the first line only says that an operation failed), else the first line.
std::string first_line(const std::string& s) {
  const size_t rt = s.rfind("RuntimeError: ");
  if (rt != std::string::npos) {
    const std::string r = s.substr(rt + 14);
    return r.substr(0, r.find('\n'));
  }
  auto pos = s.find('\n');
  return pos == std::string::npos ? s : s.substr(0, pos);
}

torch::jit::Module load_module(const std::string& path, const std::string& shown, const at::Device& device,
                               bool verify) {
  if (!fs::exists(path)) throw Error(shown + ": missing (expected a TorchScript module saved with torch.jit.save)");
  if (verify) verify_zip_crc(path);  // LibTorch does not check the archive's CRC-32s
  try {
    auto m = torch::jit::load(path, device);
    m.eval();
    return m;
  } catch (const c10::Error& e) {
    throw Error(shown + ": not a loadable TorchScript module (" + first_line(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {
    throw Error(shown + ": not a loadable TorchScript module (" + first_line(e.what()) + ")");
  }
}

/// The CRC-32 checks of a package's archives on a thread of their own, one after another, while the caller loads
/// them: LibTorch reads every byte too and does not check (SD 2.x's 5.2 GB took 4.2 s of a 10-step run's wall time
/// when checked with zlib before the load; folded, util/crc32.h, it is 1.4 s of CPU beside the load). load() may be
/// called from several threads at once.
class ArchiveChecks {
 public:
  /// check = false (--no-verify): loads only.
  ArchiveChecks(std::vector<std::string> paths, bool check) : paths_(std::move(paths)), results_(check ? paths_.size() : 0) {
    for (auto& r : results_) futures_.push_back(r.get_future().share());
    if (check && !paths_.empty()) thread_ = std::thread([this] {
        for (size_t i = 0; i < paths_.size(); ++i) {
          try {
            if (!stop_ && fs::exists(paths_[i])) verify_zip_crc(paths_[i]);  // a missing file is the loader's error
            results_[i].set_value();
          } catch (...) {
            results_[i].set_exception(std::current_exception());
          }
        }
      });
  }
  ArchiveChecks(const ArchiveChecks&) = delete;
  ArchiveChecks& operator=(const ArchiveChecks&) = delete;
  ~ArchiveChecks() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  /// Throws the first damaged archive's error among archives 0..last, waiting for their checks.
  void require(size_t last) const {
    for (size_t i = 0; i <= last && i < futures_.size(); ++i) std::shared_future<void>(futures_[i]).get();  // a copy each
  }
  /// Loads archive i; when it cannot be loaded, a damaged archive among 0..i is reported instead (as when the
  /// checks ran first).
  torch::jit::Module load(size_t i, const at::Device& device) const {
    try {
      return load_module(paths_[i], paths_[i], device, /*verify=*/false);
    } catch (...) {
      require(i);
      throw;
    }
  }

 private:
  std::vector<std::string> paths_;
  std::vector<std::promise<void>> results_;
  std::vector<std::shared_future<void>> futures_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// The text encoder, the denoiser and the VAE decoder (archives 0, 1, 2), the denoiser on the calling thread and
/// the other two beside it: LibTorch's load is one thread copying from the page cache into fresh pages, so a second
/// core takes the smaller archives (SD 2.x: 1.7 of 5.2 GB; its load 7.4 s in turn, 5.9 s so, medians of 4 runs on
/// 2 cores with the CRC checks beside both). The first failure in archive order is reported, as when they were
/// loaded in turn.
std::array<torch::jit::Module, 3> load_archives(const std::vector<std::string>& archives, const at::Device& device,
                                                bool verify) {
  ArchiveChecks checks(archives, verify);
  std::array<torch::jit::Module, 3> modules;
  std::array<std::exception_ptr, 3> errors;
  const auto load = [&](size_t i) {
    try {
      modules[i] = checks.load(i, device);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  std::thread side([&] {
    load(0);
    if (!errors[0]) load(2);
  });
  load(1);
  side.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  checks.require(archives.size() - 1);
  return modules;
}

at::ScalarType module_dtype(const torch::jit::Module& m) {
  for (const auto& p : m.parameters()) return p.scalar_type();
  return at::kFloat;
}

std::string shape_str(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "] " + std::string(c10::toString(t.scalar_type()));
}

}  // namespace

Model Model::load(const std::string& dir, const std::string& device, bool verify) {
  if (!fs::is_directory(dir))
    throw Error("--model " + dir + ": not a folder (expected a diffscope model package folder)");
  const auto start = std::chrono::steady_clock::now();
  auto impl = std::make_shared<Impl>();
  ModelInfo& info = impl->info;
  info.dir = dir;
  impl->device = at::Device(device);
  impl->verify = verify;
  optimise_graphs_at_first_call(impl->device);

  const std::string index_path = impl->rel("model_index.json");
  read_model_index(info, index_path);
  impl->family = &model_family(info);

  impl->tokenizer = PromptTokenizer::load(info);

  const std::string vae_cfg = impl->rel("vae/config.json");
  if (!fs::exists(vae_cfg)) throw Error(vae_cfg + ": missing (expected {\"scaling_factor\": ...})");
  read_vae_config(info, vae_cfg);

  const std::string sched = impl->rel("scheduler/scheduler_config.json");
  if (!fs::exists(sched)) throw Error(sched + ": missing (expected diffusers' scheduler_config.json)");
  SchedulerConfig::from_file(sched);  // validates keys now rather than mid-run

  {
    const std::vector<std::string> archives{impl->rel("text_encoder/model.pt"), impl->rel(info.denoiser_dir + "/model.pt"),
                                            impl->rel("vae/decoder.pt")};
    auto modules = load_archives(archives, impl->device, verify);
    impl->text_encoder = std::move(modules[0]);
    impl->unet = std::move(modules[1]);
    impl->decoder = std::move(modules[2]);
  }
  impl->text_dtype = module_dtype(*impl->text_encoder);
  impl->unet_dtype = module_dtype(impl->unet);
  impl->vae_dtype = module_dtype(impl->decoder);

  // the package's latent_channels against what the UNet's first convolution takes (before any call fails inside it)
  for (const auto& p : impl->unet.named_parameters(/*recurse=*/true)) {
    const std::string& n = p.name;
    const auto ends_with = [&](const std::string& suffix) {
      return n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    // a UNet's first convolution, or a transformer's patch embedding
    if ((ends_with("conv_in.weight") || ends_with("pos_embed.proj.weight")) && p.value.dim() == 4) {
      if (p.value.size(1) != info.latent_channels)
        throw Error(index_path + ": latent_channels is " + std::to_string(info.latent_channels) + ", but " +
                    impl->rel(info.denoiser_dir + "/model.pt") + " takes " + std::to_string(p.value.size(1)) + " input channels (" + n + ")");
      break;
    }
  }

  // after the UNet check: a wrong latent_channels is the package's error, not the preview's
  const std::string preview = impl->rel("vae/latent_rgb.json");
  if (fs::exists(preview)) {
    const auto j = read_json_object(preview);
    const auto bad = [&](const std::string& what) {
      return Error(preview + ": " + what + " (expected {\"weights\": 3 rows of " + std::to_string(info.latent_channels) +
                   " numbers, \"bias\": 3 numbers}; scripts/export/fit_latent_preview.py writes it)");
    };
    const auto finite_row = [](const nlohmann::json& r, size_t n) {
      if (!r.is_array() || r.size() != n) return false;
      for (const auto& v : r)
        if (!v.is_number() || !std::isfinite(v.get<double>())) return false;
      return true;
    };
    if (!j.contains("weights") || !j["weights"].is_array() || j["weights"].size() != 3) throw bad("\"weights\" is not 3 rows");
    std::vector<float> w;
    for (const auto& row : j["weights"]) {
      if (!finite_row(row, static_cast<size_t>(info.latent_channels))) throw bad("a \"weights\" row is not " +
                                                                            std::to_string(info.latent_channels) + " finite numbers");
      for (const auto& v : row) w.push_back(v.get<float>());
    }
    if (!j.contains("bias") || !finite_row(j["bias"], 3)) throw bad("\"bias\" is not 3 finite numbers");
    std::vector<float> b;
    for (const auto& v : j["bias"]) b.push_back(v.get<float>());
    impl->preview_w = at::tensor(w, at::kFloat).view({3, info.latent_channels}).to(impl->device);
    impl->preview_b = at::tensor(b, at::kFloat).to(impl->device);
  }

  const std::string layers = impl->rel(info.denoiser_dir + "/layers.json");
  if (fs::exists(layers)) read_layers(info, layers);

  // The UNet's output kind is part of the contract: check it once here on a tiny probe is too costly for
  // large models, so the first call checks it (see unet()); its graph tells us whether it returns a tuple.
  auto schema_ret = impl->unet.get_method("forward").function().getSchema().returns();
  impl->plain_unet = schema_ret.size() == 1 && schema_ret[0].type()->kind() == c10::TypeKind::TensorType;
  impl->concepts_method = !impl->plain_unet && impl->unet.find_method("forward_concepts").has_value();
  impl->text_queries_method = !impl->plain_unet && impl->unet.find_method("forward_text_queries").has_value();
  impl->prediction_method = !impl->plain_unet && impl->unet.find_method("forward_prediction").has_value();
  if (!impl->plain_unet && info.attention_layers.empty())
    throw Error(layers + ": missing or empty, but " + info.denoiser_dir + "/model.pt returns attention maps (expected one entry per map)");

  impl->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Model m;
  m.impl_ = impl;
  return m;
}

const ModelInfo& Model::info() const { return impl_->info; }
double Model::load_seconds() const { return impl_->load_seconds; }
const ClipTokenizer& Model::tokenizer() const { return impl_->tokenizer.clip(); }
at::Device Model::device() const { return impl_->device; }
bool Model::has_attention() const { return !impl_->plain_unet; }
bool Model::has_concepts() const { return impl_->concepts_method; }

bool Model::has_text_queries() const { return impl_->text_queries_method; }

void Model::require_text_queries() const {
  if (has_text_queries()) return;
  const std::string shown = impl_->rel(impl_->info.denoiser_dir + "/model.pt");
  throw Error("--text-queries: " + shown +
              (impl_->info.traits().joint
                   ? " was exported without forward_text_queries (re-export it with scripts/export/export_diffusers.py)"
                   : " is a UNet, whose text tokens ask no queries (only a joint-attention transformer's do)"));
}

void Model::require_concepts() const {
  if (!has_concepts())
    throw Error("--concepts: " + impl_->rel(impl_->info.denoiser_dir + "/model.pt") + " was exported without forward_concepts (re-export it "
                "with scripts/export/export_diffusers.py, or scripts/shapes/retrace_unet.py for a shapes package)");
}

at::Tensor Model::encode_concepts(const std::vector<std::string>& concepts, const std::string& after) const {
  require_concepts();
  std::vector<at::Tensor> rows;
  for (size_t i = 0; i < concepts.size(); ++i) {
    const std::string& c = concepts[i];
    if (c.find_first_not_of(" \t") == std::string::npos) throw Error("--concepts: concept " + std::to_string(i + 1) + " is empty");
    for (size_t j = 0; j < i; ++j)
      if (concepts[j] == c) throw Error("--concepts: \"" + c + "\" is listed twice");
    const Encoding alone = tokenize(c);
    // the concept's own tokens (CLIP's BPE splits at words, so they end `after` + c too): between CLIP's start and
    // end tokens, or before T5's end token when the rows are T5's (Flux)
    const int specials = impl_->info.clip_text_rows ? 2 : 1;
    const int n = alone.length - specials;
    const Encoding e = after.empty() ? alone : tokenize(after + " " + c);
    if (!alone.dropped_words.empty() || !e.dropped_words.empty() || n < 1 || e.length - specials < n)
      throw Error("--concepts: \"" + c + "\" does not fit in " +
                  std::to_string(impl_->info.clip_text_rows ? impl_->info.max_length : impl_->info.t5_max_length) +
                  " tokens" + (after.empty() ? std::string(" with its start and end tokens") : " after the prompt"));
    const at::Tensor ids = at::tensor(encoder_ids(e), at::kLong).unsqueeze(0);
    rows.push_back(encode_text(ids)[0].narrow(0, e.length - 1 - n, n).mean(0));  // its tokens, before the end token
  }
  if (rows.empty()) throw Error("--concepts: no concept given");
  return at::stack(rows);
}

void Model::require_attention(const std::string& what) const {
  if (!has_attention())
    throw Error(what + " needs cross-attention maps, but " + impl_->rel(impl_->info.denoiser_dir + "/model.pt") +
                " was exported without attention outputs (re-export it with scripts/export/export_diffusers.py)");
}

Encoding Model::tokenize(const std::string& prompt) const {
  return impl_->tokenizer.encode(prompt);
}

at::Tensor Model::encode_text(const at::Tensor& ids) const {
  const auto& info = impl_->info;
  at::Tensor out;
  const std::string path = impl_->rel("text_encoder/model.pt");
  torch::jit::Module encoder;  // a handle: the weights stay alive through this call even if end_of_encoding() runs
  {
    std::lock_guard<std::mutex> lock(impl_->text_encoder_mutex);
    if (!impl_->text_encoder) impl_->text_encoder = load_module(path, path, impl_->device, impl_->verify);  // freed: again
    encoder = *impl_->text_encoder;
  }
  c10::IValue raw;
  try {
    raw = encoder.forward({ids.to(impl_->device)});
  } catch (const c10::Error& e) {
    throw Error(path + ": failed on input ids [" + std::to_string(ids.size(0)) + "," +
                std::to_string(ids.size(1)) + "] int64 (" + first_line(e.what_without_backtrace()) + ")");
  }
  // [B, max_length (+ T5's tokens) (+ the pooled row), D], as the family packs it
  out = impl_->family->text_tensor(info, raw, path);
  if (out.size(0) != ids.size(0))
    throw Error(path + ": returned " + shape_str(out) + " for " + std::to_string(ids.size(0)) + " prompts");
  impl_->info.context_dim = static_cast<int>(out.size(2));
  return out.to(at::kFloat);
}

void Model::set_encode_once(bool once) { impl_->encode_once = once; }

void Model::end_of_encoding() const {
  if (!impl_->encode_once) return;
  std::lock_guard<std::mutex> lock(impl_->text_encoder_mutex);
  if (!impl_->text_encoder) return;
  impl_->text_encoder.reset();  // the weights' last owner: their buffers are freed here
  return_freed_memory();  // they sit below the UNet's in the heap: give their pages back rather than hold them
}

std::pair<int, int> Model::layer_size(size_t layer, int latent_h, int latent_w) const {
  return diffscope::layer_size(impl_->info, layer, latent_h, latent_w);
}

int Model::context_dim() const {
  if (impl_->info.context_dim == 0) {
    at::NoGradGuard no_grad;
    encode_text(at::tensor(encoder_ids(tokenize("")), at::kLong).unsqueeze(0));
  }
  return impl_->info.context_dim;
}

bool Model::has_preview() const { return impl_->preview_w.defined(); }

at::Tensor Model::preview(const at::Tensor& latents) const {
  if (!has_preview())
    throw Error(impl_->rel("vae/latent_rgb.json") + ": missing, so there is no latent preview (scripts/export/"
                "fit_latent_preview.py --package " + impl_->info.dir + " fits one; or use --x0-view decode)");
  const at::Tensor z = latents.to(impl_->device).to(at::kFloat);
  at::Tensor rgb = at::einsum("oc,bchw->bohw", {impl_->preview_w, z}) + impl_->preview_b.view({1, 3, 1, 1});
  rgb = rgb.clamp(-1.0, 1.0);
  const int64_t f = impl_->info.vae_scale_factor;
  rgb = at::upsample_bilinear2d(rgb, {z.size(2) * f, z.size(3) * f}, /*align_corners=*/false);
  return rgb.to(at::kCPU);
}


bool cpu_has_native_bf16() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return true;  // not detectable this way (Arm's BF16 extension): no warning rather than a wrong one
#endif
}

void Model::set_precision(const std::string& precision) {
  if (precision != "fp32" && precision != "bf16" && precision != "fp16")
    throw Error("--precision " + precision + ": expected fp32, bf16 or fp16");
  if (precision == "fp16" && !impl_->device.is_cuda())
    throw Error("--precision fp16: half precision runs on CUDA only; use bf16 on the CPU");
  if (precision == "bf16" && !impl_->device.is_cuda() && !cpu_has_native_bf16())
    spdlog::warn("--precision bf16: this CPU has no AVX-512 BF16 instructions, so bfloat16 arithmetic is emulated and "
                 "the denoiser is likely much slower than in fp32 (measured more than 20x at SD size; README, "
                 "\"Reduced precision, measured\")");
  impl_->precision = precision;
}

const std::string& Model::precision() const { return impl_->precision; }

DenoiserOutput Model::denoise(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context,
                              const at::Tensor& concepts, bool text_queries) const {
  return run_denoiser(sample, timestep, context, concepts, false, text_queries);
}

at::Tensor Model::predict(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context) const {
  return run_denoiser(sample, timestep, context, at::Tensor(), impl_->prediction_method).prediction;
}

DenoiserOutput Model::run_denoiser(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context,
                                   const at::Tensor& concepts, bool prediction_only, bool text_queries) const {
  const auto& info = impl_->info;
  const std::string shown = impl_->rel(impl_->info.denoiser_dir + "/model.pt");
  const auto dt = impl_->unet_dtype;
  c10::IValue out;
  const bool autocast = impl_->precision != "fp32";
  const bool with_concepts = concepts.defined();
  if (with_concepts && (concepts.dim() != 3 || concepts.size(0) != sample.size(0) || concepts.size(2) != context.size(2)))
    throw Error(shown + ": concept embeddings are " + shape_str(concepts) + ", expected [" + std::to_string(sample.size(0)) +
                ",C," + std::to_string(context.size(2)) + "]");
  if (with_concepts) require_concepts();
  if (text_queries && with_concepts)
    throw Error("--text-queries and --concepts: one at a time (each is its own pass of the exported transformer)");
  if (text_queries) require_text_queries();
  // the family unpacks the text tensor into what its denoiser takes (SDXL: context, pooled vector, time ids)
  std::vector<c10::IValue> inputs{sample.to(dt), timestep.to(at::kFloat)};
  for (auto& v : impl_->family->denoiser_inputs(impl_->family->condition(info, context, sample), dt)) inputs.push_back(std::move(v));
  try {
    const torch_compat::AutocastGuard guard(impl_->device, impl_->precision);
    if (with_concepts) {
      inputs.push_back(concepts.to(dt));
      out = impl_->unet.get_method("forward_concepts")(std::move(inputs));
    } else if (text_queries) {
      out = impl_->unet.get_method("forward_text_queries")(std::move(inputs));
    } else if (prediction_only) {
      out = impl_->unet.get_method("forward_prediction")(std::move(inputs));
    } else {
      out = impl_->unet.forward(std::move(inputs));
    }
  } catch (const c10::Error& e) {
    throw Error(shown + ": failed on sample " + shape_str(sample) + ", context " + shape_str(context) + " (" +
                first_line(e.what_without_backtrace()) + ")");
  }
  DenoiserOutput r;
  if (out.isTensor()) {
    r.prediction = out.toTensor();
  } else if (out.isTuple()) {
    auto elems = out.toTupleRef().elements();
    const bool fourth = with_concepts || text_queries;
    const size_t n = fourth ? 4 : 3;
    const std::string method = with_concepts ? "forward_concepts" : text_queries ? "forward_text_queries" : "forward";
    if (elems.size() != n || !elems[0].isTensor() || !elems[1].isTensorList() || !elems[2].isTensorList() ||
        (fourth && !elems[3].isTensorList()))
      throw Error(shown + ": expected " + method + " to return (noise_pred, List[Tensor] cross_attention, "
                  "List[Tensor] features" + (with_concepts ? ", List[Tensor] concept maps)"
                                                           : text_queries ? ", List[Tensor] text-query maps)" : ")"));
    r.prediction = elems[0].toTensor();
    for (const auto& t : elems[1].toTensorVector()) r.text_attention.push_back(t);
    for (const auto& t : elems[2].toTensorVector()) r.features.push_back(t);
    if (text_queries) {
      for (const auto& t : elems[3].toTensorVector()) r.text_queries.push_back(t);
      if (r.text_queries.size() != r.text_attention.size())
        throw Error(shown + ": forward_text_queries returned " + std::to_string(r.text_queries.size()) +
                    " text-query maps for " + std::to_string(r.text_attention.size()) + " attention layers");
      for (size_t i = 0; i < r.text_queries.size(); ++i)
        if (!r.text_queries[i].sizes().equals(r.text_attention[i].sizes()))
          throw Error(shown + ": text-query map " + std::to_string(i) + " is " + shape_str(r.text_queries[i]) +
                      ", expected the text-attention map's shape " + shape_str(r.text_attention[i]));
    }
    if (with_concepts) {
      for (const auto& t : elems[3].toTensorVector()) r.concept_attention.push_back(t);
      if (r.concept_attention.size() != r.text_attention.size())
        throw Error(shown + ": forward_concepts returned " + std::to_string(r.concept_attention.size()) +
                    " concept maps for " + std::to_string(r.text_attention.size()) + " text-attention layers");
      for (size_t i = 0; i < r.concept_attention.size(); ++i) {
        const auto& c = r.concept_attention[i];
        const auto& a = r.text_attention[i];
        // per head (a UNet's extra keys) or one map per layer (ConceptAttention's output space, heads merged)
        if (c.dim() != 4 || c.size(0) != a.size(0) || (c.size(1) != a.size(1) && c.size(1) != 1) ||
            c.size(2) != a.size(2) || c.size(3) != concepts.size(1))
          throw Error(shown + ": concept map " + std::to_string(i) + " is " + shape_str(c) + ", expected [" +
                      std::to_string(a.size(0)) + "," + std::to_string(a.size(1)) + " or 1," + std::to_string(a.size(2)) +
                      "," + std::to_string(concepts.size(1)) + "]");
      }
    }
  } else {
    throw Error(shown + ": forward returned neither a tensor nor a (noise_pred, attention, features) tuple");
  }
  if (!r.prediction.sizes().equals(sample.sizes()))
    throw Error(shown + ": noise prediction is " + shape_str(r.prediction) + ", expected the sample's shape " +
                shape_str(sample));
  if (dt != at::kFloat || autocast) {
    r.prediction = r.prediction.to(at::kFloat);
    for (auto& t : r.text_attention) t = t.to(at::kFloat);
    for (auto& t : r.features) t = t.to(at::kFloat);
    for (auto& t : r.concept_attention) t = t.to(at::kFloat);
    for (auto& t : r.text_queries) t = t.to(at::kFloat);
  }
  if (!impl_->unet_checked && !r.text_attention.empty()) {
    const auto& layers = info.attention_layers;
    if (r.text_attention.size() != layers.size())
      throw Error(shown + ": returned " + std::to_string(r.text_attention.size()) + " text-attention maps but " + info.denoiser_dir + "/layers.json lists " +
                  std::to_string(layers.size()));
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& a = r.text_attention[i];
      auto [h, w] = layer_size(i, static_cast<int>(sample.size(2)), static_cast<int>(sample.size(3)));
      if (a.dim() != 4 || a.size(0) != sample.size(0) || a.size(1) != layers[i].heads || a.size(2) != int64_t(h) * w ||
          a.size(3) != info.text_tokens())
        throw Error(shown + ": text-attention map " + std::to_string(i) + " (" + layers[i].name + ") is " + shape_str(a) +
                    ", expected [" + std::to_string(sample.size(0)) + "," + std::to_string(layers[i].heads) + "," +
                    std::to_string(h * w) + "," + std::to_string(info.text_tokens()) + "] as " + info.denoiser_dir + "/layers.json says");
    }
    if (!info.features.empty() && r.features.size() != info.features.size())
      throw Error(shown + ": returned " + std::to_string(r.features.size()) + " feature maps but " + info.denoiser_dir + "/layers.json lists " +
                  std::to_string(info.features.size()));
    impl_->unet_checked = true;
  }
  return r;
}

at::Tensor Model::decode(const at::Tensor& latents) const {
  const std::string shown = impl_->rel("vae/decoder.pt");
  at::Tensor img;
  try {
    img = impl_->decoder.forward({(latents / impl_->info.scaling_factor).to(impl_->vae_dtype)}).toTensor();
  } catch (const c10::Error& e) {
    throw Error(shown + ": failed on latents " + shape_str(latents) + " (" + first_line(e.what_without_backtrace()) + ")");
  }
  const int f = impl_->info.vae_scale_factor;
  if (img.dim() != 4 || img.size(1) != 3 || img.size(2) != latents.size(2) * f || img.size(3) != latents.size(3) * f)
    throw Error(shown + ": returned " + shape_str(img) + ", expected [B,3," + std::to_string(latents.size(2) * f) + "," +
                std::to_string(latents.size(3) * f) + "]");
  return img.to(at::kFloat);
}

at::Tensor Model::encode(const at::Tensor& image) const {
  const std::string path = impl_->rel("vae/encoder.pt");
  std::call_once(impl_->encoder_once, [&] { impl_->encoder = load_module(path, path, impl_->device, impl_->verify); });
  at::Tensor lat;
  try {
    lat = impl_->encoder.forward({image.to(impl_->device).to(module_dtype(impl_->encoder))}).toTensor();
  } catch (const c10::Error& e) {
    throw Error(path + ": failed on image " + shape_str(image) + " (" + first_line(e.what_without_backtrace()) + ")");
  }
  const int f = impl_->info.vae_scale_factor;
  if (lat.dim() != 4 || lat.size(1) != impl_->info.latent_channels || lat.size(2) * f != image.size(2))
    throw Error(path + ": returned " + shape_str(lat) + ", expected [B," + std::to_string(impl_->info.latent_channels) +
                ",H/" + std::to_string(f) + ",W/" + std::to_string(f) + "]");
  return lat.to(at::kFloat) * impl_->info.scaling_factor;
}

SchedulerConfig Model::scheduler_config() const {
  return package_scheduler_config(impl_->info);
}

std::string Model::default_scheduler() const { return default_scheduler_of(scheduler_config()); }

std::vector<std::string> Model::files() const { return package_files(impl_->info.dir); }

const std::map<std::string, std::string>& Model::file_hashes() const {
  std::call_once(impl_->hash_once, [this] {
    // hashes.json (written at export) when a file's size and modification time still match, else the user's cache
    // of verified files, else the file is read and hashed once (and cached)
    const HashManifest stored = read_hash_manifest(impl_->rel("hashes.json"));
    for (const auto& f : files()) impl_->hashes[f] = package_file_sha256(impl_->info.dir, f, stored);
  });
  return impl_->hashes;
}

}  // namespace diffscope
