// Threads and device checks.
#include "diffscope/engine/runtime.h"

#include <fstream>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <cstdlib>
#include <thread>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "diffscope/util/error.h"

#include <spdlog/spdlog.h>

namespace diffscope {

int set_threads(int threads) {
  if (threads < 0) throw Error("--threads: expected a number >= 0 (0 = all cores), got " + std::to_string(threads));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads == 0) threads = cores;
  if (threads > cores) {  // more threads than cores only oversubscribes (measured: --threads 1000, 153 s for 1 step)
    static bool warned = false;  // set_threads runs at several points of one command: say it once
    if (!warned) spdlog::warn("--threads {}: this machine has {} cores; using {}", threads, cores, cores);
    warned = true;
    threads = cores;
  }
  at::set_num_threads(threads);
  return at::get_num_threads();
}

std::string check_device(const std::string& device) {
  if (device == "cpu") return device;
  if (device.rfind("cuda", 0) == 0) {
    if (!at::globalContext().hasCUDA())
      throw Error("--device " + device +
                  ": this LibTorch has no CUDA support (Debian's libtorch-dev is CPU-only; build against an official "
                  "CUDA LibTorch via CMAKE_PREFIX_PATH), or no GPU is visible");
    try {
      at::Device d(device);
      return d.str();
    } catch (const std::exception&) {
    }
  }
  throw Error("--device " + device + ": expected cpu, cuda or cuda:N");
}

void keep_freed_memory() {
#ifdef __GLIBC__
  if (const char* e = std::getenv("DIFFSCOPE_DEFAULT_MALLOC"); e && std::string(e) == "1") return;  // for benchmarks
  if (mallopt(M_MMAP_THRESHOLD, 1 << 30) == 0) mallopt(M_MMAP_THRESHOLD, 32 << 20);  // 32 MiB: glibc's maximum
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

uint64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

}  // namespace diffscope
