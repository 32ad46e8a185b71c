// diffscope::ClipTokenizer: CLIP's byte-level BPE (OpenAI CLIP / Hugging Face CLIPTokenizer files), exact ids.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace diffscope {

/// A prompt word and the positions of its tokens in the id vector (position 0 is <|startoftext|>).
/// Words are the whitespace-separated pieces of the cleaned text; runs of punctuation inside a piece are
/// separate entries flagged `punctuation` ("a cat, running" -> a, cat, ",", running). A word split into several
/// tokens ("2023" -> 2,0,2,3; "don't" -> don,'t) is one word, so heatmaps merge its tokens.
struct Word {
  std::string text;
  std::vector<int> positions;
  bool punctuation = false;
};

/// One tokenized prompt, padded to max_length.
struct Encoding {
  std::vector<int64_t> ids;                ///< max_length ids: SOT, tokens, EOT, padding
  std::vector<std::string> tokens;         ///< BPE token strings at the same positions (padding included)
  std::vector<Word> words;                 ///< prompt words -> token positions
  int length = 0;                          ///< real positions including SOT and EOT
  std::vector<std::string> dropped_words;  ///< words lost to truncation
  /// Ids the text encoder reads before `ids` that give it no text rows (Flux: CLIP's max_length ids, read only for
  /// the pooled vector, while the rows and `ids`/`tokens`/`words` are T5's); empty otherwise.
  std::vector<int64_t> leading_ids;
};

/// What the text encoder reads for `e`: leading_ids, then ids.
std::vector<int64_t> encoder_ids(const Encoding& e);

/// A second tokenizer's encoding of the same prompt appended to `into` (SD3: T5's after CLIP's): its ids and tokens
/// follow, its positions shifted by into.ids.size(); each of its words joins the next word of `into` with the same
/// text (case-insensitive, in order), so a word's maps cover both tokenizers' tokens, or is added as a new word.
/// `length` stays the first encoding's; dropped words of either are kept once.
void append_encoding(Encoding& into, const Encoding& more);

/// `more`'s dropped words added to `into`'s, each kept once, in order.
void merge_dropped_words(Encoding& into, const Encoding& more);

/// Loads vocab.json + merges.txt once; encode() is then pure and fast (cached BPE).
class ClipTokenizer {
 public:
  ClipTokenizer();
  ~ClipTokenizer();
  ClipTokenizer(const ClipTokenizer&);
  ClipTokenizer& operator=(const ClipTokenizer&);

  /// dir/vocab.json and dir/merges.txt; Error naming the file when missing or malformed.
  static ClipTokenizer from_dir(const std::string& dir);
  static ClipTokenizer from_files(const std::string& vocab_json, const std::string& merges_txt);

  /// SOT + tokens + EOT, truncated to max_length (last kept position becomes EOT, with a warning naming the
  /// dropped words) and padded with `pad_token` (SD 1.x: "<|endoftext|>"; clip.tokenize: "!" = id 0).
  Encoding encode(const std::string& text, int max_length = 77, const std::string& pad_token = "<|endoftext|>") const;
  /// BPE ids of the cleaned text, without SOT/EOT and without truncation.
  std::vector<int64_t> encode_ids(const std::string& text) const;
  /// One token back to text ("</w>" becomes a space; incomplete UTF-8 becomes U+FFFD like Python's "replace").
  std::string decode(int64_t id) const;
  /// The BPE string of an id ("cat</w>").
  const std::string& token(int64_t id) const;
  /// Id of a token string; Error if the vocabulary lacks it.
  int64_t token_id(const std::string& token) const;
  int64_t bos_id() const;
  int64_t eos_id() const;
  size_t vocab_size() const;

  /// CLIP's text clean-up: ftfy's quote/ligature/width fixes, html unescape twice, whitespace collapse, lower case.
  static std::string clean(const std::string& text);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace diffscope
