// Stored and cached file hashes (see file_hashes.h).
#include "diffscope/util/file_hashes.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/sha256.h"

namespace fs = std::filesystem;

namespace diffscope {

FileStamp file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(path + ": cannot be read");
  FileStamp s;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  s.inode = static_cast<uint64_t>(st.st_ino);
  return s;
}

HashManifest read_hash_manifest(const std::string& path) {
  HashManifest out;
  if (!fs::exists(path)) return out;
  const nlohmann::json j = read_json_object(path);
  auto bad = [&](const std::string& what) {
    return Error(path + ": " + what + " (expected {\"diffscope_hashes\": 1, \"algorithm\": \"sha256\", \"files\": "
                 "{PATH: {\"sha256\": HEX, \"size\": N, \"mtime_ns\": N}}}; diffscope verify -m PKG --write rewrites it)");
  };
  if (j.value("diffscope_hashes", 0) != 1) throw bad("not a diffscope hashes file, version 1");
  if (j.value("algorithm", std::string()) != "sha256") throw bad("\"algorithm\" is not sha256");
  if (!j.contains("files") || !j["files"].is_object()) throw bad("no \"files\" object");
  for (const auto& [rel, e] : j["files"].items()) {
    if (!e.is_object() || !e.contains("sha256") || !e["sha256"].is_string() || e["sha256"].get<std::string>().size() != 64 ||
        !e.contains("size") || !e["size"].is_number_unsigned() || !e.contains("mtime_ns") || !e["mtime_ns"].is_number_integer())
      throw bad("\"" + rel + "\" is not {\"sha256\": 64 hex digits, \"size\": N, \"mtime_ns\": N}");
    out[rel] = {e["sha256"].get<std::string>(), e["size"].get<uint64_t>(), e["mtime_ns"].get<int64_t>()};
  }
  return out;
}

void write_hash_manifest(const std::string& path, const HashManifest& manifest) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [rel, h] : manifest) files[rel] = {{"sha256", h.sha256}, {"size", h.size}, {"mtime_ns", h.mtime_ns}};
  const nlohmann::json j = {{"diffscope_hashes", 1}, {"algorithm", "sha256"}, {"files", files}};
  write_file_atomic(path, j.dump(2) + "\n");
}

std::string hash_cache_path() {
  if (const char* d = std::getenv("DIFFSCOPE_CACHE_DIR"); d && *d) return std::string(d) + "/file-hashes.json";
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/diffscope/file-hashes.json";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/diffscope/file-hashes.json";
  return "";
}

namespace {
std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}

/// The cache's entries ({abs path: {size, mtime_ns, inode, sha256}}); empty when absent or unreadable (it is only a
/// cache: anything odd there means hashing again).
nlohmann::json read_cache(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

bool stamp_matches(const nlohmann::json& e, const FileStamp& s) {
  return e.is_object() && e.value("size", uint64_t{0}) == s.size && e.value("mtime_ns", int64_t{0}) == s.mtime_ns &&
         e.value("inode", uint64_t{0}) == s.inode && e.contains("sha256") && e["sha256"].is_string() &&
         e["sha256"].get<std::string>().size() == 64;
}

void warn_if_stale(const std::string& path, const std::string& dir, const StoredHash* stored, const std::string& sha) {
  if (stored && stored->sha256 != sha)
    spdlog::warn("{}: differs from its SHA-256 in hashes.json (the file changed after export); runs record the "
                 "file's own hash (diffscope verify -m {} --write updates hashes.json)", path, dir);
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  const fs::path p = fs::canonical(path, ec);
  return ec ? fs::absolute(path).string() : p.string();
}
}  // namespace

void remember_sha256(const std::string& path, const FileStamp& stamp, const std::string& sha256) {
  const std::string cache = hash_cache_path();
  if (cache.empty()) return;
  std::lock_guard<std::mutex> lock(cache_mutex());
  try {
    ensure_dir(fs::path(cache).parent_path().string());
    nlohmann::json j = read_cache(cache);  // re-read: another process may have added entries since
    j[absolute(path)] = {{"size", stamp.size}, {"mtime_ns", stamp.mtime_ns}, {"inode", stamp.inode}, {"sha256", sha256}};
    write_file_atomic(cache, j.dump() + "\n");
  } catch (const std::exception& e) {
    spdlog::debug("{}: hash cache not written ({})", cache, e.what());
  }
}

std::string hash_and_remember(const std::string& path, FileStamp& stamp) {
  stamp = file_stamp(path);
  const std::string sha = sha256_file(path);
  if (file_stamp(path).mtime_ns == stamp.mtime_ns) remember_sha256(path, stamp, sha);  // not while being written
  return sha;
}

std::string package_file_sha256(const std::string& dir, const std::string& rel, const HashManifest& stored,
                                HashSource* source) {
  const std::string path = (fs::path(dir) / rel).string();
  const FileStamp stamp = file_stamp(path);
  const auto it = stored.find(rel);
  if (it != stored.end() && it->second.size == stamp.size && it->second.mtime_ns == stamp.mtime_ns) {
    if (source) *source = HashSource::kStored;
    return it->second.sha256;
  }
  const std::string cache = hash_cache_path();
  if (!cache.empty()) {
    nlohmann::json j;
    {
      std::lock_guard<std::mutex> lock(cache_mutex());
      j = read_cache(cache);
    }
    const std::string key = absolute(path);
    if (j.contains(key) && stamp_matches(j[key], stamp)) {
      const std::string sha = j[key]["sha256"].get<std::string>();
      warn_if_stale(path, dir, it == stored.end() ? nullptr : &it->second, sha);
      if (source) *source = HashSource::kCached;
      return sha;
    }
  }
  FileStamp hashed;
  const std::string sha = hash_and_remember(path, hashed);
  warn_if_stale(path, dir, it == stored.end() ? nullptr : &it->second, sha);
  if (source) *source = HashSource::kComputed;
  return sha;
}

}  // namespace diffscope
