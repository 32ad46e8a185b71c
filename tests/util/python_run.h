// Runs a Python snippet with DS_PYTHON (numpy, torch, sklearn available) for cross-checks.
#pragma once
#include <catch2/catch.hpp>
#include <string>

#include "test_support.h"

namespace ds_test {

/// Writes `code` to a script in `dir`, runs it with DS_PYTHON and returns its output; fails the test
/// (with the output) when the script exits non-zero.
inline std::string run_python(const TempDir& dir, const std::string& code) {
  static int n = 0;
  fs::path script = dir.path / ("snippet_" + std::to_string(n++) + ".py");
  write_text(script, code);
  CommandResult r = run_command(std::string(DS_PYTHON) + " " + quote(script.string()));
  INFO("python output:\n" << r.output);
  REQUIRE(r.exit_code == 0);
  return r.output;
}

}  // namespace ds_test
