// Everything in diffscope that differs between the LibTorch versions it builds against (Debian's 1.13, the 2.x of
// PyTorch's wheels: scripts/gpu/check.sh builds against those) lives here, one place to look when a new LibTorch
// breaks the build. Internal to the engine module.
#pragma once
#include <ATen/autocast_mode.h>
#include <ATen/core/Tensor.h>
#include <torch/version.h>

#include <string>

namespace diffscope::torch_compat {

/// Turns autocast on for one denoiser call (bf16 or fp16 matmuls and convolutions) and restores the previous state.
/// LibTorch 2.4 replaced the per-device calls (set_cpu_enabled, set_autocast_gpu_dtype, ...) by ones taking the
/// device type and deprecated the old ones (a warning at every call), so each version gets its own.
class AutocastGuard {
 public:
  AutocastGuard(const at::Device& device, const std::string& precision) {
    if (precision == "fp32") return;
    active_ = true;
    type_ = device.is_cuda() ? at::kCUDA : at::kCPU;
    was_ = enabled(type_), was_dtype_ = dtype(type_);
    set(type_, true, precision == "bf16" ? at::kBFloat16 : at::kHalf);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set(type_, was_, was_dtype_);
  }
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  static bool enabled(at::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
  static at::ScalarType dtype(at::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
  static void set(at::DeviceType t, bool on, at::ScalarType dt) {
    at::autocast::set_autocast_enabled(t, on), at::autocast::set_autocast_dtype(t, dt);
  }
#else
  static bool enabled(at::DeviceType t) {
    return t == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  }
  static at::ScalarType dtype(at::DeviceType t) {
    return t == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
  }
  static void set(at::DeviceType t, bool on, at::ScalarType dt) {
    if (t == at::kCUDA) {
      at::autocast::set_enabled(on), at::autocast::set_autocast_gpu_dtype(dt);
    } else {
      at::autocast::set_cpu_enabled(on), at::autocast::set_autocast_cpu_dtype(dt);
    }
  }
#endif
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false, was_ = false;
  at::DeviceType type_ = at::kCPU;
  at::ScalarType was_dtype_ = at::kFloat;
};

}  // namespace diffscope::torch_compat
