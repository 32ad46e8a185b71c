// RunFolder: a generated (or attributed) run read back from disk for the analyses.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diffscope/util/npy.h"
#include "diffscope/text/tokenizer.h"

namespace diffscope {

/// A cross-attention layer the run captured (run.json model.attention_layers, restricted to attention.layers).
struct CapturedLayer {
  int index = 0;         ///< in the model's cross-attention layers (what generate --layers takes)
  std::string name;      ///< diffusers' module name
  int heads = 0, height = 0, width = 0;
};

/// run.json + attention/maps.npy (+ final.png size); validated on load, Error naming the file otherwise.
struct RunFolder {
  std::string dir;
  nlohmann::json meta;             ///< run.json
  std::vector<double> timesteps;  ///< one per step (fractional for Euler linspace / Karras)
  std::vector<Word> words;         ///< prompt words -> token positions
  std::vector<std::string> tokens;
  int token_count = 0;             ///< real positions incl. start and end
  NpyArray maps;                   ///< [steps, tokens, h, w]
  int steps = 0, num_tokens = 0, h = 0, w = 0;
  int image_h = 0, image_w = 0;
  bool has_attention = false;      ///< false for a --no-attention run (maps empty)
  std::vector<std::string> concepts;  ///< generate --concepts words (run.json attention.concepts), else empty

  /// Reads run.json, final.png and (when the run captured them) attention/maps.npy. With `require_attention`, a
  /// run without attention maps is an Error naming run.json.
  static RunFolder load(const std::string& dir, bool require_attention = true);
  /// The run's open-vocabulary concept maps seen as a run folder of their own: attention/concept_maps.npy as
  /// `maps` (checked like maps.npy), one word per concept at its own token position, the rest of the run shared, so
  /// every word-map analysis (heatmaps, scores) reads concepts unchanged. Error naming run.json without concepts.
  RunFolder concept_view() const;
  /// Pointer to the h*w map of one token at one step.
  const float* map(int step, int token) const;
  /// A word's map at one step: the mean of its sub-token maps (DAAM merges sub-words the same way).
  std::vector<float> word_map(int step, const Word& word) const;
  /// Mean of a word's maps over `steps`.
  std::vector<float> word_map(const std::vector<int>& steps, const Word& word) const;
  /// The words that carry meaning (punctuation dropped).
  std::vector<Word> content_words() const;
  /// Path inside the run folder.
  std::string path(const std::string& rel) const;
  /// latents.npy [steps+1, C, h, w], checked: it belongs to this run.json (the SHA-256 recorded there), it has the
  /// run's steps, and every value is finite. Error naming the file otherwise.
  NpyArray read_latents() const;
  /// The captured layers, in the order of the kept arrays' layer axis. Error naming run.json when it lacks them.
  std::vector<CapturedLayer> captured_layers() const;
  /// Steps whose per-layer (`heads` false: generate --keep-layers) or per-head (--keep-heads) maps were kept.
  std::vector<int> kept_steps(bool heads) const;
  /// One kept array, checked: it belongs to this run.json (SHA-256 when recorded), its shape is
  /// [layers, tokens, h, w] (or [layers, heads, tokens, h, w]) against the run, every value finite.
  NpyArray read_kept(int step, bool heads) const;

 private:
  static void load_maps(RunFolder& r, const std::string& run_json);
};

/// Parses a step selection against `steps` steps: "all", "K", "A:B" (B exclusive, Python-style, negatives count
/// from the end), "A:B:S" (every S-th), fractions "0.0:0.3" of the run, or a comma list of those ("0,6,12", "0:3,20") as their union. Error naming the option when empty or malformed.
std::vector<int> parse_steps(const std::string& spec, int steps, const std::string& option = "--steps");

/// Stable per-word keys: the word itself, then "word#2", "word#3" for its repeats. Every output that names a
/// word (summary.json keys, CSV tables, plot legends, figure titles, heatmap file names via safe_name, the report)
/// names it by this key, so a repeated word is never written twice under one name.
std::vector<std::string> word_keys(const std::vector<Word>& words);

}  // namespace diffscope
