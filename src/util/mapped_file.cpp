// Read-only file mappings (see mapped_file.h).
#include "diffscope/util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "diffscope/util/error.h"
#include "diffscope/util/file_checks.h"

namespace diffscope {

MappedFile::MappedFile(const std::string& path, bool sequential) {
  require_file(path, "a file");
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path + ": cannot be read");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(path + ": cannot be read");
  }
  size_ = static_cast<size_t>(st.st_size);
  void* m = size_ ? ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (m == MAP_FAILED) throw Error(path + ": cannot be read (empty or not mappable)");
  if (sequential) ::madvise(m, size_, MADV_SEQUENTIAL);
  data_ = static_cast<const unsigned char*>(m);
}

void MappedFile::release(size_t offset, size_t length) const {
  if (!data_ || offset >= size_) return;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t first = (offset + page - 1) / page * page;  // whole pages inside the range only
  const size_t end = std::min(size_, offset + length) / page * page;
  if (end > first) ::madvise(const_cast<unsigned char*>(data_) + first, end - first, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
}

}  // namespace diffscope
