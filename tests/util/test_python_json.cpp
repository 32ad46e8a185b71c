// JSON as Python's json module writes it (Infinity, -Infinity, NaN): the one reader of scheduler_config.json.
#include <catch2/catch.hpp>

#include <string>

#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "test_support.h"

using namespace diffscope;
using ds_test::TempDir;

TEST_CASE("python_json_words_as_null: Infinity, -Infinity and NaN outside strings become null, nothing else changes", "[json]") {
  // each word on its own: -Infinity is one word (no '-' left behind), Infinity and NaN the others
  CHECK(python_json_words_as_null("[-Infinity, Infinity, NaN]") == "[null, null, null]");
  CHECK(python_json_words_as_null("-Infinity") == "null");
  CHECK(python_json_words_as_null("{\"a\":NaN,\"b\":Infinity}") == "{\"a\":null,\"b\":null}");
  CHECK(python_json_words_as_null("{\n  \"x\": -Infinity\n}\n") == "{\n  \"x\": null\n}\n");
  // inside strings (keys included), escaped quotes and a trailing backslash included, the words stay
  for (const std::string& s : {std::string("\"Infinity\""), std::string("{\"Infinity\": 1}"),
                               std::string("[\"-Infinity NaN\"]"), std::string("[\"say \\\"NaN\\\" Infinity\"]")})
    CHECK(python_json_words_as_null(s) == s);
  CHECK(python_json_words_as_null("{\"p\": \"C:\\\\\", \"q\": NaN, \"r\": \"NaN\"}") ==
        "{\"p\": \"C:\\\\\", \"q\": null, \"r\": \"NaN\"}");
  // glued to a letter, digit or '_': left for the parser to refuse (as Python's json refuses them)
  for (const std::string& s : {std::string("[Infinityx]"), std::string("[NaN1]"), std::string("[x_NaN]"),
                               std::string("[nan]"), std::string("[infinity]")})
    CHECK(python_json_words_as_null(s) == s);
  // plain JSON passes unchanged
  const std::string plain = "{\"a\": [1, 2.5e-3, true, null], \"b\": \"x\"}";
  CHECK(python_json_words_as_null(plain) == plain);
}

TEST_CASE("read_python_json_file: what diffusers writes reads; strict readers still refuse it; errors are one line naming the file", "[json]") {
  TempDir dir("python-json");
  const std::string p = (dir.path / "scheduler_config.json").string();
  ds_test::write_text(p, "{\n  \"lambda_min_clipped\": -Infinity,\n  \"hi\": Infinity,\n  \"nan\": NaN,\n"
                         "  \"text\": \"-Infinity\",\n  \"list\": [NaN, 1.0]\n}\n");
  const auto j = read_python_json_object(p);
  CHECK(j["lambda_min_clipped"].is_null());
  CHECK(j["hi"].is_null());
  CHECK(j["nan"].is_null());
  CHECK(j["text"] == "-Infinity");  // a string is never touched
  CHECK(j["list"][0].is_null());
  CHECK(j["list"][1] == 1.0);
  CHECK(read_python_json_file(p) == j);
  // the strict reader (every other JSON file diffscope reads) still refuses the words
  CHECK_THROWS_WITH(read_json_file(p), Catch::StartsWith(p + ": not valid JSON (line 2: "));

  // what Python's json refuses is refused, in one line naming the file and the line
  for (const std::string& bad : {std::string("-NaN"), std::string("+Infinity"), std::string("Infinityx"),
                                 std::string("NaN1"), std::string("- Infinity"), std::string("1-Infinity"),
                                 std::string("nan")}) {
    INFO(bad);
    ds_test::write_text(p, "{\n  \"a\": 1,\n  \"b\": " + bad + "\n}\n");
    try {
      read_python_json_file(p);
      FAIL("no error");
    } catch (const Error& e) {
      const std::string m = e.what();
      CHECK_THAT(m, Catch::StartsWith(p + ": not valid JSON (line 3: "));
      CHECK(m.find('\n') == std::string::npos);
      CHECK(m.find("json.exception") == std::string::npos);
      CHECK(e.exit_code() == kExitBadInput);
    }
  }
  ds_test::write_text(p, "[NaN]");
  CHECK(read_python_json_file(p)[0].is_null());
  CHECK_THROWS_WITH(read_python_json_object(p), Catch::EndsWith("scheduler_config.json: expected a JSON object ({...}), found array"));
  const std::string missing = (dir.path / "none.json").string();
  CHECK_THROWS_WITH(read_python_json_file(missing), missing + ": cannot be read");
}
