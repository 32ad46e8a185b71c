// Paths and ids read from files, confined to their folder (see path_confine.h).
#include "diffscope/util/path_confine.h"

#include <cctype>
#include <filesystem>

#include "diffscope/util/error.h"

namespace fs = std::filesystem;

namespace diffscope {

std::string safe_name_problem(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name.size() > 128) return "is longer than 128 characters";
  if (name[0] == '.' || name[0] == '-') return "starts with '" + std::string(1, name[0]) + "'";
  for (unsigned char c : name)
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.')
      return c == '/' || c == '\\' ? "holds a path separator" : "holds a character other than letters, digits, - _ .";
  return "";
}

bool is_safe_name(const std::string& name) { return safe_name_problem(name).empty(); }

std::string confine_path(const std::string& dir, const std::string& rel, const std::string& what) {
  const std::string expected = " (expected a path relative to " + dir + ", inside it)";
  if (rel.empty()) throw Error(what + ": is empty" + expected);
  for (unsigned char c : rel)
    if (c < 0x20 || c == 0x7f) throw Error(what + " \"" + rel + "\": holds a control character" + expected);
  const fs::path p(rel);
  if (p.is_absolute() || p.has_root_name() || p.has_root_directory())
    throw Error(what + " \"" + rel + "\": is an absolute path" + expected);
  for (const auto& part : p)
    if (part == "..") throw Error(what + " \"" + rel + "\": leaves the folder (\"..\")" + expected);
  return (fs::path(dir) / p).lexically_normal().string();
}

std::string confine_name(const std::string& dir, const std::string& name, const std::string& what) {
  const std::string problem = safe_name_problem(name);
  if (!problem.empty())
    throw Error(what + " \"" + name + "\": " + problem + " (expected a folder name: letters, digits, - _ . ; not "
                "starting with . or -)");
  return (fs::path(dir) / name).string();
}

}  // namespace diffscope
