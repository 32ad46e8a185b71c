// Batch manifests (see manifest.h).
#include "diffscope/study/manifest.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <cmath>
#include <fstream>
#include <set>

#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/path_confine.h"
#include "diffscope/util/utf8.h"

namespace diffscope {

namespace {

const std::set<std::string> kKeys{"id",     "prompt", "negative_prompt", "seed",     "steps", "guidance",
                                  "scheduler", "height", "width",         "analyses", "saliency", "meta",
                                  "concepts"};
const std::set<std::string> kSaliencyKeys{"step", "steps",      "step_frac", "samples", "k",
                                          "batch", "methods", "mask_seeds", "seed",    "similarity"};

std::string text(const nlohmann::json& v, const std::string& key) {
  if (!v.is_string()) throw Error("\"" + key + "\": expected a string");
  const std::string s = v.get<std::string>();
  if (!is_valid_utf8(s)) throw Error("\"" + key + "\": not valid UTF-8");
  return s;
}

int64_t integer(const nlohmann::json& v, const std::string& key, int64_t lo, int64_t hi) {
  if (!v.is_number_integer() && !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
                                   std::abs(v.get<double>()) < 9e15))
    throw Error("\"" + key + "\": expected an integer");
  const int64_t x = v.is_number_unsigned() ? (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? -1 : v.get<int64_t>())
                    : v.is_number_integer() ? v.get<int64_t>()
                                             : static_cast<int64_t>(v.get<double>());
  if (x < lo || x > hi) throw Error("\"" + key + "\": expected " + std::to_string(lo) + ".." + std::to_string(hi));
  return x;
}

/// A run folder's name in the batch folder: util's one rule for names (path_confine.h), and not the batch folder's
/// own failures*.jsonl files.
bool safe_id(const std::string& id) { return is_safe_name(id) && id.rfind("failures", 0) != 0; }

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ';' || c == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

ManifestLine parse_manifest_entry(const nlohmann::json& e) {
  if (!e.is_object()) throw Error("expected a JSON object per line");
  ManifestLine m;
  for (const auto& [k, v] : e.items())
    if (!kKeys.count(k))
      throw Error("unknown key \"" + k + "\" (expected id, prompt, negative_prompt, seed, steps, guidance, scheduler, "
                  "height, width, analyses, saliency, meta, concepts)");
  if (!e.contains("prompt")) throw Error("\"prompt\": required");
  m.prompt = text(e["prompt"], "prompt");
  if (m.prompt.find_first_not_of(" \t\r\n") == std::string::npos) throw Error("\"prompt\": empty");
  if (e.contains("id")) {
    m.id = e["id"].is_number_integer() ? std::to_string(e["id"].get<int64_t>()) : text(e["id"], "id");
    if (!safe_id(m.id))
      throw Error("\"id\": \"" + m.id + "\" is not a folder name (letters, digits, - _ . ; not starting with . or - "
                  "or \"failures\")");
  }
  if (e.contains("negative_prompt")) m.negative_prompt = text(e["negative_prompt"], "negative_prompt");
  if (e.contains("scheduler")) m.scheduler = text(e["scheduler"], "scheduler");
  if (e.contains("seed")) m.seed = integer(e["seed"], "seed", 0, INT64_MAX);
  if (e.contains("steps")) m.steps = static_cast<int>(integer(e["steps"], "steps", 1, 1000));
  if (e.contains("height")) m.height = static_cast<int>(integer(e["height"], "height", 8, 4096));
  if (e.contains("width")) m.width = static_cast<int>(integer(e["width"], "width", 8, 4096));
  if (e.contains("guidance")) {
    if (!e["guidance"].is_number() || !std::isfinite(e["guidance"].get<double>()))
      throw Error("\"guidance\": expected a finite number");
    m.guidance = e["guidance"].get<double>();
  }
  if (e.contains("analyses")) {
    const auto& a = e["analyses"];
    if (a.is_string()) {
      m.analyses = split_list(a.get<std::string>());
    } else if (a.is_array()) {
      for (const auto& x : a) m.analyses.push_back(text(x, "analyses"));
    } else {
      throw Error("\"analyses\": expected a list of analysis names");
    }
  }
  if (e.contains("concepts")) {  // "sky,tree" or ["sky", "tree"]: each line its own open-vocabulary words
    const auto& c = e["concepts"];
    std::vector<std::string> words;
    if (c.is_string()) {
      std::string cur;  // commas only: a concept may be a phrase ("traffic light")
      for (char ch : c.get<std::string>() + ",") {
        if (ch != ',') { cur += ch; continue; }
        const size_t a = cur.find_first_not_of(' '), z = cur.find_last_not_of(' ');
        if (a != std::string::npos) words.push_back(cur.substr(a, z - a + 1));
        cur.clear();
      }
    } else if (c.is_array()) {
      for (const auto& x : c) words.push_back(text(x, "concepts"));
    } else {
      throw Error("\"concepts\": expected a list of words");
    }
    m.concepts = words;
  }
  if (e.contains("saliency") && !e["saliency"].is_null()) {
    if (!e["saliency"].is_object()) throw Error("\"saliency\": expected an object of saliency settings");
    for (const auto& [k, v] : e["saliency"].items())
      if (!kSaliencyKeys.count(k))
        throw Error("\"saliency\": unknown key \"" + k + "\" (expected step, steps, step_frac, samples, k, batch, "
                    "methods, mask_seeds, seed, similarity)");
    m.saliency = e["saliency"];
  }
  if (e.contains("meta") && !e["meta"].is_null()) {
    if (!e["meta"].is_object()) throw Error("\"meta\": expected an object");
    m.meta = e["meta"];
  }
  m.canonical = e.dump();
  return m;
}

Manifest read_manifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("manifest " + path + ": cannot be read");
  Manifest out;
  std::set<std::string> ids;
  auto add = [&](int line, const std::function<nlohmann::json()>& parse) {
    const size_t index = out.entries++;
    try {
      ManifestLine m = parse_manifest_entry(parse());
      m.line = line;
      m.index = index;
      if (m.id.empty()) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%05zu", index);
        m.id = buf;
      }
      if (!ids.insert(m.id).second) throw Error("\"id\": \"" + m.id + "\" repeats an earlier line's");
      out.lines.push_back(std::move(m));
    } catch (const Error& e) {
      out.problems.push_back({line, index, path + ":" + std::to_string(line) + ": " + e.what()});
    }
  };
  const bool csv = path.size() > 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
  if (csv) {
    const auto rows = read_csv(path);
    if (rows.empty()) throw Error("manifest " + path + ": empty (expected a header row and one row per run)");
    const auto& header = rows[0];
    for (const auto& h : header)
      if (!kKeys.count(h) && h.rfind("meta.", 0) != 0)
        throw Error("manifest " + path + ": unknown column \"" + h + "\" (expected id, prompt, negative_prompt, seed, "
                    "steps, guidance, scheduler, height, width, analyses, meta.NAME)");
    for (size_t r = 1; r < rows.size(); ++r) {
      const auto& row = rows[r];
      if (row.size() == 1 && row[0].empty()) continue;
      add(static_cast<int>(r + 1), [&]() {
        if (row.size() != header.size())
          throw Error(std::to_string(row.size()) + " fields for " + std::to_string(header.size()) + " columns");
        nlohmann::json e = nlohmann::json::object();
        for (size_t c = 0; c < header.size(); ++c) {
          const std::string& h = header[c];
          const std::string& v = row[c];
          if (v.empty()) continue;  // an empty cell is an unset field
          if (h.rfind("meta.", 0) == 0) {
            e["meta"][h.substr(5)] = v;
          } else if (h == "seed" || h == "steps" || h == "height" || h == "width" || h == "guidance") {
            size_t used = 0;
            double x = 0;
            try {
              x = std::stod(v, &used);
            } catch (const std::exception&) {
              used = 0;
            }
            if (used != v.size()) throw Error("\"" + h + "\": expected a number, got \"" + v + "\"");
            if (h == "guidance") e[h] = x;
            else if (std::floor(x) == x && std::abs(x) < 9e18) e[h] = static_cast<int64_t>(std::stoll(v));
            else throw Error("\"" + h + "\": expected an integer, got \"" + v + "\"");
          } else {
            e[h] = v;
          }
        }
        return e;
      });
    }
  } else {
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto first = line.find_first_not_of(" \t");
      if (first == std::string::npos || line[first] == '#') continue;
      add(number, [&]() {
        nlohmann::json e = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (e.is_discarded()) throw Error("not valid JSON");
        return e;
      });
    }
  }
  if (out.entries == 0) throw Error("manifest " + path + ": no entries (expected one JSON object per line, or CSV rows)");
  return out;
}

std::vector<ManifestLine> manifest_shard(const std::vector<ManifestLine>& lines, int i, int n) {
  std::vector<ManifestLine> out;
  for (const auto& l : lines)
    if (static_cast<int>(l.index % static_cast<size_t>(n)) == i) out.push_back(l);
  return out;
}

std::pair<int, int> parse_shard(const std::string& spec) {
  const auto slash = spec.find('/');
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 5 &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  if (slash == std::string::npos || !digits(spec.substr(0, slash)) || !digits(spec.substr(slash + 1)))
    throw Error("--shard " + spec + ": expected I/N with 0 <= I < N (e.g. 0/4)");
  const int i = std::stoi(spec.substr(0, slash)), n = std::stoi(spec.substr(slash + 1));
  if (n < 1 || i >= n) throw Error("--shard " + spec + ": expected I/N with 0 <= I < N (e.g. 0/4)");
  return {i, n};
}

}  // namespace diffscope
