// Precompiled header for LibTorch targets: torch/script.h brings ATen and torch::jit.
#pragma once
#include <torch/script.h>
