// SHA-256 (FIPS 180-4) of files: which model files produced a run, and which arrays belong to a run.json.
#pragma once
#include <string>

namespace diffscope {

/// SHA-256 of a file as lowercase hex (OpenSSL's when diffscope was built with it); Error naming the file if unreadable.
std::string sha256_file(const std::string& path);

/// The same with the portable implementation only (what sha256_file uses when OpenSSL is not available; tests and
/// bench/bench_hash compare the two).
std::string sha256_file_portable(const std::string& path);
/// Whether sha256_file uses OpenSSL's (hardware-accelerated where the CPU allows) implementation.
bool sha256_is_accelerated();

/// SHA-256 of bytes in memory as lowercase hex.
std::string sha256_hex(const std::string& bytes);

}  // namespace diffscope
