// Atomic file output: temporary file in the destination folder, then rename(2).
#include "diffscope/util/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "diffscope/util/error.h"

namespace diffscope {

namespace fs = std::filesystem;

namespace {

std::string parent_of(const std::string& path) {
  fs::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string();
}

void rename_or_throw(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    int err = errno;
    std::remove(from.c_str());
    throw Error(to + ": cannot be written (rename failed: " + std::strerror(err) + ")", kExitFailure);
  }
}

}  // namespace

void ensure_dir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    std::string why = ec ? ec.message() : "exists and is not a folder";
    throw Error(dir + ": cannot create folder (" + why + ")", kExitFailure);
  }
}

std::string temp_path_for(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
  fs::path p(path);
  std::string name = "." + p.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                     std::to_string(counter.fetch_add(1));
  return (p.parent_path() / name).string();
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicWriter w(path, true);
  w.out().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  w.commit();
}

AtomicWriter::AtomicWriter(std::string path, bool binary) : path_(std::move(path)) {
  if (path_.empty()) throw Error("output path is empty", kExitBadInput);
  ensure_dir(parent_of(path_));
  temp_ = temp_path_for(path_);
  auto mode = std::ios::out | std::ios::trunc;
  if (binary) mode |= std::ios::binary;
  stream_ = std::make_unique<std::ofstream>(temp_, mode);
  if (!*stream_) {
    int err = errno;
    stream_.reset();
    std::string t = temp_;
    temp_.clear();
    throw Error(path_ + ": cannot be written (cannot open " + t + ": " + std::strerror(err) + ")",
                kExitFailure);
  }
}

AtomicWriter::~AtomicWriter() {
  if (committed_) return;
  stream_.reset();
  if (!temp_.empty()) std::remove(temp_.c_str());
}

std::ostream& AtomicWriter::out() {
  if (committed_ || !stream_) throw Error(path_ + ": writer already committed", kExitFailure);
  return *stream_;
}

void AtomicWriter::commit() {
  if (committed_ || !stream_) throw Error(path_ + ": writer already committed", kExitFailure);
  stream_->flush();
  bool ok = static_cast<bool>(*stream_);
  stream_->close();
  ok = ok && !stream_->fail();
  stream_.reset();
  if (!ok) {
    std::remove(temp_.c_str());
    temp_.clear();
    throw Error(path_ + ": cannot be written (write failed; disk full?)", kExitFailure);
  }
  rename_or_throw(temp_, path_);
  temp_.clear();
  committed_ = true;
}

}  // namespace diffscope
