// Concept correlation: word x word Pearson correlation of attention maps and attribute-binding scores.
#pragma once
#include <string>
#include <vector>

#include "diffscope/analysis/run_folder.h"

namespace diffscope {

/// Pearson correlation between every pair of word maps (latent grid), words x words.
std::vector<std::vector<double>> word_correlations(const std::vector<std::vector<float>>& maps);

/// An attribute (adjective) and its own noun, plus the other nouns of the prompt.
struct BindingPair {
  size_t adjective = 0, noun = 0;    ///< indices into the content words
  std::vector<size_t> other_nouns;
};

/// Pairs each attribute word with the first noun after it in the same clause (clauses split at "and" / ","),
/// where `is_noun` tells nouns (e.g. concepts.json's shapes) and `is_attribute` attributes (colours, sizes).
std::vector<BindingPair> binding_pairs(const std::vector<Word>& words, const std::vector<bool>& is_noun,
                                       const std::vector<bool>& is_attribute);

/// corr(adjective, own noun) - max corr(adjective, other nouns); just the first term when there is no other noun.
double binding_score(const std::vector<std::vector<double>>& corr, const BindingPair& p);

}  // namespace diffscope
