// `diffscope verify`: every file of a model package hashed in full and compared with the SHA-256s stored in its
// hashes.json at export (or that file written, for packages exported before it existed).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffscope {

struct VerifiedFile {
  enum class Status { kOk, kDiffers, kNotStored, kMissing };
  std::string file;    ///< relative to the package
  std::string sha256;  ///< the file's own (empty when missing)
  std::string stored;  ///< what hashes.json says (empty when it lists no such file)
  uint64_t size = 0;
  Status status = Status::kOk;
};

struct VerifyReport {
  std::string dir;
  bool had_manifest = false;   ///< hashes.json existed before this call
  bool written = false;        ///< hashes.json was (re)written by this call
  std::vector<VerifiedFile> files;
  double seconds = 0;          ///< time spent hashing
  uint64_t bytes = 0;          ///< bytes hashed
  /// Every file matches its stored hash (or the manifest was just written).
  bool ok() const;
};

/// Hashes every package file (package_files; never from a cache) and compares with hashes.json; with `write`,
/// writes hashes.json from these hashes, sizes and modification times. The user's hash cache is refreshed either
/// way. Error naming the folder when it is not a package, or hashes.json when it is malformed.
VerifyReport verify_package(const std::string& dir, bool write);

const char* status_name(VerifiedFile::Status s);

}  // namespace diffscope
