// The regression gate: summary.json values against a baseline, with per-key absolute and relative tolerances.
#pragma once
#include <map>
#include <nlohmann/json_fwd.hpp>
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
  /// The same from a parsed object; `where` names it in errors.
  static Tolerances from_json(const nlohmann::json& j, const std::string& where);
  /// {"default": {...}, "keys": {...}}, what load reads.
  nlohmann::json to_json() const;
  /// Sets every key of `over` (and its default when `with_default`) over this one's.
  void override_with(const Tolerances& over, bool with_default);
};

/// What a regression gate compares against: metrics, and the tolerances they are held to. A baseline file written by
/// `diffscope baseline` is {"diffscope_baseline": 1, "metrics": {KEY: value}, "tolerances": {...}, "source": ...,
/// "about": ...}; a plain summary.json reads as metrics without tolerances.
struct Baseline {
  std::map<std::string, double> metrics;
  Tolerances tolerances;
  bool has_tolerances = false;

  static Baseline load(const std::string& path);
  /// Writes the baseline file atomically; `source` (the summary it was made from) and `about` are recorded.
  void write(const std::string& path, const std::string& source, const std::string& about) const;
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

/// One checked metric or bar of a gate run.
enum class GateStatus { Pass, Moved, Missing, New, Below, NotLess };

struct GateResult {
  std::string name;   ///< the metric key, or the bar ("KEY>=VALUE", "KEY_A<KEY_B")
  GateStatus status = GateStatus::Pass;
  double baseline, current, tolerance;  ///< NaN where not applicable
  std::string message;                  ///< one line for people (empty on a pass)
  bool bar = false;                     ///< a --min/--less bar rather than a baseline metric
};

/// Absolute and relative bars on the current summary alone.
struct GateBars {
  std::vector<std::pair<std::string, double>> mins;        ///< KEY must be >= VALUE
  std::vector<std::pair<std::string, std::string>> less;   ///< KEY_A must be < KEY_B
};

/// Every baseline key (pass or not), every current key the baseline lacks (New) and every bar, in that order.
std::vector<GateResult> run_gate(const std::map<std::string, double>& current, const Baseline* baseline,
                                 const Tolerances& tolerances, const GateBars& bars);

/// "PASS", "MOVED", "MISSING", "NEW", "BELOW", "NOT LESS".
std::string gate_status_name(GateStatus status);

/// Whether any result fails the gate.
bool gate_failed(const std::vector<GateResult>& results);

/// JUnit XML: one <testcase> per result in <testsuite name="suite">, a <failure> with the message for each failure.
std::string gate_junit(const std::vector<GateResult>& results, const std::string& suite);

/// A markdown summary for CI job pages: a count line, then a table of the failures (or of every metric with `all`).
std::string gate_markdown(const std::vector<GateResult>& results, bool all);

}  // namespace diffscope
