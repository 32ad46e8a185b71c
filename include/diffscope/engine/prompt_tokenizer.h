// diffscope::PromptTokenizer: a package's prompt tokenization, without loading its modules (diffscope tokenize
// uses it as Model::tokenize does): CLIP's BPE (tokenizer/), and T5's SentencePiece (tokenizer_3/spiece.model) when
// model_index.json gives t5_max_length: its rows after CLIP's (SD3), or the only rows with CLIP's ids leading for
// the pooled vector (Flux, "text_rows": "t5").
#pragma once
#include <memory>
#include <string>

#include "diffscope/engine/model_info.h"
#include "diffscope/text/tokenizer.h"

namespace diffscope {

class SentencePieceTokenizer;

class PromptTokenizer {
 public:
  /// The tokenizers of the package `info` describes (info.dir, read_model_index done); Error naming the file when
  /// one is missing or malformed, or when pad_token is not in the vocabulary.
  static PromptTokenizer load(const ModelInfo& info);
  /// The encoding the text encoder reads (encoder_ids) and whose tokens and words index the text rows.
  Encoding encode(const std::string& prompt) const;
  const ClipTokenizer& clip() const { return clip_; }

 private:
  ModelInfo info_;
  ClipTokenizer clip_;
  std::shared_ptr<const SentencePieceTokenizer> t5_;
};

}  // namespace diffscope
