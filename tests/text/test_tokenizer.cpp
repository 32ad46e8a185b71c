// Tokenizer tests (reference data: tests/data/reference/clip-tokenizer): every reference vector from OpenAI CLIP, the word map, truncation, other vocabularies.
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "diffscope/util/error.h"
#include "diffscope/text/tokenizer.h"
#include "test_support.h"

using diffscope::ClipTokenizer;
using diffscope::Encoding;

namespace {
const std::string kRef = std::string(DS_REFERENCE_DIR) + "/clip-tokenizer";

const ClipTokenizer& clip() {
  // the reference data lives in the checkout (tests/data/README.md); missing data is a failure, never a skip
  for (const char* f : {"/vocab.json", "/merges.txt", "/token_vectors.json"})
    if (!std::ifstream(kRef + f).good()) FAIL("reference data missing: " << kRef << f << " (see tests/data/README.md)");
  static ClipTokenizer t = ClipTokenizer::from_dir(kRef);
  return t;
}

nlohmann::json vectors() {
  std::ifstream in(kRef + "/token_vectors.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}
}  // namespace

TEST_CASE("every OpenAI CLIP reference vector is reproduced", "[tokenizer]") {
  const auto j = vectors();
  REQUIRE(j["items"].size() >= 40);
  CHECK(clip().vocab_size() == j["vocab_size"].get<size_t>());
  CHECK(clip().bos_id() == j["sot"].get<int64_t>());
  CHECK(clip().eos_id() == j["eot"].get<int64_t>());
  int checked = 0;
  for (const auto& item : j["items"]) {
    const std::string prompt = item["prompt"];
    INFO("prompt: " << prompt);
    // raw ids (SOT ... EOT, untruncated) and BPE strings
    auto ids = clip().encode_ids(prompt);
    std::vector<int64_t> full{clip().bos_id()};
    full.insert(full.end(), ids.begin(), ids.end());
    full.push_back(clip().eos_id());
    if (!item["truncated"].get<bool>()) {
      CHECK(full == item["ids"].get<std::vector<int64_t>>());
    } else {
      // the reference lists the truncated ids
      auto want = item["ids"].get<std::vector<int64_t>>();
      CHECK(std::vector<int64_t>(full.begin(), full.begin() + 76) ==
            std::vector<int64_t>(want.begin(), want.begin() + 76));
    }
    const auto& bpe = item["bpe_tokens"];
    for (size_t i = 0; i < bpe.size() && i < full.size(); ++i) {
      CHECK(clip().token(full[i]) == bpe[i].get<std::string>());
      CHECK(clip().decode(full[i]) == item["token_strings"][i].get<std::string>());
    }
    // the two 77-long contexts: clip.tokenize (pad 0 = "!") and SD 1.x's Hugging Face tokenizer (pad EOT)
    Encoding e0 = clip().encode(prompt, 77, "!");
    CHECK(e0.ids == item["context_77"].get<std::vector<int64_t>>());
    Encoding e1 = clip().encode(prompt, 77, "<|endoftext|>");
    CHECK(e1.ids == item["context_77_pad_eot"].get<std::vector<int64_t>>());
    CHECK(e1.length == std::min<int>(77, static_cast<int>(item["n_tokens"].get<int>())));
    ++checked;
  }
  CHECK(checked == static_cast<int>(j["items"].size()));
}

TEST_CASE("the word map merges sub-tokens and separates punctuation", "[tokenizer]") {
  Encoding e = clip().encode("A cat, running in 2023 don't");
  std::vector<std::string> words;
  for (const auto& w : e.words) words.push_back(w.text);
  CHECK(words == std::vector<std::string>{"a", "cat", ",", "running", "in", "2023", "don't"});
  CHECK(e.words[0].positions == std::vector<int>{1});
  CHECK(e.words[2].punctuation);
  CHECK_FALSE(e.words[1].punctuation);
  CHECK(e.words[5].positions == std::vector<int>{6, 7, 8, 9});  // digits split one per token
  CHECK(e.words[6].positions.size() == 2);                      // don + 't
  // every real token position belongs to exactly one word
  std::vector<int> seen(77, 0);
  for (const auto& w : e.words)
    for (int p : w.positions) seen[static_cast<size_t>(p)]++;
  for (int p = 1; p < e.length - 1; ++p) CHECK(seen[static_cast<size_t>(p)] == 1);
}

TEST_CASE("truncation keeps 75 tokens, ends with EOT and names the dropped words", "[tokenizer]") {
  std::string prompt;
  for (int i = 0; i < 80; ++i) prompt += "red ";
  prompt += "zebra";
  Encoding e = clip().encode(prompt);
  CHECK(e.ids.size() == 77);
  CHECK(e.length == 77);
  CHECK(e.ids[76] == clip().eos_id());
  CHECK(e.dropped_words.size() == 6);  // 5 more "red" and "zebra"
  CHECK(e.dropped_words.back() == "zebra");
  CHECK(e.words.size() == 75);
}

TEST_CASE("empty and odd prompts", "[tokenizer]") {
  Encoding e = clip().encode("");
  CHECK(e.length == 2);
  CHECK(e.ids[0] == clip().bos_id());
  CHECK(e.ids[1] == clip().eos_id());
  CHECK(e.words.empty());
  CHECK(clip().encode("   \t\n ").length == 2);
  CHECK(ClipTokenizer::clean("  Tom &amp;amp;  JERRY\n") == "tom & jerry");
  CHECK_THROWS_AS(clip().encode("x", 77, "<|no-such-token|>"), diffscope::Error);
}

TEST_CASE("another vocabulary with other special ids works", "[tokenizer]") {
  ds_test::TempDir tmp("vocab");
  // bytes a, c, t and their word-final forms; "ca" and "cat</w>" merges; specials at 0 and 1
  nlohmann::json v = {{"<|startoftext|>", 0}, {"<|endoftext|>", 1}, {"a", 2},  {"c", 3},   {"t", 4},
                      {"a</w>", 5},           {"c</w>", 6},         {"t</w>", 7}, {"ca", 8}, {"cat</w>", 9}};
  ds_test::write_text(tmp.path / "vocab.json", v.dump());
  ds_test::write_text(tmp.path / "merges.txt", "#version: 0.2\nc a\nca t</w>\n");
  auto t = ClipTokenizer::from_dir(tmp.str());
  CHECK(t.bos_id() == 0);
  CHECK(t.eos_id() == 1);
  Encoding e = t.encode("Cat a", 6);
  CHECK(e.ids == std::vector<int64_t>{0, 9, 5, 1, 1, 1});
  CHECK(t.decode(9) == "cat ");
  ds_test::write_text(tmp.path / "merges.txt", "#version: 0.2\nthis is wrong\n");
  CHECK_THROWS_WITH(ClipTokenizer::from_dir(tmp.str()), Catch::Contains("merges.txt: line 2"));
  CHECK_THROWS_WITH(ClipTokenizer::from_dir((tmp.path / "none").string()), Catch::Contains("vocab.json: missing"));
}

TEST_CASE("append_encoding: a second tokenizer's tokens follow; words join by text, in order, case-insensitive",
          "[tokenizer]") {
  Encoding a;
  a.ids = {100, 1, 2, 3, 1, 101, 0};
  a.tokens = {"<s>", "a</w>", "red</w>", "cat</w>", "a</w>", "</s>", "<pad>"};
  a.words = {{"a", {1}}, {"red", {2}}, {"cat", {3}}, {"a", {4}}};
  a.length = 6;
  Encoding b;
  b.ids = {7, 8, 9, 9, 7, 5};
  b.tokens = {"\u2581a", "\u2581Red", "\u2581c", "at", "\u2581a", "!"};
  b.words = {{"a", {0}}, {"Red", {1}}, {"cat", {2, 3}}, {"a", {4}}, {"!", {5}, true}};
  b.dropped_words = {"dog"};
  diffscope::append_encoding(a, b);
  CHECK(a.ids == std::vector<int64_t>{100, 1, 2, 3, 1, 101, 0, 7, 8, 9, 9, 7, 5});
  CHECK(a.tokens.size() == 13);
  CHECK(a.length == 6);
  REQUIRE(a.words.size() == 5);
  CHECK(a.words[0].positions == std::vector<int>{1, 7});
  CHECK(a.words[1].positions == std::vector<int>{2, 8});  // "Red" joins "red"
  CHECK(a.words[2].positions == std::vector<int>{3, 9, 10});
  CHECK(a.words[3].positions == std::vector<int>{4, 11});  // the second "a" joins the second "a"
  CHECK(a.words[4].text == "!");
  CHECK(a.words[4].punctuation);
  CHECK(a.words[4].positions == std::vector<int>{12});
  CHECK(a.dropped_words == std::vector<std::string>{"dog"});
}
