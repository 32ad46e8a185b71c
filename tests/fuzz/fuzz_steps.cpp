// Fuzz harness: the step-range parser (--agg-steps, --grid-steps, --steps: all, K, A:B, fractions, lists).
#include "diffscope/analysis/run_folder.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string spec(reinterpret_cast<const char*>(data), size);
  for (int steps : {1, 25, 1000}) {
    ds_fuzz::expect_clean([&] {
      for (int s : diffscope::parse_steps(spec, steps))
        if (s < 0 || s >= steps) std::abort();  // a parsed step is always inside the run
    });
  }
  return 0;
}
