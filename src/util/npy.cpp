// NumPy .npy reader and writer (format 1.0 written; 1.0-3.0 read), byte-compatible with numpy.save.
#include "diffscope/util/npy.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>


#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"
#include "diffscope/util/file_checks.h"
#include "diffscope/util/mapped_file.h"

namespace diffscope {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;
constexpr size_t kGrowthAxisMaxDigits = 21;  // numpy's spare room for growing the first axis

std::string shape_repr(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

size_t element_count(const std::vector<int64_t>& shape, const std::string& what) {
  size_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(what + ": negative dimension in shape");
    // checked: a header claiming more elements than an address space holds is refused, never wrapped
    if (__builtin_mul_overflow(n, static_cast<size_t>(d), &n) || n > (size_t{1} << 60))
      throw Error(what + ": not a valid .npy file (shape " + shape_repr(shape) + " holds more elements than any file can)");
  }
  return n;
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

template <typename T>
void write_typed(const std::string& path, const char* descr, const T* data, const std::vector<int64_t>& shape) {
  size_t n = element_count(shape, path);
  if (n > 0 && data == nullptr) throw Error(path + ": no data given for a non-empty array", kExitFailure);
  std::string header = npy_header(descr, shape);
  AtomicWriter w(path, true);
  w.out().write(header.data(), static_cast<std::streamsize>(header.size()));
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "npy writer handles 4- and 8-byte types");
  // The host is little-endian (x86-64 / aarch64); the data goes out as stored.
  if (n) w.out().write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(T)));
  w.commit();
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

// --- header parsing: the Python dict literal numpy writes ---

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  throw Error(path + ": not a valid .npy file (" + why + ")");
}

size_t find_key(const std::string& h, const std::string& key, const std::string& path) {
  for (const char* q : {"'", "\""}) {
    size_t p = h.find(q + key + q);
    if (p != std::string::npos) {
      size_t colon = h.find(':', p + key.size() + 2);
      if (colon == std::string::npos) bad(path, "header key '" + key + "' has no value");
      size_t v = h.find_first_not_of(" \t", colon + 1);
      if (v == std::string::npos) bad(path, "header key '" + key + "' has no value");
      return v;
    }
  }
  bad(path, "header has no '" + key + "'");
}

/// numpy's own rule: the header is one dict literal (then spaces and a newline) with exactly the keys descr,
/// fortran_order and shape.
void check_dict(const std::string& h, const std::string& path) {
  size_t end = h.size();
  while (end > 0 && (h[end - 1] == ' ' || h[end - 1] == '\n' || h[end - 1] == '\t' || h[end - 1] == '\0')) --end;
  size_t begin = 0;
  while (begin < end && h[begin] == ' ') ++begin;
  if (begin >= end || h[begin] != '{' || h[end - 1] != '}') bad(path, "the header is not a dict literal");
  int depth = 0, keys = 0;
  char quote = 0;
  for (size_t i = begin; i < end; ++i) {
    const char c = h[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '{' || c == '(' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ')' || c == ']') {
      --depth;
    } else if (c == ':' && depth == 1) {
      ++keys;
    }
  }
  if (quote || depth != 0) bad(path, "the header dict is unbalanced");
  if (keys != 3) bad(path, "the header dict has " + std::to_string(keys) + " keys (numpy writes exactly descr, fortran_order, shape)");
}

std::string parse_descr(const std::string& h, const std::string& path) {
  size_t v = find_key(h, "descr", path);
  char q = h[v];
  if (q != '\'' && q != '"') bad(path, "dtype is not a simple type string (structured arrays are not supported)");
  size_t end = h.find(q, v + 1);
  if (end == std::string::npos) bad(path, "unterminated dtype string");
  return h.substr(v + 1, end - v - 1);
}

bool parse_fortran(const std::string& h, const std::string& path) {
  size_t v = find_key(h, "fortran_order", path);
  if (h.compare(v, 4, "True") == 0) return true;
  if (h.compare(v, 5, "False") == 0) return false;
  bad(path, "fortran_order is neither True nor False");
}

std::vector<int64_t> parse_shape(const std::string& h, const std::string& path) {
  size_t v = find_key(h, "shape", path);
  if (h[v] != '(') bad(path, "shape is not a tuple");
  size_t end = h.find(')', v);
  if (end == std::string::npos) bad(path, "unterminated shape tuple");
  std::vector<int64_t> shape;
  size_t i = v + 1;
  while (i < end) {
    while (i < end && (h[i] == ' ' || h[i] == ',')) ++i;
    if (i >= end) break;
    size_t j = i;
    while (j < end && h[j] >= '0' && h[j] <= '9') ++j;
    if (j == i) bad(path, "shape holds something other than non-negative integers");
    if (j - i > 18) bad(path, "a dimension of " + h.substr(i, j - i) + " is beyond any file");
    shape.push_back(std::stoll(h.substr(i, j - i)));
    if (j < end && h[j] == 'L') ++j;  // Python 2 long suffix
    i = j;
  }
  return shape;
}

template <typename T>
void convert(const char* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

}  // namespace

size_t NpyArray::size() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d < 0 ? 0 : d);
  return n;
}

std::string npy_header(const std::string& descr, const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  if (!shape.empty()) {
    size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthAxisMaxDigits) dict.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  size_t hlen = dict.size() + 1;  // + '\n'
  int len_bytes = 2;
  size_t padlen = kAlign - ((kMagicLen + 2 + 2 + hlen) % kAlign);
  std::string out(kMagic, kMagicLen);
  if (hlen + padlen > 65535) {  // version 2.0: 4-byte header length
    len_bytes = 4;
    padlen = kAlign - ((kMagicLen + 2 + 4 + hlen) % kAlign);
    out += std::string("\x02\x00", 2);
  } else {
    out += std::string("\x01\x00", 2);
  }
  put_le(out, hlen + padlen, len_bytes);
  out += dict;
  out.append(padlen, ' ');
  out += '\n';
  return out;
}

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  write_typed<float>(path, "<f4", data, shape);
}

void write_npy(const std::string& path, const NpyArray& a) {
  size_t n = element_count(a.shape, path);
  if (n != a.data.size()) {
    throw Error(path + ": array data holds " + std::to_string(a.data.size()) + " values but shape " +
                    shape_repr(a.shape) + " needs " + std::to_string(n),
                kExitFailure);
  }
  write_npy(path, a.data.data(), a.shape);
}

void write_npy_i64(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape) {
  write_typed<int64_t>(path, "<i8", data, shape);
}

namespace {

/// The header of a .npy file held in `bytes[0, size)`: dtype string, shape and where the data starts. Errors name
/// `path` and the problem; Fortran order is refused.
struct NpyLayout {
  std::string descr;
  std::vector<int64_t> shape;
  size_t data_offset = 0;
};

NpyLayout parse_layout(const char* bytes, size_t size, const std::string& path) {
  if (size < kMagicLen + 4 || std::memcmp(bytes, kMagic, kMagicLen) != 0) bad(path, "missing \\x93NUMPY magic");
  int major = static_cast<unsigned char>(bytes[6]);
  size_t pos = 8, hlen = 0;
  if (major == 1) {
    hlen = static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    pos = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) bad(path, "truncated header");
    for (int i = 0; i < 4; ++i) hlen |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    pos = 12;
  } else {
    bad(path, "unsupported format version " + std::to_string(major));
  }
  if (size < pos + hlen) bad(path, "truncated header");
  const std::string header(bytes + pos, hlen);
  check_dict(header, path);
  NpyLayout l;
  l.descr = parse_descr(header, path);
  if (parse_fortran(header, path))
    throw Error(path + ": .npy array is in Fortran order; save it in C order (numpy.ascontiguousarray)");
  l.shape = parse_shape(header, path);
  l.data_offset = pos + hlen;
  return l;
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  require_file(path, "a .npy file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(path + ": cannot be read");

  const NpyLayout layout = parse_layout(bytes.data(), bytes.size(), path);
  const std::string& descr = layout.descr;
  size_t pos = layout.data_offset;
  NpyArray a;
  a.shape = layout.shape;
  size_t n = element_count(a.shape, path);

  std::string type = descr;
  if (!type.empty() && (type[0] == '<' || type[0] == '|' || type[0] == '=')) type = type.substr(1);
  else if (!type.empty() && type[0] == '>' && type != ">u1" && type != ">b1" && type != ">i1")
    bad(path, "big-endian dtype '" + descr + "' is not supported");
  else if (!type.empty() && type[0] == '>') type = type.substr(1);
  size_t item = 0;
  if (type == "f4" || type == "i4") item = 4;
  else if (type == "f8" || type == "i8") item = 8;
  else if (type == "f2") item = 2;
  else if (type == "u1" || type == "b1") item = 1;
  else
    throw Error(path + ": unsupported .npy dtype '" + descr + "' (expected <f4 <f8 <f2 <i8 <i4 |u1 |b1)");
  if (bytes.size() - pos < n * item) {
    bad(path, "data is truncated: shape " + shape_repr(a.shape) + " needs " + std::to_string(n * item) +
                  " bytes, file has " + std::to_string(bytes.size() - pos));
  }
  a.data.resize(n);
  const char* src = bytes.data() + pos;
  if (type == "f4") convert<float>(src, n, a.data.data());
  else if (type == "f8") convert<double>(src, n, a.data.data());
  else if (type == "i4") convert<int32_t>(src, n, a.data.data());
  else if (type == "i8") convert<int64_t>(src, n, a.data.data());
  else if (type == "u1") convert<uint8_t>(src, n, a.data.data());
  else if (type == "b1") {
    for (size_t i = 0; i < n; ++i) a.data[i] = src[i] ? 1.f : 0.f;
  } else {  // f2
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      a.data[i] = half_to_float(h);
    }
  }
  return a;
}

void require_finite(const NpyArray& a, const std::string& path) {
  for (size_t i = 0; i < a.data.size(); ++i) {
    if (std::isfinite(a.data[i])) continue;
    std::vector<int64_t> idx(a.shape.size());
    size_t r = i;
    for (size_t d = a.shape.size(); d-- > 0;) {
      idx[d] = static_cast<int64_t>(r % static_cast<size_t>(a.shape[d]));
      r /= static_cast<size_t>(a.shape[d]);
    }
    std::string at;
    for (size_t d = 0; d < idx.size(); ++d) at += (d ? ", " : "") + std::to_string(idx[d]);
    throw Error(path + ": holds a non-finite value (" + (std::isnan(a.data[i]) ? "nan" : "inf") + ") at [" + at + "]");
  }
}

MappedNpy::MappedNpy(const std::string& path) : path_(path), file_(std::make_unique<MappedFile>(path)) {
  const NpyLayout l = parse_layout(reinterpret_cast<const char*>(file_->data()), file_->size(), path);
  if (l.descr != "<f4")
    throw Error(path + ": expected float32 ('<f4') data for memory-mapped reading, found '" + l.descr + "'");
  shape_ = l.shape;
  const size_t n = element_count(shape_, path);
  if (file_->size() - l.data_offset < n * sizeof(float))
    bad(path, "data is truncated: shape " + shape_repr(shape_) + " needs " + std::to_string(n * sizeof(float)) +
                  " bytes, file has " + std::to_string(file_->size() - l.data_offset));
  if (l.data_offset % alignof(float) != 0)
    bad(path, "the header leaves the data unaligned (" + std::to_string(l.data_offset) +
                  " bytes; numpy.save pads it to a multiple of 64)");
  data_ = reinterpret_cast<const float*>(file_->data() + l.data_offset);
}

MappedNpy::~MappedNpy() = default;

size_t MappedNpy::size() const { return element_count(shape_, path_); }

}  // namespace diffscope
