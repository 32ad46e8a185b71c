// JSON files: reading with one-line errors, atomic pretty-printed writing.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace diffscope {

/// Parses the JSON file at `path`. Throws Error "path: cannot be read" or
/// "path: not valid JSON (line L: <parser message>)".
nlohmann::json read_json_file(const std::string& path);
/// read_json_file, and Error "path: expected a JSON object ({...}), found array" when the top level is not an object.
nlohmann::json read_json_object(const std::string& path);

/// A number as JSON: an integer when it is one (timestep 999 stays 999, not 999.0), else the double.
nlohmann::json number_json(double v);
/// number_json over a list.
nlohmann::json numbers_json(const std::vector<double>& v);

/// Writes `j` with indent 2 and a trailing newline, atomically. Throws Error naming `path`.
void write_json_atomic(const std::string& path, const nlohmann::json& j);

}  // namespace diffscope
