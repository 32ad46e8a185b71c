// The regression gate (see gate.h).
#include "diffscope/analysis/gate.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/xml.h"

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

Tolerances Tolerances::from_json(const nlohmann::json& j, const std::string& path) {
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

Tolerances Tolerances::load(const std::string& path) { return from_json(read_json_file(path), path); }

nlohmann::json Tolerances::to_json() const {
  nlohmann::json keys_j = nlohmann::json::object();
  for (const auto& [k, t] : keys) keys_j[k] = {{"abs", t.abs}, {"rel", t.rel}};
  return {{"default", {{"abs", fallback.abs}, {"rel", fallback.rel}}}, {"keys", keys_j}};
}

void Tolerances::override_with(const Tolerances& over, bool with_default) {
  if (with_default) fallback = over.fallback;
  for (const auto& [k, t] : over.keys) keys[k] = t;
}

namespace {
constexpr const char* kBaselineMarker = "diffscope_baseline";

std::map<std::string, double> numbers_of(const nlohmann::json& j, const std::string& path) {
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
}  // namespace

Baseline Baseline::load(const std::string& path) {
  const auto j = read_json_file(path);
  Baseline b;
  if (!j.is_object() || !j.contains(kBaselineMarker)) {
    b.metrics = numbers_of(j, path);
    return b;
  }
  if (!j[kBaselineMarker].is_number_integer() || j[kBaselineMarker].get<int64_t>() != 1)
    throw Error(path + ": \"diffscope_baseline\" must be 1 (a baseline written by a newer diffscope?)");
  for (const auto& [k, v] : j.items()) {
    if (k == kBaselineMarker || k == "source" || k == "about") continue;
    if (k == "metrics") {
      if (!v.is_object()) throw Error(path + ": \"metrics\" must be an object of KEY: value");
      for (const auto& [key, x] : v.items()) {
        if (!x.is_number() && !x.is_null()) throw Error(path + ": metrics." + key + ": expected a number or null");
        b.metrics[key] = x.is_null() ? std::numeric_limits<double>::quiet_NaN() : x.get<double>();
      }
    } else if (k == "tolerances") {
      b.tolerances = Tolerances::from_json(v, path + ": tolerances");
      b.has_tolerances = true;
    } else {
      throw Error(path + ": unknown field \"" + k + "\" (expected diffscope_baseline, metrics, tolerances, source, about)");
    }
  }
  if (!j.contains("metrics")) throw Error(path + ": a baseline file needs \"metrics\"");
  return b;
}

void Baseline::write(const std::string& path, const std::string& source, const std::string& about) const {
  nlohmann::json m = nlohmann::json::object();
  for (const auto& [k, v] : metrics) m[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  nlohmann::json j = {{kBaselineMarker, 1}, {"source", source}, {"metrics", m}};
  if (!about.empty()) j["about"] = about;
  if (has_tolerances) j["tolerances"] = tolerances.to_json();
  write_json_atomic(path, j);
}

std::map<std::string, double> flatten_numbers(const std::string& path) { return numbers_of(read_json_file(path), path); }

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

namespace {
std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
}  // namespace

std::vector<GateResult> run_gate(const std::map<std::string, double>& cur, const Baseline* baseline,
                                 const Tolerances& tol, const GateBars& bars) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<GateResult> out;
  if (baseline) {
    std::map<std::string, Moved> moved;
    for (const auto& m : compare_summaries(cur, baseline->metrics, tol)) moved.emplace(m.key, m);
    for (const auto& [k, b] : baseline->metrics) {
      auto it = cur.find(k);
      const double c = it == cur.end() ? nan : it->second, t = tol.for_key(k).allowed(b);
      GateResult r{k, GateStatus::Pass, b, c, t, "", false};
      if (moved.count(k)) {
        if (it == cur.end()) {
          r.status = GateStatus::Missing;
          r.message = k + " is missing (baseline " + num(b) + ")";
        } else {
          r.status = GateStatus::Moved;
          char change[32];
          std::snprintf(change, sizeof change, "%+.3g", c - b);
          r.message = k + ": " + num(b) + " -> " + num(c) + " (change " + (std::isnan(c - b) ? "NaN" : change) +
                      ", tolerance " + num(t) + ")";
        }
      }
      out.push_back(r);
    }
    for (const auto& [k, c] : cur)
      if (!baseline->metrics.count(k))
        out.push_back({k, GateStatus::New, nan, c, nan, k + " = " + num(c) + " is not in the baseline", false});
  }
  for (const auto& [key, bound] : bars.mins) {
    auto it = cur.find(key);
    const double c = it == cur.end() ? nan : it->second;
    GateResult r{key + ">=" + num(bound), GateStatus::Pass, bound, c, nan, "", true};
    if (!(c >= bound)) r.status = GateStatus::Below, r.message = key + " = " + num(c) + " (minimum " + num(bound) + ")";
    out.push_back(r);
  }
  for (const auto& [a, b] : bars.less) {
    auto ia = cur.find(a), ib = cur.find(b);
    const double va = ia == cur.end() ? nan : ia->second, vb = ib == cur.end() ? nan : ib->second;
    GateResult r{a + "<" + b, GateStatus::Pass, vb, va, nan, "", true};
    if (!(va < vb)) r.status = GateStatus::NotLess, r.message = a + " = " + num(va) + ", " + b + " = " + num(vb);
    out.push_back(r);
  }
  return out;
}

bool gate_failed(const std::vector<GateResult>& results) {
  for (const auto& r : results)
    if (r.status != GateStatus::Pass) return true;
  return false;
}

namespace {
const char* status_name(GateStatus s) {
  switch (s) {
    case GateStatus::Pass: return "PASS";
    case GateStatus::Moved: return "MOVED";
    case GateStatus::Missing: return "MISSING";
    case GateStatus::New: return "NEW";
    case GateStatus::Below: return "BELOW";
    case GateStatus::NotLess: return "NOT LESS";
  }
  return "?";
}
}  // namespace

std::string gate_status_name(GateStatus s) { return status_name(s); }

std::string gate_junit(const std::vector<GateResult>& results, const std::string& suite) {
  size_t failures = 0;
  for (const auto& r : results) failures += r.status != GateStatus::Pass;
  const std::string counts = " tests=\"" + std::to_string(results.size()) + "\" failures=\"" + std::to_string(failures) + "\"";
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<testsuites name=\"diffscope check\"" + counts + ">\n";
  x += "  <testsuite name=\"" + xml_escape(suite) + "\"" + counts + " errors=\"0\" skipped=\"0\">\n";
  for (const auto& r : results) {
    x += "    <testcase classname=\"" + xml_escape(suite) + "\" name=\"" + xml_escape(r.name) + "\"";
    if (r.status == GateStatus::Pass) {
      x += "/>\n";
      continue;
    }
    const std::string msg = std::string(status_name(r.status)) + ": " + r.message;
    x += ">\n      <failure type=\"" + std::string(status_name(r.status)) + "\" message=\"" + xml_escape(msg) + "\">" +
         xml_escape(msg) + "</failure>\n    </testcase>\n";
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

std::string gate_markdown(const std::vector<GateResult>& results, bool all) {
  size_t metrics = 0, moved = 0, bars = 0, bars_failed = 0;
  for (const auto& r : results) {
    (r.bar ? bars : metrics) += 1;
    if (r.status != GateStatus::Pass) (r.bar ? bars_failed : moved) += 1;
  }
  auto cell = [](std::string t) {
    std::string o;
    for (char c : t) o += c == '|' ? std::string("\\|") : (c == '\n' ? std::string(" ") : std::string(1, c));
    return o;
  };
  std::string md = std::string("**diffscope check: ") + (gate_failed(results) ? "failed" : "passed") + "**: " +
                   std::to_string(moved) + " of " + std::to_string(metrics) + " metrics beyond tolerance";
  if (bars) md += ", " + std::to_string(bars_failed) + " of " + std::to_string(bars) + " bars failed";
  md += "\n\n";
  bool any = false;
  for (const auto& r : results) any |= all || r.status != GateStatus::Pass;
  if (!any) return md;
  md += "| status | metric | baseline | current | change | tolerance |\n|---|---|---|---|---|---|\n";
  for (const auto& r : results) {
    if (!all && r.status == GateStatus::Pass) continue;
    const double change = r.current - r.baseline;
    char ch[32];
    std::snprintf(ch, sizeof ch, "%+.3g", change);
    md += "| " + std::string(status_name(r.status)) + " | `" + cell(r.name) + "` | " + num(r.baseline) + " | " +
          num(r.current) + " | " + (std::isfinite(change) ? std::string(ch) : std::string("")) + " | " +
          (std::isnan(r.tolerance) ? std::string("") : num(r.tolerance)) + " |\n";
  }
  return md;
}

}  // namespace diffscope
