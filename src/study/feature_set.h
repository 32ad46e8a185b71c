// Internal to the study layer: a finished `diffscope features` folder (index.json, labels.csv, the .npy files) as
// probe and sae read it.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace diffscope::study {

struct FeatureSet {
  std::string dir;
  nlohmann::json index;
  std::vector<std::vector<std::string>> table;  ///< labels.csv, header first
  std::vector<std::string> labels;              ///< the label columns index.json names

  /// The column `name` of labels.csv, or -1.
  int column(const std::string& name) const;
  int64_t images() const { return static_cast<int64_t>(table.size()) - 1; }
  /// Image `i`'s value in column `col` ("" when not defined for it).
  const std::string& value(int64_t i, int col) const { return table[static_cast<size_t>(i + 1)][static_cast<size_t>(col)]; }
  bool is_test(int64_t i) const;
  /// Image `i`'s file (a relative path resolved against the folder the extraction ran in).
  std::string image_path(int64_t i) const;
};

/// Reads DIR/index.json and DIR/labels.csv; one-line errors naming `option` when DIR is not a finished feature set.
FeatureSet open_feature_set(const std::string& dir, const std::string& option = "--features");

}  // namespace diffscope::study
