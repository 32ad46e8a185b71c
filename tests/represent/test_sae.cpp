// The TopK sparse autoencoder against a PyTorch reference trained side by side (tests/data/sae/fixture.json,
// scripts/fixtures/make_sae_fixture.py: same data, same initial weights, same data order, same seed), and
// hand-computed cases of its parts.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "diffscope/represent/sae.h"
#include "represent/json_tensors.h"

using namespace diffscope;

namespace {
at::Tensor matrix(const nlohmann::json& j) { return ds_test::nested(j); }
at::Tensor vec(const nlohmann::json& j) { return ds_test::nested(j); }

nlohmann::json fixture() {
  std::ifstream in(std::string(DS_SOURCE_DIR) + "/tests/data/sae/fixture.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

SaeConfig config_of(const nlohmann::json& c) {
  SaeConfig s;
  s.d_in = c["d_in"];
  s.d_sae = c["d_sae"];
  s.k = c["k"];
  s.batch = c["batch"];
  s.epochs = c["epochs"];
  s.lr = c["lr"];
  s.warmup_steps = c["warmup_steps"];
  s.beta1 = c["beta1"];
  s.beta2 = c["beta2"];
  s.eps = c["eps"];
  s.seed = c["seed"];
  return s;
}

double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }
}  // namespace

TEST_CASE("sae data order and initialisation match the PyTorch reference", "[represent][sae]") {
  const auto j = fixture();
  INFO("tests/data/sae/fixture.json (scripts/fixtures/make_sae_fixture.py)");
  const SaeConfig c = config_of(j["config"]);
  const at::Tensor x = matrix(j["x_train"]);
  CHECK(epoch_order(c.seed, 0, x.size(0)) == j["permutation_epoch0"].get<std::vector<int64_t>>());
  const auto e1 = epoch_order(c.seed, 1, x.size(0));
  const auto ref1 = j["permutation_epoch1"].get<std::vector<int64_t>>();
  CHECK(std::vector<int64_t>(e1.begin(), e1.begin() + static_cast<long>(ref1.size())) == ref1);
  // the order is a permutation
  auto sorted = e1;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < x.size(0); ++i) REQUIRE(sorted[static_cast<size_t>(i)] == i);

  const SaeWeights w = sae_init(c, x.to(at::kDouble).mean(0).to(at::kFloat));
  CHECK(max_abs(w.w_dec, matrix(j["init"]["W_dec"])) < 1e-6);
  CHECK(max_abs(w.b_dec, vec(j["init"]["b_dec"])) < 1e-6);
  CHECK(max_abs(w.w_enc, w.w_dec.t()) == 0.0);
  CHECK(w.b_enc.abs().sum().item<double>() == 0.0);
  CHECK(max_abs(w.w_dec.norm(2, {1}), at::ones({c.d_sae})) < 1e-6);
}

TEST_CASE("sae training follows the PyTorch reference's loss curve and weights", "[represent][sae]") {
  const auto j = fixture();
  INFO("tests/data/sae/fixture.json (scripts/fixtures/make_sae_fixture.py)");
  const SaeConfig c = config_of(j["config"]);
  const at::Tensor x = matrix(j["x_train"]), xt = matrix(j["x_test"]);
  // start from the reference's stored initial weights, so the check does not depend on the random generator
  SaeWeights init;
  init.w_dec = matrix(j["init"]["W_dec"]);
  init.w_enc = init.w_dec.t().contiguous();
  init.b_enc = at::zeros({c.d_sae});
  init.b_dec = vec(j["init"]["b_dec"]);
  SaeTrainer trainer(c, init);
  std::vector<double> curve;
  for (int e = 0; e < c.epochs; ++e) {
    const auto order = epoch_order(c.seed, e, x.size(0));
    for (size_t b = 0; b < order.size(); b += static_cast<size_t>(c.batch)) {
      const size_t n = std::min(order.size() - b, static_cast<size_t>(c.batch));
      const at::Tensor idx = at::tensor(std::vector<int64_t>(order.begin() + static_cast<long>(b),
                                                             order.begin() + static_cast<long>(b + n)), at::kLong);
      curve.push_back(trainer.step(x.index_select(0, idx)));
    }
  }
  const auto ref = j["loss_curve"].get<std::vector<double>>();
  REQUIRE(curve.size() == ref.size());
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(curve[i] - ref[i]) / ref[i]);
  INFO("largest relative difference of the loss curve: " << worst);
  CHECK(worst < 1e-5);  // measured 1.8e-7
  CHECK(curve.back() < 0.65 * curve.front());  // it learns
  const SaeWeights& w = trainer.weights();
  CHECK(max_abs(w.w_dec, matrix(j["final"]["W_dec"])) < 1e-4);
  CHECK(max_abs(w.w_enc, matrix(j["final"]["W_enc"])) < 1e-4);
  CHECK(max_abs(w.b_enc, vec(j["final"]["b_enc"])) < 1e-4);
  CHECK(max_abs(w.b_dec, vec(j["final"]["b_dec"])) < 1e-4);
  CHECK(max_abs(w.w_dec.norm(2, {1}), at::ones({c.d_sae})) < 1e-5);

  // held-out evaluation, streamed in uneven chunks, equals the reference's whole-set numbers
  int64_t pos = 0;
  const SaeEvaluation ev = sae_evaluate(w, c.k, [&](int64_t max_rows) {
    const int64_t n = std::min<int64_t>(std::min<int64_t>(max_rows, 37), xt.size(0) - pos);
    at::Tensor t = xt.narrow(0, pos, n);
    pos += n;
    return t;
  }, 37);
  CHECK(ev.rows == xt.size(0));
  CHECK(ev.nmse == Approx(j["test_nmse"].get<double>()).epsilon(1e-4));
  CHECK(ev.explained_variance == Approx(1 - j["test_nmse"].get<double>()).epsilon(1e-4));
  const auto fires = j["fire_counts_test"].get<std::vector<int64_t>>();
  int64_t diff = 0;
  for (size_t i = 0; i < fires.size(); ++i) diff += std::abs(fires[i] - ev.fire_counts[i]);
  CHECK(diff <= 2);  // a near-tie at the k-th pre-activation may fall either way in the last float digit
}

TEST_CASE("sae encode keeps the k largest pre-activations through a ReLU; nmse by hand", "[represent][sae]") {
  SaeWeights w;
  w.w_enc = at::tensor({1.f, 0.f, -1.f, 0.5f, 0.f, 1.f, 0.f, 0.5f}, at::kFloat).reshape({2, 4});
  w.b_enc = at::tensor({0.f, 0.f, 0.f, -10.f}, at::kFloat);
  w.b_dec = at::tensor({1.f, 1.f}, at::kFloat);
  w.w_dec = at::eye(4, 2, at::kFloat);
  // x - b_dec = (2, 1): pre = (2, 1, -2, 1.5 - 10)
  const at::Tensor x = at::tensor({3.f, 2.f}, at::kFloat).reshape({1, 2});
  const at::Tensor z2 = sae_encode(w, x, 2);
  CHECK(max_abs(z2, at::tensor({2.f, 1.f, 0.f, 0.f}).reshape({1, 4})) == 0.0);
  const at::Tensor z1 = sae_encode(w, x, 1);
  CHECK(max_abs(z1, at::tensor({2.f, 0.f, 0.f, 0.f}).reshape({1, 4})) == 0.0);
  // negative pre-activations among the top k are cut to zero
  const at::Tensor z4 = sae_encode(w, x, 4);
  CHECK(max_abs(z4, at::tensor({2.f, 1.f, 0.f, 0.f}).reshape({1, 4})) == 0.0);
  CHECK(max_abs(sae_decode(w, z2), at::tensor({3.f, 2.f}).reshape({1, 2})) == 0.0);
  // x = [[0,0],[2,2]], x_hat = [[1,0],[2,2]]: mse = 1/4, variance around the mean (1,1) = 1
  const at::Tensor a = at::tensor({0.f, 0.f, 2.f, 2.f}).reshape({2, 2});
  const at::Tensor b = at::tensor({1.f, 0.f, 2.f, 2.f}).reshape({2, 2});
  CHECK(normalised_mse(b, a).item<double>() == Approx(0.25));
}

TEST_CASE("sae refuses a k beyond the latents and a mean of the wrong width", "[represent][sae]") {
  SaeConfig c;
  c.d_in = 4;
  c.d_sae = 8;
  c.k = 9;
  CHECK_THROWS_WITH(sae_init(c, at::zeros({4})), Catch::Contains("--k 9"));
  c.k = 2;
  CHECK_THROWS_WITH(sae_init(c, at::zeros({3})), Catch::Contains("expected 4"));
}
