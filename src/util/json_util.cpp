// JSON files: one-line parse errors naming file and line; atomic pretty-printed writing.
#include "diffscope/util/json_util.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>

#include "diffscope/util/atomic_file.h"
#include "diffscope/util/error.h"
#include "diffscope/util/file_checks.h"

namespace diffscope {

namespace {

// nlohmann's message is "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ...";
// keep only the part after "column N: ".
std::string parser_reason(const std::string& what) {
  size_t col = what.find("column ");
  if (col != std::string::npos) {
    size_t colon = what.find(": ", col);
    if (colon != std::string::npos) return what.substr(colon + 2);
  }
  size_t bracket = what.find("] ");
  return bracket == std::string::npos ? what : what.substr(bracket + 2);
}

std::string read_text(const std::string& path) {
  require_file(path, "a JSON file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(path + ": cannot be read");
  return text;
}

nlohmann::json parse_text(const std::string& path, const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    size_t upto = std::min(text.size(), e.byte > 0 ? static_cast<size_t>(e.byte - 1) : size_t{0});
    size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + upto, '\n'));
    throw Error(path + ": not valid JSON (line " + std::to_string(line) + ": " + parser_reason(e.what()) + ")");
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + parser_reason(e.what()) + ")");
  }
}

nlohmann::json require_object(const std::string& path, nlohmann::json j) {
  if (!j.is_object()) throw Error(path + ": expected a JSON object ({...}), found " + std::string(j.type_name()));
  return j;
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

nlohmann::json read_json_file(const std::string& path) { return parse_text(path, read_text(path)); }

nlohmann::json read_json_object(const std::string& path) { return require_object(path, read_json_file(path)); }

std::string python_json_words_as_null(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];  // an escaped character, '"' included
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    size_t n = 0;
    if (i == 0 || !word_char(text[i - 1]))
      for (const char* w : {"-Infinity", "Infinity", "NaN"}) {
        const size_t len = std::char_traits<char>::length(w);
        if (text.compare(i, len, w) == 0 && (i + len == text.size() || !word_char(text[i + len]))) {
          n = len;
          break;
        }
      }
    if (n == 0) {
      out += c;
      continue;
    }
    out += "null";
    i += n - 1;
  }
  return out;
}

nlohmann::json read_python_json_file(const std::string& path) {
  return parse_text(path, python_json_words_as_null(read_text(path)));
}

nlohmann::json read_python_json_object(const std::string& path) {
  return require_object(path, read_python_json_file(path));
}

void write_json_atomic(const std::string& path, const nlohmann::json& j) {
  std::string text;
  try {
    text = j.dump(2);
  } catch (const nlohmann::json::exception& e) {  // e.g. invalid UTF-8 in a string
    throw Error(path + ": cannot be written (" + parser_reason(e.what()) + ")", kExitFailure);
  }
  text += '\n';
  write_file_atomic(path, text);
}

nlohmann::json number_json(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) return static_cast<int64_t>(v);
  return v;
}

nlohmann::json numbers_json(const std::vector<double>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (double x : v) out.push_back(number_json(x));
  return out;
}

}  // namespace diffscope
