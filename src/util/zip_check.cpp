// CRC-32 check of a zip archive's entries (see zip_check.h).
#include "diffscope/util/zip_check.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "diffscope/util/crc32.h"
#include "diffscope/util/error.h"
#include "diffscope/util/file_checks.h"
#include "diffscope/util/mapped_file.h"

namespace diffscope {
namespace {

uint64_t le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

uint64_t verify_zip_crc(const std::string& path) {
  require_file(path, "a TorchScript (zip) file");
  const MappedFile m(path, /*sequential=*/true);
  auto bad = [&](const std::string& why) -> Error {
    return Error(path + ": damaged or not a TorchScript archive (" + why + ")");
  };
  // end of central directory: the last "PK\5\6" within the final 64 KiB + 22 bytes
  if (m.size() < 22) throw bad("too short for a zip archive");
  size_t eocd = std::string::npos;
  const size_t lowest = m.size() > 65557 ? m.size() - 65557 : 0;
  for (size_t i = m.size() - 22 + 1; i-- > lowest;)
    if (std::memcmp(m.data() + i, "PK\x05\x06", 4) == 0) {
      eocd = i;
      break;
    }
  if (eocd == std::string::npos) throw bad("no end-of-central-directory record");
  uint64_t entries = le(m.data() + eocd + 10, 2), cd_size = le(m.data() + eocd + 12, 4), cd_off = le(m.data() + eocd + 16, 4);
  if (eocd >= 20 && std::memcmp(m.data() + eocd - 20, "PK\x06\x07", 4) == 0) {  // zip64 locator
    const uint64_t z64 = le(m.data() + eocd - 20 + 8, 8);
    if (z64 + 56 > m.size() || std::memcmp(m.data() + z64, "PK\x06\x06", 4) != 0) throw bad("broken zip64 record");
    entries = le(m.data() + z64 + 32, 8);
    cd_size = le(m.data() + z64 + 40, 8);
    cd_off = le(m.data() + z64 + 48, 8);
  }
  if (cd_off > m.size() || cd_size > m.size() - cd_off) throw bad("central directory outside the file");
  uint64_t checked = 0;
  size_t p = static_cast<size_t>(cd_off);
  for (uint64_t e = 0; e < entries; ++e) {
    if (p + 46 > m.size() || std::memcmp(m.data() + p, "PK\x01\x02", 4) != 0) throw bad("central directory entry " + std::to_string(e));
    const unsigned char* h = m.data() + p;
    const uint64_t method = le(h + 10, 2), crc = le(h + 16, 4);
    uint64_t csize = le(h + 20, 4), usize = le(h + 24, 4), local = le(h + 42, 4);
    const size_t name_len = le(h + 28, 2), extra_len = le(h + 30, 2), comment_len = le(h + 32, 2);
    if (p + 46 + name_len + extra_len + comment_len > m.size()) throw bad("central directory entry " + std::to_string(e));
    const std::string name(reinterpret_cast<const char*>(h + 46), name_len);
    // zip64 sizes and offset, in the order of the fields that are 0xFFFFFFFF
    for (size_t x = 0; x + 4 <= extra_len;) {
      const unsigned char* f = h + 46 + name_len + x;
      const size_t id = le(f, 2), len = le(f + 2, 2);
      if (id == 1) {
        size_t q = 4;
        for (uint64_t* v : {&usize, &csize, &local})
          if (*v == 0xFFFFFFFFull && q + 8 <= 4 + len) *v = le(f + q, 8), q += 8;
      }
      x += 4 + len;
    }
    if (method != 0 && method != 8)
      throw bad(name + " uses compression method " + std::to_string(method) + " (torch.jit.save stores or deflates)");
    if (local + 30 > m.size() || std::memcmp(m.data() + local, "PK\x03\x04", 4) != 0) throw bad(name + ": local header");
    const uint64_t start = local + 30 + le(m.data() + local + 26, 2) + le(m.data() + local + 28, 2);
    if (start > m.size() || csize > m.size() - start) throw bad(name + " runs past the end of the file");
    uint32_t c = 0;
    if (method == 0) {
      // 64 MiB at a time, each dropped once read: the resident set stays small
      for (uint64_t done = 0; done < csize;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(csize - done, 1u << 26));
        c = crc32_update(c, m.data() + start + done, n);
        m.release(static_cast<size_t>(start + done), n);
        done += n;
      }
    } else {  // deflated (torch.jit.save's code and debug files): the CRC is of the inflated bytes
      if (csize > (1u << 30)) throw bad(name + " is a deflated entry of over 1 GB");
      z_stream z{};
      if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw bad("zlib cannot start");
      z.next_in = const_cast<Bytef*>(m.data() + start);
      z.avail_in = static_cast<uInt>(csize);
      std::vector<unsigned char> buf(1 << 16);
      uint64_t out = 0;
      int rc = Z_OK;
      while (rc == Z_OK) {
        z.next_out = buf.data();
        z.avail_out = static_cast<uInt>(buf.size());
        rc = inflate(&z, Z_NO_FLUSH);
        const size_t got = buf.size() - z.avail_out;
        c = crc32_update(c, buf.data(), got);
        out += got;
        if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
      }
      inflateEnd(&z);
      if (rc != Z_STREAM_END || out != usize)
        throw Error(path + ": damaged: " + name + " does not inflate to its recorded " + std::to_string(usize) +
                    " bytes (export or copy it again)");
    }
    if (c != crc)
      throw Error(path + ": damaged: the CRC-32 of " + name + " does not match the archive's record (the file changed "
                  "after it was saved; export or copy it again)");
    checked += csize;
    p += 46 + name_len + extra_len + comment_len;
  }
  return checked;
}

}  // namespace diffscope
