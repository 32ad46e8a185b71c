// Input files are checked before they are opened, so a folder or a missing file gets one line naming it, never a
// stream library message.
#pragma once
#include <string>

namespace diffscope {

/// Error "PATH: cannot be read" (missing) or "PATH: is a folder, expected WHAT" unless PATH is a readable
/// regular file (or a link to one).
void require_file(const std::string& path, const std::string& what);

}  // namespace diffscope
