// Reading prompt-set files.
#include "cli/prompt_file.h"

#include <fstream>

#include "diffscope/error.h"

namespace diffscope::cli {

std::vector<std::pair<int64_t, std::string>> read_prompt_file(const std::string& path, int64_t default_seed) {
  std::ifstream in(path);
  if (!in) throw Error("--prompts " + path + ": cannot be read (expected one prompt per line)");
  std::vector<std::pair<int64_t, std::string>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) {
      out.emplace_back(default_seed, line);
      continue;
    }
    try {
      out.emplace_back(std::stoll(line.substr(0, tab)), line.substr(tab + 1));
    } catch (const std::exception&) {
      throw Error("--prompts " + path + ": \"" + line + "\" should be SEED<TAB>prompt or just the prompt");
    }
  }
  if (out.empty()) throw Error("--prompts " + path + ": no prompts in the file");
  return out;
}

}  // namespace diffscope::cli
