// The regression gate: summary.json values against a baseline, with per-key absolute and relative tolerances.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace diffscope {

/// One key's allowance: |current - baseline| <= max(abs, rel * |baseline|).
struct Tolerance {
  double abs = 0.0;
  double rel = 0.0;
  double allowed(double baseline) const;
};

/// Per-key tolerances: an exact key, or a prefix ending in '*' (the longest matching prefix wins).
struct Tolerances {
  Tolerance fallback{1e-6, 0.0};            ///< keys without an entry
  std::map<std::string, Tolerance> keys;

  const Tolerance& for_key(const std::string& key) const;

  /// Reads a tolerance file: {"default": {"abs": A, "rel": R}, "keys": {"KEY or PREFIX*": {"abs": A, "rel": R}}};
  /// "about" and "measured" are documentation and not read. Anything else is refused (Error naming the file).
  static Tolerances load(const std::string& path);
};

/// Flattens a JSON object's numeric leaves to dotted keys (null reads as NaN; "seed" is dropped).
std::map<std::string, double> flatten_numbers(const std::string& json_path);

/// A metric that moved: baseline and current values (NaN when missing) and the tolerance it was held to.
struct Moved {
  std::string key;
  double baseline, current, tolerance;
};

/// Keys whose |current - baseline| exceeds their tolerance; keys missing from either side are reported too.
/// NaN equals NaN.
std::vector<Moved> compare_summaries(const std::map<std::string, double>& current,
                                     const std::map<std::string, double>& baseline, const Tolerances& tolerances);

}  // namespace diffscope
