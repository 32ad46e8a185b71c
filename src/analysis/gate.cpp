// The regression gate (see gate.h).
#include "diffscope/analysis/gate.h"

#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"

namespace diffscope {

double Tolerance::allowed(double baseline) const {
  return std::max(abs, std::isfinite(baseline) ? rel * std::abs(baseline) : 0.0);
}

const Tolerance& Tolerances::for_key(const std::string& key) const {
  auto it = keys.find(key);
  if (it != keys.end()) return it->second;
  const Tolerance* best = &fallback;
  size_t best_len = 0;
  for (const auto& [k, t] : keys)
    if (!k.empty() && k.back() == '*' && key.compare(0, k.size() - 1, k, 0, k.size() - 1) == 0 && k.size() > best_len) {
      best_len = k.size();
      best = &t;
    }
  return *best;
}

namespace {
Tolerance parse_tolerance(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected an object {\"abs\": A, \"rel\": R}");
  Tolerance t;
  for (const auto& [k, v] : j.items()) {
    if (k != "abs" && k != "rel") throw Error(where + ": unknown field \"" + k + "\" (expected abs, rel)");
    if (!v.is_number() || !(v.get<double>() >= 0)) throw Error(where + "." + k + ": expected a number >= 0");
    (k == "abs" ? t.abs : t.rel) = v.get<double>();
  }
  return t;
}
}  // namespace

Tolerances Tolerances::load(const std::string& path) {
  const auto j = read_json_file(path);
  if (!j.is_object()) throw Error(path + ": expected a JSON object with \"keys\" (and optionally \"default\")");
  Tolerances t;
  for (const auto& [k, v] : j.items()) {
    if (k == "about" || k == "measured") continue;
    if (k == "default") {
      t.fallback = parse_tolerance(v, path + ": default");
    } else if (k == "keys") {
      if (!v.is_object()) throw Error(path + ": \"keys\" must be an object of KEY: {\"abs\", \"rel\"}");
      for (const auto& [key, tv] : v.items()) t.keys[key] = parse_tolerance(tv, path + ": keys." + key);
    } else {
      throw Error(path + ": unknown field \"" + k + "\" (expected default, keys, about, measured)");
    }
  }
  return t;
}

std::map<std::string, double> flatten_numbers(const std::string& path) {
  const auto j = read_json_file(path);
  if (!j.is_object()) throw Error(path + ": expected a JSON object of metrics");
  std::map<std::string, double> out;
  std::function<void(const nlohmann::json&, const std::string&)> walk = [&](const nlohmann::json& v,
                                                                          const std::string& prefix) {
    if (v.is_object()) {
      for (const auto& [k, x] : v.items()) walk(x, prefix.empty() ? k : prefix + "." + k);
    } else if (v.is_number()) {
      out[prefix] = v.get<double>();
    } else if (v.is_null()) {
      out[prefix] = std::numeric_limits<double>::quiet_NaN();
    }
  };
  walk(j, "");
  out.erase("seed");
  return out;
}

std::vector<Moved> compare_summaries(const std::map<std::string, double>& cur, const std::map<std::string, double>& base,
                                     const Tolerances& tol) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<Moved> out;
  for (const auto& [k, b] : base) {
    auto it = cur.find(k);
    const double t = tol.for_key(k).allowed(b);
    if (it == cur.end()) {
      out.push_back({k, b, nan, t});
      continue;
    }
    const double c = it->second;
    if (std::isnan(b) && std::isnan(c)) continue;
    if (std::isnan(b) != std::isnan(c) || !(std::abs(c - b) <= t)) out.push_back({k, b, c, t});
  }
  for (const auto& [k, c] : cur)
    if (!base.count(k)) out.push_back({k, nan, c, tol.for_key(k).allowed(nan)});
  return out;
}

}  // namespace diffscope
