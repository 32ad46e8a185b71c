// diffscope::SentencePieceTokenizer: SentencePiece unigram models (T5's spiece.model), read and run without
// libsentencepiece (Debian's links a protobuf that cannot share a process with LibTorch), exact ids.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "diffscope/text/tokenizer.h"

namespace diffscope {

/// A `.model` file (a serialized sentencepiece ModelProto) of model type UNIGRAM: the pieces with their scores and
/// types, the trainer's special ids, and the normalizer (the precompiled character map, dummy prefix, whitespace
/// rules). encode() reproduces `sentencepiece.SentencePieceProcessor.encode` (normalization, Viterbi over piece
/// scores, unknown runs merged, byte fallback) and `transformers.T5Tokenizer` (ids + `</s>`, truncation, padding).
class SentencePieceTokenizer {
 public:
  SentencePieceTokenizer();
  ~SentencePieceTokenizer();
  SentencePieceTokenizer(const SentencePieceTokenizer&);
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&);

  /// Reads `path`; Error naming the file when it is missing, not a sentencepiece model, or not a unigram model.
  static SentencePieceTokenizer from_file(const std::string& path);
  /// The same from the file's bytes; `name` is used in error messages.
  static SentencePieceTokenizer from_bytes(const std::string& bytes, const std::string& name);

  /// The normalizer's output: character map applied, extra whitespace removed, dummy prefix added, spaces as U+2581.
  std::string normalize(const std::string& text) const;
  /// sentencepiece's `encode(text, out_type=str)` and `encode(text)` together: (piece, id) pairs.
  std::vector<std::pair<std::string, int64_t>> encode_pieces(const std::string& text) const;
  std::vector<int64_t> encode_ids(const std::string& text) const;

  /// T5Tokenizer(text, padding="max_length", max_length, truncation=True): the pieces' ids, then `</s>`, then the
  /// pad id up to max_length. A prompt longer than max_length - 1 pieces is cut (warning naming the dropped words).
  /// Words are the prompt's whitespace-separated pieces split into runs of punctuation and the rest, as the CLIP
  /// tokenizer splits them; each sentencepiece token belongs to the word where its first character lies.
  /// A prompt that contains the text of a special token ("</s>", "<pad>", ...) is refused.
  Encoding encode(const std::string& text, int max_length) const;

  const std::string& piece(int64_t id) const;
  /// Id of a piece; -1 if the model lacks it.
  int64_t piece_id(const std::string& piece) const;
  int64_t unk_id() const;
  int64_t eos_id() const;  ///< -1 when the model has none
  int64_t pad_id() const;  ///< -1 when the model has none
  size_t vocab_size() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace diffscope
