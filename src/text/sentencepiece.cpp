// SentencePiece unigram tokenization (T5), written from the model format and the published algorithm: a protobuf
// wire-format reader for ModelProto, the normalizer's double-array character map, and the unigram Viterbi search.
#include "diffscope/text/sentencepiece.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <tuple>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "diffscope/util/error.h"
#include "text/unicode.h"

namespace diffscope {

namespace {

enum PieceType : int { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
const char* const kSpace = "\xe2\x96\x81";  // U+2581, sentencepiece's escaped space
constexpr float kUnkPenalty = 10.0f;

/// Protobuf wire format: varints, fixed32/64 and length-delimited fields; anything malformed is an Error.
class Wire {
 public:
  Wire(const std::string& bytes, size_t begin, size_t end, const std::string& name)
      : s_(bytes), pos_(begin), end_(end), name_(name) {}
  bool done() const { return pos_ >= end_; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= end_) fail();
      const auto b = static_cast<uint8_t>(s_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail();
  }
  /// The next field's (number, wire type).
  std::pair<uint32_t, int> key() {
    const uint64_t k = varint();
    if ((k >> 3) == 0 || (k >> 3) > 0x1fffffff) fail();
    return {static_cast<uint32_t>(k >> 3), static_cast<int>(k & 7)};
  }
  /// A length-delimited field's [begin, end).
  std::pair<size_t, size_t> bytes() {
    const uint64_t n = varint();
    if (n > end_ - pos_) fail();
    const size_t b = pos_;
    pos_ += static_cast<size_t>(n);
    return {b, pos_};
  }
  std::string string() {
    const auto [b, e] = bytes();
    return s_.substr(b, e - b);
  }
  float fixed32_float() {
    if (end_ - pos_ < 4) fail();
    uint32_t u = 0;
    for (int i = 0; i < 4; ++i) u |= static_cast<uint32_t>(static_cast<uint8_t>(s_[pos_ + i])) << (8 * i);
    pos_ += 4;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  void skip(int wire_type) {
    switch (wire_type) {
      case 0: varint(); return;
      case 1: advance(8); return;
      case 2: bytes(); return;
      case 5: advance(4); return;
      default: fail();
    }
  }
  [[noreturn]] void fail() const {
    throw Error(name_ + ": not a sentencepiece model (malformed protobuf at byte " + std::to_string(pos_) + ")");
  }

 private:
  void advance(size_t n) {
    if (end_ - pos_ < n) fail();
    pos_ += n;
  }
  const std::string& s_;
  size_t pos_, end_;
  const std::string& name_;
};

/// Length of the UTF-8 character starting at `c` as sentencepiece counts it (a stray byte counts 1).
size_t one_char_len(char c) { return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[(static_cast<uint8_t>(c) & 0xFF) >> 4]; }

/// sentencepiece's strict UTF-8 decode: the length of a valid character at s[0..n), or 0 when it is malformed.
size_t valid_utf8_len(const char* s, size_t n) {
  const auto b0 = static_cast<uint8_t>(s[0]);
  auto trail = [&](size_t i) { return (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80; };
  auto ok = [](uint32_t cp) { return cp < 0xD800 || (cp >= 0xE000 && cp <= 0x10FFFF); };
  if (b0 < 0x80) return 1;
  if (n >= 2 && (b0 & 0xE0) == 0xC0) {
    const uint32_t cp = ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(s[1]) & 0x3Fu);
    if (trail(1) && cp >= 0x80 && ok(cp)) return 2;
  } else if (n >= 3 && (b0 & 0xF0) == 0xE0) {
    const uint32_t cp =
        ((b0 & 0x0Fu) << 12) | ((static_cast<uint8_t>(s[1]) & 0x3Fu) << 6) | (static_cast<uint8_t>(s[2]) & 0x3Fu);
    if (trail(1) && trail(2) && cp >= 0x800 && ok(cp)) return 3;
  } else if (n >= 4 && (b0 & 0xF8) == 0xF0) {
    const uint32_t cp = ((b0 & 0x07u) << 18) | ((static_cast<uint8_t>(s[1]) & 0x3Fu) << 12) |
                        ((static_cast<uint8_t>(s[2]) & 0x3Fu) << 6) | (static_cast<uint8_t>(s[3]) & 0x3Fu);
    if (trail(1) && trail(2) && trail(3) && cp >= 0x10000 && ok(cp)) return 4;
  }
  return 0;
}

bool starts_with(const std::string& s, size_t pos, const char* p) {
  const size_t n = std::strlen(p);
  return s.size() - pos >= n && s.compare(pos, n, p) == 0;
}

}  // namespace

struct SentencePieceTokenizer::Impl {
  std::string name;
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int> types;
  std::unordered_map<std::string, int64_t> normal;    // NORMAL, USER_DEFINED, UNUSED pieces (the model's trie)
  std::unordered_map<std::string, int64_t> reserved;  // CONTROL, UNKNOWN, BYTE pieces
  std::vector<std::string> user_defined;              // the normalizer leaves these untouched
  size_t max_piece_bytes = 0;
  float min_score = FLT_MAX, max_score = FLT_MIN;     // over NORMAL pieces (FLT_MIN as sentencepiece starts it)
  int64_t unk = -1, eos = -1, pad = -1;
  bool byte_fallback = false;
  // normalizer
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
  bool whitespace_as_suffix = false;
  std::vector<uint32_t> trie;  // darts-clone double array of the precompiled character map
  std::string normalized_blob;

  /// The longest user-defined piece that prefixes `s` at `pos` (0 if none).
  size_t user_defined_prefix(const std::string& s, size_t pos) const {
    size_t best = 0;
    for (const auto& u : user_defined)
      if (u.size() > best && starts_with(s, pos, u.c_str())) best = u.size();
    return best;
  }

  /// One normalization step at s[pos..]: (replacement text, bytes consumed).
  std::pair<std::string, size_t> normalize_prefix(const std::string& s, size_t pos) const {
    const size_t n = s.size() - pos;
    if (const size_t u = user_defined_prefix(s, pos)) return {s.substr(pos, u), u};
    size_t longest = 0;
    uint32_t value = 0;
    if (!trie.empty()) {
      // darts-clone commonPrefixSearch: unit = has_leaf bit 8, value low 31 bits, label bits 0-7 (+ bit 31),
      // offset (unit >> 10) << ((unit & (1 << 9)) >> 6).
      auto offset = [](uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); };
      size_t node = offset(trie[0]);
      for (size_t i = 0; i < n; ++i) {
        const auto c = static_cast<uint8_t>(s[pos + i]);
        node ^= c;
        if (node >= trie.size()) break;
        const uint32_t unit = trie[node];
        if ((unit & ((1u << 31) | 0xFFu)) != c) break;
        node ^= offset(unit);
        if (node >= trie.size()) break;
        if ((unit >> 8) & 1) {
          longest = i + 1;
          value = trie[node] & ((1u << 31) - 1);
        }
      }
    }
    if (longest == 0) {
      const size_t len = valid_utf8_len(s.data() + pos, n);
      if (len == 0) return {"\xEF\xBF\xBD", 1};
      return {s.substr(pos, len), len};
    }
    if (value >= normalized_blob.size()) throw Error(name + ": its character map points outside itself");
    return {std::string(normalized_blob.c_str() + value), longest};
  }

  /// sentencepiece's Normalizer::Normalize, with each output byte's offset in the input (size + 1 entries).
  std::string normalize(const std::string& input, std::vector<size_t>* to_orig) const {
    std::string out;
    to_orig->clear();
    size_t pos = 0;
    if (input.empty()) return out;
    if (remove_extra_whitespaces) {
      while (pos < input.size()) {
        const auto p = normalize_prefix(input, pos);
        if (p.first != " ") break;
        pos += p.second;
      }
    }
    if (pos >= input.size()) return out;
    size_t consumed = pos;
    auto add_ws = [&] {
      const std::string ws = escape_whitespaces ? kSpace : " ";
      out += ws;
      to_orig->insert(to_orig->end(), ws.size(), consumed);
    };
    if (!whitespace_as_suffix && add_dummy_prefix) add_ws();
    bool prev_space = remove_extra_whitespaces;
    while (pos < input.size()) {
      const auto p = normalize_prefix(input, pos);
      std::string sp = p.first;
      size_t skip = 0;
      while (prev_space && skip < sp.size() && sp[skip] == ' ') ++skip;
      sp.erase(0, skip);
      if (!sp.empty()) {
        for (char c : sp) {
          if (escape_whitespaces && c == ' ') {
            out += kSpace;
            to_orig->insert(to_orig->end(), 3, consumed);
          } else {
            out += c;
            to_orig->push_back(consumed);
          }
        }
        prev_space = sp.back() == ' ';
      }
      consumed += p.second;
      pos += p.second;
      if (!remove_extra_whitespaces) prev_space = false;
    }
    if (remove_extra_whitespaces) {
      const std::string ws = escape_whitespaces ? kSpace : " ";
      while (out.size() >= ws.size() && out.compare(out.size() - ws.size(), ws.size(), ws) == 0) {
        const size_t length = out.size() - ws.size();
        consumed = (*to_orig)[length];
        out.resize(length);
        to_orig->resize(length);
      }
    }
    if (whitespace_as_suffix && add_dummy_prefix) add_ws();
    to_orig->push_back(consumed);
    return out;
  }

  /// The unigram model's best segmentation (sentencepiece's optimized Viterbi): (byte begin, byte end, id).
  std::vector<std::tuple<size_t, size_t, int64_t>> viterbi(const std::string& s) const {
    struct Best {
      int64_t id = -1;
      float score = 0;
      long start = -1;
    };
    const size_t n = s.size();
    const float unk_score = min_score - kUnkPenalty;
    std::vector<Best> best(n + 1);
    size_t start = 0;
    while (start < n) {
      const float here = best[start].score;
      const size_t mblen = std::min(one_char_len(s[start]), n - start);
      bool single = false;
      const size_t limit = std::min(max_piece_bytes, n - start);
      for (size_t len = 1; len <= limit; ++len) {
        const auto it = normal.find(s.substr(start, len));
        if (it == normal.end()) continue;
        const int64_t id = it->second;
        if (types[id] == kUnused) continue;
        Best& target = best[start + len];
        // As sentencepiece computes it: a user-defined piece's bonus is a double, a normal score a float.
        const double score = types[id] == kUserDefined ? len * static_cast<double>(max_score) - 0.1
                                                       : static_cast<double>(scores[id]);
        const double candidate = score + here;
        if (target.start == -1 || candidate > target.score) {
          target.score = static_cast<float>(candidate);
          target.start = static_cast<long>(start);
          target.id = id;
        }
        if (len == mblen) single = true;
      }
      if (!single) {
        Best& target = best[start + mblen];
        const float candidate = unk_score + here;
        if (target.start == -1 || candidate > target.score) {
          target.score = candidate;
          target.start = static_cast<long>(start);
          target.id = unk;
        }
      }
      start += mblen;
    }
    std::vector<std::tuple<size_t, size_t, int64_t>> out;
    for (size_t end = n; end > 0;) {
      const Best& b = best[end];
      out.emplace_back(static_cast<size_t>(b.start), end, b.id);
      end = static_cast<size_t>(b.start);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  struct Token {
    std::string piece;
    int64_t id;
    size_t orig_begin, orig_end;  // the input bytes it covers
  };

  /// SentencePieceProcessor::Encode: unknown runs merged into one <unk>, or spelled as bytes with byte fallback.
  std::vector<Token> encode(const std::string& text) const {
    std::vector<size_t> to_orig;
    const std::string norm = normalize(text, &to_orig);
    std::vector<Token> out;
    bool prev_unk = false;
    for (const auto& [b, e, id] : viterbi(norm)) {
      const bool is_unk = id == unk;
      const std::string w = norm.substr(b, e - b);
      if (is_unk && byte_fallback) {
        for (unsigned char c : w) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "<0x%02X>", c);
          const auto it = reserved.find(buf);
          out.push_back({buf, it == reserved.end() ? unk : it->second, to_orig[b], to_orig[e]});
        }
      } else if (is_unk && prev_unk) {
        out.back().piece += w;
        out.back().orig_end = to_orig[e];
      } else {
        out.push_back({w, id, to_orig[b], to_orig[e]});
      }
      prev_unk = is_unk;
    }
    return out;
  }
};

SentencePieceTokenizer::SentencePieceTokenizer() = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;
SentencePieceTokenizer::SentencePieceTokenizer(const SentencePieceTokenizer&) = default;
SentencePieceTokenizer& SentencePieceTokenizer::operator=(const SentencePieceTokenizer&) = default;

SentencePieceTokenizer SentencePieceTokenizer::from_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot read the sentencepiece model (expected T5's spiece.model)");
  std::ostringstream ss;
  ss << f.rdbuf();
  return from_bytes(ss.str(), path);
}

SentencePieceTokenizer SentencePieceTokenizer::from_bytes(const std::string& bytes, const std::string& name) {
  auto im = std::make_shared<Impl>();
  im->name = name;
  int model_type = 1;
  int64_t trainer_eos = 2, trainer_pad = -1;
  std::string charsmap;
  Wire top(bytes, 0, bytes.size(), name);
  while (!top.done()) {
    const auto [field, wt] = top.key();
    if (field == 1 && wt == 2) {  // SentencePiece
      const auto [b, e] = top.bytes();
      Wire p(bytes, b, e, name);
      std::string piece;
      float score = 0;
      int type = kNormal;
      while (!p.done()) {
        const auto [f, w] = p.key();
        if (f == 1 && w == 2) piece = p.string();
        else if (f == 2 && w == 5) score = p.fixed32_float();
        else if (f == 3 && w == 0) type = static_cast<int>(p.varint());
        else p.skip(w);
      }
      if (type < kNormal || type > kByte) throw Error(name + ": piece '" + piece + "' has an unknown type");
      im->pieces.push_back(piece);
      im->scores.push_back(score);
      im->types.push_back(type);
    } else if (field == 2 && wt == 2) {  // TrainerSpec
      const auto [b, e] = top.bytes();
      Wire t(bytes, b, e, name);
      while (!t.done()) {
        const auto [f, w] = t.key();
        if (f == 3 && w == 0) model_type = static_cast<int>(t.varint());
        else if (f == 24 && w == 0) im->whitespace_as_suffix = t.varint() != 0;
        else if (f == 35 && w == 0) im->byte_fallback = t.varint() != 0;
        else if (f == 42 && w == 0) trainer_eos = static_cast<int32_t>(t.varint());
        else if (f == 43 && w == 0) trainer_pad = static_cast<int32_t>(t.varint());
        else t.skip(w);
      }
    } else if (field == 3 && wt == 2) {  // NormalizerSpec
      const auto [b, e] = top.bytes();
      Wire ns(bytes, b, e, name);
      while (!ns.done()) {
        const auto [f, w] = ns.key();
        if (f == 2 && w == 2) charsmap = ns.string();
        else if (f == 3 && w == 0) im->add_dummy_prefix = ns.varint() != 0;
        else if (f == 4 && w == 0) im->remove_extra_whitespaces = ns.varint() != 0;
        else if (f == 5 && w == 0) im->escape_whitespaces = ns.varint() != 0;
        else ns.skip(w);
      }
    } else {
      top.skip(wt);
    }
  }
  if (im->pieces.empty()) throw Error(name + ": not a sentencepiece model (it has no pieces)");
  if (model_type != 1)
    throw Error(name + ": sentencepiece model type " + std::to_string(model_type) +
                " is not supported (expected a unigram model, type 1, as T5's)");
  for (size_t i = 0; i < im->pieces.size(); ++i) {
    const std::string& p = im->pieces[i];
    const int t = im->types[i];
    if (p.empty()) throw Error(name + ": piece " + std::to_string(i) + " is empty");
    const bool normal = t == kNormal || t == kUserDefined || t == kUnused;
    if (!(normal ? im->normal : im->reserved).emplace(p, static_cast<int64_t>(i)).second)
      throw Error(name + ": piece '" + p + "' is defined twice");
    if (normal) im->max_piece_bytes = std::max(im->max_piece_bytes, p.size());
    if (t == kUserDefined) im->user_defined.push_back(p);
    if (t == kUnknown) {
      if (im->unk >= 0) throw Error(name + ": it has two unknown pieces");
      im->unk = static_cast<int64_t>(i);
    }
    if (t == kNormal) {
      im->min_score = std::min(im->min_score, im->scores[i]);
      im->max_score = std::max(im->max_score, im->scores[i]);
    }
  }
  if (im->unk < 0) throw Error(name + ": it has no unknown piece (<unk>)");
  if (im->normal.empty()) throw Error(name + ": it has no normal pieces");
  const auto n = static_cast<int64_t>(im->pieces.size());
  im->eos = trainer_eos >= 0 && trainer_eos < n && im->types[trainer_eos] == kControl ? trainer_eos : -1;
  im->pad = trainer_pad >= 0 && trainer_pad < n && im->types[trainer_pad] == kControl ? trainer_pad : -1;
  if (!charsmap.empty()) {
    uint32_t trie_bytes = 0;
    if (charsmap.size() <= 4) throw Error(name + ": its precompiled character map is truncated");
    for (int i = 0; i < 4; ++i) trie_bytes |= static_cast<uint32_t>(static_cast<uint8_t>(charsmap[i])) << (8 * i);
    if (trie_bytes >= charsmap.size() - 4 + 1 || trie_bytes % 4 != 0 || trie_bytes == 0)
      throw Error(name + ": its precompiled character map is malformed");
    im->trie.resize(trie_bytes / 4);
    std::memcpy(im->trie.data(), charsmap.data() + 4, trie_bytes);
    im->normalized_blob = charsmap.substr(4 + trie_bytes);
    if (im->normalized_blob.empty() || im->normalized_blob.back() != '\0') im->normalized_blob.push_back('\0');
  }
  SentencePieceTokenizer t;
  t.impl_ = im;
  return t;
}

std::string SentencePieceTokenizer::normalize(const std::string& text) const {
  std::vector<size_t> to_orig;
  return impl_->normalize(text, &to_orig);
}

std::vector<std::pair<std::string, int64_t>> SentencePieceTokenizer::encode_pieces(const std::string& text) const {
  std::vector<std::pair<std::string, int64_t>> out;
  for (auto& t : impl_->encode(text)) out.emplace_back(std::move(t.piece), t.id);
  return out;
}

std::vector<int64_t> SentencePieceTokenizer::encode_ids(const std::string& text) const {
  std::vector<int64_t> out;
  for (const auto& t : impl_->encode(text)) out.push_back(t.id);
  return out;
}

Encoding SentencePieceTokenizer::encode(const std::string& text, int max_length) const {
  const Impl& im = *impl_;
  if (max_length < 2) throw Error("T5 max_length must be at least 2, got " + std::to_string(max_length));
  if (im.eos < 0 || im.pad < 0)
    throw Error(im.name + ": the model has no end-of-text and pad pieces (expected T5's </s> and <pad>)");
  for (const auto& [p, id] : im.reserved)
    if (im.types[id] == kControl || im.types[id] == kUnknown)
      if (text.find(p) != std::string::npos)
        throw Error("the prompt contains the special token '" + p + "'; remove it (T5 would read it as that token)");
  const auto tokens = im.encode(text);

  // Words: whitespace-separated pieces of the prompt, split into runs of punctuation and the rest.
  struct Span {
    size_t begin, end;
    bool punct;
  };
  std::vector<Span> spans;
  {
    // over the prompt's own bytes: a malformed byte is one character (U+FFFD), as the normalizer reads it
    size_t byte = 0;
    int kind = -1;  // -1 space, 0 word, 1 punctuation
    while (byte < text.size()) {
      size_t len = valid_utf8_len(text.data() + byte, text.size() - byte);
      char32_t c = 0xFFFD;
      if (len == 0) len = 1;
      else c = unicode::decode(text.substr(byte, len)).at(0);
      const int k = unicode::is_space(c) ? -1 : (unicode::is_letter(c) || unicode::is_number(c) ? 0 : 1);
      if (k >= 0 && k == kind) spans.back().end = byte + len;
      else if (k >= 0) spans.push_back({byte, byte + len, k == 1});
      kind = k;
      byte += len;
    }
  }
  auto span_of = [&](size_t orig) -> int {
    for (size_t i = 0; i < spans.size(); ++i)
      if (orig < spans[i].end) return static_cast<int>(i);
    return static_cast<int>(spans.size()) - 1;
  };

  Encoding e;
  const size_t keep = std::min(tokens.size(), static_cast<size_t>(max_length - 1));
  std::vector<int> word_of_span(spans.size(), -1);
  for (size_t i = 0; i < tokens.size(); ++i) {
    // A token's first character: past a leading escaped space (a lone "▁" belongs to the next word).
    const auto& t = tokens[i];
    size_t at = t.orig_begin;
    if (starts_with(t.piece, 0, kSpace) && i + 1 < tokens.size() && t.piece.size() == 3) at = tokens[i + 1].orig_begin;
    else if (starts_with(t.piece, 0, kSpace)) {
      while (at < text.size() && unicode::is_space(static_cast<unsigned char>(text[at]))) ++at;
    }
    const int s = spans.empty() ? -1 : span_of(at);
    if (i < keep) {
      e.ids.push_back(t.id);
      e.tokens.push_back(t.piece);
      if (s < 0) continue;
      if (word_of_span[s] < 0) {
        word_of_span[s] = static_cast<int>(e.words.size());
        e.words.push_back({text.substr(spans[s].begin, spans[s].end - spans[s].begin), {}, spans[s].punct});
      }
      e.words[word_of_span[s]].positions.push_back(static_cast<int>(i));
    } else if (s >= 0 && word_of_span[s] == -1) {
      word_of_span[s] = -2;
      e.dropped_words.push_back(text.substr(spans[s].begin, spans[s].end - spans[s].begin));
    }
  }
  if (!e.dropped_words.empty()) {
    std::string list;
    for (const auto& w : e.dropped_words) list += (list.empty() ? "" : " ") + w;
    spdlog::warn("T5 prompt is longer than {} tokens; dropped: {}", max_length - 1, list);
  }
  e.ids.push_back(im.eos);
  e.tokens.push_back(im.pieces[im.eos]);
  e.length = static_cast<int>(e.ids.size());
  while (static_cast<int>(e.ids.size()) < max_length) {
    e.ids.push_back(im.pad);
    e.tokens.push_back(im.pieces[im.pad]);
  }
  return e;
}

const std::string& SentencePieceTokenizer::piece(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(impl_->pieces.size()))
    throw Error("sentencepiece id " + std::to_string(id) + " is outside the vocabulary of " +
                std::to_string(impl_->pieces.size()));
  return impl_->pieces[id];
}

int64_t SentencePieceTokenizer::piece_id(const std::string& piece) const {
  if (auto it = impl_->reserved.find(piece); it != impl_->reserved.end()) return it->second;
  if (auto it = impl_->normal.find(piece); it != impl_->normal.end()) return it->second;
  return -1;
}
int64_t SentencePieceTokenizer::unk_id() const { return impl_->unk; }
int64_t SentencePieceTokenizer::eos_id() const { return impl_->eos; }
int64_t SentencePieceTokenizer::pad_id() const { return impl_->pad; }
size_t SentencePieceTokenizer::vocab_size() const { return impl_->pieces.size(); }

}  // namespace diffscope
