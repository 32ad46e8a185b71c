// CRC-32: the folded computation equals zlib's for every length and alignment around its 16- and 64-byte blocks,
// for chained pieces, and for the standard check value.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <random>
#include <vector>

#include "diffscope/util/crc32.h"

using namespace diffscope;

namespace {
uint32_t zlib(uint32_t c, const unsigned char* p, size_t n) { return static_cast<uint32_t>(::crc32(c, p, static_cast<uInt>(n))); }
}  // namespace

TEST_CASE("crc32: the check value of \"123456789\" and of nothing") {
  INFO("folding with PCLMULQDQ on this CPU: " << crc32_folds());
  CHECK(crc32_update(0, "123456789", 9) == 0xCBF43926u);  // the CRC-32 catalogue's check value
  CHECK(crc32_update(0, nullptr, 0) == 0u);
  CHECK(crc32_update(0x12345678u, nullptr, 0) == 0x12345678u);
  const std::vector<unsigned char> zeros(1000, 0);
  CHECK(crc32_update(0, zeros.data(), zeros.size()) == zlib(0, zeros.data(), zeros.size()));
}

TEST_CASE("crc32: equals zlib's at every length 0..600, every alignment 0..15 and any starting value") {
  INFO("folding with PCLMULQDQ on this CPU: " << crc32_folds());
  std::mt19937 rng(7);
  std::vector<unsigned char> buf(700);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  int mismatches = 0;
  for (size_t off = 0; off < 16; ++off)
    for (size_t n = 0; n <= 600; ++n) {
      const uint32_t start = n % 3 == 0 ? 0u : static_cast<uint32_t>(rng());
      if (crc32_update(start, buf.data() + off, n) != zlib(start, buf.data() + off, n)) ++mismatches;
    }
  CHECK(mismatches == 0);
}

TEST_CASE("crc32: a large buffer in one piece and in chained uneven pieces") {
  std::mt19937 rng(11);
  std::vector<unsigned char> buf((3u << 20) + 37);
  for (auto& b : buf) b = static_cast<unsigned char>(rng() >> 7);
  const uint32_t whole = zlib(0, buf.data(), buf.size());
  CHECK(crc32_update(0, buf.data(), buf.size()) == whole);
  uint32_t c = 0;
  size_t at = 0;
  for (size_t piece : {size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{1000}, size_t{4096}, size_t{1} << 20})
    c = crc32_update(c, buf.data() + at, piece), at += piece;
  c = crc32_update(c, buf.data() + at, buf.size() - at);
  CHECK(c == whole);
  buf[buf.size() / 2] ^= 0x10;  // one flipped bit changes it
  CHECK(crc32_update(0, buf.data(), buf.size()) != whole);
}
