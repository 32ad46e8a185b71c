// SentencePiece tests (reference data: tests/data/reference/sentencepiece, written by
// scripts/fixtures/make_sentencepiece_fixture.py with python3-sentencepiece 0.1.97): three unigram models (T5's
// nmt_nfkc normalization; nfkc_cf with byte fallback, user-defined symbols and kept whitespace; no normalization),
// each text's normalized string, pieces, ids and T5Tokenizer's padded ids; then the word map and the errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <nlohmann/json.hpp>
#include <sstream>

#include "diffscope/text/sentencepiece.h"
#include "diffscope/util/error.h"
#include "test_support.h"

using diffscope::SentencePieceTokenizer;

namespace {
const std::string kRef = std::string(DS_REFERENCE_DIR) + "/sentencepiece";

nlohmann::json cases() {
  std::ifstream in(kRef + "/cases.json");
  if (!in.good()) FAIL("reference data missing: " << kRef << "/cases.json (see tests/data/README.md)");
  return nlohmann::json::parse(in);
}

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("every sentencepiece reference case is reproduced", "[sentencepiece]") {
  const auto j = cases();
  const int max_length = j["max_length"];
  REQUIRE(j["models"].size() == 3);
  int checked = 0;
  for (const auto& [name, model] : j["models"].items()) {
    const auto sp = SentencePieceTokenizer::from_file(kRef + "/" + name);
    CHECK(sp.vocab_size() == model["vocab_size"].get<size_t>());
    CHECK(sp.pad_id() == 0);
    CHECK(sp.eos_id() == 1);
    CHECK(sp.unk_id() == 2);
    REQUIRE(model["cases"].size() >= 20);
    for (const auto& c : model["cases"]) {
      const std::string text = c["text"];
      INFO(name << ": " << text);
      if (!c["normalized"].is_null()) CHECK(sp.normalize(text) == c["normalized"].get<std::string>());
      std::vector<std::string> pieces;
      std::vector<int64_t> ids;
      for (const auto& [p, id] : sp.encode_pieces(text)) pieces.push_back(p), ids.push_back(id);
      CHECK(pieces == c["pieces"].get<std::vector<std::string>>());
      CHECK(ids == c["ids"].get<std::vector<int64_t>>());
      CHECK(sp.encode_ids(text) == ids);
      CHECK(sp.encode(text, max_length).ids == c["t5_ids"].get<std::vector<int64_t>>());
      ++checked;
    }
  }
  CHECK(checked >= 60);
}

TEST_CASE("the reference set exercises what it claims to", "[sentencepiece]") {
  // guards the fixture: unknown runs, byte pieces and user-defined symbols all occur in it
  const auto j = cases();
  bool unk = false, bytes = false, user = false, trunc = false;
  for (const auto& [name, model] : j["models"].items())
    for (const auto& c : model["cases"]) {
      for (const auto& p : c["pieces"]) {
        const std::string s = p;
        bytes |= s.rfind("<0x", 0) == 0;
        user |= s == "<red>";
      }
      for (const auto& id : c["ids"]) unk |= id.get<int>() == 2;
      trunc |= c["ids"].size() >= static_cast<size_t>(j["max_length"].get<int>());
    }
  CHECK(unk);
  CHECK(bytes);
  CHECK(user);
  CHECK(trunc);
}

TEST_CASE("T5 encoding: eos, padding, truncation and the word map", "[sentencepiece]") {
  const auto sp = SentencePieceTokenizer::from_file(kRef + "/t5like.model");
  const auto e = sp.encode("a red circle, and a blue square", 32);
  REQUIRE(e.ids.size() == 32);
  REQUIRE(e.length >= 8);
  CHECK(e.ids[e.length - 1] == sp.eos_id());
  for (size_t i = e.length; i < e.ids.size(); ++i) CHECK(e.ids[i] == sp.pad_id());
  std::vector<std::string> words;
  for (const auto& w : e.words) words.push_back(w.text);
  CHECK(words == std::vector<std::string>{"a", "red", "circle", ",", "and", "a", "blue", "square"});
  CHECK(e.words[3].punctuation);
  // every real token belongs to exactly one word, in order
  std::vector<int> seen;
  for (const auto& w : e.words) seen.insert(seen.end(), w.positions.begin(), w.positions.end());
  std::sort(seen.begin(), seen.end());
  std::vector<int> expect(e.length - 1);
  std::iota(expect.begin(), expect.end(), 0);
  CHECK(seen == expect);
  // the words' tokens spell the words
  for (const auto& w : e.words) {
    std::string spelled;
    for (int p : w.positions) spelled += e.tokens[p];
    if (spelled.rfind("\xe2\x96\x81", 0) == 0) spelled = spelled.substr(3);
    CHECK(spelled == w.text);
  }

  const auto t = sp.encode("the quick brown fox jumps over the lazy dog", 6);
  CHECK(t.ids.size() == 6);
  CHECK(t.ids[5] == sp.eos_id());
  CHECK(t.length == 6);
  CHECK_FALSE(t.dropped_words.empty());
  CHECK(t.dropped_words.back() == "dog");
  // each word lost to truncation is named once (both "the"s are separate words; "lazy" and "dog" are lost)
  const std::vector<std::string> tail(t.dropped_words.end() - 3, t.dropped_words.end());
  CHECK(tail == std::vector<std::string>{"the", "lazy", "dog"});
  CHECK(t.words.size() + t.dropped_words.size() == 9);

  // malformed UTF-8 (a fuzz finding: the word map once read past the prompt): one character per bad byte
  const std::string bad_text = "caf\xc3" "a \xff\xfe red \x1f\x1f circle";
  const auto bad = sp.encode(bad_text, 32);
  std::vector<std::string> bad_words;
  for (const auto& w : bad.words) {
    bad_words.push_back(w.text);
    CHECK(bad_text.find(w.text) != std::string::npos);
  }
  CHECK(bad_words.size() >= 3);
  CHECK(bad_words[bad_words.size() - 2] == "red");
  CHECK(bad_words.back() == "circle");

  const auto empty = sp.encode("", 4);
  CHECK(empty.ids == std::vector<int64_t>{sp.eos_id(), sp.pad_id(), sp.pad_id(), sp.pad_id()});
  CHECK(empty.words.empty());
}

TEST_CASE("sentencepiece errors name the file and what was expected", "[sentencepiece]") {
  const std::string model = read(kRef + "/t5like.model");
  REQUIRE(model.size() > 1000);
  CHECK_THROWS_WITH(SentencePieceTokenizer::from_file(kRef + "/missing.model"),
                    Catch::Contains("missing.model") && Catch::Contains("cannot read"));
  CHECK_THROWS_WITH(SentencePieceTokenizer::from_bytes("{\"not\": \"a model\"}", "x.model"),
                    Catch::Contains("x.model") && Catch::Contains("not a sentencepiece model"));
  CHECK_THROWS_WITH(SentencePieceTokenizer::from_bytes(model.substr(0, model.size() / 2), "half.model"),
                    Catch::Contains("half.model"));
  CHECK_THROWS_WITH(SentencePieceTokenizer::from_bytes("", "empty.model"), Catch::Contains("no pieces"));
  // a BPE model: trainer_spec (field 2) with model_type (field 3) = 2, appended after the pieces
  std::string bpe = model;
  bpe += std::string("\x12\x02\x18\x02", 4);
  CHECK_THROWS_WITH(SentencePieceTokenizer::from_bytes(bpe, "bpe.model"),
                    Catch::Contains("bpe.model") && Catch::Contains("unigram"));
  const auto sp = SentencePieceTokenizer::from_bytes(model, "t5like.model");
  CHECK_THROWS_WITH(sp.encode("a red </s> circle", 16), Catch::Contains("special token '</s>'"));
  CHECK_THROWS_WITH(sp.encode("a", 1), Catch::Contains("at least 2"));
  CHECK_THROWS_WITH(sp.piece(100000), Catch::Contains("outside the vocabulary"));
  CHECK(sp.piece_id("</s>") == 1);
  CHECK(sp.piece_id("no such piece") == -1);
  // every truncated prefix of a valid model is either a model or a one-line error, never a crash
  for (size_t n = 0; n < model.size(); n += 997) {
    try {
      SentencePieceTokenizer::from_bytes(model.substr(0, n), "cut.model").encode_ids("a red circle");
    } catch (const diffscope::Error& err) {
      CHECK(std::string(err.what()).find('\n') == std::string::npos);
    }
  }
}
