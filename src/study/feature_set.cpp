// A finished `diffscope features` folder (see feature_set.h).
#include "study/feature_set.h"

#include <filesystem>

#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"

namespace fs = std::filesystem;

namespace diffscope::study {

int FeatureSet::column(const std::string& name) const {
  const auto& head = table[0];
  for (size_t i = 0; i < head.size(); ++i)
    if (head[i] == name) return static_cast<int>(i);
  return -1;
}

bool FeatureSet::is_test(int64_t i) const {
  static const std::string kTest = "test";
  return value(i, column("split")) == kTest;
}

std::string FeatureSet::image_path(int64_t i) const {
  const fs::path p = value(i, column("image"));
  // relative paths are relative to the folder the extraction ran in (index.json's root)
  if (p.is_relative() && index.contains("root") && index["root"].is_string())
    return (fs::path(index["root"].get<std::string>()) / p).lexically_normal().string();
  return p.string();
}

FeatureSet open_feature_set(const std::string& dir, const std::string& option) {
  FeatureSet s;
  s.dir = dir;
  const std::string index_path = dir + "/index.json";
  if (!fs::is_regular_file(index_path))
    throw Error(option + " " + dir + ": holds no index.json (run diffscope features first, and let it finish)");
  s.index = read_json_object(index_path);
  if (!s.index.is_object() || s.index.value("format", "") != "diffscope-features" || !s.index.contains("files") ||
      !s.index["files"].is_array())
    throw Error(index_path + ": not a diffscope-features index");
  s.table = read_csv(dir + "/labels.csv");
  if (s.table.size() < 3) throw Error(dir + "/labels.csv: expected a header and rows");
  for (const char* c : {"split", "image"})
    if (s.column(c) < 0) throw Error(dir + "/labels.csv: no " + std::string(c) + " column");
  for (size_t r = 1; r < s.table.size(); ++r)
    if (s.table[r].size() != s.table[0].size())
      throw Error(dir + "/labels.csv: row " + std::to_string(r) + " has " + std::to_string(s.table[r].size()) +
                  " fields, the header " + std::to_string(s.table[0].size()));
  // labels.csv against index.json: one row per extracted image, as many as every feature file's rows
  const int64_t rows = s.images();
  const auto mismatch = [&](const std::string& what, int64_t n) {
    throw Error(dir + "/labels.csv: " + std::to_string(rows) + " rows, but " + what + " " + std::to_string(n) +
                " (files from different extractions, or edited; rerun diffscope features)");
  };
  if (s.index.contains("images") && s.index["images"].is_array() &&
      static_cast<int64_t>(s.index["images"].size()) != rows)
    mismatch("index.json lists", static_cast<int64_t>(s.index["images"].size()));
  for (const auto& f : s.index["files"])
    if (f.is_object() && f.contains("shape") && f["shape"].is_array() && !f["shape"].empty() &&
        f["shape"][0].is_number_integer() && f["shape"][0].get<int64_t>() != rows)
      mismatch(f.value("file", std::string("a feature file")) + " holds", f["shape"][0].get<int64_t>());
  if (s.index.contains("labels") && s.index["labels"].is_array())
    for (const auto& l : s.index["labels"]) s.labels.push_back(l.get<std::string>());
  return s;
}

}  // namespace diffscope::study
