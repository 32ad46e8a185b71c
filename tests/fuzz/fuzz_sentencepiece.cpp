// Fuzz harness: the SentencePiece tokenizer on arbitrary text (the T5-like reference model, nmt_nfkc character map:
// invalid UTF-8, whitespace runs, unknown characters), and its model reader on arbitrary files (protobuf, pieces,
// the double-array character map), which must give a model or a one-line error.
#include "diffscope/text/sentencepiece.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const diffscope::SentencePieceTokenizer t5 = diffscope::SentencePieceTokenizer::from_file(
      std::string(DS_SOURCE_DIR) + "/tests/data/reference/sentencepiece/t5like.model");
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  ds_fuzz::expect_clean([&] {
    const auto e = t5.encode(bytes, 32);
    if (e.ids.size() != 32) std::abort();
    size_t covered = 0;
    for (const auto& [piece, id] : t5.encode_pieces(bytes))
      if (piece.empty() || id < 0) std::abort(); else covered += piece.size();
    (void)covered;
  });
  ds_fuzz::expect_clean([&] {
    const auto m = diffscope::SentencePieceTokenizer::from_bytes(bytes, "fuzz.model");
    m.encode_ids("a red circle \xef\xbc\xa1 and \xff a blue square");
    m.normalize("  two  spaces ");
  });
  return 0;
}
