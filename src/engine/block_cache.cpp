// Block cache: see include/diffscope/engine/block_cache.h.
#include "diffscope/engine/block_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

namespace diffscope {
namespace {

class BlockCache final : public c10::Allocator {
 public:
  explicit BlockCache(c10::Allocator* fallback) : fallback_(fallback) {}

  void set_limits(size_t min_bytes, size_t max_cached) {
    std::lock_guard<std::mutex> lock(mu_);
    min_bytes_ = min_bytes, max_cached_ = max_cached;
    shrink_to(max_cached_);
  }

  c10::DataPtr allocate(size_t n) const override {
    if (n < min_bytes_.load()) return fallback_->allocate(n);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(n);
      if (it != free_.end()) {
        p = it->second;
        free_.erase(it);
        stats_.cached_bytes -= n;
        ++stats_.hits;
      } else {
        ++stats_.misses;
        shrink_to(max_cached_ > n ? max_cached_ - n : 0);  // a new size: make room by releasing other sizes first
      }
    }
    if (!p) p = c10::alloc_cpu(n);  // LibTorch's own aligned allocation; throws on failure
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_[p] = n;
    }
    return {p, p, &BlockCache::release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &BlockCache::release; }

  // LibTorch 2.3+ declares this pure virtual; in 1.13 it is a plain member.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  BlockCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  static BlockCache* instance;

 private:
  static void release(void* p) { instance->give_back(p); }

  void give_back(void* p) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) {  // a small buffer of the default allocator, freed through raw_deleter() (oneDNN's)
      c10::free_cpu(p);
      return;
    }
    const size_t n = it->second;
    live_.erase(it);
    if (n > max_cached_) {
      c10::free_cpu(p);
      return;
    }
    shrink_to(max_cached_ - n);
    free_.emplace(n, p);
    stats_.cached_bytes += n;
  }

  /// Releases cached buffers, largest first, until at most `bytes` are cached. Holds mu_.
  void shrink_to(size_t bytes) const {
    while (stats_.cached_bytes > bytes && !free_.empty()) {
      auto last = std::prev(free_.end());
      stats_.cached_bytes -= last->first;
      c10::free_cpu(last->second);
      free_.erase(last);
      ++stats_.evicted;
    }
  }

  c10::Allocator* fallback_;
  std::atomic<size_t> min_bytes_{SIZE_MAX};
  size_t max_cached_ = 0;
  mutable std::mutex mu_;
  mutable std::multimap<size_t, void*> free_;       // size -> cached buffer
  mutable std::unordered_map<void*, size_t> live_;  // handed out -> size
  mutable BlockCacheStats stats_;
};

BlockCache* BlockCache::instance = nullptr;

}  // namespace

void install_block_cache(size_t min_bytes, size_t max_cached_bytes) {
  static std::once_flag once;
  std::call_once(once, [] {
    BlockCache::instance = new BlockCache(c10::GetDefaultCPUAllocator());  // lives as long as the process's tensors
    c10::SetCPUAllocator(BlockCache::instance, /*priority=*/1);
  });
  BlockCache::instance->set_limits(min_bytes, max_cached_bytes);
}

BlockCacheStats block_cache_stats() { return BlockCache::instance ? BlockCache::instance->stats() : BlockCacheStats{}; }

}  // namespace diffscope
