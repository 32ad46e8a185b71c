// Threads and device checks.
#include "diffscope/engine/runtime.h"

#include <fstream>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <cmath>
#include <algorithm>
#include <cstdlib>
#include <unistd.h>
#include <thread>

#ifdef __linux__
#include <sched.h>
#endif
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "diffscope/engine/block_cache.h"
#include "diffscope/util/error.h"

#include <spdlog/spdlog.h>

namespace diffscope {

namespace {
/// ceil(quota / period) of the process's cgroup CPU limit: v2's `cpu.max` ("max 100000" when unlimited) or v1's
/// cpu.cfs_quota_us / cpu.cfs_period_us (-1 when unlimited); 0 when none or unknown.
int cgroup_cpu_quota() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line, v2, v1;
  while (std::getline(cg, line)) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (line.rfind("0::", 0) == 0) v2 = path;
    if (("," + controllers + ",").find(",cpu,") != std::string::npos) v1 = path;
  }
  auto ceil_ratio = [](double quota, double period) { return quota > 0 && period > 0 ? int(std::ceil(quota / period)) : 0; };
  auto dir = [](const std::string& root, const std::string& path) { return root + (path == "/" ? "" : path); };
  if (!v2.empty()) {
    std::ifstream f(dir("/sys/fs/cgroup", v2) + "/cpu.max");
    std::string quota;
    double period = 0;
    if (f >> quota >> period && quota != "max") {
      char* end = nullptr;
      const double q = std::strtod(quota.c_str(), &end);
      if (end && *end == '\0') return ceil_ratio(q, period);
    }
  }
  if (!v1.empty()) {
    const std::string d = dir("/sys/fs/cgroup/cpu", v1);
    std::ifstream q(d + "/cpu.cfs_quota_us"), p(d + "/cpu.cfs_period_us");
    double quota = 0, period = 0;
    if (q >> quota && p >> period) return ceil_ratio(quota, period);
  }
  return 0;
}
}  // namespace

int available_cores() {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) cores = CPU_COUNT(&set);
#endif
  if (const int quota = cgroup_cpu_quota(); quota > 0) cores = std::min(cores, quota);
  return std::max(1, cores);
}

int set_threads(int threads) {
  if (threads < 0) throw Error("--threads: expected a number >= 0 (0 = every core this process may use), got " + std::to_string(threads));
  const int cores = available_cores();
  if (threads == 0) threads = cores;
  if (threads > cores) {  // more threads than cores only oversubscribes (measured: --threads 1000, 153 s for 1 step)
    static bool warned = false;  // set_threads runs at several points of one command: say it once
    if (!warned) spdlog::warn("--threads {}: this process may use {} cores; using {}", threads, cores, cores);
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
  // Buffers of 1 GiB and more (SD's attention scores at 512 px) are still mapped afresh by glibc. Keeping the heap
  // for them too (no trimming) fragments it, so LibTorch's CPU allocations of that size go through an exact-size
  // cache holding at most 2 GiB free (1/16 of the memory on machines over 32 GiB). Measured at 512 px, SD 1.5 widths,
  // 3 steps: loop 63.0 -> 40.1 s, 14.3 M -> 2.8 M page faults, peak RSS 8.6 -> 10.4 GiB; untrimmed heap: 43.3 s,
  // 12.5 GiB; outputs bit-identical.
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t ram = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : 0;
  install_block_cache(size_t(1) << 30, std::max(size_t(2) << 30, ram / 16));
#endif
}

void return_freed_memory() {
#ifdef __GLIBC__
  malloc_trim(0);
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
