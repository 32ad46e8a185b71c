// Which words the model settles, step by step: attention mass/share per word and when each word's location is
// decided (correlation of its per-step map with its aggregated map).
#pragma once
#include <string>
#include <vector>

#include "diffscope/analysis/run_folder.h"

namespace diffscope {

/// One row per step. mass = mean attention probability of the word over the latent pixels (sub-tokens summed);
/// share = mass / total mass of the prompt's words; start/end/padding are reported apart.
struct SettleRow {
  int step = 0;
  double timestep = 0;
  std::vector<double> mass, share, corr_final;  ///< per content word
  double start_mass = 0, end_mass = 0, padding_mass = 0;
};

std::vector<SettleRow> settle_table(const RunFolder& run, const std::vector<int>& aggregate_steps);

/// The first step from which a word's correlation with its final map stays >= threshold (-1 if never).
int decided_step(const std::vector<SettleRow>& rows, size_t word, double threshold = 0.9);

}  // namespace diffscope
