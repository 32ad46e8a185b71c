// Shared by the fuzz harnesses: the input written to a scratch file (the parsers under test read files), and the
// rule every harness enforces: an input may be refused only with diffscope's one-line Error; any other exception
// escaping (a library message) or a sanitizer report is a finding.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "diffscope/util/error.h"

namespace ds_fuzz {

/// A scratch folder for this process, created once.
inline const std::string& scratch() {
  static const std::string dir = [] {
    const char* t = std::getenv("TMPDIR");
    std::string d = std::string(t && *t ? t : "/tmp") + "/diffscope-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

/// Writes `data` to scratch()/name and returns the path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string p = scratch() + "/" + name;
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                             static_cast<std::streamsize>(size));
  return p;
}

/// Runs `f`; a diffscope Error (one line, no newline) is an accepted refusal, anything else aborts.
template <typename F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const diffscope::Error& e) {
    if (std::string(e.what()).find('\n') != std::string::npos) {
      std::fprintf(stderr, "fuzz: a multi-line error: %s\n", e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: a raw library exception escaped: %s\n", e.what());
    std::abort();
  }
}

}  // namespace ds_fuzz
