// Step maths: prediction-type conversions by hand, their round trips, the guidance combine and the DDIM update.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cmath>

#include "diffscope/sched/step_math.h"
#include "diffscope/util/error.h"

using namespace diffscope;

namespace {
at::Tensor t(std::initializer_list<float> v) { return at::tensor(std::vector<float>(v)); }
}  // namespace

TEST_CASE("prediction types parse from diffusers' names and print back", "[sched]") {
  CHECK(parse_prediction("epsilon", "x") == Prediction::Epsilon);
  CHECK(parse_prediction("v_prediction", "x") == Prediction::V);
  CHECK(parse_prediction("sample", "x") == Prediction::Sample);
  CHECK(std::string(prediction_name(Prediction::V)) == "v_prediction");
  CHECK(parse_prediction("flow", "x") == Prediction::Flow);
  CHECK(std::string(prediction_name(Prediction::Flow)) == "flow");
  CHECK_THROWS_WITH(parse_prediction("velocity", "model_index.json"),
                    Catch::Contains("model_index.json: prediction_type must be") && Catch::Contains("\"flow\""));
}

TEST_CASE("flow matching's velocity: x0 and eps by hand, at the flow level and at the VP level of the same SNR", "[sched]") {
  // sigma = 0.25: x_t = 0.75 x0 + 0.25 eps. x0 = 1, eps = 3 -> x_t = 1.5, v = eps - x0 = 2
  const at::Tensor x = t({1.5f}), v = t({2.0f});
  const NoiseLevel flow{0.75, 0.25};
  CHECK(predicted_x0(Prediction::Flow, v, x, flow).item<float>() == Approx(1.0f));  // 1.5 - 0.25 * 2
  CHECK(predicted_eps(Prediction::Flow, v, x, flow).item<float>() == Approx(3.0f));  // 1.5 + 0.75 * 2
  // the VP level with the same SNR (Scheduler::alpha_bar_at): x_t / r with r = sqrt(0.75^2 + 0.25^2)
  const double r = std::sqrt(0.75 * 0.75 + 0.25 * 0.25);
  const NoiseLevel vp = NoiseLevel::from_alpha_bar(0.75 * 0.75 / (r * r));
  CHECK(vp.signal == Approx(0.75 / r).epsilon(1e-12));
  const at::Tensor xv = x / r;
  CHECK(predicted_x0(Prediction::Flow, v, xv, vp).item<float>() == Approx(1.0f));
  CHECK(predicted_eps(Prediction::Flow, v, xv, vp).item<float>() == Approx(3.0f));
}

TEST_CASE("x0 and eps from each prediction type, by hand", "[sched]") {
  // alpha_bar = 0.64: signal 0.8, noise 0.6. x0 = 1, eps = 2 -> x_t = 0.8 + 1.2 = 2.0; v = 0.8*2 - 0.6*1 = 1.0
  const NoiseLevel l = NoiseLevel::from_alpha_bar(0.64);
  CHECK(l.signal == Approx(0.8).epsilon(1e-15));
  CHECK(l.noise == Approx(0.6).epsilon(1e-15));
  const at::Tensor x = t({2.0f}), x0 = t({1.0f}), eps = t({2.0f}), v = t({1.0f});
  CHECK(predicted_x0(Prediction::Epsilon, eps, x, l).item<float>() == Approx(1.0f));
  CHECK(predicted_x0(Prediction::V, v, x, l).item<float>() == Approx(1.0f));
  CHECK(predicted_x0(Prediction::Sample, x0, x, l).item<float>() == 1.0f);
  CHECK(predicted_eps(Prediction::Epsilon, eps, x, l).item<float>() == 2.0f);
  CHECK(predicted_eps(Prediction::V, v, x, l).item<float>() == Approx(2.0f));
  CHECK(predicted_eps(Prediction::Sample, x0, x, l).item<float>() == Approx(2.0f));
}

TEST_CASE("float32 noise levels are diffusers' pow(.., 0.5f)", "[sched]") {
  const float a = 0.9991499781608582f;
  const NoiseLevel l = NoiseLevel::from_alpha_bar_f32(a);
  CHECK(static_cast<float>(l.signal) == std::pow(a, 0.5f));
  CHECK(static_cast<float>(l.noise) == std::pow(1.0f - a, 0.5f));
  CHECK(l.signal == static_cast<double>(static_cast<float>(l.signal)));  // exactly a float
}

TEST_CASE("conversions round-trip on random tensors", "[sched]") {
  at::manual_seed(3);
  const at::Tensor x0 = at::randn({2, 4, 8, 8}, at::kDouble), eps = at::randn({2, 4, 8, 8}, at::kDouble);
  for (double ab : {0.999, 0.5, 0.02}) {
    const NoiseLevel l = NoiseLevel::from_alpha_bar(ab);
    const at::Tensor x = l.signal * x0 + l.noise * eps;
    const at::Tensor v = l.signal * eps - l.noise * x0;
    for (auto [p, out] : {std::pair<Prediction, at::Tensor>{Prediction::Epsilon, eps}, {Prediction::V, v},
                          {Prediction::Sample, x0}, {Prediction::Flow, eps - x0}}) {
      INFO(prediction_name(p) << " at alpha_bar " << ab);
      CHECK(at::allclose(predicted_x0(p, out, x, l), x0, 1e-9, 1e-9));
      CHECK(at::allclose(predicted_eps(p, out, x, l), eps, 1e-9, 1e-9));
    }
    // the DDIM update to the same level gives x_t back; to alpha_bar = 1 it gives x0
    CHECK(at::allclose(ddim_update(x0, eps, l), x, 1e-12, 1e-12));
    CHECK(at::allclose(ddim_update(x0, eps, NoiseLevel::from_alpha_bar(1.0)), x0, 0, 0));
  }
}

TEST_CASE("classifier-free guidance combine", "[sched]") {
  const at::Tensor u = t({1.0f, -2.0f}), c = t({3.0f, 0.0f});
  CHECK(at::equal(guidance_combine(u, c, 1.0), c));
  CHECK(at::equal(guidance_combine(u, c, 0.0), u));
  CHECK(at::equal(guidance_combine(u, c, 7.5), t({16.0f, 13.0f})));  // 1 + 7.5*2, -2 + 7.5*2
}
