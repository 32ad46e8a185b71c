// UTF-8 validity (prompts and other text are checked before a run starts, not when run.json is written).
#pragma once
#include <string>

namespace diffscope {

/// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool is_valid_utf8(const std::string& s);

}  // namespace diffscope
