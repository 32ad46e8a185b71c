// NumPy .npy files (format 1.0, little-endian, C order), as numpy.save writes and numpy.load reads them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace diffscope {

class MappedFile;

/// A float array read from (or to be written to) a .npy file; `data` is in C (row-major) order.
struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
  /// Number of elements (product of shape; 1 for a 0-d array).
  size_t size() const;
};

/// Writes float32 ('<f4') data of the given shape, atomically. Throws Error naming `path`.
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);
/// Writes `a` as float32; throws Error when a.data.size() disagrees with a.shape.
void write_npy(const std::string& path, const NpyArray& a);
/// Writes int64 ('<i8') data of the given shape, atomically.
void write_npy_i64(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape);

/// The .npy header (magic, version 1.0, dict, space padding, newline) for `descr` and `shape`;
/// its total length is a multiple of 64 like numpy's.
std::string npy_header(const std::string& descr, const std::vector<int64_t>& shape);

/// Reads a .npy file of dtype <f4 <f8 <f2 <i8 <i4 |u1 |b1 (versions 1.0-3.0), converting to float.
/// Fortran order, other dtypes, bad headers or truncated data throw Error naming `path` and the problem.
NpyArray read_npy(const std::string& path);

/// Error "PATH: holds a non-finite value (nan) at [i, j, ...]" unless every value of `a` is finite: an array with
/// NaN or inf is refused where it is read, never analysed into numbers.
void require_finite(const NpyArray& a, const std::string& path);

/// A float32 C-order .npy file mapped read-only into memory (rows are paged in as they are read), for data sets
/// larger than memory. Other dtypes, Fortran order, bad headers or truncated data throw Error naming `path`.
class MappedNpy {
 public:
  explicit MappedNpy(const std::string& path);
  ~MappedNpy();
  MappedNpy(const MappedNpy&) = delete;
  MappedNpy& operator=(const MappedNpy&) = delete;
  const std::vector<int64_t>& shape() const { return shape_; }
  const float* data() const { return data_; }
  size_t size() const;  ///< number of elements
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<MappedFile> file_;
  std::vector<int64_t> shape_;
  const float* data_ = nullptr;
};

}  // namespace diffscope
