// Analysis tests on hand-made run folders, maps and images with known answers.
#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "diffscope/analysis/analyze.h"
#include "diffscope/analysis/gate.h"
#include "diffscope/analysis/correlation.h"
#include "diffscope/analysis/emergence.h"
#include "diffscope/util/error.h"
#include "diffscope/analysis/heatmaps.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/npy.h"
#include "diffscope/analysis/run_folder.h"
#include "diffscope/analysis/scores.h"
#include "diffscope/analysis/segmentation.h"
#include "test_support.h"
#include "util/python_run.h"

using namespace diffscope;
namespace fs = std::filesystem;

namespace {
// A 2-step run over "a red circle" with 4 tokens at 4x4 latents and a 16x16 final image: "red" and "circle" attend
// to the left half at step 1 and everywhere at step 0.
void write_run(const fs::path& dir) {
  fs::create_directories(dir / "attention");
  fs::create_directories(dir / "steps");
  const int steps = 2, tokens = 5, h = 4, w = 4;
  std::vector<float> maps(static_cast<size_t>(steps) * tokens * h * w, 0.f);
  auto at = [&](int s, int t, int y, int x) -> float& { return maps[((size_t(s) * tokens + t) * h + y) * w + x]; };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      at(0, 0, y, x) = 0.7f;                 // start token
      at(0, 1, y, x) = 0.1f;                 // "a"
      at(0, 2, y, x) = 0.1f;                 // "red"
      at(0, 3, y, x) = 0.1f;                 // "circle"
      at(1, 0, y, x) = 0.6f;
      at(1, 1, y, x) = 0.1f;
      at(1, 2, y, x) = x < 2 ? 0.3f : 0.0f;  // left half
      at(1, 3, y, x) = x < 2 ? 0.0f : 0.3f;  // right half
    }
  write_npy((dir / "attention/maps.npy").string(), maps.data(), {steps, tokens, h, w});
  nlohmann::json j;
  j["inputs"] = {{"prompt", "a red circle"}, {"seed", 1}};
  j["timesteps"] = {900, 100};
  j["tokens"] = {"<|startoftext|>", "a</w>", "red</w>", "circle</w>", "<|endoftext|>"};
  j["token_count"] = 5;
  j["words"] = {{{"word", "a"}, {"positions", {1}}, {"punctuation", false}},
                {{"word", "red"}, {"positions", {2}}, {"punctuation", false}},
                {{"word", "circle"}, {"positions", {3}}, {"punctuation", false}}};
  j["attention"] = {{"file", "attention/maps.npy"}};
  j["x0_steps"] = {0, 1};
  ds_test::write_text(dir / "run.json", j.dump());
  cv::Mat img(16, 16, CV_8UC3, cv::Scalar(240, 240, 240));
  cv::rectangle(img, cv::Rect(0, 0, 8, 16), cv::Scalar(40, 40, 220), -1);  // red (BGR) on the left
  cv::imwrite((dir / "final.png").string(), img);
  cv::imwrite((dir / "steps/x0_001.png").string(), img);
  cv::Mat blurred;
  cv::GaussianBlur(img, blurred, cv::Size(0, 0), 3.0);
  cv::imwrite((dir / "steps/x0_000.png").string(), blurred);
}
}  // namespace

TEST_CASE("step selections", "[analysis]") {
  CHECK(parse_steps("all", 4) == std::vector<int>{0, 1, 2, 3});
  CHECK(parse_steps("1:3", 4) == std::vector<int>{1, 2});
  CHECK(parse_steps(":2", 4) == std::vector<int>{0, 1});
  CHECK(parse_steps("-1", 4) == std::vector<int>{3});
  CHECK(parse_steps("0.0:0.5", 10) == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(parse_steps("0.5:1.0", 4) == std::vector<int>{2, 3});
  CHECK(parse_steps("0:25:4", 25) == std::vector<int>{0, 4, 8, 12, 16, 20, 24});  // Python's range(0, 25, 4)
  CHECK(parse_steps("1::2", 6) == std::vector<int>{1, 3, 5});
  CHECK(parse_steps("0:24:4,24", 25) == std::vector<int>{0, 4, 8, 12, 16, 20, 24});
  CHECK_THROWS_AS(parse_steps("0:8:0", 10), Error);
  CHECK_THROWS_AS(parse_steps("0:8:x", 10), Error);
  CHECK_THROWS_AS(parse_steps("0:8:", 10), Error);
  CHECK_THROWS_WITH(parse_steps("7", 4), Catch::Contains("--steps 7: expected"));
  CHECK_THROWS_AS(parse_steps("3:1", 4), Error);
  CHECK_THROWS_AS(parse_steps("x:y", 4), Error);
}

TEST_CASE("scores of a hand-made map", "[analysis]") {
  // map: 4 pixels, mask inside = pixels 0,1. Scores 0.9 0.4 0.6 0.1: positives rank 1st and 3rd.
  // ROC-AUC = P(score_pos > score_neg) = (1 + 1 + 0 + 1) / 4 = 0.75; AP = (1/1 + 2/3) / 2 = 0.8333...
  cv::Mat mask = (cv::Mat_<uchar>(2, 2) << 255, 255, 0, 0);
  auto s = score_map("red", {0.9f, 0.4f, 0.6f, 0.1f}, &mask, 0.4);
  CHECK(s.scored);
  CHECK(s.roc_auc == Approx(0.75));
  CHECK(s.ap == Approx(5.0 / 6.0));
  // IoU at 0.4 (strictly above): predicted {0, 2}; intersection {0}; union {0, 1, 2} -> 1/3
  CHECK(s.iou == Approx(1.0 / 3.0));
  auto un = score_map("a", {0.f, 1.f, 0.f, 1.f}, nullptr, 0.4);
  CHECK_FALSE(un.scored);
  auto sum = summarize_scores({s, un});
  CHECK(sum["scored"] == 1);
  CHECK(sum["unscored"] == 1);
  CHECK(sum["mean_roc_auc"] == Approx(0.75));
}

TEST_CASE("a synthetic run folder: heatmaps, tables, AUC against a masks folder, summary keys", "[analysis]") {
  ds_test::TempDir tmp("analysis");
  const fs::path run = tmp.path / "run";
  write_run(run);
  fs::create_directories(tmp.path / "masks");
  cv::Mat left(16, 16, CV_8U, cv::Scalar(0));
  left(cv::Rect(0, 0, 8, 16)).setTo(255);
  cv::imwrite((tmp.path / "masks/red.png").string(), left);
  cv::imwrite((tmp.path / "masks/circle.png").string(), left);

  RunFolder r = RunFolder::load(run.string());
  CHECK(r.steps == 2);
  CHECK(r.content_words().size() == 3);
  auto m = r.word_map(std::vector<int>{1}, r.words[1]);
  CHECK(m[0] == Approx(0.3f));
  CHECK(m[3] == Approx(0.0f));

  AnalysisOptions o;
  o.masks_dir = (tmp.path / "masks").string();
  o.steps = "1";
  auto s = run_analyses(run.string(), o);
  // red attends exactly to its mask at step 1 -> ROC-AUC 1; circle attends to the opposite half -> 0
  CHECK(s["auc.word.red.roc_auc"] == Approx(1.0));
  CHECK(s["auc.word.circle.roc_auc"] == Approx(0.0));
  CHECK(s["auc.mean_roc_auc"] == Approx(0.5));
  CHECK(s["auc.unscored"] == 1);  // "a" has no mask
  CHECK(s["correlate.red~circle"] == Approx(-1.0));
  for (const char* f : {"heatmaps/01_red.png", "heatmaps/01_red_overlay.png", "heatmaps/grid.png", "heatmaps/maps.npy",
                        "tables/auc.csv", "tables/settle.csv", "tables/emergence.csv", "tables/correlation.csv",
                        "plots/emergence.png", "plots/settle_share.png", "summary.json"})
    CHECK(fs::exists(run / f));
  auto hm = read_npy((run / "heatmaps/maps.npy").string());
  CHECK(hm.shape == std::vector<int64_t>{3, 16, 16});
  const std::string csv = ds_test::read_text(run / "tables/settle.csv");
  INFO(csv.substr(0, 200));
  CHECK(csv.rfind("step,timestep,word,mass,share,corr_final\n", 0) == 0);
  // share at step 0: three words with equal mass 0.1 -> 1/3 each
  CHECK(csv.find("0,900,red,0.10000000149011612,0.3333333333333333,nan") != std::string::npos);  // float32 0.1
  auto summary = read_json_file((run / "summary.json").string());
  CHECK(summary["prompt"] == "a red circle");
  CHECK(summary["emergence.ssim_at_75pct"].get<double>() == Approx(1.0));  // step 1's x0 is the final image
}

TEST_CASE("segmentation recovers drawn shapes and grounds words", "[analysis]") {
  Concepts c;
  c.palette = {{"red", cv::Vec3b(220, 40, 40)}, {"blue", cv::Vec3b(40, 80, 220)}};
  c.shapes = {"circle", "square", "triangle"};
  c.word_classes = {{"colour", {"red", "blue"}}, {"shape", {"circle", "square", "triangle"}}, {"size", {"small", "large"}}};
  cv::Mat img(64, 64, CV_8UC3, cv::Scalar(240, 240, 240));
  cv::circle(img, {16, 32}, 12, cv::Scalar(40, 40, 220), -1);             // red circle (BGR)
  cv::rectangle(img, cv::Rect(40, 10, 16, 16), cv::Scalar(220, 80, 40), -1);  // blue square
  std::vector<cv::Point> tri{{44, 58}, {60, 58}, {52, 40}};
  cv::fillPoly(img, std::vector<std::vector<cv::Point>>{tri}, cv::Scalar(40, 40, 220));  // red triangle
  auto objs = segment_image(img, c);
  REQUIRE(objs.size() == 3);
  std::multiset<std::string> got;
  for (const auto& o : objs) got.insert(o.colour + " " + o.shape);
  CHECK(got == std::multiset<std::string>{"red circle", "blue square", "red triangle"});
  auto masks = masks_from_concepts(objs, {"red", "square", "a", "small"}, c, img.size());
  CHECK(masks.count("a") == 0);
  CHECK(cv::countNonZero(masks["red"]) > cv::countNonZero(masks["square"]));
  CHECK(masks["square"].at<uchar>(18, 48) == 255);
  CHECK(masks["red"].at<uchar>(18, 48) == 0);
  CHECK(masks.count("small") == 1);
}

TEST_CASE("binding pairs each attribute with its own noun", "[analysis]") {
  std::vector<Word> w;
  for (const char* t : {"a", "red", "circle", "and", "a", "blue", "square"}) w.push_back({t, {}, false});
  std::vector<bool> noun{false, false, true, false, false, false, true}, attr{false, true, false, false, false, true, false};
  auto pairs = binding_pairs(w, noun, attr);
  REQUIRE(pairs.size() == 2);
  CHECK(pairs[0].adjective == 1);
  CHECK(pairs[0].noun == 2);
  CHECK(pairs[0].other_nouns == std::vector<size_t>{6});
  std::vector<std::vector<double>> corr(7, std::vector<double>(7, 0.0));
  corr[1][2] = 0.8;
  corr[1][6] = 0.3;
  CHECK(binding_score(corr, pairs[0]) == Approx(0.5));
}

namespace {
/// The keys that fail the gate of `cur` against `base`.
std::set<std::string> failing(const std::map<std::string, double>& cur, const std::map<std::string, double>& base,
                              const Tolerances& tol, const GatePolicy& policy = {}) {
  Baseline b;
  b.metrics = base;
  std::set<std::string> keys;
  for (const auto& r : run_gate(cur, &b, tol, GateBars{}, policy))
    if (r.fails) keys.insert(r.name);
  return keys;
}
}  // namespace

TEST_CASE("the regression comparison: the baseline defines what is gated", "[analysis]") {
  std::map<std::string, double> base{{"auc.mean_roc_auc", 0.9}, {"binding.mean", 0.3}, {"gone", 1.0}};
  std::map<std::string, double> cur{{"auc.mean_roc_auc", 0.89}, {"binding.mean", 0.2}, {"new", 2.0}};
  Tolerances tol;
  tol.fallback = {0.05, 0.0};
  tol.keys["auc.*"] = {0.02, 0.0};
  CHECK(failing(cur, base, tol) == std::set<std::string>{"binding.mean", "gone"});  // "new" is not gated
  CHECK(failing(cur, base, tol, {true, false}) == std::set<std::string>{"binding.mean"});
  CHECK(failing(cur, base, tol, {false, true}) == std::set<std::string>{"binding.mean", "gone", "new"});
  CHECK(failing(cur, cur, Tolerances{{0.0, 0.0}, {}}).empty());
}

TEST_CASE("relative and absolute tolerances: the larger allowance holds, the longest prefix wins", "[analysis]") {
  Tolerances tol;
  tol.fallback = {0.0, 0.0};
  tol.keys["psnr*"] = {0.0, 1e-4};          // 35.5738 may move by 0.00355738
  tol.keys["psnr.exact"] = {0.5, 0.0};
  tol.keys["p*"] = {1.0, 0.0};
  CHECK(tol.for_key("psnr.x").rel == 1e-4);
  CHECK(tol.for_key("psnr.exact").abs == 0.5);
  CHECK(tol.for_key("pq").abs == 1.0);
  CHECK(tol.for_key("other").abs == 0.0);
  const std::map<std::string, double> base{{"psnr.a", 35.5738}, {"psnr.b", -20.0}, {"psnr.exact", 1.0}};
  // 35.5738 -> 35.576 is 0.0022 (inside 0.00356); -20 -> -20.003 is 0.003 (outside 0.002)
  const std::map<std::string, double> cur{{"psnr.a", 35.576}, {"psnr.b", -20.003}, {"psnr.exact", 1.4}};
  CHECK(failing(cur, base, tol) == std::set<std::string>{"psnr.b"});
  CHECK(tol.for_key("psnr.b").allowed(-20.0) == Approx(0.002));
  tol.keys["psnr.b"] = {0.004, 1e-6};
  CHECK(failing(cur, base, tol).empty());
}

TEST_CASE("tolerance files are read strictly", "[analysis]") {
  ds_test::TempDir dir("tol");
  const std::string good = dir.str() + "/good.json", bad = dir.str() + "/bad.json", neg = dir.str() + "/neg.json";
  ds_test::write_text(good, R"({"about": "x", "default": {"abs": 1e-3}, "keys": {"a.*": {"rel": 0.01}, "b": {"abs": 2, "rel": 0.5}}})");
  ds_test::write_text(bad, R"({"keys": {"a": {"absolute": 1}}})");
  ds_test::write_text(neg, R"({"keys": {"a": {"abs": -1}}})");
  const Tolerances t = Tolerances::load(good);
  CHECK(t.fallback.abs == 1e-3);
  CHECK(t.for_key("a.x").rel == 0.01);
  CHECK(t.for_key("b").allowed(10.0) == 5.0);
  CHECK(t.for_key("b").allowed(1.0) == 2.0);
  CHECK_THROWS_WITH(Tolerances::load(bad), Catch::Contains("unknown field \"absolute\""));
  CHECK_THROWS_WITH(Tolerances::load(neg), Catch::Contains("keys.a.abs: expected a finite number >= 0, got -1"));
  // JSON holds no NaN or infinity: null (how Python writes NaN into strict JSON) is refused by key, 1e999 as JSON
  const std::string null_tol = dir.str() + "/null.json", huge = dir.str() + "/huge.json";
  ds_test::write_text(null_tol, R"({"default": {"rel": null}})");
  CHECK_THROWS_WITH(Tolerances::load(null_tol), Catch::EndsWith("null.json: default.rel: expected a finite number >= 0"));
  ds_test::write_text(huge, R"({"default": {"rel": 1e999}})");
  CHECK_THROWS_WITH(Tolerances::load(huge), Catch::Contains("huge.json: not valid JSON"));
  CHECK(checked_tolerance(0.0, "x") == 0.0);
  for (double v : {std::nan(""), double(INFINITY), -double(INFINITY), -1e-9})
    CHECK_THROWS_WITH(checked_tolerance(v, "--where"), Catch::StartsWith("--where: expected a finite number >= 0, got "));
}

TEST_CASE("emergence of identical and blurred images", "[analysis]") {
  cv::Mat img(32, 32, CV_8UC3, cv::Scalar(230, 230, 230));
  cv::circle(img, {16, 16}, 8, cv::Scalar(30, 30, 200), -1);
  auto same = compare_to_final(img, img);
  CHECK(same.ssim == Approx(1.0));
  CHECK(std::isinf(same.psnr));
  CHECK(same.detail_ratio == Approx(1.0));
  cv::Mat blur;
  cv::GaussianBlur(img, blur, cv::Size(0, 0), 3.0);
  auto b = compare_to_final(blur, img);
  CHECK(b.detail_ratio < 0.5);   // blurring removes high-frequency energy
  CHECK(b.layout > 0.9);         // but keeps the layout
  CHECK(b.ssim < same.ssim);
}

TEST_CASE("auc controls: cross-word specificity and the word-blind baselines, recomputed with scikit-learn", "[analysis]") {
  ds_test::TempDir tmp("auc-controls");
  const fs::path run = tmp.path / "run";
  write_run(run);
  {  // step 1 made asymmetric (red 0.3 on the left half, circle 0.2/0.25 on the right), so no two pixels tie by
     // mirror symmetry: a near-tie would make the AUC hang on the last bit of a float sum
    NpyArray a = read_npy((run / "attention/maps.npy").string());
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) a.data[static_cast<size_t>(((1 * 5 + 3) * 4 + y) * 4 + x)] = x < 2 ? 0.f : (x == 2 ? 0.2f : 0.25f);
    write_npy((run / "attention/maps.npy").string(), a);
  }
  // two objects: "red" on the left quarter, "circle" on the right quarter, background between
  fs::create_directories(tmp.path / "masks");
  cv::Mat left(16, 16, CV_8U, cv::Scalar(0)), right(16, 16, CV_8U, cv::Scalar(0));
  left(cv::Rect(0, 0, 4, 16)).setTo(255);
  right(cv::Rect(12, 0, 4, 16)).setTo(255);
  cv::imwrite((tmp.path / "masks/red.png").string(), left);
  cv::imwrite((tmp.path / "masks/circle.png").string(), right);
  AnalysisOptions o;
  o.masks_dir = (tmp.path / "masks").string();
  o.steps = "1";
  auto s = run_analyses(run.string(), o);
  // red attends to the left half: on its own object it scores high, on the other object (right) below chance
  CHECK(s["auc.word.red.roc_auc"] > 0.8);  // its map also covers the background next to it
  CHECK(s["auc.word.red.roc_auc_vs_others"] < 0.5);
  CHECK(s["auc.word.red.specificity"] == Approx(s["auc.word.red.roc_auc"] - s["auc.word.red.roc_auc_vs_others"]));
  CHECK(s["auc.baseline.uniform.mean_roc_auc"] == Approx(0.5));
  CHECK(fs::exists(run / "tables/auc_controls.csv"));
  const std::string py = R"(
import json, numpy as np, cv2
from sklearn.metrics import roc_auc_score
run, masks = ")" + run.string() + R"(", ")" + (tmp.path / "masks").string() + R"("
maps = np.load(run + "/heatmaps/maps.npy").astype(np.float64)   # [words, H, W]: a, red, circle
words = ["a", "red", "circle"]
m = {w: cv2.imread(f"{masks}/{w}.png", cv2.IMREAD_GRAYSCALE) > 0 for w in ("red", "circle")}
s = json.load(open(run + "/summary.json"))
def mm(x):  # in float32, as diffscope's normalize_minmax (these maps tie across objects: rounding must agree)
    x = x.astype(np.float32)
    lo, hi = x.min(), x.max()
    return ((x - lo) / (hi - lo)).astype(np.float32) if hi > lo else np.zeros_like(x)
acc = np.zeros((16, 16), np.float32)
for k in range(len(words)):  # the mean over words accumulated in float32 in word order, as diffscope does
    acc = (acc + maps[k] / np.float32(len(words))).astype(np.float32)
mean_map = mm(acc)
fg = np.zeros((16, 16), np.float32)
for w in m: fg[m[w]] = 1
fg = mm(cv2.GaussianBlur(fg, (0, 0), 16 / 32.0))
any_ = m["red"] | m["circle"]
out = []
for i, w in enumerate(words):
    if w not in m: continue
    own = m[w]
    other = any_ & ~own
    sel = ~own & (other | ~any_)
    vs = roc_auc_score(other[sel].ravel(), maps[i][sel].ravel())
    for key, want in ((f"auc.word.{w}.roc_auc", roc_auc_score(own.ravel(), maps[i].ravel())),
                      (f"auc.word.{w}.roc_auc_vs_others", vs),
                      (f"auc.word.{w}.baseline_mean_map", roc_auc_score(own.ravel(), mean_map.ravel())),
                      (f"auc.word.{w}.baseline_foreground", roc_auc_score(own.ravel(), fg.ravel()))):
        assert abs(s[key] - want) < 1e-6, (key, s[key], want)
        out.append(key)
print(len(out), "keys match")
)";
  const std::string r = ds_test::run_python(tmp, py);
  CHECK(r.find("8 keys match") != std::string::npos);
}
