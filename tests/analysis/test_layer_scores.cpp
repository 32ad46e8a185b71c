// The layers analysis: per-layer and per-head scores of kept arrays, recomputed with OpenCV and scikit-learn; a
// selection of every layer reproduces the aggregated maps' score; refusals name the file or option.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>

#include "diffscope/analysis/analyze.h"
#include "diffscope/analysis/layer_scores.h"
#include "diffscope/analysis/run_folder.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/npy.h"
#include "test_support.h"
#include "util/python_run.h"

using namespace diffscope;
namespace fs = std::filesystem;

namespace {

constexpr int kTokens = 5, kH = 4, kW = 4, kSteps = 2;

// "a red circle" over 2 steps; 3 of the model's 4 cross-attention layers captured (0, 2, 3), layer 2 with one head,
// the others with two; per-layer and per-head maps kept at step 1, random (seeded) so that no two pixels tie.
void write_layer_run(const fs::path& dir, bool keep = true) {
  fs::create_directories(dir / "attention");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const int layers = 3, max_heads = 2;
  const int heads_of[3] = {2, 1, 2};
  const size_t stack = static_cast<size_t>(kTokens) * kH * kW;
  std::vector<float> head_maps(static_cast<size_t>(layers) * max_heads * stack, 0.f), layer_maps(layers * stack, 0.f);
  for (int l = 0; l < layers; ++l) {
    for (int h = 0; h < heads_of[l]; ++h)
      for (size_t i = 0; i < stack; ++i) head_maps[(static_cast<size_t>(l) * max_heads + h) * stack + i] = u(rng);
    for (size_t i = 0; i < stack; ++i) {  // the layer map: mean over its heads (the capture's reduction)
      float s = 0.f;
      for (int h = 0; h < heads_of[l]; ++h) s += head_maps[(static_cast<size_t>(l) * max_heads + h) * stack + i];
      layer_maps[static_cast<size_t>(l) * stack + i] = s / static_cast<float>(heads_of[l]);
    }
  }
  std::vector<float> maps(kSteps * stack, 0.f);
  for (size_t i = 0; i < stack; ++i) {
    maps[i] = u(rng);  // step 0: anything
    float s = 0.f;
    for (int l = 0; l < layers; ++l) s += layer_maps[static_cast<size_t>(l) * stack + i];
    maps[stack + i] = s / static_cast<float>(layers);  // step 1: the mean over layers, as capture sums and divides
  }
  write_npy((dir / "attention/maps.npy").string(), maps.data(), {kSteps, kTokens, kH, kW});
  nlohmann::json kept = nlohmann::json::array();
  if (keep) {
    write_npy((dir / "attention/layers_step1.npy").string(), layer_maps.data(), {layers, kTokens, kH, kW});
    write_npy((dir / "attention/heads_step1.npy").string(), head_maps.data(), {layers, max_heads, kTokens, kH, kW});
    kept.push_back({{"step", 1}, {"file", "attention/layers_step1.npy"}, {"axes", "layers,tokens,h,w"}});
    kept.push_back({{"step", 1}, {"file", "attention/heads_step1.npy"}, {"axes", "layers,heads,tokens,h,w"}});
  }
  nlohmann::json j;
  j["inputs"] = {{"prompt", "a red circle"}, {"seed", 1}};
  j["timesteps"] = {900, 100};
  j["tokens"] = {"<|startoftext|>", "a</w>", "red</w>", "circle</w>", "<|endoftext|>"};
  j["token_count"] = 5;
  j["words"] = {{{"word", "a"}, {"positions", {1}}, {"punctuation", false}},
                {{"word", "red"}, {"positions", {2}}, {"punctuation", false}},
                {{"word", "circle"}, {"positions", {3}}, {"punctuation", false}}};
  nlohmann::json all = nlohmann::json::array();
  const char* names[4] = {"down_blocks.0.attentions.0.transformer_blocks.0.attn2",
                          "mid_block.attentions.0.transformer_blocks.0.attn2",
                          "up_blocks.1.attentions.0.transformer_blocks.0.attn2",
                          "up_blocks.1.attentions.1.transformer_blocks.0.attn2"};
  const int model_heads[4] = {2, 4, 1, 2};
  for (int i = 0; i < 4; ++i)
    all.push_back({{"name", names[i]}, {"block", "x"}, {"heads", model_heads[i]}, {"height", 4}, {"width", 4}});
  j["model"] = {{"attention_layers", all}};
  j["attention"] = {{"file", "attention/maps.npy"}, {"layers", {0, 2, 3}}, {"kept", kept}};
  ds_test::write_text(dir / "run.json", j.dump());
  cv::imwrite((dir / "final.png").string(), cv::Mat(16, 16, CV_8UC3, cv::Scalar(200, 200, 200)));
  fs::create_directories(dir.parent_path() / "masks");
  cv::Mat left(16, 16, CV_8U, cv::Scalar(0)), right(16, 16, CV_8U, cv::Scalar(0));
  left(cv::Rect(0, 0, 5, 16)).setTo(255);
  right(cv::Rect(10, 0, 6, 16)).setTo(255);
  cv::imwrite((dir.parent_path() / "masks/red.png").string(), left);
  cv::imwrite((dir.parent_path() / "masks/circle.png").string(), right);
}

}  // namespace

TEST_CASE("layer and head selections", "[analysis]") {
  const std::vector<CapturedLayer> layers{{0, "down_blocks.0.attentions.0.transformer_blocks.0.attn2", 2, 4, 4},
                                          {2, "up_blocks.1.attentions.0.transformer_blocks.0.attn2", 1, 4, 4},
                                          {3, "up_blocks.1.attentions.1.transformer_blocks.0.attn2", 2, 4, 4}};
  CHECK(select_layers("all", layers) == std::vector<size_t>{0, 1, 2});
  CHECK(select_layers("up_blocks", layers) == std::vector<size_t>{1, 2});
  CHECK(select_layers("3,0", layers) == std::vector<size_t>{0, 2});   // model indices, not positions
  CHECK(select_layers("2,up_blocks.1", layers) == std::vector<size_t>{1, 2});  // duplicates merged
  CHECK_THROWS_WITH(select_layers("1", layers), Catch::Contains("\"1\" matches no captured layer"));
  CHECK_THROWS_WITH(select_layers("down,,up", layers), Catch::Contains("an empty item"));
  CHECK(select_heads("1,0", 2) == std::vector<int>{0, 1});
  CHECK_THROWS_WITH(select_heads("2", 2), Catch::Contains("--select-heads 2: expected head indices 0..1"));
  CHECK_THROWS_AS(select_heads("x", 2), Error);
  CHECK(short_layer_name("up_blocks.1.attentions.0.transformer_blocks.0.attn2") == "up_blocks.1.attentions.0");
  CHECK(short_layer_name("transformer_blocks.3") == "transformer_blocks.3");
}

TEST_CASE("layers: per-layer and per-head scores recomputed with scikit-learn", "[analysis]") {
  ds_test::TempDir tmp("layers");
  const fs::path run = tmp.path / "run";
  write_layer_run(run);
  AnalysisOptions o;
  o.masks_dir = (tmp.path / "masks").string();
  o.which = {"layers"};
  auto s = run_analyses(run.string(), o);
  for (const char* f : {"tables/auc_layers.csv", "tables/auc_heads.csv", "plots/auc_layers.png", "plots/auc_layers.svg",
                        "plots/specificity_layers.png", "plots/auc_heads.png", "plots/auc_heads.svg"})
    CHECK(fs::exists(run / f));
  CHECK_FALSE(fs::exists(run / "tables/auc_selection.csv"));  // no selection asked
  // the layer with one head: no key for a second head
  CHECK(s.count("auc.head.up_blocks.1.attentions.0.transformer_blocks.0.attn2.h0.roc_auc") == 1);
  CHECK(s.count("auc.head.up_blocks.1.attentions.0.transformer_blocks.0.attn2.h1.roc_auc") == 0);
  const std::string py = R"(
import csv, json, numpy as np, cv2
from sklearn.metrics import roc_auc_score
run, masks = ")" + run.string() + R"(", ")" + (tmp.path / "masks").string() + R"("
meta = json.load(open(run + "/run.json"))
s = json.load(open(run + "/summary.json"))
captured = meta["attention"]["layers"]
names = [meta["model"]["attention_layers"][i]["name"] for i in captured]
pos = {w["word"]: w["positions"] for w in meta["words"]}
m = {w: cv2.imread(f"{masks}/{w}.png", cv2.IMREAD_GRAYSCALE) > 0 for w in ("red", "circle")}
any_ = m["red"] | m["circle"]
def image_map(stack, word):  # word mean, bicubic to 16x16, clamp at 0, min-max in float32
    x = np.mean([stack[p] for p in pos[word]], axis=0).astype(np.float32)
    x = np.maximum(cv2.resize(x, (16, 16), interpolation=cv2.INTER_CUBIC), 0).astype(np.float32)
    lo, hi = x.min(), x.max()
    return ((x - lo) / (hi - lo)).astype(np.float32)
def scores(img, word):
    own = m[word]
    other = any_ & ~own
    sel = ~own & (other | ~any_)
    a, v = roc_auc_score(own.ravel(), img.ravel()), roc_auc_score(other[sel].ravel(), img[sel].ravel())
    return a, v, a - v
L = np.load(run + "/attention/layers_step1.npy"); H = np.load(run + "/attention/heads_step1.npy")
n = 0
per_layer = {}
for row in csv.DictReader(open(run + "/tables/auc_layers.csv")):
    r = captured.index(int(row["layer"]))
    assert row["name"] == names[r] and row["step"] == "1"
    want = scores(image_map(L[r], row["word"]), row["word"])
    got = (float(row["roc_auc"]), float(row["roc_auc_vs_others"]), float(row["specificity"]))
    assert np.allclose(got, want, atol=1e-9), (row, want)
    per_layer.setdefault(names[r], []).append(want)
    n += 1
assert n == 3 * 2, n  # 3 layers x 2 masked words
for name, v in per_layer.items():
    assert abs(s[f"auc.layer.{name}.roc_auc"] - np.mean([x[0] for x in v])) < 1e-12
    assert abs(s[f"auc.layer.{name}.specificity"] - np.mean([x[2] for x in v])) < 1e-12
means = {captured[names.index(k)]: np.mean([x[0] for x in v]) for k, v in per_layer.items()}
assert s["auc.layers.best.layer"] == max(means, key=means.get) and s["auc.layers.worst.layer"] == min(means, key=means.get)
heads = 0
for row in csv.DictReader(open(run + "/tables/auc_heads.csv")):
    r = captured.index(int(row["layer"]))
    want = scores(image_map(H[r, int(row["head"])], row["word"]), row["word"])
    assert np.allclose((float(row["roc_auc"]), float(row["roc_auc_vs_others"])), want[:2], atol=1e-9), (row, want)
    heads += 1
assert heads == (2 + 1 + 2) * 2, heads
print("layers match", n, heads)
)";
  CHECK(ds_test::run_python(tmp, py).find("layers match 6 10") != std::string::npos);

  SECTION("every layer (or every head) selected scores as the aggregated maps do at that step") {
    AnalysisOptions all = o;
    all.which = {"layers", "auc", "heatmaps"};
    all.steps = "1";
    all.select_layers = "all";
    auto k = run_analyses(run.string(), all);
    REQUIRE(read_csv((run / "tables/auc_selection.csv").string()).size() == 1 + 2);  // header + 2 masked words
    CHECK(k["auc.selection.mean_roc_auc"] == Approx(k["auc.mean_roc_auc"]).epsilon(1e-12));
    CHECK(k["auc.selection.mean_specificity"] == Approx(k["auc.mean_specificity"]).epsilon(1e-12));
    // its heatmaps: the aggregated heatmaps of that step, word for word
    const NpyArray sel_maps = read_npy((run / "heatmaps/selection/step_001/maps.npy").string());
    const NpyArray step_maps = read_npy((run / "heatmaps/maps.npy").string());
    REQUIRE(sel_maps.shape == step_maps.shape);
    for (size_t i = 0; i < sel_maps.data.size(); ++i) REQUIRE(sel_maps.data[i] == Approx(step_maps.data[i]).margin(1e-6));
    CHECK(fs::exists(run / "heatmaps/selection/step_001/01_red_overlay.png"));
    all.select_layers.clear();
    all.select_heads = "0,1";
    k = run_analyses(run.string(), all);
    CHECK(k["auc.selection.mean_roc_auc"] == Approx(k["auc.mean_roc_auc"]).epsilon(1e-12));
    all.select_layers = "up_blocks";  // a part only: differs from the whole
    all.select_heads.clear();
    k = run_analyses(run.string(), all);
    CHECK(k["auc.selection.mean_roc_auc"] != Approx(k["auc.mean_roc_auc"]).epsilon(1e-6));
  }
  SECTION("a kept array from another run is refused by name") {
    nlohmann::json j = read_json_object((run / "run.json").string());
    j["attention"]["kept"][0]["sha256"] = std::string(64, '0');
    ds_test::write_text(run / "run.json", j.dump());
    CHECK_THROWS_WITH(run_analyses(run.string(), o), Catch::Contains("layers_step1.npy: does not belong to"));
  }
  SECTION("a kept array of the wrong shape is refused by name") {
    std::vector<float> v(2 * kTokens * kH * kW, 0.5f);
    write_npy((run / "attention/layers_step1.npy").string(), v.data(), {2, kTokens, kH, kW});
    CHECK_THROWS_WITH(run_analyses(run.string(), o), Catch::Contains("layers_step1.npy: expected [3, 5, 4, 4]"));
  }
  SECTION("an unknown layer in the selection is refused") {
    o.select_layers = "down_blocks.7";
    CHECK_THROWS_WITH(run_analyses(run.string(), o), Catch::Contains("--select-layers down_blocks.7"));
  }
}

TEST_CASE("layers: a run without kept maps is refused when asked, skipped by analyze", "[analysis]") {
  ds_test::TempDir tmp("layers-none");
  const fs::path run = tmp.path / "run";
  write_layer_run(run, /*keep=*/false);
  AnalysisOptions o;
  o.masks_dir = (tmp.path / "masks").string();
  o.which = {"layers"};
  CHECK_THROWS_WITH(run_analyses(run.string(), o), Catch::Contains("no per-layer or per-head maps were kept"));
  o.which = {"auc", "layers"};  // named: still refused
  CHECK_THROWS_AS(run_analyses(run.string(), o), Error);
  o.which.clear();  // every analysis: layers has nothing to do and adds no keys
  auto s = run_analyses(run.string(), o);
  CHECK(s.count("auc.mean_roc_auc") == 1);
  for (const auto& [k, v] : s) CHECK(k.rfind("auc.layer", 0) != 0);
  o.select_layers = "all";  // a selection without kept maps: refused
  CHECK_THROWS_WITH(run_analyses(run.string(), o), Catch::Contains("--keep-layers"));
}
