// Seeded per-epoch row order (see epoch_order.h).
#include "diffscope/represent/epoch_order.h"

#include <algorithm>

namespace diffscope {

std::vector<int64_t> epoch_order(uint64_t seed, int epoch, int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 0x632BE59BD9B4E019ull;
  auto next = [&]() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  for (int64_t i = n - 1; i >= 1; --i)
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(next() % static_cast<uint64_t>(i + 1))]);
  return p;
}

}  // namespace diffscope
