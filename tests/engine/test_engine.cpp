// Engine tests on the tiny random-weight package: loading, contract errors, determinism, attention reduction.
#include <chrono>
#include <ATen/ATen.h>
#include <fstream>
#ifdef __linux__
#include <sched.h>
#endif
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "diffscope/engine/attention_capture.h"
#include "diffscope/engine/block_cache.h"
#include "diffscope/engine/family.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/engine/model.h"
#include "diffscope/util/npy.h"
#include "diffscope/engine/pipeline.h"
#include "diffscope/engine/run_recorder.h"
#include "diffscope/engine/runtime.h"
#include "diffscope/sched/scheduler.h"
#include "diffscope/sched/scheduler_config.h"
#include "test_support.h"

using namespace diffscope;
using ds_test::TempDir;
namespace fs = std::filesystem;

namespace {
const std::string kPkg = DS_TEST_PACKAGE_DIR;

std::string load_error(const std::string& dir) {
  try {
    Model::load(dir);
  } catch (const Error& e) {
    CHECK(e.exit_code() == kExitBadInput);
    std::string msg = e.what();
    CHECK(msg.find('\n') == std::string::npos);  // one line
    return msg;
  }
  return "";
}

GenerateOptions small_options() {
  GenerateOptions o;
  o.prompt = "a red circle";
  o.seed = 3;
  o.steps = 4;
  o.guidance_scale = 5.0;
  o.scheduler = "ddim";
  o.show_progress = false;
  return o;
}
}  // namespace

TEST_CASE("the tiny package loads and describes itself", "[engine]") {
  set_threads(1);
  Model m = Model::load(kPkg);
  const auto& i = m.info();
  CHECK(i.max_length == 77);
  CHECK(i.latent_channels == 4);
  CHECK(m.has_attention());
  REQUIRE(i.attention_layers.size() >= 2);
  CHECK_FALSE(i.features.empty());
  // layer sizes are consistent with the latent grid at the package's sample size
  const int latent = i.sample_size / i.vae_scale_factor;
  for (size_t l = 0; l < i.attention_layers.size(); ++l) {
    auto [h, w] = m.layer_size(l, latent, latent);
    CHECK(h == i.attention_layers[l].height);
    CHECK(w == i.attention_layers[l].width);
  }
}

TEST_CASE("contract errors name the file and what was expected", "[engine][errors]") {
  TempDir tmp("contract");
  auto fresh = [&](const std::string& tag) {
    fs::path d = tmp.path / tag;
    ds_test::copy_package(kPkg, d);
    return d;
  };
  CHECK(load_error((tmp.path / "nope").string()).find("not a folder") != std::string::npos);
  {
    auto d = fresh("no-index");
    fs::remove(d / "model_index.json");
    CHECK(load_error(d.string()).find("model_index.json: missing") != std::string::npos);
  }
  {
    auto d = fresh("bad-format");
    auto j = read_json_file((d / "model_index.json").string());
    j["format"] = "something-else";
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("\"format\" must be \"diffscope-torchscript\"") != std::string::npos);
  }
  {
    auto d = fresh("bad-key");
    auto j = read_json_file((d / "model_index.json").string());
    j["sample_size"] = "big";
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("key \"sample_size\" must be an integer") != std::string::npos);
  }
  {  // format_version 2 names its family, denoiser folder and pooled rows; each is checked
    auto d = fresh("v2-no-family");
    auto j = read_json_file((d / "model_index.json").string());
    j["format_version"] = 2;
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("missing key \"family\"") != std::string::npos);
    j["family"] = "dit";
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("\"family\" must be \"unet\" or \"mmdit\", got \"dit\"") != std::string::npos);
    j["family"] = "mmdit";
    j["denoiser"] = "transformer";
    j["pooled_rows"] = 3;
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("\"pooled_rows\" must be 0 or 1, got 3") != std::string::npos);
    j["pooled_rows"] = 1;
    j["t5_max_length"] = 1;
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("\"t5_max_length\" is 1, expected 2..4096") != std::string::npos);
    j["family"] = "unet";
    j["denoiser"] = "unet";
    j["t5_max_length"] = 16;
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("\"t5_max_length\" is for the mmdit family") != std::string::npos);
    j.erase("t5_max_length");
    j["family"] = "mmdit";
    j["denoiser"] = "transformer";
    j["pooled_rows"] = 1;  // a UNet package's files under a transformer's index: the folder is named
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("transformer/model.pt") != std::string::npos);
    j["format_version"] = 3;
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("\"family\" must be \"sdxl\" for format_version 3, got \"mmdit\"") != std::string::npos);
    j["format_version"] = 4;
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("format_version 4 is not supported (expected 1, 2 or 3)") != std::string::npos);
  }
  {
    auto d = fresh("bad-prediction");
    auto j = read_json_file((d / "model_index.json").string());
    j["prediction_type"] = "sample";
    ds_test::write_text(d / "model_index.json", j.dump());
    CHECK(load_error(d.string()).find("prediction_type must be") != std::string::npos);
  }
  {
    auto d = fresh("no-unet");
    fs::remove(d / "unet" / "model.pt");
    CHECK(load_error(d.string()).find("unet/model.pt: missing") != std::string::npos);
  }
  {
    auto d = fresh("garbage-unet");
    ds_test::write_text(d / "unet" / "model.pt", "not a zip file");
    // the archive check comes first: not a zip at all
    CHECK(load_error(d.string()).find("unet/model.pt: damaged or not a TorchScript archive") != std::string::npos);
  }
  {  // the archives are CRC-checked beside the load: a damaged one is still named first, in the order they load
    const auto flip_middle = [](const fs::path& f) {
      std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
      io.seekg(0, std::ios::end);
      io.seekp(static_cast<std::streamoff>(io.tellg()) / 2);  // inside the weights: LibTorch loads it regardless
      const char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
      io.write(junk, 8);
    };
    auto d = fresh("damaged-text-encoder");
    flip_middle(d / "text_encoder" / "model.pt");
    ds_test::write_text(d / "unet" / "model.pt", "not a zip file");
    CHECK(load_error(d.string()).find("text_encoder/model.pt: damaged: the CRC-32 of") != std::string::npos);
    auto v = fresh("damaged-decoder");
    flip_middle(v / "vae" / "decoder.pt");
    CHECK(load_error(v.string()).find("vae/decoder.pt: damaged: the CRC-32 of") != std::string::npos);
    CHECK_NOTHROW(Model::load(v.string(), "cpu", /*verify=*/false));  // --no-verify: not checked
  }
  {
    auto d = fresh("no-vocab");
    fs::remove(d / "tokenizer" / "vocab.json");
    CHECK(load_error(d.string()).find("vocab.json") != std::string::npos);
  }
  {
    auto d = fresh("no-vae-config");
    fs::remove(d / "vae" / "config.json");
    CHECK(load_error(d.string()).find("vae/config.json: missing") != std::string::npos);
  }
  {
    auto d = fresh("no-layers");
    fs::remove(d / "unet" / "layers.json");
    CHECK(load_error(d.string()).find("layers.json: missing or empty") != std::string::npos);
  }
  {
    // layers.json that disagrees with the maps: caught on the first UNet call, naming the file
    auto d = fresh("wrong-heads");
    auto j = read_json_file((d / "unet" / "layers.json").string());
    j["cross_attention"][0]["heads"] = j["cross_attention"][0]["heads"].get<int>() + 1;
    ds_test::write_text(d / "unet" / "layers.json", j.dump());
    Model m = Model::load(d.string());
    try {
      generate(m, small_options(), {});
      FAIL("expected an error");
    } catch (const Error& e) {
      std::string msg = e.what();
      CHECK(msg.find("unet/model.pt: text-attention map 0") != std::string::npos);
      CHECK(msg.find("as unet/layers.json says") != std::string::npos);
    }
  }
  {
    auto d = fresh("dropped-layer");
    auto j = read_json_file((d / "unet" / "layers.json").string());
    j["cross_attention"].erase(j["cross_attention"].size() - 1);
    ds_test::write_text(d / "unet" / "layers.json", j.dump());
    Model m = Model::load(d.string());
    CHECK_THROWS_WITH(generate(m, small_options(), {}), Catch::Contains("text-attention maps but unet/layers.json lists"));
  }
}

TEST_CASE("generation is deterministic and observers see every step", "[engine]") {
  set_threads(1);
  Model m = Model::load(kPkg);
  AttentionCapture a1, a2;
  auto o = small_options();
  auto r1 = generate(m, o, {&a1});
  auto r2 = generate(m, o, {&a2});
  CHECK(r1.timesteps.size() == 4);
  CHECK(at::equal(r1.final_latent, r2.final_latent));
  CHECK(at::equal(r1.image, r2.image));
  CHECK(at::equal(a1.maps(), a2.maps()));
  const int latent = m.info().sample_size / m.info().vae_scale_factor;
  CHECK(a1.maps().sizes() == at::IntArrayRef({4, 77, latent, latent}));
  // attention rows are softmax probabilities: at every pixel the token axis sums to 1
  auto sums = a1.maps().sum(1);
  CHECK(at::allclose(sums, at::ones_like(sums), 1e-4, 1e-4));
  // a different seed gives a different image
  o.seed = 4;
  auto r3 = generate(m, o, {});
  CHECK_FALSE(at::equal(r1.final_latent, r3.final_latent));
}

TEST_CASE("encode once: the loop runs without the text encoder, which loads again when asked", "[engine]") {
  set_threads(1);
  TempDir tmp("encode-once");
  ds_test::copy_package(kPkg, tmp.path / "p");
  const std::string pkg = (tmp.path / "p").string();
  Model kept = Model::load(pkg), once = Model::load(pkg);
  once.set_encode_once(true);
  const auto o = small_options();
  const auto r_kept = generate(kept, o, {});
  const auto r_once = generate(once, o, {});
  CHECK(at::equal(r_kept.final_latent, r_once.final_latent));  // freeing it changes nothing computed
  const at::Tensor ids = at::tensor(kept.tokenize("a red circle").ids, at::kLong).unsqueeze(0);
  const at::Tensor before = kept.encode_text(ids);
  // with the file gone, only a model that freed its text encoder has to read it again
  fs::rename(tmp.path / "p" / "text_encoder" / "model.pt", tmp.path / "moved.pt");
  CHECK(at::equal(kept.encode_text(ids), before));
  try {
    once.encode_text(ids);
    FAIL("the freed text encoder was not loaded again");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("text_encoder/model.pt: missing") != std::string::npos);
  }
  fs::rename(tmp.path / "moved.pt", tmp.path / "p" / "text_encoder" / "model.pt");
  CHECK(at::equal(once.encode_text(ids), before));  // loaded again, the same weights
  kept.end_of_encoding();  // without set_encode_once: a no-op
  fs::rename(tmp.path / "p" / "text_encoder" / "model.pt", tmp.path / "moved.pt");
  CHECK(at::equal(kept.encode_text(ids), before));
}

TEST_CASE("initial noise equals torch.randn with torch.Generator().manual_seed(seed)", "[engine]") {
  // Checked against python: torch.randn((1,4,h,w), generator=torch.Generator("cpu").manual_seed(3)) * init_noise_sigma
  Model m = Model::load(kPkg);
  auto o = small_options();
  auto r = generate(m, o, {});
  const int latent = m.info().sample_size / m.info().vae_scale_factor;
  TempDir tmp("randn");
  const std::string out = (tmp.path / "randn.npy").string();
  auto res = ds_test::run_command(std::string(DS_PYTHON) + " -c " +
                                  ds_test::quote("import torch,numpy,sys; g=torch.Generator('cpu').manual_seed(3); "
                                                 "numpy.save(sys.argv[1], torch.randn((1,4," +
                                                 std::to_string(latent) + "," + std::to_string(latent) +
                                                 "), generator=g).numpy())") +
                                  " " + out);
  REQUIRE(res.exit_code == 0);
  NpyArray ref = read_npy(out);
  at::Tensor expect = at::from_blob(ref.data.data(), {1, 4, latent, latent}, at::kFloat);
  CHECK(at::equal(r.initial_latent, expect));  // DDIM's init_noise_sigma is 1
}

TEST_CASE("the attention reduction averages heads, picks the CFG half and upsamples", "[engine]") {
  // probs [B=2, heads=2, HW=4 (2x2), L=3]: hand-made numbers
  at::Tensor p = at::zeros({2, 2, 4, 3});
  p[1][0] = at::tensor({1.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f, 1.f, 0.f, 0.f}).view({4, 3});
  p[1][1] = at::tensor({0.f, 1.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 1.f}).view({4, 3});
  at::Tensor r = AttentionCapture::reduce_layer(p, 1, 2, 2, 2, 2);
  REQUIRE(r.sizes() == at::IntArrayRef({3, 2, 2}));
  // token 0 at pixel (0,0): heads give 1 and 0 -> 0.5; token 1 at (0,1): 1 and 1 -> 1
  CHECK(r[0][0][0].item<float>() == Approx(0.5));
  CHECK(r[1][0][1].item<float>() == Approx(1.0));
  CHECK(r[2][1][0].item<float>() == Approx(1.0));
  CHECK(r[0][1][1].item<float>() == Approx(0.5));
  CHECK(r[2][1][1].item<float>() == Approx(0.5));
  // the uncond half is all zeros here
  CHECK(AttentionCapture::reduce_layer(p, 0, 2, 2, 2, 2).abs().sum().item<float>() == 0.f);
  // upsampling a constant map keeps it constant
  at::Tensor c = at::full({1, 1, 4, 1}, 0.25f);
  CHECK(at::allclose(AttentionCapture::reduce_layer(c, 0, 2, 2, 4, 4), at::full({1, 4, 4}, 0.25f)));
}

TEST_CASE("the run recorder writes a complete run folder", "[engine]") {
  set_threads(1);
  const auto load_start = std::chrono::steady_clock::now();
  Model m = Model::load(kPkg);
  const double load_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  TempDir tmp("run");
  const std::string dir = (tmp.path / "run").string();
  RunRecorderOptions ro;
  ro.dir = dir;
  ro.x0_every = 2;
  RunRecorder rec(ro);
  AttentionCaptureOptions ao;
  ao.keep_layer_steps = {1};
  AttentionCapture att(ao);
  auto o = small_options();
  auto r = generate(m, o, {&rec, &att});
  rec.write(o, r, &att, nlohmann::json::object());
  for (const char* f : {"run.json", "final.png", "latents.npy", "attention/maps.npy", "attention/layers_step1.npy",
                        "steps/x0_000.png", "steps/x0_002.png", "steps/x0_003.png", "steps/filmstrip.png"})
    CHECK(fs::exists(fs::path(dir) / f));
  CHECK_FALSE(fs::exists(fs::path(dir) / "steps/x0_001.png"));
  auto lat = read_npy(dir + "/latents.npy");
  CHECK(lat.shape == std::vector<int64_t>{5, 4, r.final_latent.size(2), r.final_latent.size(3)});
  auto j = read_json_file(dir + "/run.json");
  CHECK(j["timesteps"].size() == 4);
  CHECK(j["inputs"]["scheduler"] == "ddim");
  CHECK(j["model"]["files"]["unet/model.pt"].get<std::string>().size() == 64);
  CHECK(j["words"][1]["word"] == "red");
  // one wall time per step, each positive, together within the loop's (which also holds the progress line)
  const auto& steps_s = j["timings"]["steps_s"];
  REQUIRE(steps_s.size() == 4);
  double sum = 0;
  for (const auto& s : steps_s) {
    CHECK(s.get<double>() > 0);
    sum += s.get<double>();
  }
  CHECK(sum <= j["timings"]["loop_s"].get<double>());
  CHECK(sum >= 0.5 * j["timings"]["loop_s"].get<double>());
  // the model's load, timed inside Model::load: positive and within the wall time around the call
  CHECK(j["timings"]["load_s"].get<double>() == m.load_seconds());
  CHECK(m.load_seconds() > 0);
  CHECK(m.load_seconds() <= load_wall);
  // no temporary files left behind
  for (auto& e : fs::recursive_directory_iterator(dir)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("sha256 matches the standard test vector", "[engine]") {
  TempDir tmp("sha");
  ds_test::write_text(tmp.path / "abc", "abc");
  CHECK(sha256_file((tmp.path / "abc").string()) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ds_test::write_text(tmp.path / "empty", "");
  CHECK(sha256_file((tmp.path / "empty").string()) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("option validation explains what is expected", "[engine][errors]") {
  Model m = Model::load(kPkg);
  auto o = small_options();
  o.height = m.info().vae_scale_factor + 1;
  CHECK_THROWS_WITH(validate(m, o), Catch::Contains("multiples of"));
  o = small_options();
  o.eta = 0.5;
  o.scheduler = "euler";
  CHECK_THROWS_WITH(generate(m, o, {}), Catch::Contains("only the DDIM scheduler takes eta"));
  o = small_options();
  o.scheduler = "nonsense";
  CHECK_THROWS_AS(generate(m, o, {}), Error);
}

TEST_CASE("--precision bf16: the denoiser under autocast, float32 outputs close to fp32, deterministic", "[engine]") {
  set_threads(1);
  Model m = Model::load(kPkg);
  CHECK(m.precision() == "fp32");
  auto o = small_options();
  AttentionCapture a32, a16, b16;
  const auto r32 = generate(m, o, {&a32});
  m.set_precision("bf16");
  const auto r16 = generate(m, o, {&a16});
  const auto again = generate(m, o, {&b16});
  CHECK(r16.final_latent.scalar_type() == at::kFloat);
  CHECK(a16.maps().scalar_type() == at::kFloat);
  CHECK(at::equal(r16.final_latent, again.final_latent));  // same inputs, same bits
  CHECK(at::equal(a16.maps(), b16.maps()));
  // bfloat16 keeps 8 bits of mantissa: the result moves, but stays near the fp32 one (measured on this package:
  // about 1% of the latent's scale after 4 steps; the bar leaves room for other CPUs' kernels)
  CHECK_FALSE(at::equal(r16.final_latent, r32.final_latent));
  const double scale = r32.final_latent.abs().max().item<double>();
  const double diff = (r16.final_latent - r32.final_latent).abs().max().item<double>();
  INFO("max |bf16 - fp32| latent " << diff << " of scale " << scale);
  CHECK(diff < 0.1 * scale);
  const double map_diff = (a16.maps() - a32.maps()).abs().max().item<double>();
  INFO("max attention probability difference " << map_diff);
  CHECK(map_diff < 0.1);
  // back to fp32: bit for bit the earlier run (autocast is off again)
  m.set_precision("fp32");
  CHECK(at::equal(generate(m, o, {}).final_latent, r32.final_latent));
  CHECK_THROWS_WITH(m.set_precision("fp16"), Catch::Contains("CUDA only"));
  CHECK_THROWS_WITH(m.set_precision("int8"), Catch::Contains("expected fp32, bf16 or fp16"));
}

#ifdef __linux__
TEST_CASE("threads: the default is the cores of the process's affinity mask, not the machine's", "[engine]") {
  cpu_set_t saved, one;
  REQUIRE(sched_getaffinity(0, sizeof saved, &saved) == 0);
  CHECK(available_cores() <= CPU_COUNT(&saved));
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  CPU_ZERO(&one);
  CPU_SET(first, &one);  // as `taskset -c N` or a one-CPU Slurm allocation would leave it
  REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  const int cores = available_cores(), threads = set_threads(0), clamped = set_threads(8);
  REQUIRE(sched_setaffinity(0, sizeof saved, &saved) == 0);
  set_threads(1);
  CHECK(cores == 1);
  CHECK(threads == 1);
  CHECK(clamped == 1);  // more than the process may use is clamped to it
}
#endif

TEST_CASE("block cache: large CPU buffers reused by exact size, capped, results unchanged", "[engine]") {
  const auto before = block_cache_stats();
  install_block_cache(size_t(1) << 20, size_t(8) << 20);  // cache buffers of 1 MiB and more, hold at most 8 MiB
  const int64_t n = (int64_t(4) << 20) / 4;               // 4 MiB of floats
  void* first = nullptr;
  {
    at::Tensor a = at::full({n}, 2.0f);
    first = a.data_ptr();
  }
  at::Tensor b = at::empty({n});  // the same size again: the same buffer, no new mapping
  CHECK(b.data_ptr() == first);
  auto s = block_cache_stats();
  CHECK(s.hits - before.hits == 1);
  CHECK(s.misses - before.misses == 1);
  b.fill_(3.0f);
  CHECK(b.sum().item<double>() == 3.0 * double(n));
  at::Tensor small = at::ones({1000});  // under min_bytes: the default allocator, not counted
  CHECK(block_cache_stats().misses == s.misses);
  {
    std::vector<at::Tensor> three = {at::empty({n}), at::empty({n}), at::empty({n})};  // 12 MiB live
  }  // freed: 8 MiB fit the cap, the rest is given back
  s = block_cache_stats();
  CHECK(s.cached_bytes == (uint64_t(8) << 20));
  CHECK(s.evicted - before.evicted >= 1);
  // oneDNN frees its buffers through raw_deleter(): a convolution big enough to use the cache, and one that is not
  const at::Tensor x = at::randn({1, 64, 128, 128}), w = at::randn({64, 64, 3, 3});
  const at::Tensor y1 = at::conv2d(x, w, {}, 1, 1), y2 = at::conv2d(x, w, {}, 1, 1);
  CHECK(at::equal(y1, y2));
  CHECK(at::conv2d(at::ones({1, 1, 4, 4}), at::ones({1, 1, 3, 3})).sum().item<double>() == 36.0);  // 2 x 2 outputs of 9
  install_block_cache(SIZE_MAX, 0);  // off again for the other cases: everything cached is given back
  CHECK(block_cache_stats().cached_bytes == 0);
}

TEST_CASE("cpu_has_native_bf16 agrees with the kernel's CPU flags", "[engine]") {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  bool flags_seen = false, bf16 = false;
  while (std::getline(cpuinfo, line))
    if (line.rfind("flags", 0) == 0) {
      flags_seen = true;
      bf16 = line.find(" avx512_bf16") != std::string::npos;
      break;
    }
#if defined(__x86_64__)
  if (flags_seen) CHECK(cpu_has_native_bf16() == bf16);
#endif
  (void)flags_seen;
  (void)bf16;
}

TEST_CASE("latent preview: W z + b from vae/latent_rgb.json, clamped, upsampled to the image size", "[engine]") {
  Model m = Model::load(kPkg);
  REQUIRE(m.has_preview());  // the export fits it (scripts/export/diffscope_export/preview.py)
  const auto j = read_json_object(std::string(kPkg) + "/vae/latent_rgb.json");
  const int64_t c = m.info().latent_channels, f = m.info().vae_scale_factor;
  std::vector<float> w, b;
  for (const auto& row : j["weights"])
    for (const auto& v : row) w.push_back(v.get<float>());
  for (const auto& v : j["bias"]) b.push_back(v.get<float>());
  REQUIRE(w.size() == static_cast<size_t>(3 * c));
  CHECK(j["rmse_heldout"].get<double>() < 0.5);  // in [-1, 1] units: a preview, not noise
  const at::Tensor z = at::randn({2, c, 5, 7}, at::TensorOptions().dtype(at::kFloat)) * 3.0;
  // the map written out by hand, per output channel and pixel
  at::Tensor expect = at::empty({2, 3, 5, 7});
  for (int o = 0; o < 3; ++o) {
    at::Tensor acc = at::full({2, 5, 7}, b[static_cast<size_t>(o)]);
    for (int64_t k = 0; k < c; ++k) acc = acc + w[static_cast<size_t>(o * c + k)] * z.select(1, k);
    expect.select(1, o).copy_(acc.clamp(-1.0, 1.0));
  }
  const at::Tensor got = m.preview(z);
  CHECK(got.sizes() == at::IntArrayRef({2, 3, 5 * f, 7 * f}));
  CHECK(at::allclose(got, at::upsample_bilinear2d(expect, {5 * f, 7 * f}, false), 1e-5, 1e-6));
  CHECK(got.min().item<float>() >= -1.0f);
  CHECK(got.max().item<float>() <= 1.0f);
}

TEST_CASE("concept maps: one more key in its own softmax; the prediction and prompt maps are unchanged", "[engine][concepts]") {
  set_threads(1);
  Model m = Model::load(kPkg);
  REQUIRE(m.has_concepts());
  const Encoding e = m.tokenize("a red circle");
  const at::Tensor context = encode_prompts(m, e, "", /*guidance_scale=*/7.5);  // [2, 77, D]
  const int lat = m.info().sample_size / m.info().vae_scale_factor;
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor x = at::randn({2, m.info().latent_channels, lat, lat}, gen, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor t = at::full({2}, 500.0f);
  at::NoGradGuard ng;
  const DenoiserOutput plain = m.denoise(x, t, context);
  // concept 0 is the prompt's own "red" token embedding (position 2), concept 1 is random
  const at::Tensor concepts =
      at::cat({context.narrow(1, 2, 1), at::randn({2, 1, context.size(2)}, gen, at::TensorOptions().dtype(at::kFloat))}, 1)
          .contiguous();
  const DenoiserOutput with = m.denoise(x, t, context, concepts);
  CHECK(at::equal(plain.prediction, with.prediction));  // bit for bit: the concepts never feed the output
  REQUIRE(with.concept_attention.size() == plain.text_attention.size());
  for (size_t l = 0; l < plain.text_attention.size(); ++l) {
    CHECK(at::equal(plain.text_attention[l], with.text_attention[l]));
    const auto& c = with.concept_attention[l];
    REQUIRE(c.sizes() == at::IntArrayRef({2, plain.text_attention[l].size(1), plain.text_attention[l].size(2), 2}));
    // a key equal to key j, added to the softmax: e^s_j / (Z + e^s_j) = p_j / (1 + p_j)
    const at::Tensor pj = plain.text_attention[l].select(3, 2);
    const double err = (c.select(3, 0) - pj / (1 + pj)).abs().max().item<double>();
    INFO("layer " << l << ": max |concept - p/(1+p)| " << err);
    CHECK(err < 1e-6);
    CHECK(c.min().item<float>() >= 0.f);
    CHECK(c.max().item<float>() < 1.f);
  }
}

TEST_CASE("generate --concepts: the same image, concept maps captured per step", "[engine][concepts]") {
  set_threads(1);
  Model m = Model::load(kPkg);
  auto o = small_options();
  AttentionCapture plain_capture, concept_capture;
  const auto plain = generate(m, o, {&plain_capture});
  o.concepts = {"blue", "square", "small red"};
  const auto with = generate(m, o, {&concept_capture});
  CHECK(at::equal(plain.final_latent, with.final_latent));
  CHECK(at::equal(plain.image, with.image));
  CHECK(at::equal(plain_capture.maps(), concept_capture.maps()));
  CHECK_FALSE(plain_capture.concept_maps().defined());
  const int latent = m.info().sample_size / m.info().vae_scale_factor;
  REQUIRE(concept_capture.concept_maps().sizes() == at::IntArrayRef({4, 3, latent, latent}));
  CHECK(at::isfinite(concept_capture.concept_maps()).all().item<bool>());
  // a concept's map does not depend on the other concepts listed
  AttentionCapture alone;
  o.concepts = {"square"};
  generate(m, o, {&alone});
  CHECK(at::allclose(alone.concept_maps().select(1, 0), concept_capture.concept_maps().select(1, 1), 0, 1e-7));
  // the embedding: the word's tokens between start and end, encoded on their own
  const at::Tensor emb = m.encode_concepts({"square", "small red"});
  const Encoding e = m.tokenize("small red");
  REQUIRE(e.length == 4);
  const at::Tensor full = m.encode_text(at::tensor(e.ids, at::kLong).unsqueeze(0))[0];
  CHECK(at::allclose(emb[1], full.narrow(0, 1, 2).mean(0)));
  // --concept-context prompt (the default in generate): the word as the prompt's next word
  const Encoding after = m.tokenize("a red circle square");
  REQUIRE(after.length == 6);
  const at::Tensor in_context = m.encode_text(at::tensor(after.ids, at::kLong).unsqueeze(0))[0][4];
  CHECK(at::allclose(m.encode_concepts({"square"}, "a red circle")[0], in_context));
  CHECK_THROWS_WITH(m.encode_concepts({"sky", "sky"}), Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(m.encode_concepts({" "}), Catch::Contains("is empty"));
  std::string long_concept;
  for (int i = 0; i < 100; ++i) long_concept += "red ";
  CHECK_THROWS_WITH(m.encode_concepts({long_concept}), Catch::Contains("does not fit"));
}

TEST_CASE("generate_batch: each prompt keeps its seed, generator and scheduler state (ancestral sampling too)", "[engine][batching]") {
  set_threads(1);
  Model m = Model::load(kPkg);
  for (const char* scheduler : {"euler_a", "pndm"}) {  // fresh noise every step; a multistep history
    INFO(scheduler);
    std::vector<GenerateOptions> opts(3, small_options());
    const char* prompts[] = {"a red circle", "a blue square", "a green triangle and a red circle"};
    for (size_t k = 0; k < opts.size(); ++k) {
      opts[k].scheduler = scheduler;
      opts[k].prompt = prompts[k];
      opts[k].seed = static_cast<int64_t>(10 + k);
    }
    opts[2].negative_prompt = "blurry";  // per prompt, like the seed
    std::vector<AttentionCapture> caps(3), alone_caps(3);
    const auto batched = generate_batch(m, opts, {{&caps[0]}, {&caps[1]}, {&caps[2]}});
    for (size_t k = 0; k < opts.size(); ++k) {
      const auto alone = generate(m, opts[k], {&alone_caps[k]});
      CHECK(at::equal(batched[k].initial_latent, alone.initial_latent));
      const double dl = (batched[k].final_latent - alone.final_latent).abs().max().item<double>();
      const double da = (caps[k].maps() - alone_caps[k].maps()).abs().max().item<double>();
      INFO("prompt " << k << ": max |batched - alone| latent " << dl << ", attention " << da);
      CHECK(dl < 2e-4);  // measured up to 6.5e-5 (euler_a, whose noise is rescaled each step), 7e-6 (pndm)
      CHECK(da < 1e-5);
    }
  }
  // what the loop shares must agree
  std::vector<GenerateOptions> bad(2, small_options());
  bad[1].guidance_scale = 2.0;
  CHECK_THROWS_WITH(generate_batch(m, bad, {{}, {}}), Catch::Contains("--guidance"));
}

TEST_CASE("predict: the export's forward_prediction equals denoise's prediction bit for bit, with no maps", "[engine]") {
  set_threads(1);
  Model m = Model::load(kPkg);
  const Encoding e = m.tokenize("a red circle");
  const at::Tensor context = encode_prompts(m, e, "", /*guidance_scale=*/7.5);
  const int lat = m.info().sample_size / m.info().vae_scale_factor;
  at::Generator gen = at::detail::createCPUGenerator(9);
  const at::Tensor x = at::randn({2, m.info().latent_channels, lat, lat}, gen, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor t = at::full({2}, 321.0f);
  at::NoGradGuard ng;
  CHECK(at::equal(m.predict(x, t, context), m.denoise(x, t, context).prediction));
  // a run without capture takes that path; its latents are the captured run's
  auto o = small_options();
  AttentionCapture capture;
  const auto with_maps = generate(m, o, {&capture});
  o.capture_maps = false;
  const auto without = generate(m, o, {});
  CHECK(at::equal(with_maps.final_latent, without.final_latent));
}

TEST_CASE("an SD3 package with T5: CLIP ids, then T5's; a word's positions in both; its spiece.model required",
          "[engine][t5]") {
  const std::string pkg = std::string(DS_REFERENCE_DIR) + "/sd3-t5-tiny/package";
  auto m = Model::load(pkg);
  REQUIRE(m.info().t5_max_length == 16);
  CHECK(m.info().text_tokens() == 77 + 16);
  const Encoding e = m.tokenize("a red circle and a blue square");
  REQUIRE(e.ids.size() == 93);
  // T5's ids as T5Tokenizer gave them (reference.npz token_ids_3): [23 200 130 16 23 493 331 1 0 ...]
  CHECK(std::vector<int64_t>(e.ids.begin() + 77, e.ids.begin() + 85) ==
        std::vector<int64_t>{23, 200, 130, 16, 23, 493, 331, 1});
  CHECK(e.ids[77 + 8] == 0);  // <pad>
  CHECK(e.length == 9);  // CLIP's: start, 7 words, end
  REQUIRE(e.words.size() == 7);
  for (const auto& w : e.words) {
    INFO(w.text);
    REQUIRE(w.positions.size() >= 2);
    CHECK(w.positions.front() < 77);
    CHECK(w.positions.back() >= 77);
  }
  CHECK(e.words[1].text == "red");
  CHECK(e.words[1].positions == std::vector<int>{2, 77 + 1});
  const at::Tensor ctx = m.encode_text(at::tensor(e.ids, at::kLong).unsqueeze(0));
  CHECK(ctx.size(1) == 93 + 1);

  TempDir tmp("t5");
  ds_test::copy_package(pkg, tmp.path / "p");
  fs::remove(tmp.path / "p" / "tokenizer_3" / "spiece.model");
  CHECK(load_error((tmp.path / "p").string()).find("tokenizer_3/spiece.model: missing") != std::string::npos);
  ds_test::write_text(tmp.path / "p" / "tokenizer_3" / "spiece.model", "not a model");
  CHECK(load_error((tmp.path / "p").string()).find("spiece.model: not a sentencepiece model") != std::string::npos);
}

TEST_CASE("an SDXL package: both encoders' rows, the pooled row handed apart, zero negatives, every attn2 map",
          "[engine][sdxl]") {
  set_threads(1);
  const std::string pkg = std::string(DS_REFERENCE_DIR) + "/sdxl-tiny/package";
  auto m = Model::load(pkg);
  const ModelInfo& info = m.info();
  CHECK(info.family == "sdxl");
  CHECK(info.traits().layers_key == "cross_attention");
  CHECK(info.pooled_dim == 16);
  CHECK(info.pad_token_2 == "!");
  CHECK(info.force_zeros_for_empty_prompt);
  CHECK(info.text_tokens() == 77);
  REQUIRE(info.attention_layers.size() == 28);
  const Encoding e = m.tokenize("a red circle and a blue square");
  // [B, 77 + the pooled row, D1 + D2]; the pooled vector zero-padded to the context width
  const at::Tensor one = encode_prompts(m, e, "", 1.0);
  REQUIRE(one.sizes() == at::IntArrayRef({1, 78, 48}));
  CHECK(one[0][77].narrow(0, 16, 32).abs().sum().item<float>() == 0.0f);
  // no negative prompt: zero negative rows (force_zeros_for_empty_prompt); a negative prompt is encoded
  const at::Tensor zeros = encode_prompts(m, e, "", 5.0);
  REQUIRE(zeros.sizes() == at::IntArrayRef({2, 78, 48}));
  CHECK(zeros[0].abs().sum().item<float>() == 0.0f);
  CHECK(at::equal(zeros[1], one[0]));
  const at::Tensor neg = encode_prompts(m, e, "black white", 5.0);
  CHECK(neg[0].abs().sum().item<float>() > 0.0f);
  CHECK(at::allclose(neg[1], one[0], 1e-5, 1e-6));  // encoded in one batch with the negative prompt
  // the family unpacks the text tensor: context, pooled vector, time ids of the generated size
  const ModelFamily& family = model_family(info);
  const at::Tensor x = at::randn({2, 4, 12, 8});
  const Conditioning c = family.condition(info, neg, x);
  CHECK(c.context.sizes() == at::IntArrayRef({2, 77, 48}));
  CHECK(c.pooled.sizes() == at::IntArrayRef({2, 16}));
  REQUIRE(c.time_ids.sizes() == at::IntArrayRef({2, 6}));
  // 12 x 8 latent pixels = 96 x 64 px: original size (96, 64), crop (0, 0), target size (96, 64)
  const at::Tensor want = at::tensor(std::vector<float>{96, 64, 0, 0, 96, 64});
  CHECK(at::equal(c.time_ids[0], want));
  CHECK(at::equal(c.time_ids[1], want));
  const DenoiserOutput out = m.denoise(x, at::full({2}, 500.0f), neg);
  REQUIRE(out.text_attention.size() == 28);
  CHECK(out.text_attention[0].size(3) == 77);
  CHECK(at::equal(m.predict(x, at::full({2}, 500.0f), neg), out.prediction));
  // a text encoder that returns one tensor is refused in one line naming it
  TempDir tmp("sdxl");
  ds_test::copy_package(pkg, tmp.path / "p");
  const auto index = (tmp.path / "p" / "model_index.json").string();
  auto j = read_json_file(index);
  j["pooled_dim"] = 64;
  ds_test::write_text(index, j.dump());
  CHECK(load_error((tmp.path / "p").string()).find("\"pooled_dim\" is 64, expected 1..context_dim (48)") != std::string::npos);
  j["pooled_dim"] = 16;
  j["time_ids_dim"] = 5;
  ds_test::write_text(index, j.dump());
  CHECK(load_error((tmp.path / "p").string()).find("\"time_ids_dim\" is 5, expected 6") != std::string::npos);
}

TEST_CASE("a Flux package: T5's rows alone, CLIP's ids leading; distilled guidance in the pooled row, no CFG row",
          "[engine][flux]") {
  set_threads(1);
  const std::string pkg = std::string(DS_REFERENCE_DIR) + "/flux-tiny/package";
  auto m = Model::load(pkg);
  const ModelInfo& info = m.info();
  CHECK_FALSE(info.clip_text_rows);
  CHECK(info.guidance == "distilled");
  CHECK(info.guidance_index == 32);  // after CLIP's 32-wide pooled vector
  CHECK(info.pipeline == "FluxPipeline");
  CHECK(info.text_tokens() == 16);
  const Encoding e = m.tokenize("a red circle and a blue square");
  // T5Tokenizer's ids (reference.npz token_ids_3); the rows and words are T5's, CLIP's 77 ids lead for pooling
  REQUIRE(e.ids.size() == 16);
  CHECK(std::vector<int64_t>(e.ids.begin(), e.ids.begin() + 9) == std::vector<int64_t>{23, 200, 130, 16, 23, 493, 331, 1, 0});
  CHECK(e.length == 8);
  REQUIRE(e.leading_ids.size() == 77);
  CHECK(e.leading_ids.front() == m.tokenizer().bos_id());
  CHECK(encoder_ids(e).size() == 93);
  REQUIRE(e.words.size() == 7);
  CHECK(e.words[1].text == "red");
  CHECK(e.words[1].positions == std::vector<int>{1});
  CHECK(e.tokens[1] == "\u2581red");
  // the guidance scale is a model input: one batch row at any scale, the scale at the pooled row's entry 32
  CHECK_FALSE(uses_cfg(info, 7.5));
  const at::Tensor ctx = encode_prompts(m, e, "", 7.5);
  REQUIRE(ctx.sizes() == at::IntArrayRef({1, 17, 48}));
  CHECK(ctx[0][16][32].item<float>() == 7.5f);
  const at::Tensor ctx1 = encode_prompts(m, e, "", 1.0);
  CHECK(ctx1[0][16][32].item<float>() == 1.0f);
  CHECK(at::equal(ctx.narrow(1, 0, 16), ctx1.narrow(1, 0, 16)));
  CHECK(ctx[0][16].narrow(0, 33, 15).abs().sum().item<float>() == 0.0f);  // zero padding after it
  // no negative prompt: refused with a sentence, not dropped
  GenerateOptions o;
  o.prompt = "a red circle";
  o.negative_prompt = "blurry";
  o.steps = 2;
  o.show_progress = false;
  try {
    generate(m, o, {});
    FAIL("expected an error");
  } catch (const Error& err) {
    CHECK(std::string(err.what()).find("--negative") != std::string::npos);
    CHECK(std::string(err.what()).find("no negative prompt") != std::string::npos);
  }
  // concept embeddings come from T5's rows (the width the transformer's context_embedder takes)
  REQUIRE(m.has_concepts());
  CHECK(m.encode_concepts({"sky", "tree"}).sizes() == at::IntArrayRef({2, 48}));

  // FLUX.1-schnell's configuration: no guidance input, FluxPipeline's sigmas linspace(1, 1/N, N) with shift 1
  auto s = Model::load(std::string(DS_REFERENCE_DIR) + "/flux-schnell-tiny/package");
  CHECK(s.info().guidance == "none");
  CHECK(s.info().guidance_index == -1);
  CHECK(s.scheduler_config().pipeline_linspace_sigmas);
  auto sched = make_scheduler("flow_euler", s.scheduler_config());
  sched->set_timesteps(6);
  for (int i = 0; i < 6; ++i) CHECK(sched->sigmas()[i] == static_cast<double>(static_cast<float>(1.0 - i * (1.0 - 1.0 / 6) / 5)));
  CHECK(encode_prompts(s, s.tokenize("a red circle"), "", 7.5).size(0) == 1);

  // model_index.json's new keys are checked
  TempDir tmp("flux");
  ds_test::copy_package(pkg, tmp.path / "p");
  const auto index = (tmp.path / "p" / "model_index.json").string();
  auto j = read_json_file(index);
  const auto with = [&](const char* key, const nlohmann::json& v) {
    auto k = j;
    k[key] = v;
    ds_test::write_text(tmp.path / "p" / "model_index.json", k.dump());
    return load_error((tmp.path / "p").string());
  };
  CHECK(with("text_rows", "bert").find("\"text_rows\" must be \"clip\" or \"t5\", got \"bert\"") != std::string::npos);
  CHECK(with("guidance", "auto").find("\"guidance\" must be \"cfg\", \"distilled\" or \"none\"") != std::string::npos);
  CHECK(with("guidance_index", -2).find("\"guidance_index\" is -2") != std::string::npos);
  CHECK(with("guidance", "none").find("\"guidance_index\" is for \"guidance\": \"distilled\"") != std::string::npos);
  CHECK(with("pipeline", "KandinskyPipeline").find("\"pipeline\" must be") != std::string::npos);
  j.erase("t5_max_length");
  CHECK(with("text_rows", "t5").find("there is no \"t5_max_length\"") != std::string::npos);
}

TEST_CASE("--text-queries: the text-query x image-key block, reduced as the maps; the image and maps unchanged",
          "[engine][flux]") {
  set_threads(1);
  auto m = Model::load(std::string(DS_REFERENCE_DIR) + "/flux-tiny/package");
  REQUIRE(m.has_text_queries());
  const Encoding e = m.tokenize("a red circle and a blue square");
  const at::Tensor context = encode_prompts(m, e, "", 3.5);
  at::Generator gen = at::detail::createCPUGenerator(4);
  const at::Tensor x = at::randn({1, 4, 16, 16}, gen, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor t = at::full({1}, 750.0f);
  at::NoGradGuard ng;
  const DenoiserOutput plain = m.denoise(x, t, context);
  const DenoiserOutput q = m.denoise(x, t, context, at::Tensor(), true);
  CHECK(at::equal(plain.prediction, q.prediction));
  REQUIRE(q.text_queries.size() == 4);
  for (size_t l = 0; l < 4; ++l) {
    CHECK(at::equal(plain.text_attention[l], q.text_attention[l]));
    const at::Tensor& a = q.text_queries[l];
    REQUIRE(a.sizes() == at::IntArrayRef({1, 2, 64, 16}));
    // each text token's query spreads at most all its probability over the 64 image tokens (the rest goes to text)
    const at::Tensor share = a.sum(2);
    CHECK(share.max().item<float>() <= 1.0f + 1e-5f);
    CHECK(share.min().item<float>() > 0.0f);
  }
  CHECK_THROWS_WITH(m.denoise(x, t, context, m.encode_concepts({"sky"}).unsqueeze(0), true),
                    Catch::Contains("--text-queries and --concepts: one at a time"));
  // a generation with them: the latents are the plain run's, the maps [steps, tokens, h, w] beside maps.npy
  GenerateOptions o;
  o.prompt = "a red circle";
  o.seed = 2;
  o.steps = 3;
  o.guidance_scale = 3.5;
  o.show_progress = false;
  AttentionCapture plain_capture, query_capture;
  const GenerateResult r0 = generate(m, o, {&plain_capture});
  o.text_queries = true;
  const GenerateResult r1 = generate(m, o, {&query_capture});
  CHECK(at::equal(r0.final_latent, r1.final_latent));
  CHECK(at::equal(plain_capture.maps(), query_capture.maps()));
  CHECK_FALSE(plain_capture.text_query_maps().defined());
  REQUIRE(query_capture.text_query_maps().sizes() == at::IntArrayRef({3, 16, 16, 16}));
  CHECK(at::isfinite(query_capture.text_query_maps()).all().item<bool>());
  // a UNet's text tokens ask no queries
  auto unet = Model::load(kPkg);
  GenerateOptions u = small_options();
  u.text_queries = true;
  CHECK_THROWS_WITH(generate(unet, u, {}), Catch::Contains("is a UNet, whose text tokens ask no queries"));
}
