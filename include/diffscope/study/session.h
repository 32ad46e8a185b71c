// Where and how a study runs: device, threads, and whether it reports progress. Plain data; the CLI fills it from
// --device, --threads and --quiet.
#pragma once
#include <string>

namespace diffscope {

struct Session {
  std::string device = "cpu";  ///< cpu, cuda or cuda:N
  int threads = 0;             ///< LibTorch threads; 0 = all cores
  bool quiet = false;          ///< no progress bars
  bool verify = true;          ///< check the package's TorchScript archives (CRC-32) when loading it
  std::string precision = "fp32";  ///< the denoiser's arithmetic: fp32, bf16 (autocast), fp16 (CUDA autocast)
  int batch_size = 1;          ///< prompt sets and batches: prompts that share one denoiser call per step
};

}  // namespace diffscope
