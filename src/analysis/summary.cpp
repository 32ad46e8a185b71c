// summary.json reading, merging, writing and prompt-set aggregation (see summary.h).
#include "diffscope/analysis/summary.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/metrics/metrics.h"

namespace diffscope {

Summary Summary::load_or_empty(const std::string& path) {
  Summary s;
  if (!std::filesystem::exists(path)) return s;
  s.j_ = read_json_file(path);
  if (!s.j_.is_object()) throw Error(path + ": expected a JSON object of metrics");
  return s;
}

void Summary::set(const std::string& key, double value) {
  j_[key] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

void Summary::set_count(const std::string& key, int64_t value) { j_[key] = value; }

void Summary::set_text(const std::string& key, const std::string& value) { j_[key] = value; }

void Summary::set_all(const std::map<std::string, double>& values, const std::string& prefix) {
  for (const auto& [k, v] : values) set(prefix + k, v);
}

std::map<std::string, double> Summary::numbers() const {
  std::map<std::string, double> out;
  for (const auto& [k, v] : j_.items()) {
    if (v.is_number()) out[k] = v.get<double>();
    if (v.is_null()) out[k] = std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

void Summary::write(const std::string& path) const { write_json_atomic(path, j_); }

void Summary::merge_into(const std::string& path) const {
  Summary on_disk = load_or_empty(path);
  for (const auto& [k, v] : j_.items()) on_disk.j_[k] = v;
  on_disk.write(path);
}

void SummaryAggregate::add(const std::map<std::string, double>& run_values) {
  for (const auto& [k, v] : run_values) add(k, v);
}

void SummaryAggregate::add(const std::string& key, double value) {
  if (std::isfinite(value)) values_[key].push_back(value);
}

void SummaryAggregate::add_curve(const std::string& key, const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) throw Error("summary: curve " + key + " has " + std::to_string(x.size()) + " x and " +
                                        std::to_string(y.size()) + " y values");
  auto& c = curves_[key];
  if (c.second.empty()) c.first = x;
  if (c.first != x) throw Error("summary: curve " + key + " is sampled at other points than the first run's");
  c.second.push_back(y);
}

std::pair<std::vector<double>, std::vector<double>> SummaryAggregate::mean_curve(const std::string& key) const {
  auto it = curves_.find(key);
  if (it == curves_.end()) throw Error("summary: no curve " + key);
  const auto& [x, ys] = it->second;
  std::vector<double> y(x.size(), 0.0);
  const double n = static_cast<double>(ys.size());
  for (const auto& c : ys)
    for (size_t k = 0; k < c.size(); ++k) y[k] += c[k] / n;
  return {x, y};
}

std::vector<std::string> SummaryAggregate::curve_keys() const {
  std::vector<std::string> k;
  for (const auto& [key, c] : curves_) k.push_back(key);
  return k;
}

void SummaryAggregate::write_to(Summary& s) const {
  for (const auto& [k, v] : values_) {
    s.set(k + ".mean", metrics::mean(v));
    s.set(k + ".std", metrics::stddev(v, 1));
    s.set_count(k + ".n", static_cast<int64_t>(v.size()));
    const metrics::Interval ci = metrics::bootstrap_mean_interval(v);
    s.set(k + ".ci95_lo", ci.lo);
    s.set(k + ".ci95_hi", ci.hi);
  }
}

}  // namespace diffscope
