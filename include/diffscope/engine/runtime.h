// Process-wide runtime settings: LibTorch threads and device selection.
#pragma once
#include <cstdint>
#include <string>

namespace diffscope {

/// The cores this process may actually run on: the CPUs of its affinity mask (taskset, a Slurm or container cpuset),
/// further limited by a cgroup v2 CPU quota (`cpu.max`, rounded up), never the machine's whole count when the
/// process was given less; at least 1.
int available_cores();

/// Sets LibTorch's intra-op threads; 0 = available_cores(); more than those is clamped to them with a warning.
/// Returns the count in effect (what run.json records).
int set_threads(int threads);

/// Checks a --device value ("cpu", "cuda", "cuda:N") against this LibTorch; Error when unusable.
std::string check_device(const std::string& device);

/// Keeps freed memory in the process heap instead of returning every large tensor buffer to the system (glibc's
/// mmap and trim thresholds raised to 1 GiB): LibTorch frees and re-allocates the same big buffers every step, and
/// with glibc's defaults each one is mmapped afresh and page-faulted in. Changes speed only (measured: the CI
/// saliency set 114 s -> 33 s), not what is computed; resident memory stays at the run's peak. Buffers of 1 GiB and
/// more, which glibc maps afresh at any setting, go through an exact-size cache (engine/block_cache.h). No-op off
/// glibc, or with DIFFSCOPE_DEFAULT_MALLOC=1 (for same-run comparisons in bench/).
void keep_freed_memory();

/// Returns the heap's free pages to the system now (glibc's malloc_trim: whole free pages anywhere in the heap, not
/// only at its top), after a large one-off release such as a module's weights. No-op off glibc.
void return_freed_memory();

/// LibTorch version string, e.g. "1.13.1".
std::string torch_version();

/// Memory this machine can give a new allocation now (MemAvailable of /proc/meminfo), in bytes; 0 when unknown.
uint64_t available_memory_bytes();

}  // namespace diffscope
