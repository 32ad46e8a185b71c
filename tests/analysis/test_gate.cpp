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
  CHECK_FALSE(find("d").fails);  // not in the baseline: listed, not gated
  CHECK(find("c").fails);
  CHECK(find("c").message == "c is missing (baseline 3)");
  CHECK(find("a>=2").status == GateStatus::Below);
  CHECK(find("a>=2").bar);
  CHECK(find("b>=2").status == GateStatus::Pass);
  CHECK(find("a<b").status == GateStatus::Pass);
  CHECK(find("b<a").status == GateStatus::NotLess);
  CHECK(gate_failed(r));
  std::vector<GateResult> passing;
  for (const auto& x : r)
    if (!x.fails) passing.push_back(x);
  CHECK_FALSE(gate_failed(passing));
  CHECK(gate_summary_line(r) == "1 of 5 gated metrics moved beyond tolerance; 1 missing; 1 new, not gated; 2 of 4 bars failed");
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
skipped = [c for c in cases if c.find("skipped") is not None]
assert int(suite.get("tests")) == len(cases) == 10 and int(suite.get("failures")) == len(failed) == 4, (len(cases), len(failed))
assert int(suite.get("skipped")) == len(skipped) == 1 and skipped[0].get("name") == "d", [c.get("name") for c in skipped]
assert skipped[0].find("skipped").get("message") == "NEW: d = 4 is not in the baseline (not gated)"
names = {c.get("name"): c for c in cases}
assert 'q<r&"s"' in names and names['q<r&"s"'].find("failure") is None
f = names["b"].find("failure")
assert f.get("type") == "MOVED" and f.get("message") == "MOVED: b: 2 -> 2.5 (change +0.5, tolerance 0.001)", f.attrib
assert names["b<a"].find("failure").get("type") == "NOT LESS"
print("junit ok")
)PY";
  CHECK(ds_test::run_python(tmp, py).find("junit ok") != std::string::npos);
  const std::string md = gate_markdown(r, false);
  CHECK(md.rfind("**diffscope check: failed**: 1 of 5 gated metrics moved beyond tolerance; 1 missing; 1 new, not gated; "
                 "2 of 4 bars failed\n", 0) == 0);
  CHECK(md.find("| status | metric | baseline | current | change | tolerance |") != std::string::npos);
  CHECK(md.find("| MOVED | `b` | 2 | 2.5 | +0.5 | 0.001 |") != std::string::npos);
  CHECK(md.find("| MISSING | `c` |") != std::string::npos);
  CHECK(md.find("| NEW | `d` |") == std::string::npos);  // not gated: counted, listed only with all
  CHECK(md.find("`a`") == std::string::npos);  // passes are not listed
  const std::string all = gate_markdown(r, true);
  CHECK(all.find("| PASS | `a` | 1 | 1.0005 | +0.0005 | 0.001 |") != std::string::npos);
  CHECK(all.find("`q<r&\"s\"`") != std::string::npos);
  CHECK(all.find("| NEW | `d` |") != std::string::npos);
  std::vector<GateResult> ok{{"x", GateStatus::Pass, 1, 1, 0, "", false}};
  CHECK(gate_markdown(ok, false) == "**diffscope check: passed**: 0 of 1 gated metrics moved beyond tolerance\n\n");
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

TEST_CASE("the paired set gate matches numpy's bootstrap of the paired differences (tests/data/gate/paired)", "[gate]") {
  const std::string dir = std::string(DS_SOURCE_DIR) + "/tests/data/gate/paired";
  const auto expected = read_json_file(dir + "/expected.json");
  const RunSet before = load_run_set(dir + "/before/runs.jsonl"), after = load_run_set(dir + "/after");
  CHECK(before.size() == 20);
  CHECK(after.size() == 21);  // one run pairs with nothing
  Tolerances tol;
  tol.fallback = {expected["tolerance"].get<double>(), 0.0};
  const auto results = run_paired_gate(after, before, tol);
  REQUIRE(results.size() == expected["keys"].size());
  for (const auto& r : results) {
    INFO(r.name << ": " << r.message);
    REQUIRE(expected["keys"].contains(r.name));
    const auto& e = expected["keys"][r.name];
    CHECK(gate_status_name(r.status) == e["status"].get<std::string>());
    if (e.contains("pairs")) CHECK(r.pairs == e["pairs"].get<size_t>());
    if (!e.contains("lo")) continue;
    // the same doubles in the same order: numpy's pairwise sum and linear percentile, to the last bits
    CHECK(r.diff == Approx(e["mean_diff"].get<double>()).margin(1e-15));
    CHECK(r.diff_lo == Approx(e["lo"].get<double>()).epsilon(1e-12).margin(1e-15));
    CHECK(r.diff_hi == Approx(e["hi"].get<double>()).epsilon(1e-12).margin(1e-15));
    CHECK(r.fails == (e["status"] == "MOVED"));
  }
  // noise that a plain gate on any single pair would fail never fails the paired gate; strictness is a policy
  CHECK(gate_failed(results));
  const auto strict = run_paired_gate(after, before, tol, {false, true});
  for (const auto& r : strict)
    if (r.name == "fresh") CHECK(r.fails);
  const std::string md = gate_markdown(results, false);
  CHECK(md.find("| mean paired change | 95% interval | pairs |") != std::string::npos);
  CHECK(md.find("| MOVED | `drop` |") != std::string::npos);
  CHECK(gate_summary_line(results) ==
        "3 of 8 gated metrics moved beyond tolerance; 1 missing; 1 with too few pairs, not gated; 1 new, not gated");
  // identical sets: nothing moves, even at tolerance 0
  for (const auto& r : run_paired_gate(before, before, Tolerances{{0.0, 0.0}, {}}))
    CHECK_FALSE(r.fails);
}

TEST_CASE("run sets: prompt-set folders pair by seed and prompt, batch folders by id; bad sets are named", "[gate]") {
  ds_test::TempDir tmp("run-set");
  auto run = [&](const std::string& folder, const std::string& run_json, const std::string& summary) {
    std::filesystem::create_directories(tmp.path / folder);
    ds_test::write_text(tmp.path / folder / "run.json", run_json);
    ds_test::write_text(tmp.path / folder / "summary.json", summary);
  };
  run("set/000", R"({"inputs": {"prompt": "a red circle", "seed": 1}})", R"({"auc": {"x": 0.5}, "seed": 1})");
  run("set/001", R"({"inputs": {"prompt": "a blue square", "seed": 1}})", R"({"auc": {"x": 0.7}})");
  ds_test::write_text(tmp.path / "set" / "summary.json", R"({"auc": {"x": {"mean": 0.6}}})");
  const RunSet s = load_run_set(tmp.str() + "/set/summary.json");
  REQUIRE(s.size() == 2);
  CHECK(s.at("1\ta red circle").at("auc.x") == 0.5);
  CHECK(s.at("1\ta blue square").at("auc.x") == 0.7);
  run("batch/b1", "{}", R"({"auc": {"x": 0.1}})");
  ds_test::write_text(tmp.path / "batch" / "b1" / "batch.json", R"({"id": "first"})");
  CHECK(load_run_set(tmp.str() + "/batch").count("first"));
  std::filesystem::create_directories(tmp.path / "empty");
  CHECK_THROWS_WITH(load_run_set(tmp.str() + "/empty"), Catch::Contains("empty: holds no runs"));
  CHECK_THROWS_WITH(load_run_set(tmp.str() + "/nowhere"), Catch::Contains("nowhere: not found"));
  ds_test::write_text(tmp.path / "bad.jsonl", "{\"id\": \"a\", \"summary\": {}}\nnot json\n");
  std::filesystem::create_directories(tmp.path / "bad");
  std::filesystem::rename(tmp.path / "bad.jsonl", tmp.path / "bad" / "runs.jsonl");
  CHECK_THROWS_WITH(load_run_set(tmp.str() + "/bad"), Catch::Contains("runs.jsonl:2: not valid JSON"));
  // fewer than two pairs: no interval can be formed, refused
  CHECK_THROWS_WITH(run_paired_gate(s, load_run_set(tmp.str() + "/batch"), Tolerances{}),
                    Catch::Contains("0 runs pair between the two sets"));
}

TEST_CASE("a null baseline value is gated explicitly: the run's value must be undefined too", "[gate]") {
  Baseline b;
  b.metrics = {{"u", kNaN}};
  CHECK_FALSE(run_gate({{"u", kNaN}}, &b, Tolerances{}, GateBars{})[0].fails);
  const auto r = run_gate({{"u", 0.5}}, &b, Tolerances{}, GateBars{})[0];
  CHECK(r.fails);
  CHECK(r.message == "u: null -> 0.5 (one side undefined, tolerance 1e-06)");
  b.metrics = {{"u", 0.5}};
  CHECK(run_gate({{"u", kNaN}}, &b, Tolerances{}, GateBars{})[0].message == "u: 0.5 -> null (one side undefined, tolerance 1e-06)");
}
