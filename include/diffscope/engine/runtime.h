// Process-wide runtime settings: LibTorch threads and device selection.
#pragma once
#include <string>

namespace diffscope {

/// Sets LibTorch's intra-op threads; 0 = number of cores. Returns the count in effect.
int set_threads(int threads);

/// Checks a --device value ("cpu", "cuda", "cuda:N") against this LibTorch; Error when unusable.
std::string check_device(const std::string& device);

/// LibTorch version string, e.g. "1.13.1".
std::string torch_version();

}  // namespace diffscope
