// The program on files as other tools write them: scheduler_config.json saved by diffusers (Python's -Infinity) in
// `schedule`, `info` and `generate`; a prompt that repeats words named apart in every output.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "test_support.h"

using ds_test::quote;
using ds_test::TempDir;
namespace fs = std::filesystem;

using namespace ds_cli_test;

namespace {
const std::string kConfigs = std::string(DS_SOURCE_DIR) + "/tests/data/scheduler_configs/";

std::string saved(const std::string& fixture) { return kConfigs + fixture + "/scheduler_config.json"; }

/// `text` with the first `from` replaced by `to` (which must be there).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::vector<double> timesteps_of(const std::string& json_text) {
  return nlohmann::json::parse(json_text)["timesteps"].get<std::vector<double>>();
}
}  // namespace

TEST_CASE("scheduler_config.json as diffusers saves it (-Infinity): schedule, info and generate read it", "[cli]") {
  // what diffusers 0.31 computed for these keys at 10 steps (tests/data/reference/schedulers/variants.json,
  // cases dpm_default_10 / dpm_karras_10 / dpm_sde_order2_10)
  const std::vector<double> linspace{999, 899, 799, 699, 599, 500, 400, 300, 200, 100};
  const std::vector<double> karras{999, 916, 815, 687, 523, 327, 146, 41, 7, 0};
  const std::map<std::string, std::vector<double>> want{
      {"dpmpp_2m", linspace}, {"dpmpp_2m_karras", karras}, {"dpmpp_2m_sde", linspace}};
  TempDir tmp("cli-saved-config");
  for (const auto& [fixture, timesteps] : want) {
    INFO(fixture);
    REQUIRE(ds_test::read_text(saved(fixture)).find("\"lambda_min_clipped\": -Infinity") != std::string::npos);
    // schedule --scheduler-config: the file alone, its _class_name choosing the scheduler
    auto s = ds("schedule --scheduler-config " + quote(saved(fixture)) + " --steps 10 --json");
    INFO(s.output);
    REQUIRE(s.exit_code == 0);
    CHECK(nlohmann::json::parse(s.output)["scheduler"] == "dpm++2m");
    CHECK(timesteps_of(s.output) == timesteps);

    // a package whose scheduler/scheduler_config.json is the saved one
    const std::string pkg = tmp.str() + "/" + fixture;
    fs::copy(kPkg, pkg, fs::copy_options::recursive);
    fs::copy_file(saved(fixture), pkg + "/scheduler/scheduler_config.json", fs::copy_options::overwrite_existing);
    auto i = ds("info -m " + quote(pkg) + " --json");
    INFO(i.output);
    REQUIRE(i.exit_code == 0);
    CHECK(nlohmann::json::parse(i.output)["scheduler"] == "dpm++2m");
    auto ps = ds("schedule -m " + quote(pkg) + " --steps 10 --json");
    REQUIRE(ps.exit_code == 0);
    CHECK(timesteps_of(ps.output) == timesteps);
    const std::string out = tmp.str() + "/run_" + fixture;
    auto g = ds("generate -m " + quote(pkg) + " -p " + quote("a red circle") + " --steps 10 --seed 3 --threads 1 -q -o " +
                quote(out));
    INFO(g.output);
    REQUIRE(g.exit_code == 0);
    const auto run = nlohmann::json::parse(ds_test::read_text(out + "/run.json"));
    CHECK(run["inputs"]["scheduler"] == "dpm++2m");
    CHECK(run["timesteps"].get<std::vector<double>>() == timesteps);
    CHECK(fs::exists(out + "/final.png"));
  }

  // the same file with a key value diffscope does not implement: refused in one line naming the file and the key
  const std::string pkg = tmp.str() + "/dpmpp_2m";
  const std::string cfg = pkg + "/scheduler/scheduler_config.json";
  const std::string base = ds_test::read_text(saved("dpmpp_2m"));
  ds_test::write_text(cfg, replaced(base, "\"use_exponential_sigmas\": false", "\"use_exponential_sigmas\": true"));
  for (const std::string& args : {"generate -m " + quote(pkg) + " -p x --steps 3 -q -o " + quote(tmp.str() + "/refused"),
                                  "schedule --scheduler-config " + quote(cfg) + " --steps 10"}) {
    INFO(args);
    auto r = ds(args);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.output) == 1);
    CHECK(r.output.find("scheduler_config.json: \"use_exponential_sigmas\": true is not implemented for "
                        "DPMSolverMultistepScheduler") != std::string::npos);
  }
  // a word Python's json would not write either: one line naming the file and its line
  ds_test::write_text(cfg, replaced(base, "-Infinity", "-Infinite"));
  for (const std::string& args : {"info -m " + quote(pkg), "generate -m " + quote(pkg) + " -p x --steps 3 -q -o " +
                                                               quote(tmp.str() + "/bad"),
                                  "schedule --scheduler-config " + quote(cfg)}) {
    INFO(args);
    auto r = ds(args);
    CHECK(r.exit_code == 2);
    CHECK(count_lines(r.output) == 1);
    CHECK(r.output.find("scheduler_config.json: not valid JSON (line 12: ") != std::string::npos);
  }
}

TEST_CASE("a repeated word is named apart (a, a#2) in every output: tables, legends, heatmap files, summary, report", "[cli]") {
  TempDir tmp("cli-repeats");
  const std::string run = tmp.str() + "/run";
  auto r = ds("analyze -m " + quote(kPkg) + " -p " + quote("a red circle and a blue circle") +
              " --steps 3 --scheduler ddim --seed 2 --threads 1 -q --analyses heatmaps,settle,correlate,relevance --report -o " +
              quote(run));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);

  // tables/relevance.csv: each step names every word once, the repeats as a#2 and circle#2
  std::ifstream csv(run + "/tables/relevance.csv");
  std::string line;
  REQUIRE(std::getline(csv, line));
  CHECK(line == "step,timestep,word,relevance");
  std::map<std::string, std::multiset<std::string>> per_step;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::string step, t, word;
    std::getline(ss, step, ','), std::getline(ss, t, ','), std::getline(ss, word, ',');
    per_step[step].insert(word);
  }
  REQUIRE(per_step.size() == 3);
  const std::multiset<std::string> words{"a", "red", "circle", "and", "a#2", "blue", "circle#2"};
  for (const auto& [step, got] : per_step) {
    INFO("step " << step);
    CHECK(got == words);
  }
  for (const char* t : {"settle", "correlation"}) {
    INFO(t);
    const std::string text = ds_test::read_text(run + "/tables/" + t + ".csv");
    CHECK(text.find(",a#2,") != std::string::npos);
  }

  // the legends (the SVG beside each PNG plot): a and a#2 each once
  for (const char* plot : {"relevance", "settle_share"}) {
    INFO(plot);
    const std::string svg = ds_test::read_text(run + "/plots/" + plot + ".svg");
    for (const char* key : {">a<", ">a#2<", ">circle<", ">circle#2<"}) {
      INFO(key);
      size_t n = 0;
      for (size_t p = 0; (p = svg.find(key, p)) != std::string::npos; ++p) ++n;
      CHECK(n == 1);
    }
  }

  // heatmap files: one per word, the repeat's name its key made file-safe
  const auto hw = nlohmann::json::parse(ds_test::read_text(run + "/heatmaps/words.json"));
  std::set<std::string> files;
  for (const auto& w : hw) {
    files.insert(w["file"].get<std::string>());
    CHECK(fs::exists(run + "/heatmaps/" + w["file"].get<std::string>()));
    if (w["key"] == "a#2") CHECK(w["file"].get<std::string>().substr(2) == "_a_2.png");
    if (w["key"] == "circle#2") CHECK(w["file"].get<std::string>().substr(2) == "_circle_2.png");
  }
  CHECK(files.size() == words.size());

  // summary.json and the report
  const auto summary = nlohmann::json::parse(ds_test::read_text(run + "/summary.json"));
  for (const char* key : {"relevance.a.peak_step", "relevance.a#2.peak_step", "settle.circle#2.final_share"})
    CHECK(summary.contains(key));
  const std::string html = ds_test::read_text(run + "/report.html");
  CHECK(html.find("\"key\":\"a#2\"") != std::string::npos);
}
