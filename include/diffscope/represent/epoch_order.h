// The seeded order in which the trainers of represent/ (k-SAE, convolutional probe) visit their training rows.
#pragma once
#include <cstdint>
#include <vector>

namespace diffscope {

/// The order of `n` training rows in epoch `epoch`: a Fisher-Yates shuffle driven by splitmix64 from
/// seed * 0x9E3779B97F4A7C15 + epoch + 0x632BE59BD9B4E019 (the fixture scripts in scripts/fixtures draw the same).
std::vector<int64_t> epoch_order(uint64_t seed, int epoch, int64_t n);

}  // namespace diffscope
