// The linear probe against scikit-learn (tests/data/probe/fixture.json, scripts/fixtures/make_probe_fixture.py).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "diffscope/represent/features.h"
#include "diffscope/represent/probe.h"
#include "diffscope/util/error.h"

using namespace diffscope;

namespace {
at::Tensor matrix(const nlohmann::json& j) {
  std::vector<float> flat;
  for (const auto& row : j)
    for (const auto& v : row) flat.push_back(v.get<float>());
  return at::tensor(flat, at::kFloat).reshape({static_cast<int64_t>(j.size()), -1});
}
at::Tensor labels(const nlohmann::json& j) { return at::tensor(j.get<std::vector<int64_t>>(), at::kLong); }
}  // namespace

TEST_CASE("linear probe matches scikit-learn's StandardScaler + LogisticRegression within one point", "[represent]") {
  std::ifstream in(std::string(DS_SOURCE_DIR) + "/tests/data/probe/fixture.json");
  INFO("tests/data/probe/fixture.json (scripts/fixtures/make_probe_fixture.py)");
  REQUIRE(in.good());
  const auto j = nlohmann::json::parse(in);
  const ProbeResult r = linear_probe(matrix(j["x_train"]), labels(j["y_train"]), matrix(j["x_test"]),
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
