// Model identity without re-hashing: a package's stored SHA-256s (hashes.json, written at export) and a per-user
// cache of files already hashed, both keyed by a cheap stamp (size and modification time), so a run reads the
// multi-GB weights only when a file is new or changed.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace diffscope {

/// What a cheap check compares: size, modification time (ns) and inode.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
};
/// The stamp of `path`; Error naming the file when it cannot be read.
FileStamp file_stamp(const std::string& path);

/// One file of hashes.json: its SHA-256 and the size and modification time it had when hashed.
struct StoredHash {
  std::string sha256;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};
/// hashes.json: {"diffscope_hashes": 1, "algorithm": "sha256", "files": {REL: {"sha256", "size", "mtime_ns"}}}.
using HashManifest = std::map<std::string, StoredHash>;

/// Reads a package's hashes.json; empty when the file is absent; Error naming the file and key when malformed.
HashManifest read_hash_manifest(const std::string& path);
/// Writes hashes.json atomically.
void write_hash_manifest(const std::string& path, const HashManifest& manifest);

/// How a file's hash was obtained.
enum class HashSource { kStored, kCached, kComputed };

/// The SHA-256 of the package file `dir`/`rel`: from `stored` when its size and modification time still match
/// (the export wrote them), else from the user's cache of verified files (same path, size, modification time and
/// inode), else read and hashed (and cached). `source`, when given, says which. When the file was hashed and
/// differs from `stored`, a warning names it (hashes.json is stale: the file changed after export); the hash
/// returned is always the file's own.
std::string package_file_sha256(const std::string& dir, const std::string& rel, const HashManifest& stored,
                                HashSource* source = nullptr);

/// The cache file (DIFFSCOPE_CACHE_DIR, else XDG_CACHE_HOME/diffscope, else HOME/.cache/diffscope, then
/// file-hashes.json); empty when none of those is set.
std::string hash_cache_path();
/// Records a hash just computed for `path` in the user's cache (best effort: an unwritable cache is skipped).
void remember_sha256(const std::string& path, const FileStamp& stamp, const std::string& sha256);
/// Hashes `path` in full and remembers the hash in the cache unless the file changed while it was read; `stamp`
/// receives the stamp the hash belongs to.
std::string hash_and_remember(const std::string& path, FileStamp& stamp);

}  // namespace diffscope
