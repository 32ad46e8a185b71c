// `diffscope tokenize`: CLIP ids, token strings and the word map of a prompt.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
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
  std::string dir = o.tokenizer;
  int max_length = o.max_length;
  std::string pad = o.pad_token;
  if (!o.model.empty()) {
    const auto index = read_json_object(o.model + "/model_index.json");
    max_length = index.value("max_length", max_length);
    pad = index.value("pad_token", pad);
    dir = o.model + "/tokenizer";
  }
  ClipTokenizer tok = ClipTokenizer::from_dir(dir);
  Encoding e = tok.encode(o.prompt, max_length, pad);
  if (o.json) {
    nlohmann::json words = nlohmann::json::array();
    for (const auto& w : e.words) words.push_back({{"word", w.text}, {"positions", w.positions}, {"punctuation", w.punctuation}});
    nlohmann::json j{{"ids", e.ids}, {"tokens", e.tokens}, {"words", words}, {"length", e.length},
                     {"dropped_words", e.dropped_words}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << "pos  id      token\n";
  for (int i = 0; i < e.length; ++i) std::printf("%-4d %-7lld %s\n", i, static_cast<long long>(e.ids[i]), e.tokens[i].c_str());
  if (e.length < max_length)
    std::printf("(%d padding positions with id %lld)\n", max_length - e.length, static_cast<long long>(e.ids.back()));
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
  src->add_option("-m,--model", o->model, "model package (uses its tokenizer/, max_length and pad_token)");
  src->add_option("--tokenizer", o->tokenizer, "folder with vocab.json and merges.txt");
  src->require_option(1);
  app.add_option("-p,--prompt", o->prompt, "text to tokenize")->required();
  app.add_flag("--json", o->json, "print one JSON object {ids, tokens, words}");
  app.add_option("--max-length", o->max_length, "context length (with --tokenizer)")->default_val(77);
  app.add_option("--pad-token", o->pad_token, "padding token (with --tokenizer)")->default_val("<|endoftext|>");
  add_examples(app, {"diffscope tokenize -m models/shapes-v1 -p \"a red circle\"",
                     "diffscope tokenize --tokenizer tests/data/reference/clip-tokenizer -p \"a photo of a cat\" --json"});
  return [o] { return run(*o); };
}

DIFFSCOPE_COMMAND({"tokenize", "show CLIP token ids, token strings and the word map of a prompt", 20, setup});

}  // namespace
}  // namespace diffscope::cli
