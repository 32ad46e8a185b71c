// CSV quoting and number formatting (read back by Python's csv module); JSON files and their errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "python_run.h"

using namespace diffscope;
using ds_test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("format_number: shortest round-trip text", "[csv]") {
  CHECK(format_number(0.1) == "0.1");
  CHECK(format_number(3.0) == "3");
  CHECK(format_number(-2.5) == "-2.5");
  CHECK(format_number(1.0 / 3.0) == "0.3333333333333333");
  CHECK(format_number(1e20) == "1e+20");
  CHECK(format_number(1e-5) == "1e-05");
  CHECK(format_number(0.0) == "0");
  CHECK(format_number(123456789.0) == "123456789");
  CHECK(format_number(std::nan("")) == "nan");
  CHECK(format_number(INFINITY) == "inf");
  CHECK(format_number(-INFINITY) == "-inf");
  CHECK(format_number(static_cast<double>(0.1f)) == "0.10000000149011612");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v)) continue;
    std::string s = format_number(v);
    CHECK(std::strtod(s.c_str(), nullptr) == v);
  }
}

TEST_CASE("csv_escape follows RFC 4180", "[csv]") {
  CHECK(csv_escape("plain") == "plain");
  CHECK(csv_escape("") == "");
  CHECK(csv_escape("a,b") == "\"a,b\"");
  CHECK(csv_escape("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_escape("two\nlines") == "\"two\nlines\"");
  CHECK(csv_escape("cr\r") == "\"cr\r\"");
  CHECK(csv_escape(" padded") == "\" padded\"");
}

TEST_CASE("CsvWriter writes atomically and Python's csv module reads the same cells", "[csv][python]") {
  TempDir dir("csv");
  std::string p = (dir.path / "t.csv").string();
  {
    CsvWriter w(p, {"word", "step", "auc", "note"});
    w.cell("red").cell(int64_t{3}).cell(0.875).cell("a, \"quoted\" note").end_row();
    CHECK_FALSE(ds_test::fs::exists(p));
    w.cell("blue square").cell(10).cell(std::nan("")).cell("multi\nline").end_row();
    w.commit();
  }
  CHECK(ds_test::read_text(p) ==
        "word,step,auc,note\nred,3,0.875,\"a, \"\"quoted\"\" note\"\nblue square,10,nan,\"multi\nline\"\n");
  std::string out = ds_test::run_python(dir, R"(
import csv, sys, math
d = sys.argv[0].rsplit('/', 1)[0]
rows = list(csv.reader(open(d + '/t.csv', newline='')))
assert rows[0] == ['word', 'step', 'auc', 'note'], rows[0]
assert rows[1] == ['red', '3', '0.875', 'a, "quoted" note'], rows[1]
assert rows[2][3] == 'multi\nline' and math.isnan(float(rows[2][2])), rows[2]
print('rows', len(rows))
)");
  CHECK(out.find("rows 3") != std::string::npos);
}

TEST_CASE("CsvWriter rejects ragged rows and leaves no file when not committed", "[csv]") {
  TempDir dir("csv-bad");
  std::string p = (dir.path / "t.csv").string();
  {
    CsvWriter w(p, {"a", "b"});
    w.cell("only one");
    CHECK_THROWS_WITH(w.end_row(), Catch::Contains("t.csv") && Catch::Contains("row has 1 cells, header has 2"));
    w.cell(1.5);
    CHECK_THROWS_WITH(w.commit(), Catch::Contains("unfinished"));
  }
  CHECK_FALSE(ds_test::fs::exists(p));
  CHECK(ds_test::fs::is_empty(dir.path));
  CHECK_THROWS_AS(CsvWriter(p, {}), Error);
}

TEST_CASE("JSON: atomic pretty writing, reading, one-line errors with file and line", "[json]") {
  TempDir dir("json");
  std::string p = (dir.path / "summary.json").string();
  nlohmann::json j = {{"auc", 0.5}, {"words", {"red", "circle"}}};
  write_json_atomic(p, j);
  CHECK(ds_test::read_text(p) == "{\n  \"auc\": 0.5,\n  \"words\": [\n    \"red\",\n    \"circle\"\n  ]\n}\n");
  CHECK(read_json_file(p) == j);

  ds_test::write_text(dir.path / "bad.json", "{\n  \"a\": 1,\n  oops\n}\n");
  try {
    read_json_file((dir.path / "bad.json").string());
    FAIL("no error");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK_THAT(m, Catch::StartsWith((dir.path / "bad.json").string() + ": not valid JSON (line 3: "));
    CHECK(m.find('\n') == std::string::npos);
    CHECK(m.find("json.exception") == std::string::npos);
    CHECK(e.exit_code() == kExitBadInput);
  }
  ds_test::write_text(dir.path / "empty.json", "");
  CHECK_THROWS_WITH(read_json_file((dir.path / "empty.json").string()), Catch::Contains("not valid JSON (line 1: "));
  CHECK_THROWS_WITH(read_json_file((dir.path / "nope.json").string()),
                    (dir.path / "nope.json").string() + ": cannot be read");
  // invalid UTF-8 cannot be serialised: an Error naming the file, nothing written
  std::string q = (dir.path / "bad_utf8.json").string();
  CHECK_THROWS_WITH(write_json_atomic(q, nlohmann::json{{"k", std::string("\xff\xfe")}}),
                    Catch::Contains("bad_utf8.json: cannot be written"));
  CHECK_FALSE(ds_test::fs::exists(q));
}

TEST_CASE("input files: a folder, a missing file or a JSON array where an object belongs get one line naming them", "[json]") {
  TempDir dir("inputs");
  fs::create_directories(dir.path / "folder.json");
  CHECK_THROWS_WITH(read_json_file((dir.path / "folder.json").string()), Catch::EndsWith("folder.json: is a folder, expected a JSON file"));
  CHECK_THROWS_WITH(read_csv((dir.path / "folder.json").string()), Catch::EndsWith("folder.json: is a folder, expected a CSV file"));
  ds_test::write_text(dir.path / "arr.json", "[1, 2]");
  CHECK(read_json_file((dir.path / "arr.json").string()).is_array());
  CHECK_THROWS_WITH(read_json_object((dir.path / "arr.json").string()),
                    Catch::EndsWith("arr.json: expected a JSON object ({...}), found array"));
  ds_test::write_text(dir.path / "obj.json", "{\"a\": 1}");
  CHECK(read_json_object((dir.path / "obj.json").string())["a"] == 1);
}
