// The linear probe against scikit-learn (tests/data/probe/fixture.json, scripts/fixtures/make_probe_fixture.py).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "diffscope/represent/features.h"
#include "diffscope/represent/probe.h"
#include "diffscope/util/error.h"
#include "represent/json_tensors.h"

using namespace diffscope;

using ds_test::labels;
using ds_test::nested;

TEST_CASE("linear probe matches scikit-learn's StandardScaler + LogisticRegression within one point", "[represent]") {
  std::ifstream in(std::string(DS_SOURCE_DIR) + "/tests/data/probe/fixture.json");
  INFO("tests/data/probe/fixture.json (scripts/fixtures/make_probe_fixture.py)");
  REQUIRE(in.good());
  const auto j = nlohmann::json::parse(in);
  const ProbeResult r = linear_probe(nested(j["x_train"]), labels(j["y_train"]), nested(j["x_test"]),
                                     labels(j["y_test"]), j["classes"].get<int64_t>());
  INFO("diffscope train " << r.train_accuracy << " test " << r.test_accuracy << "; sklearn train "
                          << j["train_accuracy"] << " test " << j["test_accuracy"]);
  CHECK(std::abs(r.test_accuracy - j["test_accuracy"].get<double>()) <= 0.01);
  CHECK(std::abs(r.train_accuracy - j["train_accuracy"].get<double>()) <= 0.01);
  // the confusion matrix holds every test image once, and its diagonal is the test accuracy
  int64_t total = 0, diag = 0;
  for (size_t a = 0; a < r.confusion.size(); ++a)
    for (size_t b = 0; b < r.confusion.size(); ++b) total += r.confusion[a][b], diag += a == b ? r.confusion[a][b] : 0;
  CHECK(total == static_cast<int64_t>(j["y_test"].size()));
  CHECK(double(diag) / double(total) == Approx(r.test_accuracy));
  // chance: the majority class's share of the test set
  std::vector<int> count(4, 0);
  for (const auto& y : j["y_test"]) ++count[y.get<size_t>()];
  CHECK(r.chance == Approx(*std::max_element(count.begin(), count.end()) / double(j["y_test"].size())));
}

TEST_CASE("linear probe: separable data is read perfectly, errors name the problem", "[represent]") {
  // two classes told apart by the sign of feature 1 (feature 0 is noise at a huge scale)
  at::Tensor x = at::tensor({1000.f, 1.f, -3000.f, 2.f, 500.f, -1.f, 2000.f, -2.f, -100.f, 3.f, 700.f, -3.f}).reshape({6, 2});
  at::Tensor y = at::tensor(std::vector<int64_t>{1, 1, 0, 0, 1, 0}, at::kLong);
  const ProbeResult r = linear_probe(x, y, x, y, 2);
  CHECK(r.train_accuracy == 1.0);
  CHECK(r.test_accuracy == 1.0);
  CHECK_THROWS_WITH(linear_probe(x, y, x.narrow(0, 0, 0), y.narrow(0, 0, 0), 2), Catch::Contains("both hold images"));
  CHECK_THROWS_WITH(linear_probe(x, y, x, y, 1), Catch::Contains("at least two classes"));
}

TEST_CASE("per-image noise does not depend on the batch", "[represent]") {
  const at::Tensor a = image_noise(3, 17, 4, 8, 8), b = image_noise(3, 17, 4, 8, 8), c = image_noise(3, 18, 4, 8, 8);
  CHECK(at::equal(a, b));
  CHECK(!at::equal(a, c));
  CHECK(a.sizes() == at::IntArrayRef({1, 4, 8, 8}));
}


TEST_CASE("convolutional probe follows a PyTorch reference trained side by side", "[represent]") {
  std::ifstream in(std::string(DS_SOURCE_DIR) + "/tests/data/probe/conv_fixture.json");
  INFO("tests/data/probe/conv_fixture.json (scripts/fixtures/make_conv_probe_fixture.py)");
  REQUIRE(in.good());
  const auto j = nlohmann::json::parse(in);
  const auto& c = j["config"];
  ConvProbeOptions o;
  o.hidden = c["H"];
  o.epochs = c["epochs"];
  o.batch = c["batch"];
  o.lr = c["lr"];
  o.weight_decay = c["wd"];
  o.beta1 = c["beta1"];
  o.beta2 = c["beta2"];
  o.eps = c["eps"];
  o.seed = c["seed"];
  const int64_t classes = c["classes"];
  const ConvProbeWeights init = conv_probe_init(c["C"].get<int64_t>(), classes, o);
  CHECK((init.conv_w - nested(j["init"]["conv_w"])).abs().max().item<double>() < 1e-6);
  CHECK((init.lin_w - nested(j["init"]["lin_w"])).abs().max().item<double>() < 1e-6);
  // train from the reference's stored initial weights (independent of the random generator)
  ConvProbeWeights start{nested(j["init"]["conv_w"]), at::zeros({o.hidden}), nested(j["init"]["lin_w"]), at::zeros({classes})};
  const ConvProbeRun run = conv_probe(nested(j["x_train"]), labels(j["y_train"]), nested(j["x_test"]), labels(j["y_test"]),
                                      classes, o, &start);
  const auto ref = j["loss_curve"].get<std::vector<double>>();
  REQUIRE(run.loss_curve.size() == ref.size());
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(run.loss_curve[i] - ref[i]) / ref[i]);
  INFO("largest relative difference of the loss curve: " << worst);
  CHECK(worst < 1e-5);  // measured 0 (the same LibTorch kernels as the reference); room for another CPU's rounding
  CHECK((run.weights.conv_w - nested(j["final"]["conv_w"])).abs().max().item<double>() < 1e-4);
  CHECK((run.weights.lin_b - nested(j["final"]["lin_b"])).abs().max().item<double>() < 1e-4);
  CHECK((run.test_logits - nested(j["test_logits"])).abs().max().item<double>() < 1e-3);
  CHECK(run.result.train_accuracy == Approx(j["train_accuracy"].get<double>()));
  CHECK(run.result.test_accuracy == Approx(j["test_accuracy"].get<double>()));
  CHECK(run.result.test_accuracy > run.result.chance + 0.2);  // it learned the spatial patterns
}

TEST_CASE("convolutional probe refuses pooled features in one line", "[represent]") {
  const at::Tensor x = at::zeros({4, 3}), y = at::tensor(std::vector<int64_t>{0, 1, 0, 1}, at::kLong);
  CHECK_THROWS_WITH(conv_probe(x, y, x, y, 2), Catch::Contains("spatial features [N, C, S, S]"));
}

TEST_CASE("bootstrap interval of a test accuracy matches numpy's percentile and std on the same draws", "[represent]") {
  std::ifstream in(std::string(DS_SOURCE_DIR) + "/tests/data/probe/bootstrap_fixture.json");
  INFO("tests/data/probe/bootstrap_fixture.json (scripts/fixtures/make_bootstrap_fixture.py)");
  REQUIRE(in.good());
  const auto j = nlohmann::json::parse(in);
  REQUIRE(j["cases"].size() == 4);
  for (const auto& c : j["cases"]) {
    const std::vector<uint8_t> correct = c["correct"].get<std::vector<uint8_t>>();
    INFO("n = " << correct.size() << ", seed " << c["seed"]);
    const AccuracyInterval r = bootstrap_accuracy(correct, c["resamples"].get<int>(), c["seed"].get<uint64_t>());
    CHECK(r.resamples == c["resamples"].get<int>());
    CHECK(r.lo == Approx(c["lo"].get<double>()).margin(1e-12));
    CHECK(r.hi == Approx(c["hi"].get<double>()).margin(1e-12));
    CHECK(r.se == Approx(c["se"].get<double>()).margin(1e-12));
    // the interval holds the accuracy
    CHECK(r.lo <= c["accuracy"].get<double>());
    CHECK(r.hi >= c["accuracy"].get<double>());
  }
  // by hand: 54 test images, 37 right (the first case): the bootstrap SE is near the binomial sqrt(p (1 - p) / n)
  const auto& c0 = j["cases"][0];
  const double p = c0["accuracy"].get<double>();
  CHECK(p == Approx(37.0 / 54.0));
  CHECK(c0["se"].get<double>() == Approx(std::sqrt(p * (1 - p) / 54)).epsilon(0.1));
  // every image right: no spread; no resamples or no images: no interval
  const AccuracyInterval all = bootstrap_accuracy(std::vector<uint8_t>(9, 1), 50, 1);
  CHECK(all.lo == 1.0);
  CHECK(all.hi == 1.0);
  CHECK(all.se == 0.0);
  CHECK(std::isnan(bootstrap_accuracy(std::vector<uint8_t>(9, 1), 0, 1).lo));
  CHECK(std::isnan(bootstrap_accuracy({}, 100, 1).hi));
  // two images, one right, two resamples: draws are splitmix64(seed) mod 2; the accuracies are a 2-point sample
  const AccuracyInterval two = bootstrap_accuracy({1, 0}, 2, 7);
  CHECK(two.lo >= 0.0);
  CHECK(two.hi <= 1.0);
  CHECK(bootstrap_accuracy({1, 0, 1}, 300, 5).lo == bootstrap_accuracy({1, 0, 1}, 300, 5).lo);  // deterministic
}

TEST_CASE("linear probe reports which test images it read right", "[represent]") {
  at::Tensor x = at::tensor({-2.f, -1.f, 1.f, 2.f}).reshape({4, 1});
  at::Tensor y = at::tensor(std::vector<int64_t>{0, 0, 1, 1}, at::kLong);
  at::Tensor yt = at::tensor(std::vector<int64_t>{0, 1, 1, 0}, at::kLong);  // images 1 and 3 labelled against the sign
  const ProbeResult r = linear_probe(x, y, x, yt, 2);
  CHECK(r.test_correct == std::vector<uint8_t>{1, 0, 1, 0});
  CHECK(r.test_accuracy == 0.5);
}
