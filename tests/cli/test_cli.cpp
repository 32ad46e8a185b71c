// End-to-end tests of the diffscope program: exit codes, one-line errors, run folders numpy can read.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "test_support.h"
#include "util/python_run.h"

using ds_test::quote;
using ds_test::run_command;
using ds_test::TempDir;
namespace fs = std::filesystem;

using namespace ds_cli_test;

TEST_CASE("help and version", "[cli]") {
  auto r = ds("--help");
  CHECK(r.exit_code == 0);
  for (const char* sub : {"generate", "tokenize", "schedule", "info"}) CHECK(r.output.find(sub) != std::string::npos);
  auto g = ds("generate --help");
  CHECK(g.exit_code == 0);
  CHECK(g.output.find("Examples:") != std::string::npos);
  CHECK(ds("--version").output.find("diffscope ") != std::string::npos);
}

TEST_CASE("bad input gives one line and exit code 2", "[cli][errors]") {
  TempDir tmp("cli-errors");
  for (const std::string& args :
       {std::string("generate -m ") + quote((tmp.path / "missing").string()) + " -p x -o " + quote(tmp.str() + "/o"),
        std::string("generate -m ") + quote(kPkg) + " -p x -o " + quote(tmp.str() + "/o") + " --height 33",
        std::string("generate -m ") + quote(kPkg) + " -p x -o " + quote(tmp.str() + "/o") + " --scheduler bogus",
        std::string("generate -m ") + quote(kPkg) + " -p x -o " + quote(tmp.str() + "/o") + " --device cuda:0",
        std::string("generate -m ") + quote(kPkg) + " -p x -o " + quote(tmp.str() + "/o") + " --steps 0",
        std::string("generate -m ") + quote(kPkg) + " -p x -o " + quote(tmp.str() + "/o") + " --init-latents " +
            quote(tmp.str() + "/nope.npy"),
        std::string("frobnicate"), std::string("tokenize -p x"),
        std::string("schedule --scheduler-config ") + quote(tmp.str() + "/none.json")}) {
    INFO(args);
    auto r = ds(args + " -q");
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.output) == 1);
    CHECK(r.output.rfind("diffscope: error: ", 0) == 0);
    CHECK(r.output.find("c10::") == std::string::npos);
    CHECK(r.output.find("Exception raised from") == std::string::npos);
  }
}

TEST_CASE("generate writes a run folder that numpy reads", "[cli]") {
  TempDir tmp("cli-gen");
  const std::string out = tmp.str() + "/run";
  auto r = ds("generate -m " + quote(kPkg) + " -p " + quote("a small red circle") +
              " --steps 3 --seed 11 --scheduler euler --threads 1 -q -o " + quote(out));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto py = run_command(std::string(DS_PYTHON) + " -c " +
                        quote("import numpy, json, sys; d=sys.argv[1]; j=json.load(open(d+'/run.json'));"
                              "l=numpy.load(d+'/latents.npy'); a=numpy.load(d+'/attention/maps.npy');"
                              "print(l.shape, l.dtype, a.shape, a.dtype, len(j['timesteps']))") +
                        " " + quote(out));
  INFO(py.output);
  REQUIRE(py.exit_code == 0);
  auto j = nlohmann::json::parse(ds_test::read_text(out + "/run.json"));
  const auto c = j["latent_shape"][0].get<int>(), h = j["latent_shape"][1].get<int>(), w = j["latent_shape"][2].get<int>();
  const std::string expect = "(4, " + std::to_string(c) + ", " + std::to_string(h) + ", " + std::to_string(w) +
                             ") float32 (3, 77, " + std::to_string(h) + ", " + std::to_string(w) + ") float32 3\n";
  CHECK(py.output == expect);
  CHECK(fs::exists(out + "/final.png"));
  CHECK(fs::exists(out + "/steps/filmstrip.png"));
  CHECK(fs::exists(out + "/steps/x0_002.png"));

  // same inputs, same thread count: bit-identical files
  const std::string out2 = tmp.str() + "/run2";
  REQUIRE(ds("generate -m " + quote(kPkg) + " -p " + quote("a small red circle") +
             " --steps 3 --seed 11 --scheduler euler --threads 1 -q -o " + quote(out2))
              .exit_code == 0);
  for (const char* f : {"latents.npy", "attention/maps.npy", "final.png", "steps/x0_001.png"})
    CHECK(ds_test::read_text(out + "/" + f) == ds_test::read_text(out2 + "/" + f));
}

TEST_CASE("tokenize and schedule print JSON", "[cli]") {
  auto t = ds("tokenize -m " + quote(kPkg) + " -p " + quote("a red circle") + " --json");
  REQUIRE(t.exit_code == 0);
  auto j = nlohmann::json::parse(t.output);
  CHECK(j["ids"].size() == 77);
  CHECK(j["words"].size() == 3);
  CHECK(j["words"][1]["word"] == "red");

  auto s = ds("schedule -m " + quote(kPkg) + " --scheduler ddim --steps 50 --json");
  REQUIRE(s.exit_code == 0);
  auto k = nlohmann::json::parse(s.output);
  CHECK(k["timesteps"].size() == 50);
  CHECK(k["timesteps"][0] == 981);  // SD 1.5 config, leading spacing, steps_offset 1
  CHECK(k["timesteps"][49] == 1);
  CHECK(k["init_noise_sigma"] == 1.0);

  // Euler's linspace timesteps are fractional float32 values, as diffusers feeds them to the UNet
  auto e = ds("schedule -m " + quote(kPkg) + " --scheduler euler --steps 20 --json");
  REQUIRE(e.exit_code == 0);
  auto ej = nlohmann::json::parse(e.output);
  CHECK(ej["timesteps"][0] == 999);
  CHECK(ej["timesteps"][1].get<double>() == Approx(946.42108154296875).epsilon(1e-12));
}

TEST_CASE("scheduler configurations: fractional timesteps reach run.json, refused keys name themselves, a NaN latent stops the run", "[cli][errors]") {
  TempDir tmp("cli-sched");
  const std::string pkg = tmp.str() + "/pkg";
  fs::copy(kPkg, pkg, fs::copy_options::recursive);
  const std::string cfg_path = pkg + "/scheduler/scheduler_config.json";
  auto write_cfg = [&](const nlohmann::json& patch) {
    std::ifstream in(kPkg + "/scheduler/scheduler_config.json");
    nlohmann::json j = nlohmann::json::parse(in);
    j.merge_patch(patch);
    std::ofstream(cfg_path) << j.dump();
  };
  const std::string gen = "generate -m " + quote(pkg) + " -p " + quote("a red circle") + " --threads 1 -q ";

  write_cfg(nlohmann::json::object());
  auto r = ds(gen + "--steps 4 --scheduler euler -o " + quote(tmp.str() + "/euler"));
  REQUIRE(r.exit_code == 0);
  std::ifstream rj(tmp.str() + "/euler/run.json");
  auto run = nlohmann::json::parse(rj);
  CHECK(run["timesteps"][0] == 999);
  CHECK(run["timesteps"][1] == 666);  // linspace(0, 999, 4) = 0, 333, 666, 999: integers stay integers
  r = ds(gen + "--scheduler euler --steps 3 -o " + quote(tmp.str() + "/euler3"));
  REQUIRE(r.exit_code == 0);
  std::ifstream rj3(tmp.str() + "/euler3/run.json");
  CHECK(nlohmann::json::parse(rj3)["timesteps"][1].get<double>() == 499.5);

  write_cfg({{"use_exponential_sigmas", true}});
  r = ds(gen + "--steps 4 --scheduler euler -o " + quote(tmp.str() + "/refused"));
  CHECK(r.exit_code == 2);
  CHECK(count_lines(r.output) == 1);
  CHECK(r.output.find("\"use_exponential_sigmas\": true is not implemented for EulerDiscreteScheduler") != std::string::npos);
  CHECK(ds(gen + "--steps 4 --scheduler ddim -o " + quote(tmp.str() + "/ignored")).exit_code == 0);  // DDIM does not take it

  write_cfg({{"use_exponential_sigmas", nullptr}, {"beta_end", 1.5}});
  r = ds(gen + "--steps 4 --scheduler ddim -o " + quote(tmp.str() + "/beta"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("beta_end < 1") != std::string::npos);

  // zero terminal SNR with epsilon prediction: x0 = (x - eps) / sqrt(0) at t = 999 (diffusers returns inf/NaN)
  write_cfg({{"beta_end", 0.012}, {"rescale_betas_zero_snr", true}, {"timestep_spacing", "trailing"}});
  r = ds(gen + "--steps 4 --scheduler ddim -o " + quote(tmp.str() + "/nan"));
  CHECK(r.exit_code == 1);
  CHECK(count_lines(r.output) == 1);
  CHECK(r.output.find("step 0 (t=999): the latent is no longer finite") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp.str() + "/nan/run.json"));
}

TEST_CASE("info lists the layers", "[cli]") {
  auto r = ds("info -m " + quote(kPkg) + " --json");
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.output);
  CHECK(j["has_attention"] == true);
  CHECK(j["has_concepts"] == true);  // exported with forward_concepts
  CHECK(j["has_preview"] == true);
  CHECK(j["cross_attention"].size() >= 2);
  CHECK(j["cross_attention"][0]["name"].get<std::string>().find("attn2") != std::string::npos);
  CHECK(j["context_dim"] == 32);  // scripts/fixtures/make_test_package.py: TextEncoder(dim=32)
}

TEST_CASE("--layers selects by index, block, module name or resolution", "[cli]") {
  TempDir tmp("cli-layers");
  auto info = nlohmann::json::parse(ds("info -m " + quote(kPkg) + " --json").output);
  const auto& layers = info["cross_attention"];
  std::vector<int> mid;
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i]["block"] == "mid") mid.push_back(static_cast<int>(i));
  const std::string name = layers[0]["name"];
  auto r = ds("generate -m " + quote(kPkg) + " -p x --steps 2 --threads 1 -q --layers mid," + name + " -o " +
              quote(tmp.str() + "/r"));
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(ds_test::read_text(tmp.str() + "/r/run.json"));
  std::vector<int> want = mid;
  want.push_back(0);
  CHECK(j["attention"]["layers"].get<std::vector<int>>() == want);
  auto bad = ds("generate -m " + quote(kPkg) + " -p x --steps 2 -q --layers 99x99 -o " + quote(tmp.str() + "/b"));
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("matches no cross-attention layer") != std::string::npos);
}

TEST_CASE("check: tolerances, --min and --less bars, exit codes", "[cli]") {
  TempDir tmp("cli-check");
  const std::string cur = tmp.str() + "/cur.json", base = tmp.str() + "/base.json";
  ds_test::write_text(cur, R"({"auc": {"a": 0.80, "b": 0.70}, "del": {"m": 0.31, "random": 0.36}, "n": 5})");
  ds_test::write_text(base, R"({"auc": {"a": 0.81, "b": 0.70}, "del": {"m": 0.30, "random": 0.36}, "n": 5})");
  const std::string s = "check -s " + quote(cur);
  // auc.a moved 0.01 and del.m 0.01: a default tolerance of 1e-6 catches both, prefix tolerances excuse them
  CHECK(ds(s + " -b " + quote(base)).exit_code == 1);
  CHECK(ds(s + " -b " + quote(base) + " -t 'auc.*=0.02' -t del.m=0.02").exit_code == 0);
  CHECK(ds(s + " -b " + quote(base) + " --default-tolerance 0.011").exit_code == 0);
  CHECK(ds(s + " --min auc.a=0.8").exit_code == 0);
  CHECK(ds(s + " --min auc.b=0.75").exit_code == 1);
  CHECK(ds(s + " --min auc.missing=0").exit_code == 1);
  CHECK(ds(s + " --less 'del.m<del.random'").exit_code == 0);
  auto r = ds(s + " --less 'del.random<del.m'");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("NOT LESS  del.random = 0.36, del.m = 0.31") != std::string::npos);
  CHECK(ds(s + " --less 'del.m<del.nothing'").exit_code == 1);  // a missing key never passes
  CHECK(ds(s + " --less del.m").exit_code == 2);                 // malformed: one line, exit 2
  CHECK(ds(s).exit_code == 2);                                   // nothing to check
}

TEST_CASE("check: the baseline defines what is gated; new keys pass, missing ones fail; bad tolerances exit 2",
          "[cli][errors]") {
  TempDir tmp("cli-gate");
  const std::string run = tmp.str() + "/summary.json", base = tmp.str() + "/B.json";
  ds_test::write_text(run, R"({"auc": {"a": 0.8, "b": 0.7}, "saliency": {"x": 0.3, "y": 0.4}, "binding": {"mean": 0.2}})");
  // the issue's case: a baseline of auc.* only, checked against the unchanged run
  REQUIRE(ds("baseline -s " + quote(run) + " --keys 'auc.*' -o " + quote(base) + " -q").exit_code == 0);
  auto r = ds("check -s " + quote(run) + " -b " + quote(base));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("0 of 2 gated metrics moved beyond tolerance; 3 new, not gated") != std::string::npos);
  CHECK(ds("check -s " + quote(run) + " -b " + quote(base) + " --fail-on-new -q").exit_code == 1);
  CHECK(ds("check -s " + quote(run) + " -b " + quote(base) + " --fail-on-new --keys 'auc.*' -q").exit_code == 0);
  // the run folder itself may be given
  CHECK(ds("check -s " + quote(tmp.str()) + " -b " + quote(base) + " -q").exit_code == 0);
  // JUnit: one case per gated key, the new keys as skipped
  REQUIRE(ds("check -s " + quote(run) + " -b " + quote(base) + " -q --junit " + quote(tmp.str() + "/g.xml")).exit_code == 0);
  const std::string xml = ds_test::read_text(tmp.str() + "/g.xml");
  CHECK(xml.find("tests=\"5\" failures=\"0\" errors=\"0\" skipped=\"3\"") != std::string::npos);
  // a gated key missing from the run fails, named; --allow-missing passes it, still listed
  const std::string less = tmp.str() + "/less.json";
  ds_test::write_text(less, R"({"auc": {"a": 0.8}})");
  r = ds("check -s " + quote(less) + " -b " + quote(base));
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("MISSING   auc.b is missing (baseline 0.7)") != std::string::npos);
  CHECK(r.output.find("0 of 2 gated metrics moved beyond tolerance; 1 missing") != std::string::npos);
  r = ds("check -s " + quote(less) + " -b " + quote(base) + " --allow-missing");
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("auc.b is missing (baseline 0.7) (allowed by --allow-missing)") != std::string::npos);
  // a real drop beyond tolerance exits 1 naming the key
  const std::string drop = tmp.str() + "/drop.json";
  ds_test::write_text(drop, R"({"auc": {"a": 0.75, "b": 0.7}})");
  r = ds("check -s " + quote(drop) + " -b " + quote(base) + " -t 'auc.*=0.01'");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("MOVED     auc.a: 0.8 -> 0.75 (change -0.05, tolerance 0.01)") != std::string::npos);
  // bad tolerances, from every source: one line naming the option or file and key, exit 2
  const std::string nan_tol = tmp.str() + "/nan-tol.json", bad_base = tmp.str() + "/bad-base.json";
  ds_test::write_text(nan_tol, R"({"keys": {"auc.*": {"abs": null}}})");
  ds_test::write_text(bad_base, R"({"diffscope_baseline": 1, "metrics": {"auc.a": 0.8}, "tolerances": {"default": {"abs": -1}}})");
  const std::string g = "check -s " + quote(run) + " -b " + quote(base);
  for (const auto& [args, expected] : std::vector<std::pair<std::string, std::string>>{
           {g + " --default-tolerance nan", "--default-tolerance: expected a finite number"},
           {g + " --default-tolerance -1", "--default-tolerance: expected a finite number >= 0, got -1"},
           {g + " --default-tolerance inf", "--default-tolerance: expected a finite number"},
           {g + " --rel 'auc.*=inf'", "--rel auc.*=inf: VALUE must be finite"},
           {g + " -t 'auc.*=nan'", "--tolerance auc.*=nan: VALUE must be finite"},
           {g + " -t 'auc.a=-0.5'", "--tolerance auc.a=-0.5: expected a finite number >= 0, got -0.5"},
           {g + " --tolerances " + quote(nan_tol), "nan-tol.json: keys.auc.*.abs: expected a finite number >= 0"},
           {"check -s " + quote(run) + " -b " + quote(bad_base), "bad-base.json: tolerances: default.abs: expected a finite number >= 0, got -1"},
           {"check -s " + quote(run) + " --min auc.a=nan", "--min auc.a=nan: VALUE must be finite"},
           {"check -s " + quote(run) + " --less 'auc.a<<auc.b'", "--less auc.a<<auc.b: expected KEY_A<KEY_B"},
           {"baseline -s " + quote(run) + " -o " + quote(tmp.str() + "/x.json") + " --rel 'a=inf'", "--rel a=inf: VALUE must be finite"},
           {"check --paired -s " + quote(run) + " --min auc.a=0", "check --paired: give --baseline"},
       }) {
    r = ds(args);
    INFO(args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(expected) != std::string::npos);
    CHECK(count_lines(r.output) == 1);
  }
  CHECK_FALSE(fs::exists(tmp.str() + "/x.json"));
}

TEST_CASE("baseline writes metrics with their tolerances; check reads them, reports JUnit and markdown", "[cli]") {
  TempDir tmp("cli-baseline");
  const std::string cur = tmp.str() + "/cur.json", old = tmp.str() + "/old.json", base = tmp.str() + "/base.json";
  ds_test::write_text(old, R"({"auc": {"a": 0.81, "b": 0.70}, "psnr": 35.5738, "prompt": "x", "seed": 1})");
  ds_test::write_text(cur, R"({"auc": {"a": 0.80, "b": 0.70}, "psnr": 35.576, "prompt": "x", "seed": 1})");
  // the baseline carries its tolerances: auc.* 0.02 absolute, psnr 1e-4 relative
  auto r = ds("baseline -s " + quote(old) + " -o " + quote(base) + " -t 'auc.*=0.02' --rel psnr=1e-4 --about 'test'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("3 metrics") != std::string::npos);
  const auto j = nlohmann::json::parse(ds_test::read_text(base));
  CHECK(j["metrics"].size() == 3);  // numbers only; "seed" is not a metric
  CHECK(j["tolerances"]["keys"]["auc.*"]["abs"] == 0.02);
  CHECK(ds("check -s " + quote(cur) + " -b " + quote(base)).exit_code == 0);
  CHECK(ds("check -s " + quote(cur) + " -b " + quote(old)).exit_code == 1);  // the plain summary: 1e-6 everywhere
  CHECK(ds("check -s " + quote(cur) + " -b " + quote(base) + " -t 'auc.*=0.001'").exit_code == 1);  // overridden
  // a deliberate update only: an existing baseline is not replaced without --overwrite
  r = ds("baseline -s " + quote(cur) + " -o " + quote(base));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--overwrite") != std::string::npos);
  REQUIRE(ds("baseline -s " + quote(cur) + " -o " + quote(base) + " --overwrite --keys 'auc.*' -q").exit_code == 0);
  CHECK(nlohmann::json::parse(ds_test::read_text(base))["metrics"].size() == 2);
  CHECK(ds("baseline -s " + quote(cur) + " -o " + quote(tmp.str() + "/x.json") + " --keys nothing").exit_code == 2);
  // CI outputs: JUnit XML and a markdown table
  ds_test::write_text(old, R"({"auc": {"a": 0.5, "b": 0.70}, "psnr": 35.5738})");
  REQUIRE(ds("baseline -s " + quote(old) + " -o " + quote(base) + " --overwrite -q").exit_code == 0);
  r = ds("check -s " + quote(cur) + " -b " + quote(base) + " --junit " + quote(tmp.str() + "/gate.xml") +
         " --markdown - --min auc.b=0.9");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("**diffscope check: failed**: 2 of 3 gated metrics moved beyond tolerance; 1 of 1 bars failed") !=
        std::string::npos);
  CHECK(r.output.find("| MOVED | `auc.a` | 0.5 | 0.8 |") != std::string::npos);
  const std::string xml = ds_test::read_text(tmp.str() + "/gate.xml");
  CHECK(xml.find("<testsuite name=\"diffscope\" tests=\"4\" failures=\"3\"") != std::string::npos);
}

TEST_CASE("run folders never mix two runs: refused, --overwrite, foreign files, locks, empty -o", "[cli][errors]") {
  TempDir tmp("cli-overwrite");
  const std::string out = tmp.str() + "/run";
  const std::string gen = "generate -m " + quote(kPkg) + " -p " + quote("a red circle") + " --threads 1 -q -o " +
                          quote(out) + " --scheduler ddim";
  REQUIRE(ds(gen + " --steps 4").exit_code == 0);
  REQUIRE(fs::exists(out + "/steps/x0_003.png"));
  // a second run into the same folder is refused, and the first run is untouched
  auto again = ds(gen + " --steps 2");
  CHECK(again.exit_code == 2);
  CHECK(count_lines(again.output) == 1);
  CHECK(again.output.find("already holds a run") != std::string::npos);
  CHECK(again.output.find("--overwrite") != std::string::npos);
  CHECK(nlohmann::json::parse(ds_test::read_text(out + "/run.json"))["timesteps"].size() == 4);
  // --overwrite replaces it whole: no file of the old 4-step run is left
  REQUIRE(ds(gen + " --steps 2 --overwrite").exit_code == 0);
  CHECK(nlohmann::json::parse(ds_test::read_text(out + "/run.json"))["timesteps"].size() == 2);
  CHECK_FALSE(fs::exists(out + "/steps/x0_003.png"));
  CHECK_FALSE(fs::exists(out + "/.diffscope.lock"));
  // a file diffscope does not write is never removed
  ds_test::write_text(out + "/notes.txt", "mine");
  auto foreign = ds(gen + " --steps 2 --overwrite");
  CHECK(foreign.exit_code == 2);
  CHECK(foreign.output.find("\"notes.txt\", which diffscope does not write") != std::string::npos);
  CHECK(ds_test::read_text(out + "/notes.txt") == "mine");
  CHECK(fs::exists(out + "/run.json"));
  // a folder another run holds is refused
  const std::string busy = tmp.str() + "/busy";
  fs::create_directories(busy);
  const int fd = ::open((busy + "/.diffscope.lock").c_str(), O_CREAT | O_RDWR, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  auto locked = ds("generate -m " + quote(kPkg) + " -p x --steps 1 --threads 1 -q -o " + quote(busy));
  ::close(fd);
  CHECK(locked.exit_code == 2);
  CHECK(locked.output.find("another diffscope run is writing into this folder") != std::string::npos);
  auto empty = ds("generate -m " + quote(kPkg) + " -p x --steps 1 --threads 1 -q -o ''");
  CHECK(empty.exit_code == 2);
  CHECK(empty.output.find("--out: expected a folder, got an empty string") != std::string::npos);
}

TEST_CASE("non-finite, out-of-range and malformed inputs are refused up front", "[cli][errors]") {
  TempDir tmp("cli-refuse");
  const std::string o = " -o " + quote(tmp.str() + "/o") + " --threads 1 -q";
  const std::string m = "generate -m " + quote(kPkg) + " --scheduler ddim";
  const std::vector<std::pair<std::string, std::string>> cases{
      {m + " -p x --guidance inf" + o, "--guidance: expected a finite number"},
      {m + " -p x --eta nan" + o, "--eta: expected 0..1"},
      {m + " -p '   '" + o, "--prompt: required"},
      {m + " -p $'a \\xff b'" + o, "--prompt: not valid UTF-8"},
      {m + " -p x --steps 3 --keep-layers 3" + o, "--keep-layers 3: the run has steps 0..2"},
      {m + " -p x --steps 3 --keep-heads -1" + o, "--keep-heads -1: the run has steps 0..2"},
      {m + " -p x --steps 3 --keep-layers 1 --no-attention" + o, "--no-attention captures none"},
      {m + " -p x --seed -3" + o, "--seed: expected 0.."},
  };
  for (const auto& [args, want] : cases) {
    INFO(args);
    auto r = run_command("bash -c " + quote(kBin + " " + args));
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.output) == 1);
    CHECK(r.output.find(want) != std::string::npos);
    CHECK_FALSE(fs::exists(tmp.str() + "/o/run.json"));
  }
  // saliency's step selection
  const std::string run = tmp.str() + "/run";
  REQUIRE(ds(m + " -p x --steps 3 --threads 1 -q -o " + quote(run)).exit_code == 0);
  for (const auto& [args, want] : std::vector<std::pair<std::string, std::string>>{
           {"--step-frac 2", "--step-frac: expected a fraction 0..1"},
           {"--step-frac nan", "--step-frac: expected a fraction 0..1"},
           {"--step -1", "--step -1: the run has steps 0..2"},
           {"--step 3", "--step 3: the run has steps 0..2"}}) {
    INFO(args);
    auto r = ds("saliency --run " + quote(run) + " --threads 1 -q --samples 4 --k 2 " + args);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(want) != std::string::npos);
  }
}

TEST_CASE("saliency --steps explains several steps in one call: table, figures, per-step keys", "[cli]") {
  TempDir tmp("cli-steps");
  const std::string run = tmp.str() + "/run";
  REQUIRE(ds("generate -m " + quote(kPkg) + " -p " + quote("a red circle") + " --steps 3 --scheduler ddim -g 3" +
             " --threads 1 -q -o " + quote(run))
              .exit_code == 0);
  const std::string sal = "saliency --run " + quote(run) + " --samples 8 --k 4 --threads 1 -q ";
  auto r = ds(sal + "--steps 0,2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string table = ds_test::read_text(run + "/saliency/over_steps.csv");
  CHECK(count_lines(table) == 1 + 2 * 4);  // header, 2 steps x (attention, df-rise, df-cam, random)
  CHECK(table.rfind("step,timestep,method,deletion_auc,insertion_auc", 0) == 0);
  CHECK(fs::exists(run + "/saliency/deletion_over_steps.png"));
  CHECK(fs::exists(run + "/saliency/insertion_over_steps.png"));
  CHECK(fs::exists(run + "/saliency/step_000/auc.csv"));
  CHECK(fs::exists(run + "/saliency/step_002/auc.csv"));
  CHECK_FALSE(fs::exists(run + "/saliency/step_001"));
  const auto summary = nlohmann::json::parse(ds_test::read_text(run + "/summary.json"));
  CHECK(summary.contains("saliency.step_000.df-rise.deletion_auc"));  // keys named as the folders
  CHECK(summary.contains("saliency.step_002.random.insertion_auc"));
  // the same step alone gives the same numbers
  REQUIRE(ds(sal + "--step 2").exit_code == 0);
  CHECK(nlohmann::json::parse(ds_test::read_text(run + "/summary.json"))["saliency.step_002.df-cam.deletion_auc"] ==
        summary["saliency.step_002.df-cam.deletion_auc"]);
  for (const auto& [args, want] : std::vector<std::pair<std::string, std::string>>{
           {"--steps 0,9", "--steps"}, {"--steps 0,2 --step 1", "give --step or --steps, not both"}}) {
    auto bad = ds(sal + args);
    CHECK(bad.exit_code == 2);
    CHECK(bad.output.find(want) != std::string::npos);
  }
}

TEST_CASE("a --no-attention run: emergence runs, attention analyses are refused by name, analyze skips them", "[cli]") {
  TempDir tmp("cli-noatt");
  const std::string run = tmp.str() + "/run";
  REQUIRE(ds("generate -m " + quote(kPkg) + " -p x --steps 3 --scheduler ddim --no-attention --threads 1 -q -o " +
             quote(run))
              .exit_code == 0);
  CHECK(ds("emergence --run " + quote(run) + " -q").exit_code == 0);
  const auto s = nlohmann::json::parse(ds_test::read_text(run + "/summary.json"));
  CHECK(s.contains("emergence.ssim_at_50pct"));
  auto h = ds("heatmaps --run " + quote(run) + " -q");
  CHECK(h.exit_code == 2);
  CHECK(h.output.find("the heatmaps analysis needs attention maps") != std::string::npos);
  const std::string set = tmp.str() + "/analyzed";
  auto a = ds("analyze -m " + quote(kPkg) + " -p x --steps 3 --scheduler ddim --no-attention --threads 1 -q -o " +
              quote(set));
  CHECK(a.exit_code == 0);
  const auto sa = nlohmann::json::parse(ds_test::read_text(set + "/summary.json"));
  CHECK(sa.contains("emergence.psnr_at_50pct"));
  CHECK_FALSE(sa.contains("heatmaps.words"));
}

TEST_CASE("threads beyond the cores are clamped to them, with a warning, and run.json records what ran", "[cli]") {
  TempDir tmp("cli-threads");
  const std::string out = tmp.str() + "/run";
  auto r = ds("generate -m " + quote(kPkg) + " -p x --steps 1 --threads 100000000 -o " + quote(out));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("--threads 100000000: this process may use") != std::string::npos);
  const int ran = nlohmann::json::parse(ds_test::read_text(out + "/run.json"))["threads"].get<int>();
  CHECK(ran >= 1);
  CHECK(ran <= static_cast<int>(std::thread::hardware_concurrency()));
}

TEST_CASE("broken packages, inputs and arrays end in one line naming the file, exit 2 (issue 17 sweep)", "[cli][errors]") {
  TempDir tmp("cli-broken");
  const std::string o = " -p x --steps 2 --threads 1 -q -o " + quote(tmp.str() + "/o");
  auto package_with = [&](const std::string& name, const std::function<void(const fs::path&)>& edit) {
    const fs::path p = tmp.path / name;
    ds_test::copy_package(kPkg, p);
    edit(p);
    return quote(p.string());
  };
  auto edit_json = [](const fs::path& file, const std::function<void(nlohmann::json&)>& f) {
    auto j = nlohmann::json::parse(ds_test::read_text(file));
    f(j);
    ds_test::write_text(file, j.dump());
  };
  fs::create_directories(tmp.path / "folder");
  const std::string folder = quote((tmp.path / "folder").string());
  const std::string nan_init = (tmp.path / "nan.npy").string();
  {  // an all-NaN [1, 4, 8, 8] latent, as numpy.save writes it
    std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 8, 8), }";
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(h.size());
    bytes += '\0';
    std::string data;
    const float nan = std::nanf("");
    for (int i = 0; i < 256; ++i) data.append(reinterpret_cast<const char*>(&nan), 4);
    ds_test::write_text(nan_init, bytes + h + data);
  }
  const std::string truncated_png = (tmp.path / "truncated.png").string();
  ds_test::write_text(truncated_png, ds_test::read_text(fs::path(DS_SOURCE_DIR) / "models/shapes-v1/samples.png").substr(0, 300));
  const std::vector<std::pair<std::string, std::string>> cases{
      {"generate -m " + package_with("arr", [&](const fs::path& p) { ds_test::write_text(p / "model_index.json", "[1, 2]"); }) + o,
       "model_index.json: expected a JSON object ({...}), found array"},
      {"generate -m " + package_with("lc", [&](const fs::path& p) {
         edit_json(p / "model_index.json", [](nlohmann::json& j) { j["latent_channels"] = 7; });
       }) + o,
       "latent_channels is 7, but"},
      {"generate -m " + package_with("preview", [&](const fs::path& p) {
         edit_json(p / "vae/latent_rgb.json", [](nlohmann::json& j) { j["bias"] = {0.1, 0.2}; });
       }) + o,
       "latent_rgb.json: \"bias\" is not 3 finite numbers"},
      {"generate -m " + package_with("frac", [&](const fs::path& p) {
         edit_json(p / "model_index.json", [](nlohmann::json& j) { j["sample_size"] = 64.5; });
       }) + o,
       "key \"sample_size\" must be an integer"},
      {"generate -m " + package_with("maxlen", [&](const fs::path& p) {
         edit_json(p / "model_index.json", [](nlohmann::json& j) { j["max_length"] = 1000000000; });
       }) + o,
       "\"max_length\" is 1000000000, expected 2..4096"},
      {"generate -m " + package_with("vocab", [&](const fs::path& p) {
         edit_json(p / "tokenizer/vocab.json", [](nlohmann::json& j) { j["zzzz"] = j["a</w>"]; j.erase("a</w>"); j["a</w>"] = 5; });
       }) + o,
       "(ids must be unique)"},
      {"generate -m " + package_with("flip", [&](const fs::path& p) {
         std::fstream f(p / "unet" / "model.pt", std::ios::in | std::ios::out | std::ios::binary);
         f.seekg(0, std::ios::end);
         const auto size = static_cast<std::streamoff>(f.tellg());
         f.seekp(size / 2);  // the middle of the archive: inside the weights
         const char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
         f.write(junk, 8);
       }) + o,
       "unet/model.pt: damaged"},
      {"generate -m " + quote(kPkg) + " --init-latents " + folder + o, "folder: is a folder, expected a .npy file"},
      {"generate -m " + quote(kPkg) + " --init-latents " + quote(nan_init) + o, "holds a non-finite value (nan) at [0, 0, 0, 0]"},
      {"generate -m " + quote(kPkg) + " --height 100000 --width 64" + o, "--height/--width: at most 4096 pixels a side"},
      {"generate -m " + quote(kPkg) + " --seed 9223372036854775808" + o, "--seed: expected 0..9223372036854775807"},
      {"check -s " + folder + " --min a=1", "folder: is a folder, expected a JSON file"},
      {"generate -m " + package_with("pad", [&](const fs::path& p) {
         edit_json(p / "model_index.json", [](nlohmann::json& j) { j["pad_token"] = "<|nope|>"; });
       }) + o,
       "model_index.json: pad_token \"<|nope|>\" is not in"},
      {"attribute -m " + quote(kPkg) + " --image " + quote(truncated_png) + " -p 'a red circle' --threads 1 -q -o " +
           quote(tmp.str() + "/o"),
       "truncated.png: cannot be read as an image (damaged"},  // and no libpng complaint before it (one line)
  };
  for (const auto& [args, want] : cases) {
    INFO(args);
    auto r = run_command("bash -c " + quote(kBin + " " + args));
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.output) == 1);
    CHECK(r.output.find(want) != std::string::npos);
    CHECK(r.output.find("c10::") == std::string::npos);
    CHECK(r.output.find("json.exception") == std::string::npos);
    CHECK_FALSE(fs::exists(tmp.str() + "/o/run.json"));
  }
  // NaN in a run's attention maps is refused where it is read, not turned into scores
  const std::string run = tmp.str() + "/run";
  REQUIRE(ds("generate -m " + quote(kPkg) + " -p x --steps 2 --threads 1 -q -o " + quote(run)).exit_code == 0);
  {
    std::fstream f(run + "/attention/maps.npy", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(128 + 4 * 5);  // header of 128 bytes, then element 5
    const float nan = std::nanf("");
    f.write(reinterpret_cast<const char*>(&nan), 4);
  }
  // the changed array no longer matches the SHA-256 its run.json recorded
  auto r = ds("heatmaps --run " + quote(run) + " -q");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("attention/maps.npy: does not belong to") != std::string::npos);
  // a run written before hashes were recorded: the NaN itself is refused where it is read
  auto j = nlohmann::json::parse(ds_test::read_text(run + "/run.json"));
  j["attention"].erase("sha256");
  ds_test::write_text(run + "/run.json", j.dump());
  r = ds("heatmaps --run " + quote(run) + " -q");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("attention/maps.npy: holds a non-finite value (nan)") != std::string::npos);
  // latents.npy from another run beside this run.json
  const std::string other = tmp.str() + "/other";
  REQUIRE(ds("generate -m " + quote(kPkg) + " -p y --steps 2 --seed 5 --threads 1 -q -o " + quote(other)).exit_code == 0);
  const std::string clean = tmp.str() + "/clean";
  REQUIRE(ds("generate -m " + quote(kPkg) + " -p x --steps 2 --threads 1 -q -o " + quote(clean)).exit_code == 0);
  fs::copy_file(other + "/latents.npy", clean + "/latents.npy", fs::copy_options::overwrite_existing);
  r = ds("report " + quote(clean) + " -q -o " + quote(tmp.str() + "/report.html"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("latents.npy: does not belong to") != std::string::npos);
}

TEST_CASE("saliency --mask-seeds: means, spread, ranking agreement and DF-RISE convergence, recomputed with numpy/scipy",
          "[cli]") {
  TempDir tmp("cli-mask-seeds");
  const std::string run = tmp.str() + "/run";
  REQUIRE(ds("generate -m " + quote(kPkg) + " -p " + quote("a red circle") + " --steps 3 --scheduler ddim -g 3" +
             " --threads 1 -q -o " + quote(run))
              .exit_code == 0);
  auto r = ds("saliency --run " + quote(run) + " --step 1 --samples 16 --batch 8 --k 4 --mask-seeds 3 --seed 5 --threads 1 -q");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string py = R"(
import csv, itertools, json, numpy as np
from scipy.stats import spearmanr, pearsonr
run = ")" + run + R"("
d = run + "/saliency/step_001"
s = json.load(open(run + "/summary.json"))
rows = list(csv.DictReader(open(d + "/mask_seeds.csv")))
methods = list(dict.fromkeys(r["method"] for r in rows))
assert methods == ["attention", "df-rise", "df-cam", "random"], methods
assert [r["seed"] for r in rows if r["method"] == "df-rise"] == ["5", "6", "7"]
fields = ["deletion_auc", "insertion_auc", "deletion_auc_raw", "insertion_auc_raw"]
vals = {m: {f: [float(r[f]) for r in rows if r["method"] == m] for f in fields} for m in methods}
for m in methods:
    for f in fields:
        k = f"saliency.step_001.{m}.{f}"
        assert abs(s[k] - np.mean(vals[m][f])) < 1e-12, k
        if len(vals[m][f]) > 1:
            assert abs(s[k + "_sd"] - np.std(vals[m][f], ddof=1)) < 1e-12, k
        else:
            assert k + "_sd" not in s, k
for curve, pick in (("deletion", np.argmin), ("insertion", np.argmax)):
    f = curve + "_auc"
    best = methods[pick([np.mean(vals[m][f]) for m in methods])]
    per_seed = [methods[pick([vals[m][f][i if len(vals[m][f]) > 1 else 0] for m in methods])] for i in range(3)]
    assert abs(s[f"saliency.step_001.{curve}_best_agreement"] - np.mean([b == best for b in per_seed])) < 1e-12
seeds = np.load(d + "/df-rise_seeds.npy")
assert seeds.shape[0] == 3 and np.array_equal(seeds[0], np.load(d + "/df-rise.npy"))
pair = np.mean([spearmanr(seeds[a].ravel(), seeds[b].ravel()).correlation for a, b in itertools.combinations(range(3), 2)])
assert abs(s["saliency.step_001.df-rise.seed_spearman"] - pair) < 1e-9
conv = np.load(d + "/df-rise_convergence.npy")
crow = list(csv.DictReader(open(d + "/df-rise_convergence.csv")))
assert [int(r["masks"]) for r in crow] == [2, 4, 8] and conv.shape[0] == 4
assert np.array_equal(conv[-1], seeds[0])
for i, r in enumerate(crow):
    a, b = conv[i].ravel().astype(np.float64), conv[-1].ravel().astype(np.float64)
    assert abs(float(r["spearman"]) - spearmanr(a, b).correlation) < 1e-9, r
    assert abs(float(r["pearson"]) - pearsonr(a, b)[0]) < 1e-6, r
assert abs(s["saliency.step_001.df-rise.convergence_spearman_half"] - float(crow[-1]["spearman"])) < 1e-12
print("mask seeds match")
)";
  CHECK(ds_test::run_python(tmp, py).find("mask seeds match") != std::string::npos);
  auto bad = ds("saliency --run " + quote(run) + " --step 1 --mask-seeds 0 -q");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("--mask-seeds") != std::string::npos);
}

TEST_CASE("batch: killed mid-run and resumed gives the uninterrupted run's table; bad lines exit 1", "[cli]") {
  TempDir tmp("cli-batch");
  const std::string m = tmp.str() + "/m.jsonl";
  std::string lines;
  const char* prompts[] = {"a red circle", "a blue square", "a red square and a blue circle", "a blue circle",
                           "a red circle and a blue square"};
  for (int i = 0; i < 5; ++i)
    lines += "{\"id\": \"r" + std::to_string(i) + "\", \"prompt\": \"" + prompts[i] + "\", \"seed\": " +
             std::to_string(i) + ", \"meta\": {\"i\": " + std::to_string(i) + "}}\n";
  ds_test::write_text(m, lines);
  const std::string batch = "batch " + quote(m) + " -m " + quote(kPkg) +
                            " --steps 3 --scheduler ddim -g 3 --x0-every 0 --threads 1 -q --analyses heatmaps,correlate";
  REQUIRE(ds(batch + " -o " + quote(tmp.str() + "/full")).exit_code == 0);
  // killed (SIGKILL) as soon as the second run is complete: later runs unfinished or not started
  const std::string part = tmp.str() + "/part";
  const auto killed = run_command("(" + kBin + " " + batch + " -o " + quote(part) + " & pid=$!; " +
                                  "while [ ! -f " + quote(part + "/r1/batch.json") + " ]; do sleep 0.01; done; " +
                                  "kill -9 $pid; wait $pid; echo killed $?)");
  INFO(killed.output);
  REQUIRE(killed.output.find("killed 137") != std::string::npos);
  CHECK_FALSE(fs::exists(part + "/r4/batch.json"));
  auto again = ds(batch + " -o " + quote(part));  // refused without --resume
  CHECK(again.exit_code == 2);
  CHECK(again.output.find("--resume") != std::string::npos);
  again = ds(batch + " -o " + quote(part) + " --resume");
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  REQUIRE(ds("merge " + quote(tmp.str() + "/full") + " -o " + quote(tmp.str() + "/mf") + " -q").exit_code == 0);
  REQUIRE(ds("merge " + quote(part) + " -o " + quote(tmp.str() + "/mp") + " -q").exit_code == 0);
  CHECK(ds_test::read_text(tmp.str() + "/mf/runs.csv") == ds_test::read_text(tmp.str() + "/mp/runs.csv"));
  CHECK(count_lines(ds_test::read_text(tmp.str() + "/mf/runs.csv")) == 1 + 5);
  // a bad line is skipped and reported with its number; the exit code says something failed
  ds_test::write_text(m, lines + "{\"prompt\": \"x\", \"seeds\": 1}\n");
  auto bad = ds(batch + " -o " + quote(tmp.str() + "/bad"));
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find(m + ":6: unknown key \"seeds\"") != std::string::npos);
  CHECK(fs::exists(tmp.str() + "/bad/r4/batch.json"));
  CHECK(ds("batch " + quote(m) + " -o " + quote(tmp.str() + "/x") + " --shard 2/2").exit_code == 2);
}

TEST_CASE("--concepts on the shipped model: words left out of the prompt score against exact masks, the image is unchanged",
          "[cli][concepts]") {
  TempDir tmp("cli-concepts");
  const std::string shapes = (fs::path(DS_SOURCE_DIR) / "models/shapes-v1").string();
  const std::string gen = "-m " + quote(shapes) + " -p " + quote("a circle and a square") +
                          " --seed 1 --steps 25 -g 5 --scheduler ddim --x0-every 0 --threads 1 -q -o ";
  const std::string plain = tmp.str() + "/plain", with = tmp.str() + "/with";
  REQUIRE(ds("generate " + gen + quote(plain)).exit_code == 0);
  const std::string words = "red,green,blue,yellow,purple,orange,circle,square,triangle,small,large,left,right";
  auto r = ds("analyze " + gen + quote(with) + " --concepts " + words);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // the concepts never feed the UNet's output: the same image and latents, bit for bit
  CHECK(ds_test::read_text(plain + "/final.png") == ds_test::read_text(with + "/final.png"));
  CHECK(ds_test::read_text(plain + "/latents.npy") == ds_test::read_text(with + "/latents.npy"));
  CHECK(ds_test::read_text(plain + "/attention/maps.npy") == ds_test::read_text(with + "/attention/maps.npy"));
  const auto run = nlohmann::json::parse(ds_test::read_text(with + "/run.json"));
  CHECK(run["attention"]["concepts"]["context"] == "prompt");
  CHECK(run["attention"]["concepts"]["words"].size() == 13);
  CHECK(run["attention"]["concepts"]["reduction"].get<std::string>().rfind("each concept's probability", 0) == 0);
  auto np = ds_test::run_command(std::string(DS_PYTHON) + " -c " +
                                 quote("import numpy,sys; a=numpy.load(sys.argv[1]); print(a.shape, bool(((a>=0)&(a<1)).all()))") +
                                 " " + quote(with + "/attention/concept_maps.npy"));
  CHECK(np.output.find("(25, 13, 16, 16) True") != std::string::npos);
  const auto s = nlohmann::json::parse(ds_test::read_text(with + "/summary.json"));
  // the image holds a red circle and a purple triangle (segmented with concepts.json); "red" and "purple" are not
  // in the prompt, and their concept maps find their objects (measured 0.996 and 0.929)
  REQUIRE(s["concepts.word.red.roc_auc"].is_number());
  CHECK(s["concepts.word.red.roc_auc"].get<double>() > 0.95);
  CHECK(s["concepts.word.purple.roc_auc"].get<double>() > 0.85);
  CHECK(s["concepts.word.circle.pearson_vs_prompt"].get<double>() > 0.5);
  // concepts whose object is absent are unscored (no mask pixels), not scored as zero
  CHECK_FALSE(s.contains("concepts.word.blue.roc_auc"));
  CHECK(s["concepts.unscored"].get<double>() > 0);
  for (const char* f : {"concepts/00_red_figure.png", "concepts/grid.png", "concepts/maps.npy", "tables/concepts.csv",
                        "tables/concepts_auc.csv", "tables/concepts_auc_controls.csv"})
    CHECK(fs::exists(with + "/" + f));
  // the concepts analysis of a run without concepts: refused by name; analyze skips it quietly
  auto refused = ds("concepts --run " + quote(plain) + " -q");
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("needs concept maps") != std::string::npos);
  auto nocap = ds("generate " + gen + quote(tmp.str() + "/x") + " --concepts red --no-attention");
  CHECK(nocap.exit_code == 2);
  CHECK(nocap.output.find("--concepts") != std::string::npos);
}

TEST_CASE("a transformer (MMDiT) package: info, every analysis, saliency, relevance and attribution run unchanged",
          "[cli][mmdit]") {
  const std::string pkg = DS_TEST_MMDIT_DIR;
  TempDir tmp("cli-mmdit");
  auto info = ds("info -m " + quote(pkg) + " --json");
  REQUIRE(info.exit_code == 0);
  auto j = nlohmann::json::parse(info.output);
  CHECK(j["family"] == "mmdit");
  CHECK(j["denoiser"] == "transformer");
  CHECK(j["prediction_type"] == "flow");
  CHECK(j["scheduler"] == "flow_euler");
  REQUIRE(j["joint_attention"].size() == 2);  // make_test_package.py --mmdit: 2 blocks, 2 heads, 8x8 latent, patch 2
  CHECK(j["joint_attention"][1]["name"] == "transformer_blocks.1.attn");
  CHECK(j["joint_attention"][0]["heads"] == 2);
  CHECK(j["joint_attention"][0]["image_tokens"] == 16);
  CHECK(j["joint_attention"][0]["text_tokens"] == 16);
  CHECK(j["features"].size() == 2);
  CHECK(ds("info -m " + quote(pkg)).output.find("joint-attention layers (2)") != std::string::npos);

  const std::string run = tmp.str() + "/run";
  auto r = ds("analyze -m " + quote(pkg) + " -p 'a red circle and a blue square' --steps 4 --guidance 3 --threads 1 -q -o " +
              quote(run));
  REQUIRE(r.exit_code == 0);
  auto meta = nlohmann::json::parse(ds_test::read_text(run + "/run.json"));
  CHECK(meta["inputs"]["scheduler"] == "flow_euler");
  CHECK(meta["model"]["family"] == "mmdit");
  CHECK(meta["attention"]["shape"] == nlohmann::json({4, 16, 8, 8}));
  CHECK(meta["attention"]["reduction"].get<std::string>().find("joint-attention") != std::string::npos);
  auto summary = nlohmann::json::parse(ds_test::read_text(run + "/summary.json"));
  for (const char* key : {"auc.mean_roc_auc", "auc.baseline.uniform.mean_roc_auc", "emergence.colour_at_50pct",
                          "correlate.red~circle"})
    CHECK(summary.contains(key));
  for (const char* f : {"tables/settle.csv", "tables/binding.csv", "tables/auc.csv", "heatmaps"})
    CHECK(fs::exists(run + "/" + f));

  // a VP scheduler on a velocity model is refused by name, in one line
  auto bad = ds("generate -m " + quote(pkg) + " -p x --steps 2 --scheduler ddim -q -o " + quote(tmp.str() + "/bad"));
  CHECK(bad.exit_code == 2);
  CHECK(count_lines(bad.output) == 1);
  CHECK(bad.output.find("flow matching") != std::string::npos);
  // sizes: the VAE factor (4) times the patch size (2); 36 px would give an odd latent the patches cannot tile
  auto odd = ds("generate -m " + quote(pkg) + " -p x --steps 2 --height 36 -q -o " + quote(tmp.str() + "/odd"));
  CHECK(odd.exit_code == 2);
  CHECK(count_lines(odd.output) == 1);
  CHECK(odd.output.find("multiples of 8 (the VAE factor times the transformer's patch size)") != std::string::npos);
  CHECK(ds("info -m " + quote(pkg)).output.find("any multiple of 8 works") != std::string::npos);

  auto sal = ds("saliency -r " + quote(run) + " --step 1 --samples 16 --k 8 --threads 1 -q");
  CHECK(sal.exit_code == 0);
  CHECK(fs::exists(run + "/saliency"));
  // DF-CAM's gradient reaches the transformer's block outputs: its map is not constant (an export whose feature maps
  // were copies beside the graph gave all zeros, ranking the pixels in raster order)
  const auto cam = ds_test::run_python(tmp,
      "import numpy as np\n"
      "m = np.load('" + run + "/saliency/step_001/df-cam.npy')\n"
      "assert m.shape == (8, 8) and m.max() - m.min() > 0.5, (m.shape, m.min(), m.max())\n"
      "print('df-cam map varies')\n");
  CHECK(cam.find("df-cam map varies") != std::string::npos);
  // a package exported before that (tests/data/reference/sd3-tiny): DF-CAM refused in one line naming the file
  {
    const std::string old_pkg = (fs::path(DS_SOURCE_DIR) / "tests/data/reference/sd3-tiny/package").string();
    const std::string old_run = tmp.str() + "/old-export";
    REQUIRE(ds("generate -m " + quote(old_pkg) + " -p 'a red circle' --steps 2 --threads 1 -q -o " + quote(old_run))
                .exit_code == 0);
    auto refused = ds("saliency -r " + quote(old_run) + " --step 0 --methods df-cam --k 4 --threads 1 -q");
    CHECK(refused.exit_code == 2);
    CHECK(count_lines(refused.output) == 1);
    CHECK(refused.output.find("transformer/model.pt: DF-CAM needs the gradient") != std::string::npos);
  }
  CHECK(ds("relevance -r " + quote(run) + " --threads 1 -q").exit_code == 0);
  auto att = ds("attribute -m " + quote(pkg) + " -i " + quote(run + "/final.png") + " -p 'a red circle' --t 300 700 "
                "--threads 1 -q -o " + quote(tmp.str() + "/attr"));
  CHECK(att.exit_code == 0);
  CHECK(fs::exists(tmp.str() + "/attr/attention/maps.npy"));

  // ConceptAttention: concept tokens beside the text stream, maps in the attention output space; the image, the
  // latents and the prompt's maps are byte-identical with and without them; per pixel the maps are a softmax over
  // the concepts (sum 1)
  const std::string plain = tmp.str() + "/plain", with = tmp.str() + "/concepts";
  const std::string gen = "generate -m " + quote(pkg) + " -p 'a red circle' --steps 3 --threads 1 -q -o ";
  REQUIRE(ds(gen + quote(plain)).exit_code == 0);
  REQUIRE(ds(gen + quote(with) + " --concepts blue,square,circle").exit_code == 0);
  for (const char* f : {"final.png", "latents.npy", "attention/maps.npy"})
    CHECK(ds_test::read_text(plain + "/" + f) == ds_test::read_text(with + "/" + f));
  const auto py = ds_test::run_python(tmp,
      "import numpy as np\n"
      "c = np.load('" + with + "/attention/concept_maps.npy')\n"
      "s = c.sum(axis=1)\n"
      "assert c.shape == (3, 3, 8, 8) and abs(s - 1).max() < 1e-5 and c.min() >= 0, (c.shape, abs(s - 1).max())\n"
      "print('concept maps sum to 1')\n");
  CHECK(py.find("concept maps sum to 1") != std::string::npos);
  // run.json says which computation made them (the UNet's one-key softmax is another)
  const auto concepts_run = nlohmann::json::parse(ds_test::read_text(with + "/run.json"));
  CHECK(concepts_run["attention"]["concepts"]["reduction"].get<std::string>().rfind("ConceptAttention: ", 0) == 0);
}
