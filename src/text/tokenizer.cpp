// CLIP byte-level BPE, reproducing OpenAI CLIP's simple_tokenizer (and SD's Hugging Face CLIPTokenizer files).
#include "diffscope/text/tokenizer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "diffscope/util/error.h"
#include "text/unicode.h"

namespace diffscope {

namespace u = unicode;

std::vector<int64_t> encoder_ids(const Encoding& e) {
  std::vector<int64_t> all = e.leading_ids;
  all.insert(all.end(), e.ids.begin(), e.ids.end());
  return all;
}

void append_encoding(Encoding& into, const Encoding& more) {
  auto lower = [](const std::string& s) {
    std::vector<char32_t> cps = u::decode(s);
    for (auto& c : cps) c = u::to_lower(c);
    return u::encode(cps);
  };
  const int offset = static_cast<int>(into.ids.size());
  into.ids.insert(into.ids.end(), more.ids.begin(), more.ids.end());
  into.tokens.insert(into.tokens.end(), more.tokens.begin(), more.tokens.end());
  const size_t first_words = into.words.size();
  size_t next = 0;  // words of `into` before this one are taken
  for (const Word& w : more.words) {
    const std::string key = lower(w.text);
    size_t match = next;
    while (match < first_words && lower(into.words[match].text) != key) ++match;
    std::vector<int> shifted;
    for (int p : w.positions) shifted.push_back(p + offset);
    if (match < first_words) {
      auto& pos = into.words[match].positions;
      pos.insert(pos.end(), shifted.begin(), shifted.end());
      next = match + 1;
    } else {
      into.words.push_back({w.text, shifted, w.punctuation});
    }
  }
  merge_dropped_words(into, more);
}

void merge_dropped_words(Encoding& into, const Encoding& more) {
  for (const auto& d : more.dropped_words)
    if (std::find(into.dropped_words.begin(), into.dropped_words.end(), d) == into.dropped_words.end())
      into.dropped_words.push_back(d);
}

struct ClipTokenizer::Impl {
  std::unordered_map<std::string, int64_t> encoder;
  std::vector<std::string> decoder;
  std::unordered_map<std::string, int> ranks;  // "a b" -> merge rank
  std::string byte_to_unicode[256];
  std::unordered_map<std::string, int> unicode_to_byte;  // UTF-8 of a mapped char -> byte
  int64_t bos = -1, eos = -1;
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<std::string>> cache;

  std::vector<std::string> bpe(const std::string& token_utf8) const;
};

namespace {

/// GPT-2's reversible byte -> printable code point map.
void build_byte_map(ClipTokenizer::Impl& im) {
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  std::vector<int> cs = bs;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
      bs.push_back(b);
      cs.push_back(256 + n++);
    }
  }
  for (size_t i = 0; i < bs.size(); ++i) {
    std::string s;
    u::append(s, static_cast<char32_t>(cs[i]));
    im.byte_to_unicode[bs[i]] = s;
    im.unicode_to_byte[s] = bs[i];
  }
}

struct Entity {
  const char* name;
  char32_t cp;
};
// html.unescape's most common named entities (the full HTML5 table is not needed for prompts).
constexpr Entity kEntities[] = {{"amp", '&'},      {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
                                {"apos", '\''},    {"nbsp", 0xA0},     {"copy", 0xA9},     {"reg", 0xAE},
                                {"trade", 0x2122}, {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
                                {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D},
                                {"deg", 0xB0},     {"times", 0xD7},    {"eacute", 0xE9},   {"euro", 0x20AC}};

std::vector<char32_t> html_unescape(const std::vector<char32_t>& in) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '&') {
      out.push_back(in[i]);
      continue;
    }
    size_t j = i + 1;
    if (j < in.size() && in[j] == '#') {  // numeric: &#123; &#x1F600;
      bool hex = j + 1 < in.size() && (in[j + 1] == 'x' || in[j + 1] == 'X');
      size_t k = j + (hex ? 2 : 1);
      uint32_t v = 0;
      size_t digits = 0;
      while (k < in.size() && digits < 8) {
        char32_t c = in[k];
        int d = (c >= '0' && c <= '9') ? int(c - '0') : hex && c >= 'a' && c <= 'f' ? int(c - 'a' + 10)
                : hex && c >= 'A' && c <= 'F' ? int(c - 'A' + 10) : -1;
        if (d < 0) break;
        v = v * (hex ? 16 : 10) + static_cast<uint32_t>(d);
        ++k;
        ++digits;
      }
      if (digits > 0) {
        if (k < in.size() && in[k] == ';') ++k;
        out.push_back((v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) ? 0xFFFD : v);
        i = k - 1;
        continue;
      }
      out.push_back('&');
      continue;
    }
    bool matched = false;
    for (const auto& e : kEntities) {
      size_t n = std::char_traits<char>::length(e.name);
      if (i + 1 + n > in.size()) continue;
      bool eq = true;
      for (size_t k = 0; k < n && eq; ++k) eq = in[i + 1 + k] == static_cast<char32_t>(e.name[k]);
      if (!eq) continue;
      size_t end = i + 1 + n;
      if (end < in.size() && in[end] == ';') {
        ++end;
      } else if (std::string(e.name) != "amp" && std::string(e.name) != "lt" && std::string(e.name) != "gt" &&
                 std::string(e.name) != "quot" && std::string(e.name) != "nbsp" && std::string(e.name) != "copy" &&
                 std::string(e.name) != "reg" && std::string(e.name) != "deg" && std::string(e.name) != "times") {
        continue;  // html5 accepts these few without ';' only
      }
      out.push_back(e.cp);
      i = end - 1;
      matched = true;
      break;
    }
    if (!matched) out.push_back('&');
  }
  return out;
}

/// The byte a character stands for when UTF-8 was mis-decoded as Windows-1252 / Latin-1; -1 if none.
int mojibake_byte(char32_t c) {
  if (c < 0x80) return static_cast<int>(c);
  if (c >= 0xA0 && c <= 0xFF) return static_cast<int>(c);
  static const std::pair<char32_t, int> cp1252[] = {
      {0x20AC, 0x80}, {0x201A, 0x82}, {0x0192, 0x83}, {0x201E, 0x84}, {0x2026, 0x85}, {0x2020, 0x86}, {0x2021, 0x87},
      {0x02C6, 0x88}, {0x2030, 0x89}, {0x0160, 0x8A}, {0x2039, 0x8B}, {0x0152, 0x8C}, {0x017D, 0x8E}, {0x2018, 0x91},
      {0x2019, 0x92}, {0x201C, 0x93}, {0x201D, 0x94}, {0x2022, 0x95}, {0x2013, 0x96}, {0x2014, 0x97}, {0x02DC, 0x98},
      {0x2122, 0x99}, {0x0161, 0x9A}, {0x203A, 0x9B}, {0x0153, 0x9C}, {0x017E, 0x9E}, {0x0178, 0x9F}};
  for (const auto& [u, b] : cp1252)
    if (u == c) return b;
  if (c >= 0x80 && c <= 0x9F) return static_cast<int>(c);  // C1 controls pass through as Latin-1
  return -1;
}

/// ftfy's fix_encoding for the common case: a UTF-8 sequence shown as Windows-1252 ("cafÃ©" -> "café").
/// Only complete sequences (lead byte C2..F4 followed by the right number of continuation bytes) are repaired.
void fix_mojibake(std::vector<char32_t>& t) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < t.size(); ++i) {
    const int lead = mojibake_byte(t[i]);
    const int n = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
    bool ok = n > 0 && i + n <= t.size() && t[i] >= 0x80;
    std::string bytes;
    if (ok) {
      bytes += static_cast<char>(lead);
      for (int k = 1; k < n && ok; ++k) {
        const int b = mojibake_byte(t[i + k]);
        ok = b >= 0x80 && b <= 0xBF;
        bytes += static_cast<char>(b);
      }
    }
    if (ok) {
      auto cps = u::decode(bytes);
      if (cps.size() == 1 && cps[0] != 0xFFFD) {
        out.push_back(cps[0]);
        i += static_cast<size_t>(n - 1);
        continue;
      }
    }
    out.push_back(t[i]);
  }
  t.swap(out);
}

/// ftfy.fix_text's fixes that change prompts: mojibake, NFC singletons, curly quotes, Latin ligatures, fullwidth.
void ftfy_fixes(std::vector<char32_t>& t) {
  fix_mojibake(t);
  std::vector<char32_t> out;
  out.reserve(t.size());
  for (char32_t c : t) {
    switch (c) {
      case 0x2018: case 0x2019: case 0x201A: case 0x201B: out.push_back('\''); continue;
      case 0x201C: case 0x201D: case 0x201E: case 0x201F: out.push_back('"'); continue;
      case 0xFB00: out.insert(out.end(), {'f', 'f'}); continue;
      case 0xFB01: out.insert(out.end(), {'f', 'i'}); continue;
      case 0xFB02: out.insert(out.end(), {'f', 'l'}); continue;
      case 0xFB03: out.insert(out.end(), {'f', 'f', 'i'}); continue;
      case 0xFB04: out.insert(out.end(), {'f', 'f', 'l'}); continue;
      case 0xFB05: case 0xFB06: out.insert(out.end(), {'s', 't'}); continue;
      case 0x3000: out.push_back(' '); continue;
      case 0x2126: out.push_back(0x3A9); continue;  // NFC: OHM SIGN -> GREEK CAPITAL OMEGA
      case 0x212A: out.push_back('K'); continue;    // KELVIN SIGN
      case 0x212B: out.push_back(0xC5); continue;   // ANGSTROM SIGN
      default: break;
    }
    if (c >= 0xFF01 && c <= 0xFF5E) {
      out.push_back(c - 0xFF01 + 0x21);
      continue;
    }
    out.push_back(c);
  }
  t.swap(out);
}

enum class Kind { Special, Contraction, Letters, Number, Other };
struct Piece {
  std::string text;
  Kind kind;
  size_t begin, end;  // code point offsets in the cleaned text
};

bool match_at(const std::vector<char32_t>& t, size_t i, const char* lit) {
  for (size_t k = 0; lit[k]; ++k)
    if (i + k >= t.size() || t[i + k] != static_cast<char32_t>(static_cast<unsigned char>(lit[k]))) return false;
  return true;
}

/// CLIP's pattern: <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
std::vector<Piece> pretokenize(const std::vector<char32_t>& t) {
  std::vector<Piece> out;
  size_t i = 0;
  auto emit = [&](size_t b, size_t e, Kind k) {
    out.push_back({u::encode(std::vector<char32_t>(t.begin() + b, t.begin() + e)), k, b, e});
  };
  while (i < t.size()) {
    const char32_t c = t[i];
    if (match_at(t, i, "<|startoftext|>") || match_at(t, i, "<|endoftext|>")) {
      size_t n = match_at(t, i, "<|startoftext|>") ? 15 : 13;
      emit(i, i + n, Kind::Special);
      i += n;
      continue;
    }
    if (c == '\'') {
      size_t n = 0;
      for (const char* con : {"'re", "'ve", "'ll", "'s", "'t", "'m", "'d"}) {
        if (match_at(t, i, con)) {
          n = std::char_traits<char>::length(con);
          break;
        }
      }
      if (n) {
        emit(i, i + n, Kind::Contraction);
        i += n;
        continue;
      }
    }
    if (u::is_letter(c)) {
      size_t j = i;
      while (j < t.size() && u::is_letter(t[j])) ++j;
      emit(i, j, Kind::Letters);
      i = j;
      continue;
    }
    if (u::is_number(c)) {
      emit(i, i + 1, Kind::Number);
      ++i;
      continue;
    }
    if (u::is_space(c)) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < t.size() && !u::is_space(t[j]) && !u::is_letter(t[j]) && !u::is_number(t[j])) ++j;
    emit(i, j, Kind::Other);
    i = j;
  }
  return out;
}

std::string read_file(const std::string& path, const char* expected) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": missing or unreadable (expected " + expected + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<std::string> ClipTokenizer::Impl::bpe(const std::string& token) const {
  {
    std::lock_guard<std::mutex> lk(cache_mutex);
    auto it = cache.find(token);
    if (it != cache.end()) return it->second;
  }
  // split into code points (each a mapped byte), last one carries "</w>"
  std::vector<std::string> word;
  for (char32_t c : u::decode(token)) {
    std::string s;
    u::append(s, c);
    word.push_back(s);
  }
  if (word.empty()) return {};
  word.back() += "</w>";
  while (word.size() > 1) {
    int best = std::numeric_limits<int>::max();
    size_t at = 0;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = ranks.find(word[i] + " " + word[i + 1]);
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == std::numeric_limits<int>::max()) break;
    const std::string a = word[at], b = word[at + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < word.size();) {  // merge every occurrence of the pair, left to right
      if (i + 1 < word.size() && word[i] == a && word[i + 1] == b) {
        merged.push_back(a + b);
        i += 2;
      } else {
        merged.push_back(word[i]);
        ++i;
      }
    }
    word.swap(merged);
  }
  std::lock_guard<std::mutex> lk(cache_mutex);
  if (cache.size() < 100000) cache.emplace(token, word);
  return word;
}

ClipTokenizer::ClipTokenizer() : impl_(std::make_shared<Impl>()) {}
ClipTokenizer::~ClipTokenizer() = default;
ClipTokenizer::ClipTokenizer(const ClipTokenizer&) = default;
ClipTokenizer& ClipTokenizer::operator=(const ClipTokenizer&) = default;

ClipTokenizer ClipTokenizer::from_dir(const std::string& dir) {
  return from_files(dir + "/vocab.json", dir + "/merges.txt");
}

ClipTokenizer ClipTokenizer::from_files(const std::string& vocab_json, const std::string& merges_txt) {
  ClipTokenizer t;
  Impl& im = *t.impl_;
  build_byte_map(im);
  nlohmann::json v;
  try {
    v = nlohmann::json::parse(read_file(vocab_json, "a CLIPTokenizer vocab.json"));
  } catch (const nlohmann::json::exception&) {
    throw Error(vocab_json + ": not valid JSON (expected a CLIPTokenizer vocab.json: {token: id})");
  }
  if (!v.is_object() || v.empty()) throw Error(vocab_json + ": expected a JSON object {token: id}");
  im.decoder.resize(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_number_integer()) throw Error(vocab_json + ": id of token \"" + it.key() + "\" is not an integer");
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= static_cast<int64_t>(v.size()))
      throw Error(vocab_json + ": id " + std::to_string(id) + " of \"" + it.key() + "\" is outside 0.." +
                  std::to_string(v.size() - 1));
    if (!im.decoder[static_cast<size_t>(id)].empty())
      throw Error(vocab_json + ": id " + std::to_string(id) + " is given to both \"" + im.decoder[static_cast<size_t>(id)] +
                  "\" and \"" + it.key() + "\" (ids must be unique)");
    im.encoder[it.key()] = id;
    im.decoder[static_cast<size_t>(id)] = it.key();
  }
  for (const char* s : {"<|startoftext|>", "<|endoftext|>"})
    if (!im.encoder.count(s)) throw Error(vocab_json + ": lacks the special token " + std::string(s));
  im.bos = im.encoder["<|startoftext|>"];
  im.eos = im.encoder["<|endoftext|>"];

  std::istringstream merges(read_file(merges_txt, "a CLIPTokenizer merges.txt"));
  std::string line;
  int rank = 0, lineno = 0;
  while (std::getline(merges, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (lineno == 1 && line.rfind("#version", 0) == 0)) continue;
    const auto sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
      throw Error(merges_txt + ": line " + std::to_string(lineno) + " is not a merge \"a b\"");
    im.ranks.emplace(line, rank++);
  }
  if (rank == 0) throw Error(merges_txt + ": no merges found");
  return t;
}

std::string ClipTokenizer::clean(const std::string& text) {
  std::vector<char32_t> t = u::decode(text);
  ftfy_fixes(t);
  t = html_unescape(html_unescape(t));
  std::vector<char32_t> out;
  bool space = false;
  for (char32_t c : t) {
    if (u::is_space(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(u::to_lower(c));
  }
  return u::encode(out);
}

namespace {
struct Tok {
  int64_t id;
  std::string token;
  size_t piece;  // index of the pre-token it came from
};
}  // namespace

static std::vector<Tok> tokenize_pieces(const ClipTokenizer::Impl& im, const std::vector<Piece>& pieces) {
  std::vector<Tok> out;
  for (size_t p = 0; p < pieces.size(); ++p) {
    const auto& pc = pieces[p];
    if (pc.kind == Kind::Special) {
      out.push_back({im.encoder.at(pc.text), pc.text, p});
      continue;
    }
    std::string mapped;
    for (unsigned char b : pc.text) mapped += im.byte_to_unicode[b];
    for (const auto& t : im.bpe(mapped)) {
      auto it = im.encoder.find(t);
      if (it == im.encoder.end()) {
        // a vocabulary without this piece: fall back to its characters (word-final on the last)
        for (char32_t c : u::decode(t.size() > 4 && t.compare(t.size() - 4, 4, "</w>") == 0 ? t.substr(0, t.size() - 4) : t)) {
          std::string s;
          u::append(s, c);
          auto jt = im.encoder.find(s);
          if (jt == im.encoder.end()) jt = im.encoder.find(s + "</w>");
          if (jt != im.encoder.end()) out.push_back({jt->second, jt->first, p});
        }
        continue;
      }
      out.push_back({it->second, t, p});
    }
  }
  return out;
}

std::vector<int64_t> ClipTokenizer::encode_ids(const std::string& text) const {
  const auto cleaned = u::decode(clean(text));
  std::vector<int64_t> ids;
  for (const auto& t : tokenize_pieces(*impl_, pretokenize(cleaned))) ids.push_back(t.id);
  return ids;
}

Encoding ClipTokenizer::encode(const std::string& text, int max_length, const std::string& pad_token) const {
  if (max_length < 2) throw Error("max_length must be at least 2 (start and end tokens)");
  const Impl& im = *impl_;
  const int64_t pad = token_id(pad_token);
  const auto cleaned = u::decode(clean(text));
  const auto pieces = pretokenize(cleaned);
  const auto toks = tokenize_pieces(im, pieces);

  Encoding e;
  e.ids.push_back(im.bos);
  e.tokens.push_back(im.decoder[static_cast<size_t>(im.bos)]);
  const size_t keep = std::min(toks.size(), static_cast<size_t>(max_length - 2));
  for (size_t i = 0; i < keep; ++i) {
    e.ids.push_back(toks[i].id);
    e.tokens.push_back(toks[i].token);
  }
  e.ids.push_back(im.eos);
  e.tokens.push_back(im.decoder[static_cast<size_t>(im.eos)]);
  e.length = static_cast<int>(e.ids.size());
  while (static_cast<int>(e.ids.size()) < max_length) {
    e.ids.push_back(pad);
    e.tokens.push_back(im.decoder[static_cast<size_t>(pad)]);
  }

  // word map: whitespace-separated chunks; punctuation runs inside a chunk are their own entries
  std::vector<size_t> chunk_of(cleaned.size() + 1, 0);
  for (size_t i = 0, chunk = 0; i < cleaned.size(); ++i) {
    if (cleaned[i] == ' ') ++chunk;
    chunk_of[i] = chunk;
  }
  std::vector<int> word_of_piece(pieces.size(), -1);
  for (size_t p = 0; p < pieces.size(); ++p) {
    const auto& pc = pieces[p];
    const bool punct = pc.kind == Kind::Other;
    bool join = false;
    if (!punct && p > 0 && !e.words.empty()) {
      const auto& prev = pieces[p - 1];
      join = prev.kind != Kind::Other && prev.kind != Kind::Special && pc.kind != Kind::Special &&
             chunk_of[prev.begin] == chunk_of[pc.begin] && prev.end == pc.begin;
    }
    if (join) {
      e.words.back().text += pc.text;
    } else {
      Word w;
      w.text = pc.text;
      w.punctuation = punct;
      e.words.push_back(w);
    }
    word_of_piece[p] = static_cast<int>(e.words.size()) - 1;
  }
  std::vector<bool> dropped(e.words.size(), true);
  std::vector<bool> cut(e.words.size(), false);  // a token of the word lay past max_length (else it had none)
  for (size_t i = 0; i < toks.size(); ++i) {
    const int w = word_of_piece[toks[i].piece];
    if (i < keep) {
      e.words[static_cast<size_t>(w)].positions.push_back(static_cast<int>(i) + 1);
      dropped[static_cast<size_t>(w)] = false;
    } else {
      cut[static_cast<size_t>(w)] = true;
    }
  }
  std::vector<Word> kept;
  std::string cut_list, untokenized_list;
  for (size_t w = 0; w < e.words.size(); ++w) {
    if (dropped[w]) {
      auto& list = cut[w] ? cut_list : untokenized_list;
      list += (list.empty() ? "" : " ") + e.words[w].text;
      e.dropped_words.push_back(e.words[w].text);
    } else {
      kept.push_back(std::move(e.words[w]));
    }
  }
  e.words.swap(kept);
  if (!cut_list.empty()) spdlog::warn("prompt is longer than {} tokens; dropped: {}", max_length, cut_list);
  if (!untokenized_list.empty())
    spdlog::warn("the vocabulary has no token for these words (dropped): {}", untokenized_list);
  return e;
}

std::string ClipTokenizer::decode(int64_t id) const {
  // Python: bytearray(byte_decoder[c] for c in token).decode("utf-8", errors="replace").replace("</w>", " ")
  std::string bytes;
  for (char32_t c : u::decode(token(id))) {
    std::string s;
    u::append(s, c);
    auto it = impl_->unicode_to_byte.find(s);
    if (it != impl_->unicode_to_byte.end()) bytes += static_cast<char>(it->second);
  }
  std::string out = u::encode(u::decode(bytes));
  for (size_t pos; (pos = out.find("</w>")) != std::string::npos;) out.replace(pos, 4, " ");
  return out;
}

const std::string& ClipTokenizer::token(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(impl_->decoder.size()))
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                std::to_string(impl_->decoder.size() - 1) + ")");
  return impl_->decoder[static_cast<size_t>(id)];
}

int64_t ClipTokenizer::token_id(const std::string& tok) const {
  auto it = impl_->encoder.find(tok);
  if (it == impl_->encoder.end()) throw Error("token \"" + tok + "\" is not in the tokenizer's vocab.json");
  return it->second;
}

int64_t ClipTokenizer::bos_id() const { return impl_->bos; }
int64_t ClipTokenizer::eos_id() const { return impl_->eos; }
size_t ClipTokenizer::vocab_size() const { return impl_->decoder.size(); }

}  // namespace diffscope
