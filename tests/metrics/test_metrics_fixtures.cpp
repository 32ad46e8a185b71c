// Metrics against scikit-learn / numpy / scipy / OpenCV values: the committed tests/metrics/fixtures.json,
// and the same script run live when sklearn is importable. Tolerance: 1e-12 relative (sums: exact).
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "diffscope/metrics/metrics.h"
#include "test_support.h"

using namespace diffscope::metrics;
using nlohmann::json;

namespace {

constexpr double kRel = 1e-12;

struct Tally {
  int compared = 0, exact = 0;
};

// NaN expected as null; otherwise |got - want| <= 1e-12 |want| (1e-15 absolute around zero).
bool close(double got, const json& want, Tally& t) {
  ++t.compared;
  if (want.is_null()) return std::isnan(got) && ++t.exact;
  const double w = want.get<double>();
  if (got == w) return ++t.exact;
  return std::abs(got - w) <= std::max(kRel * std::abs(w), 1e-15);
}

std::vector<float> floats(const json& a) {
  std::vector<float> v;
  for (const auto& x : a) v.push_back(static_cast<float>(x.get<double>()));
  return v;
}

std::vector<double> doubles(const json& a) {
  std::vector<double> v;
  for (const auto& x : a) v.push_back(x.is_null() ? NAN : x.get<double>());
  return v;
}

void check_series(const std::vector<double>& got, const json& want, Tally& t, const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i << " got " << got[i] << " want " << want[i]);
    CHECK(close(got[i], want[i], t));
  }
}

void ranking_inputs(const json& c, std::vector<float>& scores, std::vector<float>& labels) {
  if (c.contains("formula")) {  // see formula_inputs in scripts/fixtures/make_metric_fixtures.py
    const json& f = c["formula"];
    const int64_t n = f["n"], a = f["a"], m = f["m"], den = f["den"], b = f["b"], cc = f["c"], d = f["d"];
    for (int64_t i = 0; i < n; ++i) {
      scores.push_back(static_cast<float>((i * a) % m) / static_cast<float>(den));
      labels.push_back(((i * b) % cc) < d ? 1.f : 0.f);
    }
  } else {
    scores = floats(c["scores"]);
    labels = floats(c["labels"]);
  }
}

std::vector<double> sum_inputs(const json& f) {  // sum_formula_values in the script
  const int64_t n = f["n"], a = f["a"], m = f["m"], den = f["den"];
  const double scale[] = {1.0, 1e-3, 1e3, 0.5};
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>((i * a) % m - m / 2) / static_cast<double>(den) * scale[i % 4];
  return v;
}

Tally check_fixtures(const json& fx) {
  Tally t;
  for (const json& c : fx["ranking"]) {
    INFO("ranking case " << c["name"].get<std::string>());
    std::vector<float> s, l;
    ranking_inputs(c, s, l);
    CHECK(close(roc_auc(s, l), c["roc_auc"], t));
    CHECK(close(average_precision(s, l), c["average_precision"], t));
    if (c.contains("roc_fpr")) {
      RocCurve r = roc_curve(s, l);
      check_series(r.fpr, c["roc_fpr"], t, "roc fpr");
      check_series(r.tpr, c["roc_tpr"], t, "roc tpr");
      check_series(r.thresholds, c["roc_thresholds"], t, "roc thresholds");
      PrCurve p = precision_recall_curve(s, l);
      check_series(p.precision, c["pr_precision"], t, "precision");
      check_series(p.recall, c["pr_recall"], t, "recall");
      check_series(p.thresholds, c["pr_thresholds"], t, "pr thresholds");
    }
  }
  {
    const json& c = fx["iou"];
    std::vector<float> map = floats(c["map"]), mask = floats(c["mask"]);
    for (const json& e : c["expected"]) {
      INFO("iou threshold " << e["threshold"]);
      CHECK(close(iou(map, mask, e["threshold"].get<double>()), e["iou"], t));
    }
  }
  for (const json& c : fx["pairs"]) {
    INFO("pair case " << c["name"].get<std::string>());
    std::vector<float> a = floats(c["a"]), b = floats(c["b"]);
    CHECK(close(pearson(a, b), c["pearson"], t));
    CHECK(close(spearman(a, b), c["spearman"], t));
    CHECK(close(mse(a, b), c["mse"], t));
    CHECK(close(psnr(a, b, 1.0), c["psnr_range1"], t));
    CHECK(close(psnr(a, b, 2.0), c["psnr_range2"], t));
    CHECK(close(cosine(a, b), c["cosine"], t));
    check_series(rankdata(a), c["rank_a"], t, "rankdata");
    CHECK(close(mean(a), c["mean_a"], t));
    CHECK(close(stddev(a), c["std_a"], t));
    CHECK(close(stddev(a, 1), c["std1_a"], t));
  }
  for (const json& c : fx["sums"]) {
    std::vector<double> v = c.contains("formula") ? sum_inputs(c["formula"]) : doubles(c["values"]);
    INFO("numpy sum of " << v.size() << " values");
    CHECK(numpy_sum(v) == c["sum"].get<double>());  // same order of operations: bit-identical
    CHECK(mean(v) == c["mean"].get<double>());
    ++t.compared, ++t.exact;
  }
  for (const json& c : fx["trapz"]) {
    std::vector<double> x = doubles(c["x"]), y = doubles(c["y"]);
    CHECK(close(trapezoid(x, y), c["trapz"], t));
    CHECK(close(trapezoid_dx(y, c["dx"].get<double>()), c["trapz_dx"], t));
  }
  {
    const json& h = fx["histogram"];
    std::vector<float> v = floats(h["values"]), w = floats(h["values2"]), g = floats(h["edge_values"]);
    for (const json& c : h["cases"]) {
      const int bins = c["bins"];
      const double lo = c["lo"], hi = c["hi"];
      INFO("histogram bins " << bins << " range " << lo << ".." << hi);
      std::vector<double> h1 = histogram(lo == 0.0 ? v : g, bins, lo, hi);
      std::vector<double> h2 = lo == 0.0 ? histogram(w, bins, lo, hi) : std::vector<double>(h1.rbegin(), h1.rend());
      CHECK(h1 == doubles(c["h1"]));
      CHECK(h2 == doubles(c["h2"]));
      CHECK(close(histogram_correlation(h1, h2), c["correl"], t));
    }
  }
  for (const json& c : fx["bootstrap"]) {
    const std::vector<double> v = doubles(c["values"]);
    INFO("bootstrap interval of " << v.size() << " values");
    const Interval iv = bootstrap_mean_interval(v, c["resamples"], c["seed"].get<uint64_t>(), c["level"]);
    CHECK(close(iv.lo, c["lo"], t));
    CHECK(close(iv.hi, c["hi"], t));
  }
  for (const json& c : fx["ssim"]) {
    INFO("ssim case " << c["name"].get<std::string>());
    std::vector<float> a = floats(c["a"]), b = floats(c["b"]);
    SsimParts p = ssim_parts(a.data(), b.data(), c["height"], c["width"], c["channels"], c["data_range"]);
    CHECK(close(p.ssim, c["ssim"], t));
    CHECK(close(p.luminance, c["luminance"], t));
    CHECK(close(p.contrast, c["contrast"], t));
    CHECK(close(p.structure, c["structure"], t));
  }
  return t;
}

json load(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return json::parse(in);
}

}  // namespace

TEST_CASE("metrics match the committed sklearn/numpy/scipy/OpenCV fixtures", "[metrics][fixtures]") {
  json fx = load(std::string(DS_SOURCE_DIR) + "/tests/metrics/fixtures.json");
  REQUIRE(fx["ranking"].size() >= 10);
  Tally t = check_fixtures(fx);
  CHECK(t.compared > 1000);
  WARN("fixtures: " << t.compared << " values compared, " << t.exact << " bit-identical");
}

TEST_CASE("metrics match the fixture script run live (sklearn installed)", "[metrics][fixtures][python]") {
  auto probe = ds_test::run_command(std::string(DS_PYTHON) + " -c 'import sklearn, scipy, numpy'");
  if (probe.exit_code != 0) {
    WARN("skipped: " DS_PYTHON " cannot import sklearn/scipy/numpy:\n" << probe.output);
    return;
  }
  ds_test::TempDir dir("metric-fixtures");
  const std::string out = (dir.path / "fixtures.json").string();
  const std::string script = std::string(DS_SOURCE_DIR) + "/scripts/fixtures/make_metric_fixtures.py";
  auto run = ds_test::run_command(std::string(DS_PYTHON) + " " + ds_test::quote(script) + " --out " + ds_test::quote(out));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  json live = load(out);
  Tally t = check_fixtures(live);
  CHECK(t.compared > 1000);
  // The committed file is what the script writes today (same sklearn/numpy): regenerate it if this fails. numpy's
  // sums move in the last bits between CPU vendors (measured: at most 2.6e-16 absolute between an AMD EPYC and the
  // machine that wrote the file), so floats agree to 1e-12 and everything else exactly.
  const json committed = load(std::string(DS_SOURCE_DIR) + "/tests/metrics/fixtures.json");
  size_t differ = 0, compared = 0;
  std::function<void(const json&, const json&, const std::string&)> same = [&](const json& a, const json& b,
                                                                             const std::string& path) {
    ++compared;
    if (a.is_number_float() || b.is_number_float()) {
      if (!a.is_number() || !b.is_number() || std::fabs(a.get<double>() - b.get<double>()) > 1e-12) {
        ++differ;
        UNSCOPED_INFO(path << ": live " << a.dump() << ", committed " << b.dump());
      }
    } else if (a.is_object() && b.is_object()) {
      for (auto it = a.begin(); it != a.end(); ++it)
        if (b.contains(it.key())) same(it.value(), b[it.key()], path + "/" + it.key());
        else ++differ, UNSCOPED_INFO(path << "/" << it.key() << ": not in the committed file");
      for (auto it = b.begin(); it != b.end(); ++it)
        if (!a.contains(it.key())) ++differ, UNSCOPED_INFO(path << "/" << it.key() << ": not written live");
    } else if (a.is_array() && b.is_array() && a.size() == b.size()) {
      for (size_t i = 0; i < a.size(); ++i) same(a[i], b[i], path + "[" + std::to_string(i) + "]");
    } else if (a != b) {
      ++differ;
      UNSCOPED_INFO(path << ": live " << a.dump().substr(0, 80) << ", committed " << b.dump().substr(0, 80));
    }
  };
  same(live, committed, "");
  CHECK(compared > 1000);
  CHECK(differ == 0);
}
