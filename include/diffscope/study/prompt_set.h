// Prompt sets: a file of prompts (one per line, optionally SEED<TAB>prompt; # comments), each run into its own
// folder NNN under the set's output folder.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffscope {

struct PromptItem {
  size_t index = 0;
  int64_t seed = 0;
  std::string prompt;
  std::string folder;  ///< "000", "001", ... (the run folder's name under the set's root)
};

/// Reads a prompt-group file: one group per line, its prompts separated by tabs (at least two: "a red circle<TAB>a
/// blue circle"); blank lines and lines starting with # are skipped. Error naming the file and line otherwise.
std::vector<std::vector<std::string>> read_prompt_groups(const std::string& path);

/// Reads a prompt file; lines without a seed get `default_seed`. Error naming the file when unreadable or empty.
std::vector<PromptItem> read_prompt_file(const std::string& path, int64_t default_seed);

}  // namespace diffscope
