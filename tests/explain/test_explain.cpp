// Saliency tests: Grad-CAM arithmetic, pixel order, similarities, curves and the methods on the tiny package.
#include <algorithm>
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "diffscope/util/error.h"
#include "diffscope/engine/model.h"
#include "diffscope/engine/pipeline.h"
#include "diffscope/engine/run_recorder.h"
#include "diffscope/engine/attention_capture.h"
#include "diffscope/engine/runtime.h"
#include "diffscope/explain/saliency.h"
#include "test_support.h"

using namespace diffscope;

TEST_CASE("Grad-CAM on hand-made activations", "[explain]") {
  // two channels over 2x2: weights = spatial mean of gradients = (1, -0.5)
  at::Tensor a = at::tensor({1.f, 2.f, 3.f, 4.f, 4.f, 0.f, 2.f, 2.f}).view({2, 2, 2});
  at::Tensor g = at::tensor({1.f, 1.f, 1.f, 1.f, -1.f, 0.f, -1.f, 0.f}).view({2, 2, 2});
  at::Tensor cam = grad_cam(a, g);
  // 1*A0 - 0.5*A1 = [1-2, 2-0, 3-1, 4-1] = [-1, 2, 2, 3] -> ReLU -> [0, 2, 2, 3]
  CHECK(at::equal(cam, at::tensor({0.f, 2.f, 2.f, 3.f}).view({2, 2})));
}

TEST_CASE("pixel order and similarities", "[explain]") {
  at::Tensor s = at::tensor({0.1f, 0.9f, 0.5f, 0.9f}).view({2, 2});
  CHECK(pixel_order(s) == std::vector<int64_t>{1, 3, 2, 0});  // ties keep index order
  at::Tensor x = at::rand({2, 3, 12, 12}) * 2 - 1;
  for (const char* k : {"structure", "ssim", "luminance", "contrast", "cosine", "mse"}) {
    auto v = similarity(x, x, k);
    REQUIRE(v.size() == 2);
    CHECK(v[0] == Approx(1.0).margin(1e-6));
  }
  auto neg = similarity(x, -x, "cosine");
  CHECK(neg[0] == Approx(-1.0).margin(1e-6));
  CHECK(similarity(at::zeros({1, 1, 4, 4}), at::ones({1, 1, 4, 4}) * 2, "mse")[0] == Approx(0.0));
  CHECK_THROWS_AS(check_similarity("psnr"), Error);
}

namespace {
struct TinyRun {
  ds_test::TempDir tmp{"explain"};
  std::string dir;
  TinyRun() {  // a 4-step guided DDIM run on the tiny package
    set_threads(1);
    Model m = Model::load(DS_TEST_PACKAGE_DIR);
    dir = (tmp.path / "run").string();
    RunRecorderOptions ro;
    ro.dir = dir;
    ro.x0_every = 0;
    RunRecorder rec(ro);
    AttentionCapture att;
    GenerateOptions o;
    o.prompt = "a red circle and a blue square";
    o.steps = 4;
    o.scheduler = "ddim";
    o.guidance_scale = 3.0;
    o.show_progress = false;
    auto r = generate(m, o, {&rec, &att});
    rec.write(o, r, &att, nlohmann::json::object());
    latents = rec.latents();
    timesteps = r.timesteps;
  }
  at::Tensor latents;  ///< [steps+1, C, h, w]
  std::vector<double> timesteps;
  StepContext step(const Model& m, int k) const {
    return make_step_context(m, latents.narrow(0, k, 1).clone(), "a red circle and a blue square", "", 3.0, timesteps,
                             k, false);
  }
};
}  // namespace

TEST_CASE("make_curve: the paper's normalised AUC and the raw one, by hand", "[explain]") {
  // raw 1, 0.4, 0.6 at 0, 0.5, 1 -> normalised 1, 0, 1/3
  Curve c = make_curve({0.0, 0.5, 1.0}, {1.0, 0.4, 0.6});
  REQUIRE(c.normalised.size() == 3);
  CHECK(c.normalised[1] == 0.0);
  CHECK(c.normalised[2] == Approx(1.0 / 3));
  CHECK(c.auc == Approx(0.5 * (1.0 + 0.0) / 2 + 0.5 * (0.0 + 1.0 / 3) / 2));
  CHECK(c.auc_raw == Approx(0.5 * (1.0 + 0.4) / 2 + 0.5 * (0.4 + 0.6) / 2));
}

TEST_CASE("insertion/deletion curves and the methods on the tiny package", "[explain]") {
  TinyRun run;
  Model m = Model::load(DS_TEST_PACKAGE_DIR);
  StepContext s = run.step(m, 1);
  // the reconstructed step's DDIM update equals the recorded next latent (same scheduler, same guidance)
  at::NoGradGuard ng;
  at::Tensor next = ddim_step(s, s.latent, guided_noise_batch(s, s.latent, 1));
  StepContext s2 = run.step(m, 2);
  CHECK(at::allclose(next, s2.latent, 1e-4, 1e-4));

  at::Tensor sal = random_saliency(8, 8, 3);
  Curve del = perturbation_curve(s, sal, false, 8, 4, "structure");
  Curve ins = perturbation_curve(s, sal, true, 8, 4, "structure");
  REQUIRE(del.fraction.size() == 9);
  CHECK(del.score.front() == Approx(1.0).margin(1e-6));  // nothing deleted yet: the unperturbed decode itself
  CHECK(ins.score.back() == Approx(1.0).margin(1e-6));   // everything inserted back
  const auto [lo, hi] = std::minmax_element(del.score.begin(), del.score.end());
  double raw = 0, norm = 0;
  for (size_t i = 1; i < del.score.size(); ++i) {
    raw += (del.score[i] + del.score[i - 1]) / 2 * (1.0 / 8);
    norm += ((del.score[i] - *lo) + (del.score[i - 1] - *lo)) / (*hi - *lo) / 2 * (1.0 / 8);
  }
  CHECK(del.auc_raw == Approx(raw));
  CHECK(del.auc == Approx(norm));
  CHECK(del.normalised.front() == Approx(1.0));  // the unperturbed start is the curve's maximum

  at::Tensor r1 = df_rise(s, 24, 8, "structure", 5, true), r2 = df_rise(s, 24, 8, "structure", 5, true);
  CHECK(at::equal(r1, r2));  // seeded
  // the masks are drawn one at a time: the map does not depend on --batch, and the map after n of N masks is the
  // map of n masks
  CHECK(at::allclose(df_rise(s, 24, 5, "structure", 5, true), r1, 1e-5, 1e-5));
  const DfRiseResult cp = df_rise_checkpoints(s, 24, 8, "structure", 5, true, {12, 6, 0, 24, 30});
  CHECK(cp.checkpoints == std::vector<int>{6, 12});  // only counts below N, sorted
  REQUIRE(cp.at_checkpoints.size() == 2);
  CHECK(at::allclose(cp.at_checkpoints[0], df_rise(s, 6, 4, "structure", 5, true), 1e-5, 1e-5));
  CHECK(at::allclose(cp.at_checkpoints[1], df_rise(s, 12, 8, "structure", 5, true), 1e-5, 1e-5));
  CHECK(at::allclose(cp.map, r1, 1e-5, 1e-5));
  CHECK_FALSE(at::allclose(df_rise(s, 24, 8, "structure", 6, true), r1, 1e-3, 1e-3));  // another seed, other masks
  CHECK(r1.sizes() == at::IntArrayRef({8, 8}));
  CHECK(r1.min().item<float>() >= 0.f);
  CHECK(r1.max().item<float>() <= 1.f);
  at::Tensor cam = df_cam(s);
  CHECK(cam.sizes() == at::IntArrayRef({8, 8}));
  CHECK(at::isfinite(cam).all().item<bool>());
  at::Tensor rel = token_relevance(s);
  CHECK(rel.numel() == 77);
  CHECK(rel.min().item<float>() >= 0.f);
  CHECK(rel.sum().item<float>() > 0.f);
}

TEST_CASE("relevance is ReLU of the guided output's gradient x attention, by independent autograd", "[explain]") {
  TinyRun run;
  Model m = Model::load(DS_TEST_PACKAGE_DIR);
  const StepContext s = run.step(m, 1);  // guidance 3: both CFG halves
  const at::Tensor got = token_relevance(s);
  // independently: the gradient of the guided prediction's sum with respect to each half's maps
  at::AutoGradMode on(true);
  const at::Tensor x = at::cat({s.latent, s.latent});
  const at::Tensor t = at::full({2}, static_cast<double>(s.timestep), at::TensorOptions().dtype(at::kFloat));
  const DenoiserOutput out = m.denoise(x, t, s.context);
  const at::Tensor u = out.prediction[0], c = out.prediction[1];
  const at::Tensor guided = u + s.guidance * (c - u);
  auto grads = torch::autograd::grad({guided.sum()}, out.text_attention, {}, false, false, true);
  at::NoGradGuard ng;
  at::Tensor want = at::zeros({77});
  for (size_t i = 0; i < grads.size(); ++i)
    if (grads[i].defined()) want += at::relu((grads[i] * out.text_attention[i].detach()).sum(0)).mean(0).sum(0);
  CHECK(at::allclose(got, want, 1e-4, 1e-7));
  CHECK(got.min().item<float>() >= 0.f);
  CHECK(got.sum().item<float>() > 0.f);
}
