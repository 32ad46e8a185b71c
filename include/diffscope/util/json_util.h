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

/// Python's json module (json.dump, allow_nan=True, its default) writes float("inf"), float("-inf") and
/// float("nan") as the bare words Infinity, -Infinity and NaN, which JSON lacks; diffusers' save_pretrained writes
/// them so (DPMSolverMultistepScheduler's default "lambda_min_clipped": -Infinity). `text` with each of these words
/// outside strings replaced by null, and nothing else changed (strings, "Infinity" inside one included, and line
/// breaks, so a parser's line numbers still hold). A word glued to a letter, digit or '_' (Infinityx, NaN1) is
/// left as it is, and -NaN or +Infinity (which Python never writes) become -null / +null: the parser refuses all.
std::string python_json_words_as_null(const std::string& text);
/// read_json_file for a file Python's json may have written: Infinity, -Infinity and NaN outside strings read as
/// null (python_json_words_as_null), everything else exactly as read_json_file, its one-line errors included.
/// Every reader of a diffusers scheduler_config.json goes through it (SchedulerConfig::from_file and so the
/// package loader, `schedule`, `info`, `generate`): a null key takes the scheduler class's default there, which
/// for lambda_min_clipped is -Infinity itself.
nlohmann::json read_python_json_file(const std::string& path);
/// read_python_json_file, and the error of read_json_object when the top level is not an object.
nlohmann::json read_python_json_object(const std::string& path);

/// A number as JSON: an integer when it is one (timestep 999 stays 999, not 999.0), else the double.
nlohmann::json number_json(double v);
/// number_json over a list.
nlohmann::json numbers_json(const std::vector<double>& v);

/// Writes `j` with indent 2 and a trailing newline, atomically. Throws Error naming `path`.
void write_json_atomic(const std::string& path, const nlohmann::json& j);

}  // namespace diffscope
