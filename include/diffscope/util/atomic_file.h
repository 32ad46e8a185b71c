// Atomic file output: every file is written under a temporary name in its folder, then renamed.
#pragma once
#include <fstream>
#include <memory>
#include <ostream>
#include <string>

namespace diffscope {

/// Creates `dir` and its parents (mkdir -p). Throws Error naming `dir` when it cannot.
void ensure_dir(const std::string& dir);

/// Writes `bytes` to a temporary file beside `path`, then renames it onto `path` (no fsync).
/// Creates missing parent folders. Throws Error naming `path`; never leaves a partial `path`.
void write_file_atomic(const std::string& path, const std::string& bytes);

/// Streams into a temporary file beside `path`; commit() renames it onto `path`.
/// Destroying an uncommitted writer removes the temporary file, so `path` is never partial.
class AtomicWriter {
 public:
  /// Opens the temporary file (creating parent folders). Throws Error naming `path`.
  explicit AtomicWriter(std::string path, bool binary = false);
  ~AtomicWriter();
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  /// The stream to write into (the temporary file).
  std::ostream& out();
  /// Flushes, closes and renames onto the final path. Throws Error naming the path on any failure.
  void commit();
  /// The final path.
  const std::string& path() const { return path_; }
  /// The temporary path currently written (empty after commit).
  const std::string& temp_path() const { return temp_; }

 private:
  std::string path_;
  std::string temp_;
  std::unique_ptr<std::ofstream> stream_;
  bool committed_ = false;
};

/// A unique temporary name in the same folder as `path` (".<name>.tmp-<pid>-<n>").
std::string temp_path_for(const std::string& path);

}  // namespace diffscope
