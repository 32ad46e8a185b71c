// The regression gate's results, baseline files, JUnit XML (parsed by Python's xml.etree) and markdown summary.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "diffscope/analysis/gate.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "test_support.h"
#include "util/python_run.h"

using namespace diffscope;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<GateResult> example(Baseline& b) {
  b.metrics = {{"a", 1.0}, {"b", 2.0}, {"c", 3.0}, {"n", kNaN}, {"q<r&\"s\"", 5.0}};
  const std::map<std::string, double> cur{{"a", 1.0005}, {"b", 2.5}, {"n", kNaN}, {"d", 4.0}, {"q<r&\"s\"", 5.0}};
  Tolerances tol;
  tol.fallback = {1e-3, 0.0};
  GateBars bars;
  bars.mins = {{"a", 2.0}, {"b", 2.0}};
  bars.less = {{"a", "b"}, {"b", "a"}};
  return run_gate(cur, &b, tol, bars);
}
}  // namespace

TEST_CASE("run_gate: every baseline metric, the new ones and every bar, each with its status", "[gate]") {
  Baseline b;
  const auto r = example(b);
  REQUIRE(r.size() == 5 + 1 + 4);
  auto find = [&](const std::string& name) {
    for (const auto& x : r)
      if (x.name == name) return x;
    FAIL("no result " << name);
    return r[0];
  };
  CHECK(find("a").status == GateStatus::Pass);
  CHECK(find("b").status == GateStatus::Moved);
  CHECK(find("b").message == "b: 2 -> 2.5 (change +0.5, tolerance 0.001)");
  CHECK(find("c").status == GateStatus::Missing);
  CHECK(find("n").status == GateStatus::Pass);  // NaN equals NaN
  CHECK(find("d").status == GateStatus::New);
  CHECK(find("a>=2").status == GateStatus::Below);
  CHECK(find("a>=2").bar);
  CHECK(find("b>=2").status == GateStatus::Pass);
  CHECK(find("a<b").status == GateStatus::Pass);
  CHECK(find("b<a").status == GateStatus::NotLess);
  CHECK(gate_failed(r));
  std::vector<GateResult> passing;
  for (const auto& x : r)
    if (x.status == GateStatus::Pass) passing.push_back(x);
  CHECK_FALSE(gate_failed(passing));
  // without a baseline only the bars are results
  CHECK(run_gate({{"a", 1.0}}, nullptr, Tolerances{}, GateBars{{{"a", 0.5}}, {}}).size() == 1);
}

TEST_CASE("gate reports: JUnit XML that a parser reads, a markdown table of the failures", "[gate]") {
  ds_test::TempDir tmp("gate-report");
  Baseline b;
  const auto r = example(b);
  ds_test::write_text(tmp.path / "gate.xml", gate_junit(r, "shapes & co"));
  const std::string py = R"PY(
import xml.etree.ElementTree as ET
root = ET.parse(")PY" + (tmp.path / "gate.xml").string() + R"PY(").getroot()
suite = root.find("testsuite")
assert root.tag == "testsuites" and suite.get("name") == "shapes & co"
cases = suite.findall("testcase")
failed = [c for c in cases if c.find("failure") is not None]
assert int(suite.get("tests")) == len(cases) == 10 and int(suite.get("failures")) == len(failed) == 5, (len(cases), len(failed))
names = {c.get("name"): c for c in cases}
assert 'q<r&"s"' in names and names['q<r&"s"'].find("failure") is None
f = names["b"].find("failure")
assert f.get("type") == "MOVED" and f.get("message") == "MOVED: b: 2 -> 2.5 (change +0.5, tolerance 0.001)", f.attrib
assert names["b<a"].find("failure").get("type") == "NOT LESS"
print("junit ok")
)PY";
  CHECK(ds_test::run_python(tmp, py).find("junit ok") != std::string::npos);
  const std::string md = gate_markdown(r, false);
  CHECK(md.rfind("**diffscope check: failed**: 3 of 6 metrics beyond tolerance, 2 of 4 bars failed", 0) == 0);
  CHECK(md.find("| status | metric | baseline | current | change | tolerance |") != std::string::npos);
  CHECK(md.find("| MOVED | `b` | 2 | 2.5 | +0.5 | 0.001 |") != std::string::npos);
  CHECK(md.find("| NEW | `d` |") != std::string::npos);
  CHECK(md.find("`a`") == std::string::npos);  // passes are not listed
  const std::string all = gate_markdown(r, true);
  CHECK(all.find("| PASS | `a` | 1 | 1.0005 | +0.0005 | 0.001 |") != std::string::npos);
  CHECK(all.find("`q<r&\"s\"`") != std::string::npos);
  std::vector<GateResult> ok{{"x", GateStatus::Pass, 1, 1, 0, "", false}};
  CHECK(gate_markdown(ok, false) == "**diffscope check: passed**: 0 of 1 metrics beyond tolerance\n\n");
}

TEST_CASE("baseline files: metrics and tolerances round-trip; summaries read as metrics; strict fields", "[gate]") {
  ds_test::TempDir tmp("baseline");
  Baseline b;
  b.metrics = {{"auc.x", 0.25}, {"emergence.psnr", 35.5738}, {"none", kNaN}};
  b.tolerances.fallback = {1e-4, 0.0};
  b.tolerances.keys["emergence.*"] = {0.0, 1e-4};
  b.has_tolerances = true;
  const std::string path = tmp.str() + "/base.json";
  b.write(path, "runs/x/summary.json", "made in a test");
  const auto j = read_json_file(path);
  CHECK(j["diffscope_baseline"] == 1);
  CHECK(j["source"] == "runs/x/summary.json");
  CHECK(j["metrics"]["none"].is_null());
  const Baseline back = Baseline::load(path);
  CHECK(back.has_tolerances);
  CHECK(back.metrics.at("auc.x") == 0.25);
  CHECK(std::isnan(back.metrics.at("none")));
  CHECK(back.tolerances.fallback.abs == 1e-4);
  CHECK(back.tolerances.for_key("emergence.psnr").rel == 1e-4);
  // a plain summary.json: nested numbers flattened, no tolerances
  ds_test::write_text(tmp.path / "s.json", R"({"auc": {"x": 0.5}, "seed": 3, "prompt": "p"})");
  const Baseline s = Baseline::load(tmp.str() + "/s.json");
  CHECK_FALSE(s.has_tolerances);
  CHECK(s.metrics == std::map<std::string, double>{{"auc.x", 0.5}});
  ds_test::write_text(tmp.path / "v2.json", R"({"diffscope_baseline": 2, "metrics": {}})");
  CHECK_THROWS_WITH(Baseline::load(tmp.str() + "/v2.json"), Catch::Contains("\"diffscope_baseline\" must be 1"));
  ds_test::write_text(tmp.path / "extra.json", R"({"diffscope_baseline": 1, "metrics": {}, "tolerance": {}})");
  CHECK_THROWS_WITH(Baseline::load(tmp.str() + "/extra.json"), Catch::Contains("unknown field \"tolerance\""));
  ds_test::write_text(tmp.path / "str.json", R"({"diffscope_baseline": 1, "metrics": {"a": "1"}})");
  CHECK_THROWS_WITH(Baseline::load(tmp.str() + "/str.json"), Catch::Contains("metrics.a: expected a number or null"));
  ds_test::write_text(tmp.path / "nom.json", R"({"diffscope_baseline": 1})");
  CHECK_THROWS_WITH(Baseline::load(tmp.str() + "/nom.json"), Catch::Contains("needs \"metrics\""));
}
