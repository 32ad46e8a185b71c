// Full verification of a package's files against hashes.json (see verify.h).
#include "diffscope/study/verify.h"

#include <chrono>
#include <filesystem>
#include <set>

#include "diffscope/engine/model_info.h"
#include "diffscope/util/error.h"
#include "diffscope/util/file_hashes.h"
#include "diffscope/util/progress.h"
#include "diffscope/util/sha256.h"

namespace fs = std::filesystem;

namespace diffscope {

bool VerifyReport::ok() const {
  if (written) return true;
  if (!had_manifest) return false;
  for (const auto& f : files)
    if (f.status != VerifiedFile::Status::kOk) return false;
  return true;
}

const char* status_name(VerifiedFile::Status s) {
  switch (s) {
    case VerifiedFile::Status::kOk: return "ok";
    case VerifiedFile::Status::kDiffers: return "DIFFERS";
    case VerifiedFile::Status::kNotStored: return "not in hashes.json";
    case VerifiedFile::Status::kMissing: return "MISSING";
  }
  return "?";
}

VerifyReport verify_package(const std::string& dir, bool write) {
  if (!fs::exists(fs::path(dir) / "model_index.json"))
    throw Error(dir + ": not a model package (no model_index.json)");
  const std::string manifest_path = (fs::path(dir) / "hashes.json").string();
  VerifyReport r;
  r.dir = dir;
  r.had_manifest = fs::exists(manifest_path);
  const HashManifest stored = read_hash_manifest(manifest_path);
  HashManifest fresh;
  const auto files = package_files(dir);
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& rel : files) {
    const std::string path = (fs::path(dir) / rel).string();
    FileStamp stamp;
    VerifiedFile v;
    v.file = rel;
    v.sha256 = hash_and_remember(path, stamp);
    v.size = stamp.size;
    r.bytes += stamp.size;
    fresh[rel] = {v.sha256, stamp.size, stamp.mtime_ns};
    const auto it = stored.find(rel);
    if (it == stored.end()) {
      v.status = VerifiedFile::Status::kNotStored;
    } else {
      v.stored = it->second.sha256;
      v.status = v.stored == v.sha256 ? VerifiedFile::Status::kOk : VerifiedFile::Status::kDiffers;
    }
    r.files.push_back(v);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::set<std::string> present(files.begin(), files.end());
  for (const auto& [rel, h] : stored)
    if (!present.count(rel)) {
      VerifiedFile v;
      v.file = rel;
      v.stored = h.sha256;
      v.status = VerifiedFile::Status::kMissing;
      r.files.push_back(v);
    }
  if (write) {
    write_hash_manifest(manifest_path, fresh);
    r.written = true;
  }
  return r;
}

}  // namespace diffscope
