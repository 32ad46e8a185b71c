// A whole file mapped read-only into memory (pages are read as they are touched), for inputs larger than memory.
#pragma once
#include <cstddef>
#include <string>

namespace diffscope {

class MappedFile {
 public:
  /// Maps `path`; Error "PATH: cannot be read" (missing, a folder, empty or not mappable).
  explicit MappedFile(const std::string& path, bool sequential = false);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  /// Drops the pages of [offset, offset + length) from this process's memory (they stay in the page cache and are
  /// read again if touched): a pass over a multi-GB file then adds nothing to the resident set.
  void release(size_t offset, size_t length) const;

 private:
  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace diffscope
