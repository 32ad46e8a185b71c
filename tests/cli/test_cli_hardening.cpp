// CLI cases of issue 41: nothing written outside an output folder or over a file without --overwrite, no mixed
// merge, and bad option values refused where they are declared (one line, exit 2, naming the thing).
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <algorithm>
#include <sstream>
#include <vector>
#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "test_support.h"

using ds_test::quote;
using ds_test::TempDir;
namespace fs = std::filesystem;

using namespace ds_cli_test;

namespace {

/// Refused: exit 2, one line holding `expected`.
void refused(const std::string& args, const std::string& expected) {
  INFO(args);
  const auto r = ds(args);
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(count_lines(r.output) == 1);
  CHECK(r.output.find(expected) != std::string::npos);
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}
}  // namespace

TEST_CASE("attribute --dataset: ids, images and masks stay inside their folders", "[cli][hardening]") {
  TempDir tmp("harden-attr");
  const fs::path ds_dir = tmp.path / "data" / "set";
  const std::string base = "attribute -m " + quote(kPkg) + " --dataset " + quote(ds_dir.string()) + " -o " +
                           quote(tmp.str() + "/out");
  auto index = [&](const nlohmann::json& item) {
    write(ds_dir / "index.json", nlohmann::json{{"format", "diffscope-shapes"}, {"items", {item}}}.dump());
  };
  const nlohmann::json good{{"id", "i1"}, {"caption", "a red circle"}, {"image", "i1.png"}, {"masks", "masks/i1"}};
  auto with = [&](const std::string& k, const nlohmann::json& v) {
    auto j = good;
    j[k] = v;
    return j;
  };
  index(with("id", "../../x_att"));
  refused(base, "items[0].id \"../../x_att\"");
  CHECK_FALSE(fs::exists(tmp.path / "data" / "x_att"));
  CHECK_FALSE(fs::exists(tmp.path / "out"));
  index(with("id", "/abs/x"));
  refused(base, "items[0].id \"/abs/x\"");
  index(with("image", "/etc/passwd"));
  refused(base, "items[0].image \"/etc/passwd\": is an absolute path");
  index(with("masks", "../../masks"));
  refused(base, "items[0].masks \"../../masks\": leaves the folder");
  auto no_caption = good;
  no_caption.erase("caption");
  index(no_caption);
  refused(base, "items[0]: \"caption\" is missing");
  refused(base + " --limit 0", "--limit");
  refused(base + " --limit -1", "--limit");
}

TEST_CASE("features: a dataset image given as an absolute path is refused", "[cli][hardening]") {
  TempDir tmp("harden-feat");
  write(tmp.path / "set" / "index.json",
        nlohmann::json{{"format", "diffscope-shapes"},
                       {"items", {{{"image", "/etc/passwd"}, {"objects", nlohmann::json::array()}},
                                  {{"image", "b.png"}, {"objects", nlohmann::json::array()}}}}}
            .dump());
  refused("features -m " + quote(kPkg) + " --dataset " + quote(tmp.str() + "/set") + " -o " + quote(tmp.str() + "/f"),
          "items[0].image \"/etc/passwd\": is an absolute path");
  refused("features -m " + quote(kPkg) + " --dataset " + quote(tmp.str() + "/set") + " -o " + quote(tmp.str() + "/f") +
              " --limit -1",
          "--limit");
}

TEST_CASE("report -o never replaces an input or a file it did not write", "[cli][hardening]") {
  TempDir tmp("harden-report");
  const std::string run = tmp.str() + "/run";
  REQUIRE(ds("generate -q -m " + quote(kPkg) + " -p \"a red circle\" --steps 3 -o " + quote(run)).exit_code == 0);
  const std::string before = slurp(run + "/run.json");
  refused("report " + quote(run) + " -o " + quote(run + "/run.json"), "already exists; pass --overwrite");
  refused("report " + quote(run) + " -o " + quote(run + "/run.json") + " --overwrite", "is not a file this command writes");
  CHECK(slurp(run + "/run.json") == before);
  refused("report " + quote(run) + " -o " + quote(run), "is a folder");
  const std::string page = tmp.str() + "/r.html";
  CHECK(ds("report -q " + quote(run) + " -o " + quote(page)).exit_code == 0);
  refused("report " + quote(run) + " -o " + quote(page), "already exists");
  CHECK(ds("report -q " + quote(run) + " -o " + quote(page) + " --overwrite").exit_code == 0);

  // batch into a run folder: refused as generate refuses
  write(tmp.path / "m.jsonl", "{\"id\": \"a\", \"prompt\": \"a red circle\", \"steps\": 2}\n");
  refused("batch " + quote(tmp.str() + "/m.jsonl") + " -m " + quote(kPkg) + " -o " + quote(run), "holds a run (run.json)");
  CHECK_FALSE(fs::exists(run + "/a"));
}

TEST_CASE("merge refuses batches of different models, naming both", "[cli][hardening]") {
  TempDir tmp("harden-merge");
  write(tmp.path / "m1.jsonl", "{\"id\": \"a\", \"prompt\": \"a red circle\", \"steps\": 2, \"analyses\": [\"none\"]}\n");
  write(tmp.path / "m2.jsonl", "{\"id\": \"b\", \"prompt\": \"a red circle\", \"steps\": 2, \"analyses\": [\"none\"]}\n");
  REQUIRE(ds("batch -q " + quote(tmp.str() + "/m1.jsonl") + " -m " + quote(kPkg) + " -o " + quote(tmp.str() + "/b1")).exit_code == 0);
  REQUIRE(ds("batch -q " + quote(tmp.str() + "/m2.jsonl") + " -m " + quote(kMmdit) + " -o " + quote(tmp.str() + "/b2")).exit_code == 0);
  refused("merge " + quote(tmp.str() + "/b1") + " " + quote(tmp.str() + "/b2") + " -o " + quote(tmp.str() + "/mg"),
          "merge one model's batches at a time");
  CHECK_FALSE(fs::exists(tmp.path / "mg" / "runs.csv"));
  CHECK(ds("merge -q " + quote(tmp.str() + "/b1") + " -o " + quote(tmp.str() + "/mg1")).exit_code == 0);
}

TEST_CASE("numeric and named options refused where they are declared", "[cli][hardening]") {
  const std::string nope = "/nonexistent/diffscope-test";
  for (const auto& [args, option] : std::vector<std::pair<std::string, std::string>>{
           {"probe --features " + nope + " --c nan", "--c"},
           {"probe --features " + nope + " --c -1", "--c"},
           {"probe --features " + nope + " --conv-lr nan", "--conv-lr"},
           {"probe --features " + nope + " --conv-lr -0.1", "--conv-lr"},
           {"attribute --dataset " + nope + " -o " + nope + " -g nan", "--guidance"},
           {"attribute --dataset " + nope + " -o " + nope + " --threshold nan", "--threshold"},
           {"features --dataset " + nope + " -o " + nope + " --limit -1", "--limit"},
           {"report " + nope + " -o " + nope + ".html --max-table-rows -5", "--max-table-rows"},
           {"sae train --features " + nope + " --warmup 99999999999", "--warmup"},
           {"sae train --features " + nope + " --k 0", "--k"},
           {"sae train --features " + nope + " --lr inf", "--lr"},
           {"compare -m " + nope + " -p a -o " + nope + " --height 0", "--height"},
           {"compare -m " + nope + " -p a -o " + nope + " -g 1,nan", "--guidance"},
           {"layers -r " + nope + " --colormap nosuch", "--colormap"},
           {"layers -r " + nope + " --select-layers \"\"", "--select-layers"},
           {"tokenize --tokenizer " + nope + " -p a --max-length 1000000000", "--max-length"},
           {"generate -m " + nope + " -p a -o " + nope + " --eta nan", "--eta"}}) {
    refused(args, option);
  }
  // the range in the message is short (CLI::PositiveNumber printed a 300-digit one)
  const auto r = ds("sae train --features " + nope + " --k 0");
  CHECK(r.output.size() < 120);
}

// A PNG whose IHDR says w x h over one grey pixel's data (a 0x0 or 100000x100000 header).
static void write_png_header(const fs::path& p, uint32_t w, uint32_t h) {
  auto crc = [](const std::string& s) {
    uint32_t c = 0xffffffffu;
    for (unsigned char b : s) {
      c ^= b;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
  };
  auto be = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  auto chunk = [&](const std::string& type, const std::string& data) {
    return be(static_cast<uint32_t>(data.size())) + type + data + be(crc(type + data));
  };
  const std::string ihdr = be(w) + be(h) + std::string{8, 0, 0, 0, 0};
  const std::string idat{'\x78', '\x9c', '\x63', '\x68', '\x00', '\x00', '\x00', '\x82', '\x00', '\x81'};  // zlib of 00 80
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) +
                                            chunk("IEND", "");
}

TEST_CASE("issue 41 re-run: batch skips an unknown analysis line, merge checks run.json and --group-by", "[cli][hardening]") {
  TempDir tmp("harden-rerun-batch");
  write(tmp.path / "m.jsonl",
        "{\"id\": \"good\", \"prompt\": \"a red circle\", \"steps\": 2, \"analyses\": [\"none\"], \"meta\": {\"cat\": \"x\"}}\n"
        "{\"id\": \"bad\", \"prompt\": \"a red circle\", \"steps\": 2, \"analyses\": [\"nosuch\"]}\n");
  const std::string out = tmp.str() + "/b";
  const auto r = ds("batch -q " + quote(tmp.str() + "/m.jsonl") + " -m " + quote(kPkg) + " -o " + quote(out));
  INFO(r.output);
  CHECK(r.exit_code == 1);  // a skipped bad line: the documented result
  CHECK(r.output.find("m.jsonl:2: \"analyses\": analysis \"nosuch\" does not exist") != std::string::npos);
  CHECK(fs::exists(out + "/good/batch.json"));
  CHECK_FALSE(fs::exists(out + "/bad"));

  refused("merge " + quote(out) + " -o " + quote(tmp.str() + "/mg") + " --group-by meta.nosuch",
          "--group-by meta.nosuch: no run's meta has \"nosuch\" (known: meta.cat)");
  auto run = nlohmann::json::parse(slurp(out + "/good/run.json"));
  run["inputs"]["prompt"] = "a green dragon";
  write(out + "/good/run.json", run.dump());
  refused("merge " + quote(out) + " -o " + quote(tmp.str() + "/mg"), "inputs.prompt \"a green dragon\" differs from its batch line's");
  CHECK_FALSE(fs::exists(tmp.path / "mg" / "runs.csv"));
}

TEST_CASE("issue 41 re-run: image headers, edited run.json steps, tokenize text", "[cli][hardening]") {
  TempDir tmp("harden-rerun-files");
  // features on a PNG whose header says 100000x100000: one line without OpenCV's assertion text
  write(tmp.path / "set" / "index.json",
        nlohmann::json{{"format", "diffscope-shapes"},
                       {"items", {{{"image", "a.png"}, {"objects", nlohmann::json::array()}},
                                  {{"image", "b.png"}, {"objects", nlohmann::json::array()}}}}}
            .dump());
  write_png_header(tmp.path / "set" / "a.png", 100000, 100000);
  write_png_header(tmp.path / "set" / "b.png", 1, 1);
  refused("features -m " + quote(kPkg) + " --dataset " + quote(tmp.str() + "/set") + " -o " + quote(tmp.str() + "/f"),
          "a.png: cannot be read as an image (its header declares a size beyond 2^30 pixels)");
  CHECK(ds("features -m " + quote(kPkg) + " --dataset " + quote(tmp.str() + "/set") + " -o " + quote(tmp.str() + "/f"))
            .output.find("OpenCV") == std::string::npos);

  const std::string run = tmp.str() + "/run";
  REQUIRE(ds("generate -q -m " + quote(kPkg) + " -p \"a red circle\" --steps 3 --scheduler ddim --concepts circle -o " +
             quote(run)).exit_code == 0);
  // --masks with a 0x0 PNG: one line, no libpng warnings
  write_png_header(tmp.path / "masks" / "circle.png", 0, 0);
  refused("concepts -q -r " + quote(run) + " --masks " + quote(tmp.str() + "/masks"), "circle.png: cannot be read as an image");
  // run.json saying 40 steps over 3 timesteps
  auto j = nlohmann::json::parse(slurp(run + "/run.json"));
  j["inputs"]["steps"] = 40;
  write(run + "/run.json", j.dump());
  refused("report " + quote(run) + " -o " + quote(tmp.str() + "/r.html"), "inputs.steps says 40 but timesteps lists 3");
  CHECK_FALSE(fs::exists(tmp.path / "r.html"));

  // tokenize: non-UTF-8 refused; a word with no token is not called "longer than 77 tokens"
  refused("tokenize -m " + quote(kPkg) + " -p \"$(printf 'a red \\377 circle')\"", "--prompt: not valid UTF-8 text");
  const auto t = ds("tokenize -m " + quote(kPkg) + " -p '\xe8\xb5\xa4 circle'");
  INFO(t.output);
  CHECK(t.exit_code == 0);
  CHECK(t.output.find("longer than") == std::string::npos);
}

TEST_CASE("issue 41 re-run: probe refuses a labels.csv whose rows do not match the features", "[cli][hardening]") {
  TempDir tmp("harden-rerun-probe");
  const std::string data = tmp.str() + "/data", feat = tmp.str() + "/feat";
  REQUIRE(ds_test::run_command(std::string(DS_PYTHON) + " " + quote(std::string(DS_SOURCE_DIR) + "/scripts/shapes/shapes_dataset.py") +
                               " --out " + quote(data) + " --count 12 --split all --seed 4")
              .exit_code == 0);
  REQUIRE(ds("features -q -m " + quote(kPkg) + " --dataset " + quote(data) + " --t 25 --layers mid_block -o " + quote(feat))
              .exit_code == 0);
  std::istringstream in(slurp(feat + "/labels.csv"));
  std::string line, kept;
  for (int i = 0; i < 6 && std::getline(in, line); ++i) kept += line + "\n";  // the header and 5 of 12 rows
  write(feat + "/labels.csv", kept);
  refused("probe --features " + quote(feat), "labels.csv: 5 rows, but index.json lists 12");
  CHECK_FALSE(fs::exists(feat + "/probe/summary.json"));
}

TEST_CASE("issue 41 re-run: nothing produced is an error (probe, sae inspect, features --spatial)", "[cli][hardening]") {
  TempDir tmp("harden-rerun-nothing");
  const std::string data = tmp.str() + "/data", feat = tmp.str() + "/feat", sae = tmp.str() + "/sae";
  REQUIRE(ds_test::run_command(std::string(DS_PYTHON) + " " + quote(std::string(DS_SOURCE_DIR) + "/scripts/shapes/shapes_dataset.py") +
                               " --out " + quote(data) + " --count 24 --split all --seed 4")
              .exit_code == 0);
  // a grid larger than the layer's map would repeat its values (mid_block is 2x2 in the tiny package)
  refused("features -q -m " + quote(kPkg) + " --dataset " + quote(data) + " --t 25 --layers mid_block --spatial 64 -o " +
              quote(tmp.str() + "/big"),
          "--spatial 64: layer mid_block is 2x2");
  CHECK_FALSE(fs::exists(tmp.str() + "/big/index.json"));
  REQUIRE(ds("features -q -m " + quote(kPkg) + " --dataset " + quote(data) + " --t 25 --layers mid_block -o " + quote(feat))
              .exit_code == 0);
  REQUIRE(ds("sae train -q --features " + quote(feat) + " --layer mid_block --t 25 --expansion 2 --k 4 --batch 8 --epochs 1 "
             "--warmup 0 -o " + quote(sae))
              .exit_code == 0);
  refused("sae inspect --sae " + quote(sae) + " --min-images 1000", "--min-images 1000: the features hold only 24 images");
  const std::string config = slurp(sae + "/config.json");
  const size_t at = config.find("\"k\": 4");
  REQUIRE(at != std::string::npos);
  write(sae + "/config.json", config.substr(0, at) + "\"k\": 0" + config.substr(at + 6));
  refused("sae inspect --sae " + quote(sae), "\"k\" is 0, expected 1..");
  CHECK_FALSE(fs::exists(sae + "/inspect/summary.json"));
  // one class left in the only label asked for: nothing to train, refused before the output folder is made
  std::istringstream in(slurp(feat + "/labels.csv"));
  std::string line, header, out;
  std::getline(in, header);
  out = header + "\n";
  std::vector<std::string> cols;
  {
    std::istringstream h(header);
    for (std::string c; std::getline(h, c, ',');) cols.push_back(c);
  }
  const size_t size_col = std::find(cols.begin(), cols.end(), "size") - cols.begin();
  REQUIRE(size_col < cols.size());
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream l(line);
    for (std::string c; std::getline(l, c, ',');) cells.push_back(c);
    if (!line.empty() && line.back() == ',') cells.push_back("");  // getline drops a trailing empty cell
    if (size_col < cells.size()) cells[size_col] = "small";
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + cells[i];
    out += "\n";
  }
  write(feat + "/labels.csv", out);
  refused("probe --features " + quote(feat) + " --labels size", "nothing to train on");
  CHECK_FALSE(fs::exists(feat + "/probe"));
}
