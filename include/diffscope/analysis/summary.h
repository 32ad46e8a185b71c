// summary.json: the headline numbers of a run folder or a prompt set, under stable dotted keys. The one type that
// reads, merges, writes (atomically) and aggregates it; every command and analysis writes through it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace diffscope {

/// A flat JSON object: dotted key -> number (null when not finite), a count, or a text (prompt).
class Summary {
 public:
  /// The summary stored at `path`, or an empty one when no file is there. Error when it is not a JSON object.
  static Summary load_or_empty(const std::string& path);

  void set(const std::string& key, double value);  ///< a metric; NaN and infinities are written as null
  void set_count(const std::string& key, int64_t value);
  void set_text(const std::string& key, const std::string& value);
  /// Every value of `values` under "prefix + key".
  void set_all(const std::map<std::string, double>& values, const std::string& prefix = "");

  bool contains(const std::string& key) const { return j_.contains(key); }
  /// The numeric keys (null read as NaN).
  std::map<std::string, double> numbers() const;
  const nlohmann::json& json() const { return j_; }

  /// Writes the whole summary to `path` atomically (keys sorted, indent 2).
  void write(const std::string& path) const;
  /// Reads `path` (if present), sets this summary's keys over it and writes it back atomically: analyses that run
  /// at different times on one run folder add to one summary.json.
  void merge_into(const std::string& path) const;

 private:
  nlohmann::json j_ = nlohmann::json::object();
};

/// A metric's value per run of a prompt (or seed, or dataset) set, reduced to the set's keys:
/// KEY.mean, KEY.std (sample standard deviation, ddof 1; null for one run), KEY.n, KEY.ci95_lo / KEY.ci95_hi (the
/// 95% percentile bootstrap interval of the mean, 2000 resamples, fixed seed; null for one run); and for curves,
/// the AUC of the mean curve under KEY.mean_curve.
class SummaryAggregate {
 public:
  /// Adds every finite value of one run's keys.
  void add(const std::map<std::string, double>& run_values);
  /// Adds one finite value (non-finite values are not counted).
  void add(const std::string& key, double value);
  /// Adds one run's curve (same x for every run of a key); `reduce` turns the mean curve into the KEY.mean_curve
  /// number (e.g. the paper's normalised AUC).
  void add_curve(const std::string& key, const std::vector<double>& x, const std::vector<double>& y);
  /// The pointwise mean of the curves added under `key` (x, y).
  std::pair<std::vector<double>, std::vector<double>> mean_curve(const std::string& key) const;
  std::vector<std::string> curve_keys() const;

  /// Writes KEY.mean, KEY.std, KEY.n, KEY.ci95_lo, KEY.ci95_hi for every value key into `s`.
  void write_to(Summary& s) const;

 private:
  std::map<std::string, std::vector<double>> values_;
  std::map<std::string, std::pair<std::vector<double>, std::vector<std::vector<double>>>> curves_;
};

}  // namespace diffscope
