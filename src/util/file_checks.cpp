// Input file checks (see file_checks.h).
#include "diffscope/util/file_checks.h"

#include <filesystem>

#include "diffscope/util/error.h"

namespace diffscope {

void require_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) throw Error(path + ": cannot be read");
  if (std::filesystem::is_directory(st)) throw Error(path + ": is a folder, expected " + what);
  if (!std::filesystem::is_regular_file(st)) throw Error(path + ": not a regular file, expected " + what);
}

}  // namespace diffscope
