// diffscope::Error: a one-line, user-facing failure (names the thing and what was expected).
#pragma once
#include <stdexcept>
#include <string>

namespace diffscope {

/// Exit codes used by the CLI.
enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitBadInput = 2 };

/// Thrown for anything a user can fix: bad model folder, option, prompt or file. `what()` is one line.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = kExitBadInput)
      : std::runtime_error(message), exit_code_(exit_code) {}
  /// The process exit code the CLI should use for this error.
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace diffscope
