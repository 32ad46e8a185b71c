// Fuzz harness: the .npy reader (read_npy) and the memory-mapped reader (MappedNpy) on arbitrary bytes.
#include "diffscope/util/npy.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = ds_fuzz::write_input("input.npy", data, size);
  ds_fuzz::expect_clean([&] {
    const diffscope::NpyArray a = diffscope::read_npy(p);
    if (a.data.size() != a.size()) std::abort();  // the shape and the data must agree
  });
  ds_fuzz::expect_clean([&] {
    const diffscope::MappedNpy m(p);
    volatile float sink = 0;
    for (size_t i = 0; i < m.size(); i += 97) sink = sink + m.data()[i];  // every element is inside the mapping
  });
  return 0;
}
