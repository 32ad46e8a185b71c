// Scheduler tests: every number diffusers 0.31 computed for SD 1.5's configuration (tests/data/reference/schedulers).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <tuple>
#include <vector>
#include <nlohmann/json.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/sched/scheduler.h"
#include "diffscope/sched/scheduler_names.h"
#include "test_support.h"

using namespace diffscope;

namespace {
const std::string kDir = std::string(DS_REFERENCE_DIR) + "/schedulers/";

nlohmann::json load(const std::string& name) {
  INFO("reference data " << kDir << name << ".json (see tests/data/README.md)");
  REQUIRE(std::ifstream(kDir + name + ".json").good());
  return read_python_json_file(kDir + name + ".json");  // Python's json wrote -Infinity (lambda_min_clipped)
}

at::Tensor t4(const nlohmann::json& v) {
  auto d = v.get<std::vector<float>>();
  return at::tensor(d, at::kFloat).view({1, 4, 4, 4});
}

double worst = 0;  // largest relative difference seen, reported at the end

void close(const at::Tensor& got, const nlohmann::json& want, const std::string& what) {
  at::Tensor w = t4(want);
  const double diff = ((got - w).abs() / w.abs().clamp_min(1.0)).max().item<double>();
  worst = std::max(worst, diff);
  INFO(what << ": max relative difference " << diff);
  CHECK(diff <= 1e-5);
}

void check_scheduler(const std::string& cls) {
  const auto j = load(cls);
  const auto common = load("common");
  const at::Tensor S = t4(common["S_seed1"]), E = t4(common["E_seed2"]);
  for (const auto& [variant, v] : j["variants"].items()) {
    for (const auto& [steps, run] : v["runs"].items()) {
      INFO(cls << " " << variant << " " << steps << " steps");
      auto cfg = SchedulerConfig::from_json(v["config"], cls + ".json");
      auto s = make_scheduler(cls, cfg);
      s->set_timesteps(std::stoi(steps));
      // as diffusers holds them: Euler's linspace timesteps are fractional float32 values (946.42108...)
      CHECK(s->timesteps() == run["timesteps"].get<std::vector<double>>());
      CHECK(s->init_noise_sigma() == Approx(run["init_noise_sigma"].get<double>()).epsilon(1e-6));
      if (run.contains("sigmas")) {
        auto want = run["sigmas"].get<std::vector<double>>();
        REQUIRE(s->sigmas().size() == want.size());
        for (size_t i = 0; i < want.size(); ++i) CHECK(s->sigmas()[i] == Approx(want[i]).epsilon(1e-6).margin(1e-7));
      }
      // single steps from a fresh scheduler at each t
      for (const auto& one : run["single"]) {
        if (variant == "leading_prk") break;  // a fresh PRK scheduler is always in its first warm-up call
        auto f = make_scheduler(cls, cfg);
        f->set_timesteps(std::stoi(steps));
        const double t = one["t"];
        at::Tensor scaled = f->scale_model_input(S, t);
        if (one.contains("scale")) CHECK(at::allclose(scaled, S * one["scale"].get<double>(), 1e-6, 1e-6));
        at::Tensor noise;
        if (one.contains("variance_noise")) noise = t4(one["variance_noise"]);
        auto out = f->step(E, t, S, c10::nullopt, noise.defined() ? &noise : nullptr);
        close(out.prev_sample, one["prev_sample"], "single prev_sample t=" + std::to_string(t));
        if (one.contains("pred_original_sample"))
          close(out.pred_original_sample, one["pred_original_sample"], "single x0 t=" + std::to_string(t));
      }
      // the whole loop, feeding our own previous sample forward
      at::Tensor x = t4(run["loop_x_init"]);
      for (const auto& st : run["loop"]) {
        const double t = st["t"];
        at::Tensor noise;
        if (st.contains("variance_noise")) noise = t4(st["variance_noise"]);
        auto out = s->step(t4(st["model_output"]), t, x, c10::nullopt, noise.defined() ? &noise : nullptr);
        close(out.prev_sample, st["prev_sample"], "loop prev_sample k=" + std::to_string(st["k"].get<int>()));
        if (st.contains("pred_original_sample"))
          close(out.pred_original_sample, st["pred_original_sample"], "loop x0 k=" + std::to_string(st["k"].get<int>()));
        x = out.prev_sample;
      }
      close(x, run["loop_final"], "loop final");
    }
  }
}
}  // namespace

TEST_CASE("training schedule equals diffusers' betas and alphas_cumprod", "[sched]") {
  const auto common = load("common");
  auto cfg = SchedulerConfig::from_json(common["sd15_scheduler_config"], "common.json");
  auto s = make_scheduler("ddim", cfg);
  auto want = common["alphas_cumprod"].get<std::vector<double>>();
  REQUIRE(s->alphas_cumprod().size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(s->alphas_cumprod()[i] == Approx(want[i]).epsilon(1e-7));
}

TEST_CASE("DDIM matches diffusers", "[sched]") { check_scheduler("DDIMScheduler"); }
TEST_CASE("DDPM matches diffusers", "[sched]") { check_scheduler("DDPMScheduler"); }
TEST_CASE("PNDM (PLMS) matches diffusers", "[sched]") { check_scheduler("PNDMScheduler"); }
TEST_CASE("Euler matches diffusers", "[sched]") { check_scheduler("EulerDiscreteScheduler"); }
TEST_CASE("DPM-Solver++ 2M matches diffusers", "[sched]") {
  check_scheduler("DPMSolverMultistepScheduler");
  WARN("largest relative difference over all scheduler checks: " << worst);
}

TEST_CASE("configuration errors name the key", "[sched]") {
  nlohmann::json j = {{"beta_schedule", "cubic"}};
  CHECK_THROWS_WITH(SchedulerConfig::from_json(j, "cfg.json"), Catch::Contains("cfg.json: \"beta_schedule\" is \"cubic\""));
  j = {{"num_train_timesteps", "many"}};
  CHECK_THROWS_WITH(SchedulerConfig::from_json(j, "cfg.json"), Catch::Contains("\"num_train_timesteps\" must be an integer"));
  j = {{"timestep_spacing", "sideways"}};
  CHECK_THROWS_AS(SchedulerConfig::from_json(j, "cfg.json"), Error);
  CHECK_THROWS_WITH(make_scheduler("heun", SchedulerConfig{}), Catch::Contains("unknown scheduler"));
  CHECK(scheduler_name_from_class("EulerDiscreteScheduler") == "euler");
  auto s = make_scheduler("ddim", SchedulerConfig{});
  CHECK_THROWS_WITH(s->set_timesteps(5000), Catch::Contains("expected 1..1000"));
  // numbers that would give a NaN run or a raw library error
  j = {{"beta_start", -0.1}};
  CHECK_THROWS_WITH(SchedulerConfig::from_json(j, "cfg.json"), Catch::Contains("0 < beta_start <= beta_end < 1"));
  j = {{"beta_end", 1.0}};
  CHECK_THROWS_WITH(SchedulerConfig::from_json(j, "cfg.json"), Catch::Contains("beta_end < 1"));
  j = {{"steps_offset", 5000}};
  CHECK_THROWS_WITH(SchedulerConfig::from_json(j, "cfg.json"), Catch::Contains("\"steps_offset\" must be 0..999"));
  j = {{"num_train_timesteps", 1000.5}};
  CHECK_THROWS_WITH(SchedulerConfig::from_json(j, "cfg.json"), Catch::Contains("must be an integer"));
  j = {{"num_train_timesteps", 1000.0}};
  CHECK(SchedulerConfig::from_json(j, "cfg.json").num_train_timesteps == 1000);
  j = {{"trained_betas", {0.1, 0.2}}, {"num_train_timesteps", 2}, {"beta_end", 2}};
  CHECK(SchedulerConfig::from_json(j, "cfg.json").trained_betas.size() == 2);  // trained_betas override the range
  j = {{"trained_betas", {0.1, 1.5}}, {"num_train_timesteps", 2}};
  CHECK_THROWS_WITH(SchedulerConfig::from_json(j, "cfg.json"), Catch::Contains("\"trained_betas\"[1] must be in (0, 1)"));
  j = {{"use_karras_sigmas", "yes"}};
  CHECK_THROWS_WITH(SchedulerConfig::from_json(j, "cfg.json"), Catch::Contains("\"use_karras_sigmas\" must be true or false"));
}

TEST_CASE("keys a class takes are implemented or refused; keys it does not take are ignored as diffusers does", "[sched]") {
  auto cfg = [](nlohmann::json j) { return SchedulerConfig::from_json(j, "scheduler_config.json"); };
  // use_exponential_sigmas is taken by Euler and DPM-Solver, not implemented: refused with the key named
  CHECK_THROWS_WITH(make_scheduler("euler", cfg({{"use_exponential_sigmas", true}})),
                    Catch::Contains("\"use_exponential_sigmas\": true is not implemented for EulerDiscreteScheduler"));
  CHECK_THROWS_WITH(make_scheduler("dpm++2m", cfg({{"use_lu_lambdas", true}})), Catch::Contains("use_lu_lambdas"));
  CHECK_THROWS_WITH(make_scheduler("dpm++2m", cfg({{"use_beta_sigmas", true}})), Catch::Contains("use_beta_sigmas"));
  // ... but DDIM does not take it, so diffusers ignores it and so do we
  CHECK_NOTHROW(make_scheduler("ddim", cfg({{"use_exponential_sigmas", true}})));
  CHECK_THROWS_WITH(make_scheduler("dpm++2m", cfg({{"algorithm_type", "sde-dpmsolver"}})),
                    Catch::Contains("\"algorithm_type\": \"sde-dpmsolver\" is not implemented"));
  CHECK_THROWS_WITH(make_scheduler("dpm++2m", cfg({{"algorithm_type", "magic"}})), Catch::Contains("algorithm_type"));
  CHECK_THROWS_WITH(make_scheduler("dpm++2m", cfg({{"solver_order", 4}})), Catch::Contains("must be 1, 2 or 3"));
  CHECK_THROWS_WITH(make_scheduler("dpm++2m", cfg({{"variance_type", "learned_range"}})), Catch::Contains("variance_type"));
  CHECK_THROWS_WITH(make_scheduler("ddpm", cfg({{"variance_type", "fixed_large_log"}})), Catch::Contains("NaN"));
  CHECK_THROWS_WITH(make_scheduler("euler", cfg({{"final_sigmas_type", "one"}})), Catch::Contains("final_sigmas_type"));
  CHECK_THROWS_WITH(make_scheduler("euler", cfg({{"interpolation_type", "cubic"}})), Catch::Contains("interpolation_type"));
  CHECK_THROWS_WITH(make_scheduler("pndm", cfg({{"prediction_type", "sample"}})), Catch::Contains("PNDMScheduler"));
  // class defaults of keys whose default differs: PNDM's set_alpha_to_one is false, DDIM's true
  auto ddim = make_scheduler("ddim", cfg(nlohmann::json::object()));
  CHECK(*ddim->config().set_alpha_to_one);
  CHECK(*ddim->config().clip_sample);
  CHECK(!*make_scheduler("pndm", cfg(nlohmann::json::object()))->config().set_alpha_to_one);
  // thresholding is a DDIM/DDPM/DPM key: Euler ignores it
  CHECK(!make_scheduler("euler", cfg({{"thresholding", true}}))->config().thresholding);
  // --steps up to num_train_timesteps; leading spacing with steps_offset 1 would reach t = 1000 at 1000 steps
  auto sd = cfg({{"steps_offset", 1}, {"beta_schedule", "scaled_linear"}, {"beta_start", 0.00085}, {"beta_end", 0.012}});
  CHECK_THROWS_WITH(make_scheduler("ddim", sd)->set_timesteps(1000), Catch::Contains("reaches timestep 1000"));
  CHECK_NOTHROW(make_scheduler("ddim", sd)->set_timesteps(999));
  CHECK_NOTHROW(make_scheduler("euler", sd)->set_timesteps(1000));
  CHECK_NOTHROW(make_scheduler("dpm++2m", sd)->set_timesteps(1000));
}

namespace {
/// One case of variants.json with the scheduler configuration `cfg`: timesteps, sigmas and the whole loop.
void check_case(const nlohmann::json& c, const SchedulerConfig& cfg) {
  auto s = make_scheduler(c["class"].get<std::string>(), cfg);
  if (c.contains("eta")) s->set_eta(c["eta"].get<double>());
  const auto want_t = c["timesteps"].get<std::vector<double>>();
  if (*std::max_element(want_t.begin(), want_t.end()) >= cfg.num_train_timesteps) {
    // diffusers returns a timestep outside its alphas_cumprod table here (its step() then fails with an
    // IndexError); diffscope refuses the schedule up front
    CHECK_THROWS_WITH(s->set_timesteps(c["num_inference_steps"].get<int>()), Catch::Contains("reaches timestep"));
    return;
  }
  s->set_timesteps(c["num_inference_steps"].get<int>());
  REQUIRE(s->timesteps().size() == want_t.size());
  for (size_t i = 0; i < want_t.size(); ++i) {
    INFO("timestep " << i);
    CHECK(s->timesteps()[i] == Approx(want_t[i]).epsilon(1e-6).margin(1e-5));
  }
  if (c.contains("sigmas")) {
    const auto want = c["sigmas"].get<std::vector<double>>();
    REQUIRE(s->sigmas().size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) CHECK(s->sigmas()[i] == Approx(want[i]).epsilon(1e-6).margin(1e-7));
  }
  CHECK(s->init_noise_sigma() == Approx(c["init_noise_sigma"].get<double>()).epsilon(1e-6));
  if (c["loop"].empty()) return;
  at::Tensor x = t4(c["loop_x_init"]);
  bool finite = true;
  for (const auto& st : c["loop"]) {
    const double t = s->timesteps()[st["k"].get<size_t>()];
    at::Tensor noise;
    if (st.contains("variance_noise")) noise = t4(st["variance_noise"]);
    at::Tensor scaled = s->scale_model_input(x, t);
    if (st.contains("scale")) CHECK(at::allclose(scaled, x * st["scale"].get<double>(), 1e-5, 1e-6));
    auto out = s->step(t4(st["model_output"]), t, x, c10::nullopt, noise.defined() ? &noise : nullptr);
    if (st["prev_sample"].is_array() && !st["prev_sample"].empty() && st["prev_sample"][0].is_null()) {
      finite = false;  // diffusers itself overflowed here (documented in the case's note)
      CHECK(!at::isfinite(out.prev_sample).all().item<bool>());
      break;
    }
    close(out.prev_sample, st["prev_sample"], "loop prev_sample k=" + std::to_string(st["k"].get<int>()));
    if (st.contains("pred_original_sample"))
      close(out.pred_original_sample, st["pred_original_sample"], "loop x0 k=" + std::to_string(st["k"].get<int>()));
    x = out.prev_sample;
  }
  if (finite) close(x, c["loop_final"], "loop final");
}

/// Every case of variants.json: diffusers 0.31 with scheduler keys beyond SD 1.5's defaults, one sampling loop each
/// (reference model outputs fed to our scheduler, our own samples fed forward).
void check_variants(const std::string& prefix) {
  const auto j = load("variants");
  int cases = 0;
  for (const auto& c : j["cases"]) {
    const std::string name = c["name"];
    if (name.rfind(prefix, 0) != 0) continue;
    INFO("variants.json case " << name);
    REQUIRE(!c.contains("error"));
    ++cases;
    check_case(c, SchedulerConfig::from_json(c["config"], name));
  }
  CHECK(cases > 0);
}

const nlohmann::json& variant_case(const nlohmann::json& variants, const std::string& name) {
  for (const auto& c : variants["cases"])
    if (c["name"] == name) return c;
  FAIL("variants.json has no case " << name);
  throw std::logic_error("unreachable");
}
}  // namespace

TEST_CASE("Euler variants match diffusers (Karras, zero SNR, log-linear, continuous, final sigma)", "[sched]") {
  check_variants("euler_");
}
TEST_CASE("DPM-Solver variants match diffusers (orders 1-3, SDE, Karras, Heun, thresholding, zero SNR)", "[sched]") {
  check_variants("dpm_");
}
TEST_CASE("scheduler_config.json as diffusers saves it (-Infinity included) reads through from_file and samples as diffusers does", "[sched]") {
  // tests/data/scheduler_configs: DPM++ 2M, 2M Karras and 2M SDE as save_pretrained writes them; each must give
  // what diffusers 0.31 computed with the same keys (variants.json: timesteps, sigmas, a whole sampling loop)
  const std::string dir = std::string(DS_SOURCE_DIR) + "/tests/data/scheduler_configs/";
  const auto variants = load("variants");
  const std::vector<std::tuple<std::string, std::string, bool, std::string>> fixtures{
      {"dpmpp_2m", "dpm_default_10", false, "dpmsolver++"},
      {"dpmpp_2m_karras", "dpm_karras_10", true, "dpmsolver++"},
      {"dpmpp_2m_sde", "dpm_sde_order2_10", false, "sde-dpmsolver++"}};
  for (const auto& [fixture, case_name, karras, algorithm] : fixtures) {
    const std::string path = dir + fixture + "/scheduler_config.json";
    INFO(path << " against variants.json " << case_name);
    REQUIRE(ds_test::read_text(path).find("\"lambda_min_clipped\": -Infinity,\n") != std::string::npos);
    const SchedulerConfig cfg = SchedulerConfig::from_file(path);
    CHECK(cfg.source == path);
    CHECK(cfg.class_name == "DPMSolverMultistepScheduler");
    CHECK(default_scheduler_of(cfg) == "dpm++2m");
    CHECK(std::isinf(cfg.lambda_min_clipped));
    CHECK(cfg.lambda_min_clipped < 0);
    CHECK(cfg.use_karras_sigmas == karras);
    CHECK(cfg.algorithm_type == algorithm);
    check_case(variant_case(variants, case_name), cfg);
  }
  // the words mean the key's default whichever was written (lambda_min_clipped's default is -Infinity itself)
  ds_test::TempDir tmp("sched-words");
  const std::string base = ds_test::read_text(dir + "dpmpp_2m/scheduler_config.json");
  for (const char* word : {"Infinity", "NaN"}) {
    std::string text = base;
    text.replace(text.find("-Infinity"), 9, word);
    const std::string p = (tmp.path / (std::string(word) + ".json")).string();
    ds_test::write_text(p, text);
    CHECK(std::isinf(SchedulerConfig::from_file(p).lambda_min_clipped));
    CHECK(SchedulerConfig::from_file(p).lambda_min_clipped < 0);
  }
  // a key value diffscope does not implement is still refused, naming the file and the key
  std::string text = base;
  text.replace(text.find("\"use_exponential_sigmas\": false"), 31, "\"use_exponential_sigmas\": true");
  const std::string refused = (tmp.path / "exponential.json").string();
  ds_test::write_text(refused, text);
  CHECK_THROWS_WITH(make_scheduler("dpm++2m", SchedulerConfig::from_file(refused)),
                    Catch::StartsWith(refused + ": \"use_exponential_sigmas\": true is not implemented for "
                                      "DPMSolverMultistepScheduler"));
  // not JSON even for Python: one line naming the file
  text = base;
  text.replace(text.find("-Infinity"), 9, "-Infinityy");
  ds_test::write_text(refused, text);
  CHECK_THROWS_WITH(SchedulerConfig::from_file(refused), Catch::StartsWith(refused + ": not valid JSON (line 12: "));
  CHECK_THROWS_WITH(SchedulerConfig::from_file((tmp.path / "none.json").string()),
                    Catch::EndsWith("none.json: missing or unreadable (expected diffusers' scheduler_config.json)"));
}

TEST_CASE("LMS (Diffusion Explainer's sampler) and Euler ancestral match diffusers", "[sched]") {
  check_variants("lms_");
  check_variants("eulera_");
}
TEST_CASE("DDIM, DDPM and PNDM variants match diffusers (thresholding, clipping, zero SNR, eta, PRK, 1000 steps)", "[sched]") {
  check_variants("ddim_");
  check_variants("ddpm_");
  check_variants("pndm_");
}

TEST_CASE("custom timesteps and the generator's noise", "[sched]") {
  SchedulerConfig cfg;
  auto s = make_scheduler("ddim", cfg);
  s->set_custom_timesteps({900, 500, 100});
  CHECK(s->timesteps() == std::vector<double>{900, 500, 100});
  CHECK_THROWS_AS(make_scheduler("pndm", [] {
                    SchedulerConfig c;
                    c.skip_prk_steps = true;
                    return c;
                  }())->set_custom_timesteps({900, 100}),
                  Error);
  // DDPM draws torch.randn(shape, generator) after the mean: same seed, same sample
  auto d1 = make_scheduler("ddpm", cfg), d2 = make_scheduler("ddpm", cfg);
  d1->set_timesteps(10);
  d2->set_timesteps(10);
  at::Tensor x = at::ones({1, 4, 4, 4}), e = at::zeros({1, 4, 4, 4});
  auto g1 = at::detail::createCPUGenerator(7), g2 = at::detail::createCPUGenerator(7);
  CHECK(at::equal(d1->step(e, d1->timesteps()[0], x, g1).prev_sample, d2->step(e, d2->timesteps()[0], x, g2).prev_sample));
}

TEST_CASE("FlowMatchEuler (SD3 static shift, Flux resolution shift) matches diffusers step for step", "[sched]") {
  const auto j = load("FlowMatchEulerDiscreteScheduler");
  const auto common = load("common");
  const at::Tensor S = t4(common["S_seed1"]), E = t4(common["E_seed2"]);
  int cases = 0;
  for (const auto& c : j["cases"]) {
    const std::string name = c["name"];
    INFO("FlowMatchEulerDiscreteScheduler.json case " << name);
    ++cases;
    const auto cfg = SchedulerConfig::from_json(c["config"], name);
    auto s = make_scheduler(c["config"]["_class_name"].get<std::string>(), cfg);
    CHECK(s->name() == "flow_euler");
    const int steps = c["num_inference_steps"];
    if (!c["image_seq_len"].is_null()) {
      CHECK_THROWS_WITH(s->set_timesteps(steps), Catch::Contains("image-seq-len"));  // Flux needs the token count
      s->set_image_seq_len(c["image_seq_len"].get<int64_t>());
    }
    s->set_timesteps(steps);
    // float32 values exactly as diffusers holds them (987.380615234375, ...)
    CHECK(s->timesteps() == c["timesteps"].get<std::vector<double>>());
    CHECK(s->sigmas() == c["sigmas"].get<std::vector<double>>());
    CHECK(s->init_noise_sigma() == 1.0);
    CHECK(at::equal(s->scale_model_input(S, s->timesteps()[0]), S));
    const auto& sn = c["scale_noise"];
    close(s->scale_noise(S, E, sn["t"].get<double>()), sn["sample"], "scale_noise");
    at::Tensor x = t4(c["loop_x_init"]);
    for (const auto& st : c["loop"]) {
      const double t = st["t"];
      // the velocity model of the fixture, recomputed: v = 0.6 x + 0.4 E cos(pi/2 t/1000) in float32
      const at::Tensor v = 0.6f * x + 0.4f * E * std::cos(static_cast<float>(M_PI / 2) * static_cast<float>(t) / 1000.0f);
      close(v, st["model_output"], "model output k=" + std::to_string(st["k"].get<int>()));
      const auto out = s->step(t4(st["model_output"]), t, x);
      close(out.prev_sample, st["prev_sample"], "loop prev_sample k=" + std::to_string(st["k"].get<int>()));
      close(out.pred_original_sample, st["pred_original_sample"], "loop x0 k=" + std::to_string(st["k"].get<int>()));
      x = out.prev_sample;
    }
    close(x, c["loop_final"], "loop final");
    CHECK_THROWS_WITH(s->step(E, c["loop"].back()["t"].get<double>(), x), Catch::Contains("more often"));
  }
  CHECK(cases == 7);
  // keys of later diffusers versions are refused, never ignored; Karras sigmas do not exist for this class in 0.31
  CHECK_THROWS_WITH(make_scheduler("flow_euler", SchedulerConfig::from_json({{"shift_terminal", 0.02}}, "cfg.json")),
                    Catch::Contains("shift_terminal"));
  CHECK_THROWS_WITH(make_scheduler("flow_euler", SchedulerConfig::from_json({{"invert_sigmas", true}}, "cfg.json")),
                    Catch::Contains("invert_sigmas"));
  CHECK_THROWS_WITH(make_scheduler("flow_euler", SchedulerConfig::from_json({{"use_karras_sigmas", true}}, "cfg.json")),
                    Catch::Contains("use_karras_sigmas"));
  CHECK_THROWS_WITH(SchedulerConfig::from_json({{"shift", 0}}, "cfg.json"), Catch::Contains("\"shift\" must be"));
  CHECK_THROWS_AS(make_scheduler("flow_euler", SchedulerConfig{})->set_custom_timesteps({900, 500}), Error);
  CHECK(scheduler_name_from_class("FlowMatchEulerDiscreteScheduler") == "flow_euler");
}

TEST_CASE("the scheduler name table: every row makes its scheduler; names, aliases and classes resolve; lists agree",
          "[sched]") {
  const auto& specs = scheduler_specs();
  REQUIRE(specs.size() == 8);
  std::vector<std::string> names;
  for (const auto& spec : specs) {
    INFO(spec.name);
    names.push_back(spec.name);
    SchedulerConfig cfg;
    if (spec.flow) cfg.prediction_type = Prediction::Flow;
    const auto s = make_scheduler(spec.name, cfg);
    CHECK(s->name() == spec.name);
    CHECK(make_scheduler(spec.class_name, cfg)->name() == spec.name);
    for (const auto& a : spec.aliases) CHECK(find_scheduler(a) == &spec);
    CHECK(find_scheduler(spec.class_name) == &spec);
    CHECK(scheduler_name_from_class(spec.class_name) == spec.name);
    CHECK(is_sigma_space(spec.name) == spec.sigma_space);
    // the class default of timestep_spacing, as the config reader applies it
    CHECK(cfg.resolved_for(spec.name).timestep_spacing.value() == spec.default_spacing);
    s->set_timesteps(4);
    CHECK(s->sigmas().empty() == !(spec.sigma_space || spec.name == "dpm++2m" || spec.flow));
  }
  CHECK(scheduler_names() == names);
  CHECK(scheduler_name_list() == "ddim, ddpm, pndm, euler, euler_a, lms, dpm++2m or flow_euler");
  CHECK(find_scheduler("PLMS")->name == "pndm");  // case-insensitive
  CHECK(find_scheduler("nosuch") == nullptr);
  CHECK_THROWS_WITH(make_scheduler("nosuch", SchedulerConfig{}),
                    "--scheduler nosuch: unknown scheduler (expected ddim, ddpm, pndm, euler, euler_a, lms, dpm++2m or "
                    "flow_euler)");
  CHECK_THROWS_WITH(scheduler_name_from_class("UniPCMultistepScheduler"), Catch::Contains("flow_euler with --scheduler"));
}
