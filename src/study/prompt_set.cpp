// Reading prompt-set files (see prompt_set.h).
#include "diffscope/study/prompt_set.h"

#include <cstdio>
#include <fstream>

#include "diffscope/util/error.h"

namespace diffscope {

std::vector<PromptItem> read_prompt_file(const std::string& path, int64_t default_seed) {
  std::ifstream in(path);
  if (!in) throw Error("--prompts " + path + ": cannot be read (expected one prompt per line)");
  std::vector<PromptItem> out;
  std::string line;
  auto add = [&](int64_t seed, std::string prompt) {
    PromptItem it;
    it.index = out.size();
    it.seed = seed;
    it.prompt = std::move(prompt);
    char name[16];
    std::snprintf(name, sizeof name, "%03zu", it.index);
    it.folder = name;
    out.push_back(std::move(it));
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) {
      add(default_seed, line);
      continue;
    }
    int64_t seed = 0;
    try {
      seed = std::stoll(line.substr(0, tab));
    } catch (const std::exception&) {
      throw Error("--prompts " + path + ": \"" + line + "\" should be SEED<TAB>prompt or just the prompt");
    }
    add(seed, line.substr(tab + 1));
  }
  if (out.empty()) throw Error("--prompts " + path + ": no prompts in the file");
  return out;
}

std::vector<std::vector<std::string>> read_prompt_groups(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("--pairs " + path + ": cannot be read (expected one group of tab-separated prompts per line)");
  std::vector<std::vector<std::string>> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> group;
    size_t start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
      group.push_back(line.substr(start, tab - start));
    group.push_back(line.substr(start));
    for (const auto& p : group)
      if (p.find_first_not_of(' ') == std::string::npos)
        throw Error("--pairs " + path + ":" + std::to_string(number) + ": an empty prompt");
    if (group.size() < 2)
      throw Error("--pairs " + path + ":" + std::to_string(number) + ": \"" + line +
                  "\" has one prompt; separate the prompts of a group with a tab");
    out.push_back(group);
  }
  if (out.empty()) throw Error("--pairs " + path + ": no prompt groups in the file");
  return out;
}

}  // namespace diffscope

