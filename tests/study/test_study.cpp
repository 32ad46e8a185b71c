// The study layer on the tiny package: prompt files, the prompt-set loop and its summary (checked against the
// per-run summaries it aggregates), and a recorded step read back for saliency.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>

#include "diffscope/analysis/run_folder.h"
#include "diffscope/engine/model.h"
#include "diffscope/engine/pipeline.h"
#include "diffscope/engine/runtime.h"
#include "diffscope/study/analysis_study.h"
#include "diffscope/study/prompt_set.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/npy.h"
#include "study/internal.h"
#include "test_support.h"

using namespace diffscope;

namespace {
/// A 3-step DDIM generation on the tiny package into `out`, without x0 images.
GenerationSpec tiny_spec(const std::string& out) {
  GenerationSpec g;
  g.model = DS_TEST_PACKAGE_DIR;
  g.out = out;
  g.steps = 3;
  g.scheduler = "ddim";
  g.x0_every = 0;
  return g;
}
const Session kQuiet{"cpu", 1, true};
}  // namespace

TEST_CASE("prompt files: seeds, comments, folders", "[study]") {
  ds_test::TempDir dir("prompts");
  const std::string f = dir.str() + "/p.txt";
  ds_test::write_text(f, "# a comment\n7\ta red circle\r\na blue square\n\n");
  const auto items = read_prompt_file(f, 3);
  REQUIRE(items.size() == 2);
  CHECK(items[0].seed == 7);
  CHECK(items[0].prompt == "a red circle");
  CHECK(items[0].folder == "000");
  CHECK(items[1].seed == 3);
  CHECK(items[1].folder == "001");
  CHECK(items[1].index == 1);
  ds_test::write_text(f, "x7\ta\n");
  CHECK_THROWS_WITH(read_prompt_file(f, 0), Catch::Contains("should be SEED<TAB>prompt"));
  ds_test::write_text(f, "# only a comment\n");
  CHECK_THROWS_WITH(read_prompt_file(f, 0), Catch::Contains("no prompts"));
}

TEST_CASE("a prompt set: one run folder per prompt, and the set summary aggregates their keys", "[study]") {
  ds_test::TempDir dir("set");
  const std::string prompts = dir.str() + "/p.txt";
  ds_test::write_text(prompts, "1\ta red circle\n2\ta blue square and a red circle\n");
  GenerationSpec g = tiny_spec(dir.str() + "/set");
  g.guidance = 3.0;
  AnalysisOptions a;
  a.which = {"heatmaps", "correlate"};
  const Summary s = analyze_prompt_set(g, prompts, a, kQuiet);
  const auto r0 = Summary::load_or_empty(g.out + "/000/summary.json").numbers();
  const auto r1 = Summary::load_or_empty(g.out + "/001/summary.json").numbers();
  CHECK(read_json_file(g.out + "/001/run.json")["inputs"]["seed"] == 2);
  const auto n = s.numbers();
  CHECK(n.at("prompts") == 2.0);
  // heatmaps.words: 3 and 7 words -> mean 5, sample std sqrt(((3-5)^2 + (7-5)^2) / (2-1)) = sqrt(8)
  CHECK(r0.at("heatmaps.words") == 3.0);
  CHECK(r1.at("heatmaps.words") == 7.0);
  CHECK(n.at("heatmaps.words.mean") == Approx(5.0));
  CHECK(n.at("heatmaps.words.std") == Approx(std::sqrt(8.0)));
  CHECK(n.at("heatmaps.words.n") == 2.0);
  // a key only the second prompt has ("blue") is averaged over that one run
  CHECK(n.at("correlate.a~blue.n") == 1.0);
  CHECK(n.at("correlate.a~blue.mean") == r1.at("correlate.a~blue"));
  CHECK(n.at("correlate.red~circle.mean") ==
        Approx((r0.at("correlate.red~circle") + r1.at("correlate.red~circle")) / 2).epsilon(1e-12));
  CHECK(ds_test::read_text(g.out + "/prompts.csv").find("2,a blue square and a red circle,001") != std::string::npos);
}

TEST_CASE("a recorded step reads back as the latent the loop held", "[study]") {
  ds_test::TempDir dir("step");
  GenerationSpec g = tiny_spec(dir.str() + "/run");
  g.prompt = "a red circle";
  generate_run(g, kQuiet, "test");
  const Model m = study::load_model(DS_TEST_PACKAGE_DIR, kQuiet);
  const RunFolder run = RunFolder::load(g.out);
  const NpyArray lat = read_npy(g.out + "/latents.npy");
  const StepContext s = study::load_step(m, run, 2);
  const int64_t per = lat.shape[1] * lat.shape[2] * lat.shape[3];
  const at::Tensor want = at::from_blob(const_cast<float*>(lat.data.data()) + 2 * per, {1, lat.shape[1], lat.shape[2], lat.shape[3]},
                                        at::kFloat);
  CHECK(at::equal(s.latent, want));
  CHECK(s.timestep == run.timesteps[2]);
  CHECK(s.guidance == 7.5);
  CHECK(s.context.size(0) == 2);  // guided: uncond + cond
  CHECK_THROWS_WITH(study::load_step(m, run, 3), Catch::Contains("the run has steps 0..2"));
  CHECK(study::run_model_dir(run, "") == DS_TEST_PACKAGE_DIR);
}

#include "diffscope/metrics/metrics.h"
#include "diffscope/study/saliency_study.h"
#include "diffscope/util/csv.h"

TEST_CASE("saliency over a prompt set and several steps: per-step means with 95% intervals", "[study]") {
  ds_test::TempDir dir("sal-steps");
  const std::string prompts = dir.str() + "/p.txt";
  ds_test::write_text(prompts, "1\ta red circle\n2\ta blue square\n3\ta red square\n");
  GenerationSpec g = tiny_spec(dir.str() + "/set");
  g.guidance = 3.0;
  SaliencyOptions o;
  o.steps = "0:3:2";  // steps 0 and 2
  o.methods = {"attention", "df-rise"};
  o.samples = 8;
  o.batch = 8;
  o.k = 2;
  const Summary s = saliency_prompt_set(g, prompts, g.out, o, kQuiet);
  const auto n = s.numbers();
  const auto per = read_csv(g.out + "/saliency_prompts.csv");
  REQUIRE(per.size() == 1 + 3 * 2 * 3);  // header + 3 prompts x 2 steps x (attention, df-rise, random)
  CHECK(per[0] == std::vector<std::string>{"index", "seed", "prompt", "step", "method", "deletion_auc", "insertion_auc",
                                           "deletion_auc_raw", "insertion_auc_raw"});
  const auto table = read_csv(g.out + "/over_steps.csv");
  REQUIRE(table.size() == 1 + 3 * 2);  // header + 3 methods x 2 steps
  for (size_t i = 1; i < table.size(); ++i) {
    const std::string step = table[i][0], method = table[i][1];
    std::vector<double> del, ins;
    for (size_t j = 1; j < per.size(); ++j)
      if (per[j][3] == step && per[j][4] == method) del.push_back(std::stod(per[j][5])), ins.push_back(std::stod(per[j][6]));
    REQUIRE(del.size() == 3);
    const std::string key = "saliency.step_00" + step + "." + method;
    double mean = (del[0] + del[1] + del[2]) / 3;
    CHECK(n.at(key + ".deletion_auc.mean") == Approx(mean).epsilon(1e-12));
    CHECK(std::stod(table[i][3]) == Approx(mean).epsilon(1e-12));
    CHECK(std::stod(table[i][2]) == 3);
    const metrics::Interval ci = metrics::bootstrap_mean_interval(del);
    CHECK(std::stod(table[i][4]) == Approx(ci.lo).epsilon(1e-12));
    CHECK(std::stod(table[i][5]) == Approx(ci.hi).epsilon(1e-12));
    CHECK(std::stod(table[i][6]) == Approx((ins[0] + ins[1] + ins[2]) / 3).epsilon(1e-12));
  }
  CHECK(std::filesystem::exists(g.out + "/deletion_over_steps.png"));
  CHECK(std::filesystem::exists(g.out + "/insertion_over_steps.svg"));
  o.step = 1;  // --step and --steps together
  CHECK_THROWS_WITH(saliency_prompt_set(g, prompts, dir.str() + "/other", o, kQuiet), Catch::Contains("not both"));
}

#include "diffscope/analysis/registry.h"

TEST_CASE("model-needing analyses run through the registry: opt-in, one model, the same files as their commands",
          "[study]") {
  ds_test::TempDir dir("registry-model");
  GenerationSpec g = tiny_spec(dir.str() + "/a");
  g.guidance = 3.0;
  g.prompt = "a red circle";
  AnalysisOptions a;
  a.saliency.step = 1;
  a.saliency.methods = {"attention", "df-cam"};
  a.saliency.k = 2;
  a.saliency.batch = 4;
  // the default selection leaves out what runs the model again
  const auto plain = analyze_run(g, a, kQuiet);
  for (const auto& [k, v] : plain) {
    CHECK(k.rfind("saliency.", 0) != 0);
    CHECK(k.rfind("relevance.", 0) != 0);
  }
  CHECK_FALSE(find_analysis("saliency").by_default);
  CHECK_FALSE(find_analysis("relevance").by_default);
  CHECK((find_analysis("saliency").needs & kNeedsModel));
  // named, they run in the same call and on the same loaded model as the generation
  a.which = {"heatmaps", "saliency", "relevance"};
  g.out = dir.str() + "/b";
  const auto keys = analyze_run(g, a, kQuiet);
  CHECK(keys.count("saliency.step_001.df-cam.deletion_auc"));
  CHECK(keys.count("saliency.step_001.random.insertion_auc"));
  CHECK(keys.count("relevance.red.peak_step"));
  CHECK(keys.count("heatmaps.words"));
  // the same analyses later on a copy of the folder, through their library calls (the commands' path), load the
  // package named in run.json and write the same saliency numbers (relevance is compared at 1e-6: TorchScript's
  // profiling executor specialises the graph after the generation's calls, which moves gradients in the 8th digit)
  std::filesystem::copy(g.out, dir.str() + "/c", std::filesystem::copy_options::recursive);
  std::filesystem::remove_all(dir.str() + "/c/saliency");
  saliency_run(dir.str() + "/c", "", a.saliency, kQuiet);
  relevance_run(dir.str() + "/c", "", kQuiet);
  const auto later = Summary::load_or_empty(dir.str() + "/c/summary.json").numbers();
  for (const auto& [k, v] : keys) {
    if (k.rfind("saliency.", 0) == 0) CHECK(later.at(k) == v);
    if (k.rfind("relevance.", 0) == 0) CHECK(later.at(k) == Approx(v).margin(1e-6));
  }
  CHECK(read_csv(g.out + "/saliency/step_001/auc.csv") == read_csv(dir.str() + "/c/saliency/step_001/auc.csv"));
  // without a model, the analysis layer refuses them by name
  AnalysisOptions only;
  only.which = {"relevance"};
  CHECK_THROWS_WITH(run_analyses(g.out, only), Catch::Contains("the relevance analysis runs the model"));
}

#include "diffscope/study/verify.h"
#include "diffscope/util/file_hashes.h"
#include "diffscope/util/sha256.h"

TEST_CASE("verify: the export's hashes.json matches every file; edits, deletions and --write", "[study]") {
  // the tiny package was written by scripts/export (Python's hashlib): C++ agrees on every file
  const VerifyReport fresh = verify_package(DS_TEST_PACKAGE_DIR, false);
  CHECK(fresh.had_manifest);
  CHECK(fresh.ok());
  CHECK(fresh.files.size() >= 9);
  ds_test::TempDir dir("verify");
  const std::string pkg = dir.str() + "/pkg";
  std::filesystem::copy(DS_TEST_PACKAGE_DIR, pkg, std::filesystem::copy_options::recursive);
  ds_test::write_text(pkg + "/vae/config.json", "{\"scaling_factor\": 0.5}\n");
  std::filesystem::remove(pkg + "/vae/encoder.pt");
  const VerifyReport edited = verify_package(pkg, false);
  CHECK_FALSE(edited.ok());
  int differs = 0, missing = 0;
  for (const auto& f : edited.files) {
    if (f.status == VerifiedFile::Status::kDiffers) {
      ++differs;
      CHECK(f.file == "vae/config.json");
      CHECK(f.sha256 == sha256_file_portable(pkg + "/vae/config.json"));
    }
    if (f.status == VerifiedFile::Status::kMissing) {
      ++missing;
      CHECK(f.file == "vae/encoder.pt");
    }
  }
  CHECK(differs == 1);
  CHECK(missing == 1);
  // a run records the file's own hash, never the stale stored one
  const Model model = study::load_model(pkg, kQuiet);
  CHECK(model.file_hashes().at("vae/config.json") == sha256_file_portable(pkg + "/vae/config.json"));
  // --write stores the package as it is now; then it verifies, and a run takes the stored hashes unread
  CHECK(verify_package(pkg, true).written);
  CHECK(verify_package(pkg, false).ok());
  HashSource src{};
  const HashManifest stored = read_hash_manifest(pkg + "/hashes.json");
  CHECK(package_file_sha256(pkg, "unet/model.pt", stored, &src) == stored.at("unet/model.pt").sha256);
  CHECK(src == HashSource::kStored);
  std::filesystem::remove(pkg + "/hashes.json");
  CHECK_FALSE(verify_package(pkg, false).ok());  // nothing stored: not verified
  CHECK_THROWS_WITH(verify_package(dir.str(), false), Catch::Contains("not a model package"));
}

TEST_CASE("--x0-view preview: run.json says so, emergence compares previews with the final preview", "[study]") {
  ds_test::TempDir dir("preview");
  GenerationSpec g = tiny_spec(dir.str() + "/p");
  g.prompt = "a red circle";
  g.x0_every = 1;
  g.x0_view = "preview";
  generate_run(g, kQuiet, "generate");
  const auto run = read_json_object(g.out + "/run.json");
  CHECK(run["x0_view"] == "preview");
  CHECK(run["x0_steps"].size() == 3);
  CHECK(std::filesystem::exists(g.out + "/steps/x0_002.png"));
  CHECK(std::filesystem::exists(g.out + "/steps/final_preview.png"));
  AnalysisOptions a;
  a.which = {"emergence"};
  const auto keys = run_analyses(g.out, a);
  CHECK_FALSE(keys.empty());
  CHECK(std::filesystem::exists(g.out + "/tables/emergence.csv"));
  // auto: previews for SD-size images or an SD-class VAE, decodes otherwise (and always without a preview)
  CHECK(auto_x0_view(true, 64, 2'000'000) == "decode");
  CHECK(auto_x0_view(true, 512, 2'000'000) == "preview");
  CHECK(auto_x0_view(true, 256, 198'000'000) == "preview");
  CHECK(auto_x0_view(true, 256, kLargeVaeDecoderBytes - 1) == "decode");
  CHECK(auto_x0_view(false, 1024, 198'000'000) == "decode");
  // auto at the tiny package's 64 px decodes (previews are for SD-size images)
  g.x0_view = "auto";
  g.out = dir.str() + "/a";
  generate_run(g, kQuiet, "generate");
  CHECK(read_json_object(g.out + "/run.json")["x0_view"] == "decode");
  CHECK_FALSE(std::filesystem::exists(g.out + "/steps/final_preview.png"));
  // a package without the fitted map: preview is refused by name, auto decodes
  const std::string pkg = dir.str() + "/pkg";
  std::filesystem::copy(DS_TEST_PACKAGE_DIR, pkg, std::filesystem::copy_options::recursive);
  std::filesystem::remove(pkg + "/vae/latent_rgb.json");
  g.model = pkg;
  g.x0_view = "preview";
  g.out = dir.str() + "/n";
  CHECK_THROWS_WITH(generate_run(g, kQuiet, "generate"), Catch::Contains("latent_rgb.json is missing"));
}

TEST_CASE("--batch-size: a prompt set denoised three prompts at a time equals one at a time", "[study][batching]") {
  ds_test::TempDir dir("batching");
  const std::string prompts = dir.str() + "/p.txt";
  ds_test::write_text(prompts, "1\ta red circle\n2\ta blue square and a red circle\n3\ta green triangle\n"
                               "4\ta small yellow square\n");
  AnalysisOptions a;
  a.which = {"heatmaps", "auc", "correlate"};
  GenerationSpec one = tiny_spec(dir.str() + "/one");
  one.guidance = 3.0;
  one.concepts = {"red", "square"};
  GenerationSpec three = one;
  three.out = dir.str() + "/three";
  Session batched = kQuiet;
  batched.batch_size = 3;  // 4 prompts: a batch of 3, then 1
  const Summary s1 = analyze_prompt_set(one, prompts, a, kQuiet);
  const Summary s3 = analyze_prompt_set(three, prompts, a, batched);
  for (const char* run : {"000", "001", "002", "003"}) {
    INFO(run);
    const auto j1 = read_json_file(one.out + "/" + run + "/run.json");
    const auto j3 = read_json_file(three.out + "/" + run + "/run.json");
    CHECK(j1["inputs"] == j3["inputs"]);
    CHECK_FALSE(j1.contains("batch"));
    if (std::string(run) != "003") CHECK(j3["batch"]["size"] == 3);
    for (const char* f : {"latents.npy", "attention/maps.npy", "attention/concept_maps.npy"}) {
      const NpyArray x = read_npy(one.out + "/" + run + "/" + f), y = read_npy(three.out + "/" + run + "/" + f);
      REQUIRE(x.shape == y.shape);
      double worst = 0;
      for (size_t i = 0; i < x.data.size(); ++i) worst = std::max(worst, double(std::abs(x.data[i] - y.data[i])));
      INFO(f << ": max |batched - alone| " << worst);
      CHECK(worst < 1e-4);  // the denoiser's batched matmuls round differently (measured: see the README)
    }
  }
  const auto n1 = s1.numbers(), n3 = s3.numbers();
  REQUIRE(n1.size() == n3.size());
  for (const auto& [k, v] : n1) {
    INFO(k);
    if (std::isfinite(v)) CHECK(n3.at(k) == Approx(v).margin(2e-3));
  }
  // a batch shares one loop: options that differ per prompt in it are refused by name
  GenerateOptions x, y;
  y.steps = x.steps + 1;
  CHECK_THROWS_WITH(check_batchable(x, y), Catch::Contains("--steps"));
}
