// Summary: typed keys, NaN written as null, merging into an existing summary.json, and prompt-set aggregation
// (mean, sample std with ddof 1, n, mean curve) checked against hand-computed numbers.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "diffscope/analysis/summary.h"
#include "diffscope/metrics/metrics.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "test_support.h"

using namespace diffscope;

TEST_CASE("summary keys keep their types; non-finite metrics are written as null", "[summary]") {
  ds_test::TempDir dir("summary");
  const std::string path = dir.str() + "/summary.json";
  Summary s;
  s.set("auc.mean_roc_auc", 0.75);
  s.set("broken", std::numeric_limits<double>::quiet_NaN());
  s.set("inf", INFINITY);
  s.set_count("seed", 7);
  s.set_text("prompt", "a red circle");
  s.write(path);
  const std::string text = ds_test::read_text(path);
  CHECK(text == "{\n  \"auc.mean_roc_auc\": 0.75,\n  \"broken\": null,\n  \"inf\": null,\n  \"prompt\": \"a red circle\",\n"
                "  \"seed\": 7\n}\n");
  const auto n = Summary::load_or_empty(path).numbers();
  CHECK(n.at("auc.mean_roc_auc") == 0.75);
  CHECK(std::isnan(n.at("broken")));
  CHECK(n.at("seed") == 7.0);
  CHECK(n.count("prompt") == 0);
}

TEST_CASE("merge_into keeps keys other analyses wrote and overwrites its own", "[summary]") {
  ds_test::TempDir dir("summary-merge");
  const std::string path = dir.str() + "/summary.json";
  Summary first;
  first.set("a", 1.0);
  first.set("b", 2.0);
  first.merge_into(path);  // no file yet: created
  Summary second;
  second.set("b", 3.0);
  second.set("c", 4.0);
  second.merge_into(path);
  const auto n = Summary::load_or_empty(path).numbers();
  CHECK(n == std::map<std::string, double>{{"a", 1.0}, {"b", 3.0}, {"c", 4.0}});
  ds_test::write_text(path, "[1, 2]");
  CHECK_THROWS_WITH(Summary::load_or_empty(path), Catch::Contains("expected a JSON object"));
  CHECK(Summary::load_or_empty(dir.str() + "/none.json").numbers().empty());
}

TEST_CASE("aggregates: mean, sample std (ddof 1), n; non-finite values are not counted", "[summary]") {
  SummaryAggregate agg;
  agg.add({{"x", 1.0}, {"y", 5.0}});
  agg.add({{"x", 2.0}, {"y", std::numeric_limits<double>::quiet_NaN()}});
  agg.add({{"x", 6.0}});
  Summary s;
  agg.write_to(s);
  const auto n = s.numbers();
  CHECK(n.at("x.mean") == Approx(3.0));
  // deviations -2, -1, 3: sum of squares 14, / (3 - 1) = 7
  CHECK(n.at("x.std") == Approx(std::sqrt(7.0)));
  CHECK(n.at("x.n") == 3.0);
  CHECK(n.at("y.mean") == 5.0);
  CHECK(std::isnan(n.at("y.std")));  // one value: no sample standard deviation
  CHECK(n.at("y.n") == 1.0);
  CHECK(s.json()["x.n"].is_number_integer());
  // the 95% bootstrap interval of the mean (metrics' numpy-checked bootstrap; fixed seed), around the mean
  const metrics::Interval ci = metrics::bootstrap_mean_interval(std::vector<double>{1.0, 2.0, 6.0});
  CHECK(n.at("x.ci95_lo") == ci.lo);
  CHECK(n.at("x.ci95_hi") == ci.hi);
  CHECK(n.at("x.ci95_lo") <= 3.0);
  CHECK(n.at("x.ci95_hi") >= 3.0);
  CHECK(n.at("x.ci95_lo") >= 1.0);
  CHECK(n.at("x.ci95_hi") <= 6.0);
  CHECK(std::isnan(n.at("y.ci95_lo")));
}

TEST_CASE("mean curves: pointwise means; other sampling points are refused", "[summary]") {
  SummaryAggregate agg;
  agg.add_curve("c", {0.0, 0.5, 1.0}, {1.0, 0.5, 0.0});
  agg.add_curve("c", {0.0, 0.5, 1.0}, {0.0, 0.5, 1.0});
  const auto [x, y] = agg.mean_curve("c");
  CHECK(x == std::vector<double>{0.0, 0.5, 1.0});
  CHECK(y == std::vector<double>{0.5, 0.5, 0.5});
  CHECK(agg.curve_keys() == std::vector<std::string>{"c"});
  CHECK_THROWS_AS(agg.add_curve("c", {0.0, 1.0}, {1.0, 1.0}), Error);
  CHECK_THROWS_AS(agg.mean_curve("none"), Error);
}

#include "diffscope/analysis/compare.h"

TEST_CASE("compare: the steps from which two runs stay apart or together (hand-computed)", "[analysis][compare]") {
  using diffscope::stays_apart_from;
  using diffscope::stays_together_from;
  // final distance 0.4, bar 0.2: index 2 dips to 0.1, so apart from index 3 (0.25 and 0.4 stay above the bar)
  CHECK(stays_apart_from({0.0, 0.3, 0.1, 0.25, 0.4}, 0.5) == 3);
  CHECK(stays_apart_from({0.0, 0.3, 0.2, 0.25, 0.4}, 0.5) == 1);  // 0.2 is on the bar: still apart
  CHECK(stays_apart_from({0.5, 0.1, 0.3, 0.4}, 0.5) == 2);
  CHECK(stays_apart_from({0.1, 0.0}, 0.5) == -1);  // identical at the end: never apart
  CHECK(stays_apart_from({}, 0.5) == -1);
  // largest 0.8: at or below 0.4 from index 3 on
  CHECK(stays_together_from({0.8, 0.6, 0.5, 0.4, 0.1}, 0.5) == 3);
  CHECK(stays_together_from({0.8, 0.6, 0.5}, 0.5) == -1);  // still far apart at the end
  CHECK(stays_together_from({0.0, 0.0}, 0.5) == 0);       // together throughout
}

#include "diffscope/analysis/class_scores.h"
#include "diffscope/analysis/segmentation.h"

TEST_CASE("class scores: each word's score and controls pooled by word class", "[summary]") {
  Concepts c;
  c.word_classes["colour"] = {"red", "blue"};
  c.word_classes["shape"] = {"circle"};
  const std::map<std::string, double> run1{
      {"auc.word.red.roc_auc", 0.9},          {"auc.word.red.ap", 0.8},          {"auc.word.red.iou", 0.5},
      {"auc.word.red.specificity", 0.6},      {"auc.word.red.roc_auc_vs_others", 0.3},
      {"auc.word.red.baseline_foreground", 0.95}, {"auc.word.red.baseline_mean_map", 0.7},
      {"auc.word.blue#2.roc_auc", 0.7},       {"auc.word.blue#2.specificity", 0.2},
      {"auc.word.circle.roc_auc", 0.8},       {"auc.word.circle.specificity", -0.1},
      {"auc.word.tall.roc_auc", 0.4},         {"auc.mean_roc_auc", 0.5}};
  const auto scores = class_scores(run1, &c);
  REQUIRE(scores.size() == 4);
  CHECK(scores[0].word == "blue");  // key order; the repeat suffix dropped
  CHECK(scores[0].cls == "colour");
  CHECK(std::isnan(scores[0].baseline_foreground));  // a control this run lacks
  CHECK(scores[3].word == "tall");
  CHECK(scores[3].cls == "other");
  SummaryAggregate agg;
  add_class_scores(agg, scores);
  Summary s;
  agg.write_to(s);
  const auto n = s.numbers();
  CHECK(n.at("auc.class.colour.roc_auc.mean") == Approx(0.8));
  CHECK(n.at("auc.class.colour.specificity.mean") == Approx(0.4));
  CHECK(n.at("auc.class.colour.specificity.n") == 2);
  CHECK(n.at("auc.class.colour.baseline_foreground.n") == 1);  // NaN is not a value
  CHECK(n.at("auc.class.colour.roc_auc_vs_others.mean") == Approx(0.3));
  CHECK(n.at("auc.class.shape.specificity.mean") == Approx(-0.1));
  CHECK(n.at("auc.class.all.roc_auc.n") == 4);
  CHECK(n.at("auc.class.all.specificity.mean") == Approx((0.6 + 0.2 - 0.1) / 3));
  CHECK(n.count("auc.class.other.specificity.n") == 0);
}
