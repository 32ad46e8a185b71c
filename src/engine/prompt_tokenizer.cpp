// PromptTokenizer: see include/diffscope/engine/prompt_tokenizer.h.
#include "diffscope/engine/prompt_tokenizer.h"

#include <filesystem>

#include "diffscope/text/sentencepiece.h"
#include "diffscope/util/error.h"

namespace diffscope {

PromptTokenizer PromptTokenizer::load(const ModelInfo& info) {
  namespace fs = std::filesystem;
  PromptTokenizer p;
  p.info_ = info;
  p.clip_ = ClipTokenizer::from_dir((fs::path(info.dir) / "tokenizer").string());
  try {
    p.clip_.token_id(info.pad_token);
  } catch (const Error&) {
    throw Error((fs::path(info.dir) / "model_index.json").string() + ": pad_token \"" + info.pad_token + "\" is not in " +
                (fs::path(info.dir) / "tokenizer" / "vocab.json").string());
  }
  if (!info.pad_token_2.empty()) {  // SDXL: text_encoder_2 pads with its own token (inside text_encoder/model.pt)
    try {
      p.clip_.token_id(info.pad_token_2);
    } catch (const Error&) {
      throw Error((fs::path(info.dir) / "model_index.json").string() + ": pad_token_2 \"" + info.pad_token_2 +
                  "\" is not in " + (fs::path(info.dir) / "tokenizer" / "vocab.json").string() +
                  " (tokenizer_2 shares tokenizer's vocabulary)");
    }
  }
  if (info.t5_max_length > 0) {
    const std::string spiece = (fs::path(info.dir) / "tokenizer_3" / "spiece.model").string();
    if (!fs::exists(spiece))
      throw Error(spiece + ": missing (model_index.json gives t5_max_length, so the package needs T5's tokenizer)");
    auto t5 = std::make_shared<SentencePieceTokenizer>(SentencePieceTokenizer::from_file(spiece));
    if (t5->eos_id() < 0 || t5->pad_id() < 0) throw Error(spiece + ": has no </s> and <pad> pieces (expected T5's tokenizer)");
    p.t5_ = std::move(t5);
  }
  return p;
}

Encoding PromptTokenizer::encode(const std::string& prompt) const {
  Encoding e = clip_.encode(prompt, info_.max_length, info_.pad_token);
  if (!t5_) return e;
  Encoding t5 = t5_->encode(prompt, info_.t5_max_length);
  if (info_.clip_text_rows) {  // SD3: T5's rows after CLIP's
    append_encoding(e, t5);
    return e;
  }
  // Flux: the rows are T5's; CLIP's ids go first to the text encoder for the pooled vector only
  t5.leading_ids = std::move(e.ids);
  merge_dropped_words(t5, e);
  return t5;
}

}  // namespace diffscope
