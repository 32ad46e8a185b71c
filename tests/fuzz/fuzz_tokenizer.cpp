// Fuzz harness: the CLIP tokenizer on arbitrary text (the shipped CLIP vocabulary), and its vocab.json/merges.txt
// readers on arbitrary files (the input split at its first NUL byte into the two files).
#include <cstring>

#include "diffscope/text/tokenizer.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const diffscope::ClipTokenizer clip =
      diffscope::ClipTokenizer::from_dir(std::string(DS_SOURCE_DIR) + "/tests/data/reference/clip-tokenizer");
  const std::string text(reinterpret_cast<const char*>(data), size);
  ds_fuzz::expect_clean([&] {
    const auto e = clip.encode(text, 77);
    if (e.ids.size() != 77) std::abort();
  });
  const size_t cut = text.find('\0');
  const std::string vocab = text.substr(0, cut), merges = cut == std::string::npos ? "" : text.substr(cut + 1);
  const std::string vp = ds_fuzz::write_input("vocab.json", reinterpret_cast<const uint8_t*>(vocab.data()), vocab.size());
  const std::string mp = ds_fuzz::write_input("merges.txt", reinterpret_cast<const uint8_t*>(merges.data()), merges.size());
  ds_fuzz::expect_clean([&] {
    const auto t = diffscope::ClipTokenizer::from_files(vp, mp);
    t.encode("a red circle and a blue square", 77);
  });
  return 0;
}
