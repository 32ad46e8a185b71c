// diffscope::Error: a one-line, user-facing failure (names the thing and what was expected).
#pragma once
#include <stdexcept>
#include <string>

namespace diffscope {

/// Exit codes used by the CLI.
enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitBadInput = 2 };

/// `message` on one line: control characters a quoted input may carry (newline, tab, escape, ...) are written as
/// \n, \t, \xNN, so an error can never spill over lines or move a terminal's cursor.
inline std::string one_line(const std::string& message) {
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

/// Thrown for anything a user can fix: bad model folder, option, prompt or file. `what()` is one line.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = kExitBadInput)
      : std::runtime_error(one_line(message)), exit_code_(exit_code) {}
  /// The process exit code the CLI should use for this error.
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace diffscope
