// Paths and ids taken from files (a manifest's ids, a dataset index's item ids, image and mask paths) are confined to
// the folder they name a place in: one rule, used by batch, attribute and features, so a line such as
// "../../etc/x" or "/abs/x" can never make diffscope read or write outside that folder.
#pragma once
#include <string>

namespace diffscope {

/// Whether `name` can be used as one folder or file name inside an output folder: 1..128 characters of letters,
/// digits, '-', '_' and '.', not starting with '.' or '-' (so never "", ".", "..", a path, a hidden or option-like
/// name, or a name with control characters).
bool is_safe_name(const std::string& name);

/// Why `name` is not a safe name (the rule, for an error message), or "" when it is.
std::string safe_name_problem(const std::string& name);

/// `dir`/`rel` for a relative path `rel` read from a file: refused (Error, exit 2, one line starting with `what`)
/// when `rel` is empty, absolute, holds a ".." component, a NUL or another control character. Lexical: a symbolic
/// link inside `dir` is followed as the file system follows it.
std::string confine_path(const std::string& dir, const std::string& rel, const std::string& what);

/// `dir`/`name` for an id that names one entry of `dir` (an output folder per item): refused (Error naming `what`)
/// unless is_safe_name(name).
std::string confine_name(const std::string& dir, const std::string& name, const std::string& what);

}  // namespace diffscope
