// SHA-256 (FIPS 180-4) of files: which model files produced a run, and which arrays belong to a run.json.
#pragma once
#include <string>

namespace diffscope {

/// SHA-256 of a file as lowercase hex; Error naming the file if unreadable.
std::string sha256_file(const std::string& path);

/// SHA-256 of bytes in memory as lowercase hex.
std::string sha256_hex(const std::string& bytes);

}  // namespace diffscope
