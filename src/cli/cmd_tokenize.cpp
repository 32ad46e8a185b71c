// `diffscope tokenize`: token ids, token strings and the word map of a prompt (CLIP's, and T5's for SD3 and Flux).
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/utf8.h"
#include "diffscope/engine/model_info.h"
#include "diffscope/engine/prompt_tokenizer.h"
#include "diffscope/text/tokenizer.h"

namespace diffscope::cli {
namespace {

struct Opts {
  std::string model, tokenizer, prompt;
  bool json = false;
  int max_length = 77;
  std::string pad_token = "<|endoftext|>";
};

int run(const Opts& o) {
  Encoding e;
  int clip_length = o.max_length;  // the CLIP positions at the front of e.ids (0 when the rows are T5's alone)
  std::string pad = o.pad_token;
  ModelInfo info;
  int64_t pad_2 = -1;  // SDXL: tokenizer_2's pad token
  if (!is_valid_utf8(o.prompt)) throw Error("--prompt: not valid UTF-8 text");
  if (!o.model.empty()) {  // the package's own tokenization: CLIP's, and T5's where it has one (SD3, Flux)
    info.dir = o.model;
    read_model_index(info, o.model + "/model_index.json");
    const PromptTokenizer tokenizer = PromptTokenizer::load(info);
    e = tokenizer.encode(o.prompt);
    if (!info.pad_token_2.empty()) pad_2 = tokenizer.clip().token_id(info.pad_token_2);
    clip_length = info.clip_text_rows ? info.max_length : 0;
    pad = info.pad_token;
  } else {
    e = ClipTokenizer::from_dir(o.tokenizer).encode(o.prompt, o.max_length, o.pad_token);
  }
  // SDXL: text_encoder_2 reads the same ids with every position after the first end token as pad_token_2
  std::vector<int64_t> ids_2;
  if (pad_2 >= 0) {
    ids_2 = e.ids;
    for (size_t i = static_cast<size_t>(std::max(e.length, 0)); i < ids_2.size(); ++i) ids_2[i] = pad_2;
  }
  if (o.json) {
    nlohmann::json words = nlohmann::json::array();
    for (const auto& w : e.words) words.push_back({{"word", w.text}, {"positions", w.positions}, {"punctuation", w.punctuation}});
    nlohmann::json j{{"ids", e.ids}, {"tokens", e.tokens}, {"words", words}, {"length", e.length},
                     {"dropped_words", e.dropped_words}};
    if (!e.leading_ids.empty()) j["clip_ids"] = e.leading_ids;  // Flux: CLIP's ids, for the pooled vector only
    if (!ids_2.empty()) j["ids_2"] = ids_2;  // SDXL: what text_encoder_2 reads
    std::cout << j.dump() << "\n";
    return 0;
  }
  // a segment's real positions (up to and including its end token), then how many padding positions follow
  const auto segment = [&](int begin, int end, const std::string& pad_piece) {
    int last = begin;
    for (int i = begin; i < end; ++i)
      if (e.tokens[i] != pad_piece || i == begin) last = i;
    if (clip_length > 0 && begin == 0) last = e.length - 1;  // CLIP pads with its end token: stop after the first
    for (int i = begin; i <= last; ++i) std::printf("%-4d %-7lld %s\n", i, static_cast<long long>(e.ids[i]), e.tokens[i].c_str());
    if (last + 1 < end) std::printf("(%d padding positions with id %lld)\n", end - last - 1, static_cast<long long>(e.ids[end - 1]));
  };
  std::cout << "pos  id      token\n";
  const int total = static_cast<int>(e.ids.size());
  if (clip_length > 0) segment(0, std::min(clip_length, total), pad);
  if (total > clip_length) {
    std::printf("%s", clip_length > 0 ? "T5 tokens (after CLIP's):\n" : "");
    segment(clip_length, total, "<pad>");
  }
  if (!e.leading_ids.empty())
    std::printf("(CLIP's %zu ids go first to the text encoder, for the pooled vector only)\n", e.leading_ids.size());
  if (!ids_2.empty())
    std::printf("(SDXL: text_encoder reads these ids; text_encoder_2 the same with every position from %d on as %s, id "
                "%lld; both encoders' rows sit side by side, so the maps have these %d positions)\n", e.length,
                info.pad_token_2.c_str(), static_cast<long long>(ids_2.back()), info.max_length);
  std::cout << "\nwords:\n";
  for (const auto& w : e.words) {
    std::cout << "  " << w.text << (w.punctuation ? " (punctuation)" : "") << " ->";
    for (int p : w.positions) std::cout << " " << p;
    std::cout << "\n";
  }
  return 0;
}

Runner setup(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  auto* src = app.add_option_group("source", "where the vocabulary comes from");
  src->add_option("-m,--model", o->model, "model package (its tokenizer/, max_length and pad_token, and T5's tokenizer_3/ where it has one)");
  src->add_option("--tokenizer", o->tokenizer, "folder with vocab.json and merges.txt");
  src->require_option(1);
  app.add_option("-p,--prompt", o->prompt, "text to tokenize")->required();
  app.add_flag("--json", o->json, "print one JSON object {ids, tokens, words}");
  app.add_option("--max-length", o->max_length, "context length (with --tokenizer)")->default_val(77)
      ->check(CLI::Range(2, 4096));
  app.add_option("--pad-token", o->pad_token, "padding token (with --tokenizer)")->default_val("<|endoftext|>");
  add_examples(app, {"diffscope tokenize -m models/shapes-v1 -p \"a red circle\"",
                     "diffscope tokenize --tokenizer tests/data/reference/clip-tokenizer -p \"a photo of a cat\" --json"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"tokenize", "show a prompt's token ids, token strings and word map (CLIP, T5)", 20, setup});

}  // namespace
}  // namespace diffscope::cli
