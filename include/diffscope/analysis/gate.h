// The regression gate: summary.json values against a baseline, with per-key absolute and relative tolerances.
#pragma once
#include <limits>
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

/// `value` as a tolerance: finite and >= 0, else Error "WHERE: expected a finite number >= 0, got VALUE". Every
/// tolerance (options, tolerance files, baseline files) goes through it.
double checked_tolerance(double value, const std::string& where);

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

/// One checked metric or bar of a gate run.
///   Pass     within tolerance (a baseline null, i.e. an undefined metric, passes only when the run's is null too)
///   Moved    beyond tolerance (for a paired set gate: the whole 95% interval of the mean difference lies beyond it)
///   Missing  in the baseline, not in the run (fails unless GatePolicy::allow_missing)
///   New      in the run, not in the baseline: not gated (fails only with GatePolicy::fail_on_new)
///   Few      a paired set gate's key with fewer than two pairs: no interval, not gated
///   Below, NotLess   a --min / --less bar that does not hold
enum class GateStatus { Pass, Moved, Missing, New, Few, Below, NotLess };

/// What fails besides moved metrics and bars.
struct GatePolicy {
  bool allow_missing = false;  ///< a gated key missing from the run passes (listed as missing)
  bool fail_on_new = false;    ///< a run key that the baseline lacks fails (strict mode)
};

struct GateResult {
  std::string name;   ///< the metric key, or the bar ("KEY>=VALUE", "KEY_A<KEY_B")
  GateStatus status = GateStatus::Pass;
  double baseline, current, tolerance;  ///< NaN where not applicable (for a paired gate: the two sets' means)
  std::string message;                  ///< one line for people (empty on a pass)
  bool bar = false;                     ///< a --min/--less bar rather than a baseline metric
  bool fails = false;                   ///< whether this result fails the gate (status and policy)
  /// Paired set gate only: the pairs with both values, the mean of the per-pair differences (current - baseline)
  /// and its 95% percentile bootstrap interval (2000 resamples, bootstrap_mean_interval's fixed seed).
  size_t pairs = 0;
  double diff = std::numeric_limits<double>::quiet_NaN(), diff_lo = diff, diff_hi = diff;
};

/// Absolute and relative bars on the current summary alone.
struct GateBars {
  std::vector<std::pair<std::string, double>> mins;        ///< KEY must be >= VALUE
  std::vector<std::pair<std::string, std::string>> less;   ///< KEY_A must be < KEY_B
};

/// Every baseline key (the gated ones: pass, moved or missing), every current key the baseline lacks (New) and every
/// bar, in that order.
std::vector<GateResult> run_gate(const std::map<std::string, double>& current, const Baseline* baseline,
                                 const Tolerances& tolerances, const GateBars& bars, const GatePolicy& policy = {});

/// The runs of a prompt set, seed set or batch, each by the name that pairs it with the same run of another set:
/// a merged batch (runs.jsonl: its ids), a batch folder (<id>/batch.json: its ids) or a prompt-set folder
/// (NNN/run.json: "seed<TAB>prompt" of its inputs). `path` is the folder, its summary.json, or a .jsonl file of
/// merge's runs.jsonl form (e.g. a committed copy).
using RunSet = std::map<std::string, std::map<std::string, double>>;
RunSet load_run_set(const std::string& path);

/// The paired set gate: for every key of the baseline set's runs, the per-pair differences current - baseline over
/// the runs both sets hold with a finite value; Moved when the 95% bootstrap interval of their mean lies wholly
/// beyond +-tolerance (the tolerance of the baseline set's mean), so that noise around zero never fails and a
/// consistent shift does. Keys with fewer than two pairs are Few (not gated). Error when fewer than two runs pair.
std::vector<GateResult> run_paired_gate(const RunSet& current, const RunSet& baseline, const Tolerances& tolerances,
                                        const GatePolicy& policy = {});

/// Keeps the gated results whose key matches one of `patterns` (KEY or PREFIX*); bars are kept. Empty keeps all.
std::vector<GateResult> select_keys(std::vector<GateResult> results, const std::vector<std::string>& patterns);

/// "PASS", "MOVED", "MISSING", "NEW", "FEW PAIRS", "BELOW", "NOT LESS".
std::string gate_status_name(GateStatus status);

/// Whether any result fails the gate.
bool gate_failed(const std::vector<GateResult>& results);

/// The count line: "2 of 41 gated metrics moved beyond tolerance; 1 missing; 17 new, not gated; 0 of 2 bars failed"
/// (the parts after the first only when they count something).
std::string gate_summary_line(const std::vector<GateResult>& results);

/// JUnit XML: one <testcase> per gated key and bar in <testsuite name="suite">, a <failure> with the message for
/// each failure; new keys (and allowed missing ones, and keys with too few pairs) as <skipped> cases.
std::string gate_junit(const std::vector<GateResult>& results, const std::string& suite);

/// A markdown summary for CI job pages: the count line, then a table of the failures (or of every result with
/// `all`); new keys are counted, and listed only with `all`. A paired gate's table has the interval column.
std::string gate_markdown(const std::vector<GateResult>& results, bool all);

}  // namespace diffscope
