// What the binary-level CLI tests share: the program, the tiny packages, running it, counting its output's lines.
#pragma once
#include <string>

#include "test_support.h"

namespace ds_cli_test {

const std::string kBin = DS_BINARY;
const std::string kPkg = DS_TEST_PACKAGE_DIR;
const std::string kMmdit = DS_TEST_MMDIT_DIR;

/// Runs `diffscope ARGS` (stdout and stderr together).
inline ds_test::CommandResult ds(const std::string& args) { return ds_test::run_command(kBin + " " + args); }

/// The number of newline-ended lines of `s`.
inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace ds_cli_test
