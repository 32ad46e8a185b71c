// CRC-32 by carry-less multiplication: see include/diffscope/util/crc32.h.
//
// The folding method is Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction"
// (Intel, 2009), in its bit-reflected form for zip's polynomial 0x04C11DB7: four 128-bit lanes are each folded
// 512 bits forward per round (x^(512+-32) mod P), the lanes into one (x^(128+-32) mod P), that one to 64 and then
// 32 bits, and a Barrett reduction gives the remainder. The constants below are those powers of x modulo P,
// bit-reflected, and mu = floor(x^64 / P); tests/util/test_crc32.cpp checks the result against zlib's.
#include "diffscope/util/crc32.h"

#include <zlib.h>

#include <algorithm>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DIFFSCOPE_CRC32_FOLD 1
#endif

namespace diffscope {
namespace {

uint32_t zlib_crc32(uint32_t crc, const unsigned char* p, size_t n) {
  uLong c = crc;
  while (n > 0) {  // zlib takes 32-bit lengths
    const uInt k = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    c = ::crc32(c, p, k);
    p += k, n -= k;
  }
  return static_cast<uint32_t>(c);
}

#ifdef DIFFSCOPE_CRC32_FOLD
__attribute__((target("pclmul,sse4.1"))) __m128i fold_into(__m128i x, __m128i k, __m128i next) {
  return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

__attribute__((target("pclmul,sse4.1"))) __m128i load(const unsigned char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

/// The CRC register (not inverted) after n bytes, n >= 64 and a multiple of 16.
__attribute__((target("pclmul,sse4.1"))) uint32_t fold(uint32_t reg, const unsigned char* p, size_t n) {
  const __m128i k512 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);  // x^(512+32), x^(512-32) mod P
  const __m128i k128 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);  // x^(128+32), x^(128-32) mod P
  const __m128i k64 = _mm_set_epi64x(0, 0x163cd6124);              // x^64 mod P
  const __m128i barrett = _mm_set_epi64x(0x1f7011641, 0x1db710641);  // mu, P
  const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);
  __m128i a = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(reg))), b = load(p + 16), c = load(p + 32),
          d = load(p + 48);
  for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
    a = fold_into(a, k512, load(p));
    b = fold_into(b, k512, load(p + 16));
    c = fold_into(c, k512, load(p + 32));
    d = fold_into(d, k512, load(p + 48));
  }
  a = fold_into(fold_into(fold_into(a, k128, b), k128, c), k128, d);
  for (; n >= 16; p += 16, n -= 16) a = fold_into(a, k128, load(p));
  a = _mm_xor_si128(_mm_srli_si128(a, 8), _mm_clmulepi64_si128(a, k128, 0x10));  // 128 -> 64 bits
  a = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), k64, 0x00), _mm_srli_si128(a, 4));  // -> 32 + 32
  const __m128i t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), barrett, 0x10), low32);
  return static_cast<uint32_t>(_mm_extract_epi32(_mm_xor_si128(_mm_clmulepi64_si128(t, barrett, 0x00), a), 1));
}

#endif

}  // namespace

bool crc32_folds() {
#ifdef DIFFSCOPE_CRC32_FOLD
  static const bool folds = [] {
    __builtin_cpu_init();  // the detection may not have run yet when this is first called from a static initialiser
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  }();
  return folds;
#else
  return false;
#endif
}

uint32_t crc32_update(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
#ifdef DIFFSCOPE_CRC32_FOLD
  if (n >= 64 && crc32_folds()) {
    const size_t body = n & ~size_t{15};
    crc = ~fold(~crc, p, body);  // zlib's value is the register inverted before and after
    p += body, n -= body;
  }
#endif
  return zlib_crc32(crc, p, n);
}

}  // namespace diffscope
