// Scheduler tests: every number diffusers 0.31 computed for SD 1.5's configuration (tests/data/reference/schedulers).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "diffscope/util/error.h"
#include "diffscope/sched/scheduler.h"

using namespace diffscope;

namespace {
const std::string kDir = std::string(DS_REFERENCE_DIR) + "/schedulers/";

nlohmann::json load(const std::string& name) {
  std::ifstream in(kDir + name + ".json");
  INFO("reference data " << kDir << name << ".json (see tests/data/README.md)");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();  // Python's json writes -Infinity (lambda_min_clipped); JSON has no such number
  for (size_t p; (p = text.find("-Infinity")) != std::string::npos;) text.replace(p, 9, "null");
  return nlohmann::json::parse(text);
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
    if (variant == "leading_prk") {
      auto cfg = SchedulerConfig::from_json(v["config"], "leading_prk");
      CHECK_THROWS_WITH(make_scheduler(cls, cfg), Catch::Contains("skip_prk_steps=false"));
      continue;
    }
    for (const auto& [steps, run] : v["runs"].items()) {
      INFO(cls << " " << variant << " " << steps << " steps");
      auto cfg = SchedulerConfig::from_json(v["config"], cls + ".json");
      auto s = make_scheduler(cls, cfg);
      s->set_timesteps(std::stoi(steps));
      CHECK(s->timesteps() == run["timesteps"].get<std::vector<int64_t>>());
      CHECK(s->init_noise_sigma() == Approx(run["init_noise_sigma"].get<double>()).epsilon(1e-6));
      if (run.contains("sigmas")) {
        auto want = run["sigmas"].get<std::vector<double>>();
        REQUIRE(s->sigmas().size() == want.size());
        for (size_t i = 0; i < want.size(); ++i) CHECK(s->sigmas()[i] == Approx(want[i]).epsilon(1e-6).margin(1e-7));
      }
      // single steps from a fresh scheduler at each t
      for (const auto& one : run["single"]) {
        auto f = make_scheduler(cls, cfg);
        f->set_timesteps(std::stoi(steps));
        const int64_t t = one["t"];
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
        const int64_t t = st["t"];
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
}

TEST_CASE("custom timesteps and the generator's noise", "[sched]") {
  SchedulerConfig cfg;
  auto s = make_scheduler("ddim", cfg);
  s->set_custom_timesteps({900, 500, 100});
  CHECK(s->timesteps() == std::vector<int64_t>{900, 500, 100});
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
