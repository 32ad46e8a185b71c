// Batch manifests (JSON lines and CSV, every refusal), shards, and batches on the tiny package: failures recorded,
// --resume skipping only what is complete for the same inputs, shards merging to the single process's table.
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "diffscope/study/batch_study.h"
#include "diffscope/study/manifest.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/npy.h"
#include "test_support.h"

#include <cmath>

using namespace diffscope;
namespace fs = std::filesystem;

TEST_CASE("manifest entries: every field, and every refusal with its line number", "[study][batch]") {
  ds_test::TempDir dir("manifest");
  const std::string m = dir.str() + "/m.jsonl";
  ds_test::write_text(m,
                      "# runs\n"
                      R"({"id": "a", "prompt": "a red circle", "seed": 3, "steps": 4, "guidance": 2.5, "scheduler": "ddim", "meta": {"c": "x"}, "analyses": "auc,heatmaps", "concepts": "sky, traffic light"})" "\n"
                      "\n"
                      R"({"prompt": "two", "negative_prompt": "blur", "height": 64, "width": 64, "saliency": {"step": 1, "samples": 8}, "concepts": ["red"]})" "\n"
                      R"({"prompt": "   "})" "\n"
                      R"({"prompt": "x", "promt": "y"})" "\n"
                      R"({"prompt": "x", "seed": -1})" "\n"
                      R"({"prompt": "x", "steps": 2.5})" "\n"
                      R"({"prompt": "x", "id": "../up"})" "\n"
                      R"({"prompt": "x", "id": "a"})" "\n"
                      R"({"prompt": "x", "saliency": {"sample": 3}})" "\n"
                      R"({"prompt": "x", "meta": 3})" "\n"
                      "not json\n"
                      R"([1, 2])" "\n"
                      R"({"prompt": "x", "guidance": "5"})" "\n"
                      R"({"prompt": "x", "id": "failures.jsonl"})" "\n"
                      R"({"prompt": "x", "concepts": 3})" "\n");
  const Manifest r = read_manifest(m);
  CHECK(r.entries == 15);
  REQUIRE(r.lines.size() == 2);
  const ManifestLine& a = r.lines[0];
  CHECK(a.id == "a");
  CHECK(a.line == 2);
  CHECK(a.index == 0);
  CHECK(*a.seed == 3);
  CHECK(*a.steps == 4);
  CHECK(*a.guidance == 2.5);
  CHECK(a.analyses == std::vector<std::string>{"auc", "heatmaps"});
  CHECK(a.meta["c"] == "x");
  CHECK(*a.concepts == std::vector<std::string>{"sky", "traffic light"});  // commas only: phrases stay whole
  CHECK(r.lines[1].id == "00001");  // no id: the entry's index
  CHECK(r.lines[1].line == 4);
  CHECK(*r.lines[1].negative_prompt == "blur");
  CHECK(r.lines[1].saliency["samples"] == 8);
  CHECK(*r.lines[1].concepts == std::vector<std::string>{"red"});
  const std::vector<std::pair<int, std::string>> want{
      {5, "\"prompt\": empty"},      {6, "unknown key \"promt\""},      {7, "\"seed\": expected 0.."},
      {8, "\"steps\": expected an integer"}, {9, "is not a folder name"}, {10, "repeats an earlier line's"},
      {11, "\"saliency\": unknown key \"sample\""}, {12, "\"meta\": expected an object"}, {13, "not valid JSON"},
      {14, "expected a JSON object per line"}, {15, "\"guidance\": expected a finite number"},
      {16, "is not a folder name"}, {17, "\"concepts\": expected a list of words"}};
  REQUIRE(r.problems.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(r.problems[i].message);
    CHECK(r.problems[i].line == want[i].first);
    CHECK(r.problems[i].message.rfind(m + ":" + std::to_string(want[i].first) + ": ", 0) == 0);
    CHECK(r.problems[i].message.find(want[i].second) != std::string::npos);
  }
  // shards split by entry index, bad entries included, so fixing a line never moves the others
  CHECK(manifest_shard(r.lines, 0, 2).size() == 1);
  CHECK(manifest_shard(r.lines, 1, 2).size() == 1);
  CHECK(manifest_shard(r.lines, 1, 2)[0].id == "00001");
  CHECK(parse_shard("2/8") == std::pair<int, int>{2, 8});
  for (const char* bad : {"8/8", "1/0", "-1/2", "1", "a/b", "1/2/3", "/4"}) CHECK_THROWS_AS(parse_shard(bad), Error);
  ds_test::write_text(m, "# nothing\n\n");
  CHECK_THROWS_WITH(read_manifest(m), Catch::Contains("no entries"));
  CHECK_THROWS_WITH(read_manifest(dir.str() + "/none.jsonl"), Catch::Contains("cannot be read"));
}

TEST_CASE("manifest CSV: a header, typed columns, meta.NAME columns, quoted prompts", "[study][batch]") {
  ds_test::TempDir dir("manifest-csv");
  const std::string m = dir.str() + "/m.csv";
  ds_test::write_text(m, "id,prompt,seed,guidance,meta.category\n"
                         "r1,\"a red circle, large\",7,5,single\n"
                         "r2,a blue square,,,\n"
                         "r3,x,seven,,\n"
                         "r4,x,1\n");
  const Manifest r = read_manifest(m);
  REQUIRE(r.lines.size() == 2);
  CHECK(r.lines[0].prompt == "a red circle, large");
  CHECK(*r.lines[0].seed == 7);
  CHECK(*r.lines[0].guidance == 5.0);
  CHECK(r.lines[0].meta["category"] == "single");
  CHECK_FALSE(r.lines[1].seed.has_value());  // an empty cell is unset
  REQUIRE(r.problems.size() == 2);
  CHECK(r.problems[0].message.find(m + ":4: \"seed\": expected a number") != std::string::npos);
  CHECK(r.problems[1].message.find(m + ":5: 3 fields for 5 columns") != std::string::npos);
  ds_test::write_text(m, "id,prompts\nx,y\n");
  CHECK_THROWS_WITH(read_manifest(m), Catch::Contains("unknown column \"prompts\""));
}

namespace {
const Session kQuiet{"cpu", 1, true};

BatchSpec tiny_batch(const std::string& manifest, const std::string& out) {
  BatchSpec b;
  b.manifest = manifest;
  b.out = out;
  b.defaults.model = DS_TEST_PACKAGE_DIR;
  b.defaults.steps = 3;
  b.defaults.scheduler = "ddim";
  b.defaults.guidance = 3.0;
  b.defaults.x0_every = 0;
  b.analysis.which = {"heatmaps", "correlate"};
  return b;
}
}  // namespace

TEST_CASE("batch on the tiny package: failures go on, --resume, shards merge to the same table", "[study][batch]") {
  ds_test::TempDir dir("batch");
  const std::string m = dir.str() + "/m.jsonl";
  ds_test::write_text(m, R"({"id": "r1", "prompt": "a red circle", "seed": 1, "meta": {"kind": "one"}})" "\n"
                         R"({"id": "r2", "prompt": "a blue square and a red circle", "seed": 2, "meta": {"kind": "two"}})" "\n"
                         R"({"id": "r3", "prompt": "a red square", "scheduler": "nosuch"})" "\n"
                         R"({"id": "r4", "prompt": "a green circle", "seed": 4, "steps": 2, "meta": {"kind": "one"}})" "\n"
                         R"({"id": "r5", "prompt": ""})" "\n");
  const BatchResult one = run_batch(tiny_batch(m, dir.str() + "/one"), kQuiet);
  CHECK(one.entries == 5);
  CHECK(one.done == 3);
  CHECK(one.failed == 1);
  CHECK(one.bad == 1);
  const auto failures = ds_test::read_text(dir.str() + "/one/failures.jsonl");
  CHECK(failures.find("\"id\":\"r3\",\"line\":3,\"stage\":\"generate\"") != std::string::npos);
  CHECK(failures.find("\"line\":5,\"stage\":\"manifest\"") != std::string::npos);
  CHECK(fs::exists(dir.str() + "/one/r4/batch.json"));
  CHECK(read_json_file(dir.str() + "/one/r4/run.json")["timesteps"].size() == 2);  // the line's steps

  // a second call without --resume or --overwrite is refused before any work
  CHECK_THROWS_WITH(run_batch(tiny_batch(m, dir.str() + "/one"), kQuiet), Catch::Contains("--resume"));
  // --resume: complete lines are skipped; an unfinished folder (no batch.json) is redone
  fs::remove(dir.str() + "/one/r2/batch.json");
  BatchSpec again = tiny_batch(m, dir.str() + "/one");
  again.resume = true;
  const BatchResult resumed = run_batch(again, kQuiet);
  CHECK(resumed.skipped == 2);
  CHECK(resumed.done == 1);
  // other inputs for a line (the batch's default guidance): not the same run, redone
  again.defaults.guidance = 4.0;
  CHECK(run_batch(again, kQuiet).done == 3);
  again.defaults.guidance = 3.0;
  CHECK(run_batch(again, kQuiet).done == 3);  // back to the first inputs: redone again, same numbers as before

  // two shards into their own folders merge to the same table as the single process
  BatchSpec s0 = tiny_batch(m, dir.str() + "/s0"), s1 = tiny_batch(m, dir.str() + "/s1");
  s0.shards = s1.shards = 2;
  s1.shard = 1;
  const BatchResult r0 = run_batch(s0, kQuiet), r1 = run_batch(s1, kQuiet);
  CHECK(r0.selected + r1.selected == 5);
  CHECK(r0.done + r1.done == 3);
  CHECK(fs::exists(dir.str() + "/s0/failures.shard-0-of-2.jsonl"));
  merge_batches({dir.str() + "/one"}, dir.str() + "/m1", "meta.kind", false);
  const Summary merged = merge_batches({dir.str() + "/s0", dir.str() + "/s1"}, dir.str() + "/m2", "meta.kind", false);
  CHECK(ds_test::read_text(dir.str() + "/m1/runs.csv") == ds_test::read_text(dir.str() + "/m2/runs.csv"));
  CHECK(ds_test::read_text(dir.str() + "/m1/aggregate.csv") == ds_test::read_text(dir.str() + "/m2/aggregate.csv"));
  CHECK(merged.numbers().at("runs") == 3);
  CHECK(merged.numbers().at("failures") == 2);
  const auto rows = read_csv(dir.str() + "/m2/runs.csv");
  REQUIRE(rows.size() == 4);
  CHECK(rows[0][0] == "id");
  CHECK(rows[1][0] == "r1");
  CHECK(rows[3][0] == "r4");
  // the aggregate is the mean over the runs' column; grouped by meta.kind, "one" pools r1 and r4
  size_t col = 0;
  for (size_t c = 0; c < rows[0].size(); ++c)
    if (rows[0][c] == "heatmaps.words") col = c;
  REQUIRE(col > 0);
  const double mean = (std::stod(rows[1][col]) + std::stod(rows[2][col]) + std::stod(rows[3][col])) / 3;
  CHECK(merged.numbers().at("heatmaps.words.mean") == Approx(mean));
  const auto by = read_csv(dir.str() + "/m2/aggregate_by_kind.csv");
  bool found = false;
  for (const auto& r : by)
    if (r[0] == "one" && r[1] == "heatmaps.words") {
      found = true;
      CHECK(std::stod(r[2]) == 2);
      CHECK(std::stod(r[3]) == Approx((std::stod(rows[1][col]) + std::stod(rows[3][col])) / 2));
    }
  CHECK(found);
  // --batch-size 3: r1 and r2 share one loop; r3 (another scheduler, which fails) and r4 (2 steps) cannot share it
  Session batched = kQuiet;
  batched.batch_size = 3;
  const BatchResult b3 = run_batch(tiny_batch(m, dir.str() + "/b3"), batched);
  CHECK(b3.done == 3);
  CHECK(b3.failed == 1);
  CHECK(ds_test::read_text(dir.str() + "/b3/failures.jsonl").find("\"id\":\"r3\",\"line\":3,\"stage\":\"generate\"") !=
        std::string::npos);
  CHECK(read_json_file(dir.str() + "/b3/r2/run.json")["batch"] == nlohmann::json{{"index", 1}, {"size", 2}});
  CHECK_FALSE(read_json_file(dir.str() + "/b3/r4/run.json").contains("batch"));
  for (const char* id : {"r1", "r2", "r4"}) {
    const NpyArray x = read_npy(dir.str() + "/one/" + id + "/latents.npy"),
                   y = read_npy(dir.str() + "/b3/" + id + "/latents.npy");
    REQUIRE(x.shape == y.shape);
    double worst = 0;
    for (size_t i = 0; i < x.data.size(); ++i) worst = std::max(worst, double(std::abs(x.data[i] - y.data[i])));
    INFO(id << ": max |batched - alone| " << worst);
    CHECK(worst < 1e-4);
  }
  // a line that fails inside a batch (a concept listed twice, found when its run is prepared): the batch is redone
  // one line at a time, so that line fails alone
  const std::string mc = dir.str() + "/mc.jsonl";
  ds_test::write_text(mc, R"({"id": "c1", "prompt": "a red circle", "concepts": "red,blue"})" "\n"
                          R"({"id": "c2", "prompt": "a blue square", "concepts": "red,red"})" "\n"
                          R"({"id": "c3", "prompt": "a green circle", "concepts": ["green", "circle"]})" "\n");
  const BatchResult bc = run_batch(tiny_batch(mc, dir.str() + "/bc"), batched);
  CHECK(bc.done == 2);
  CHECK(bc.failed == 1);
  CHECK(ds_test::read_text(dir.str() + "/bc/failures.jsonl").find("\"id\":\"c2\",\"line\":2,\"stage\":\"generate\"") !=
        std::string::npos);
  CHECK(fs::exists(dir.str() + "/bc/c3/attention/concept_maps.npy"));
  // one id in two folders is refused
  CHECK_THROWS_WITH(merge_batches({dir.str() + "/one", dir.str() + "/s0"}, dir.str() + "/m3", "", false),
                    Catch::Contains("appears in two batch folders"));
  CHECK_THROWS_WITH(merge_batches({dir.str() + "/one"}, dir.str() + "/m4", "kind", false),
                    Catch::Contains("--group-by kind: expected meta.KEY"));
}
