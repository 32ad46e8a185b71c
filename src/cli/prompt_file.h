// Prompt files for the prompt-set modes: one prompt per line, optionally "SEED<TAB>prompt"; # comments skipped.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace diffscope::cli {

/// (seed, prompt) pairs; lines without a seed get `default_seed`. Error naming the file when unreadable or empty.
std::vector<std::pair<int64_t, std::string>> read_prompt_file(const std::string& path, int64_t default_seed);

}  // namespace diffscope::cli
