// The regression gate (see gate.h).
#include "diffscope/analysis/gate.h"

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "diffscope/metrics/metrics.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/xml.h"

namespace diffscope {

double checked_tolerance(double v, const std::string& where) {
  if (std::isfinite(v) && v >= 0) return v;
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  throw Error(where + ": expected a finite number >= 0, got " + b);
}

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
    if (!v.is_number()) throw Error(where + "." + k + ": expected a finite number >= 0");
    (k == "abs" ? t.abs : t.rel) = checked_tolerance(v.get<double>(), where + "." + k);
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

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string signed_num(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.3g", v);
  return buf;
}

bool matches(const std::string& key, const std::string& pattern) {
  return !pattern.empty() && pattern.back() == '*' ? key.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0
                                                   : key == pattern;
}

GateResult missing_result(const std::string& k, double b, double t, const GatePolicy& policy) {
  GateResult r{k, GateStatus::Missing, b, kNaN, t, "", false, !policy.allow_missing};
  r.message = k + " is missing (baseline " + (std::isnan(b) ? std::string("null") : num(b)) + ")" +
              (policy.allow_missing ? " (allowed by --allow-missing)" : "");
  return r;
}

GateResult new_result(const std::string& k, double c, const GatePolicy& policy) {
  return {k, GateStatus::New, kNaN, c, kNaN,
          k + " = " + num(c) + " is not in the baseline" + (policy.fail_on_new ? " (--fail-on-new)" : " (not gated)"),
          false, policy.fail_on_new};
}

void add_bars(std::vector<GateResult>& out, const std::map<std::string, double>& cur, const GateBars& bars) {
  for (const auto& [key, bound] : bars.mins) {
    auto it = cur.find(key);
    const double c = it == cur.end() ? kNaN : it->second;
    GateResult r{key + ">=" + num(bound), GateStatus::Pass, bound, c, kNaN, "", true};
    if (!(c >= bound)) {
      r.status = GateStatus::Below, r.fails = true;
      r.message = key + " = " + (it == cur.end() ? std::string("missing") : num(c)) + " (minimum " + num(bound) + ")";
    }
    out.push_back(r);
  }
  for (const auto& [a, b] : bars.less) {
    auto ia = cur.find(a), ib = cur.find(b);
    const double va = ia == cur.end() ? kNaN : ia->second, vb = ib == cur.end() ? kNaN : ib->second;
    GateResult r{a + "<" + b, GateStatus::Pass, vb, va, kNaN, "", true};
    if (!(va < vb)) {
      r.status = GateStatus::NotLess, r.fails = true;
      r.message = a + " = " + (ia == cur.end() ? std::string("missing") : num(va)) + ", " + b + " = " +
                  (ib == cur.end() ? std::string("missing") : num(vb));
    }
    out.push_back(r);
  }
}
}  // namespace

std::vector<GateResult> run_gate(const std::map<std::string, double>& cur, const Baseline* baseline,
                                 const Tolerances& tol, const GateBars& bars, const GatePolicy& policy) {
  std::vector<GateResult> out;
  if (baseline) {
    for (const auto& [k, b] : baseline->metrics) {
      const double t = tol.for_key(k).allowed(b);
      auto it = cur.find(k);
      if (it == cur.end()) {
        out.push_back(missing_result(k, b, t, policy));
        continue;
      }
      const double c = it->second;
      GateResult r{k, GateStatus::Pass, b, c, t, "", false};
      // a null baseline (an undefined metric) is gated explicitly: the run's value must be undefined too
      const bool held = std::isnan(b) ? std::isnan(c) : !std::isnan(c) && std::abs(c - b) <= t;
      if (!held) {
        r.status = GateStatus::Moved, r.fails = true;
        r.message = k + ": " + (std::isnan(b) ? std::string("null") : num(b)) + " -> " +
                    (std::isnan(c) ? std::string("null") : num(c)) +
                    (std::isnan(b) || std::isnan(c) ? std::string(" (one side undefined") : " (change " + signed_num(c - b)) +
                    ", tolerance " + num(t) + ")";
      }
      out.push_back(r);
    }
    for (const auto& [k, c] : cur)
      if (!baseline->metrics.count(k)) out.push_back(new_result(k, c, policy));
  }
  add_bars(out, cur, bars);
  return out;
}

RunSet load_run_set(const std::string& path_in) {
  namespace fs = std::filesystem;
  fs::path path(path_in);
  std::error_code ec;
  if (fs::is_regular_file(path, ec) && path.extension() != ".jsonl") path = path.parent_path();  // a set's summary.json
  if (fs::is_directory(path, ec) && fs::is_regular_file(path / "runs.jsonl", ec)) path /= "runs.jsonl";
  RunSet set;
  auto add = [&](const std::string& id, const std::map<std::string, double>& values, const std::string& where) {
    if (!set.emplace(id, values).second) throw Error(where + ": run \"" + id + "\" appears twice in the set");
  };
  if (fs::is_regular_file(path, ec)) {  // a merged batch: one JSON object per line
    std::ifstream in(path);
    if (!in) throw Error(path.string() + ": cannot be read");
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = path.string() + ":" + std::to_string(number);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        throw Error(where + ": not valid JSON (expected one merged run per line, as diffscope merge writes)");
      }
      if (!j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("summary") || !j["summary"].is_object())
        throw Error(where + ": expected {\"id\": ..., \"summary\": {...}} (a line of diffscope merge's runs.jsonl)");
      add(j["id"].get<std::string>(), numbers_of(j["summary"], where), where);
    }
  } else if (fs::is_directory(path, ec)) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_directory() && fs::is_regular_file(e.path() / "summary.json")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
      const std::string where = d.string();
      std::string id;
      if (fs::is_regular_file(d / "batch.json")) {
        const auto b = read_json_object((d / "batch.json").string());
        id = b.contains("id") && b["id"].is_string() ? b["id"].get<std::string>() : d.filename().string();
      } else if (fs::is_regular_file(d / "run.json")) {
        const auto run = read_json_object((d / "run.json").string());
        const auto in = run.contains("inputs") && run["inputs"].is_object() ? run["inputs"] : nlohmann::json::object();
        if (!in.contains("prompt") || !in["prompt"].is_string() || !in.contains("seed") || !in["seed"].is_number_integer())
          throw Error((d / "run.json").string() + ": inputs.prompt and inputs.seed expected (a run of a prompt set)");
        id = std::to_string(in["seed"].get<int64_t>()) + "\t" + in["prompt"].get<std::string>();
      } else {
        continue;
      }
      add(id, numbers_of(read_json_file((d / "summary.json").string()), (d / "summary.json").string()), where);
    }
  } else {
    throw Error(path_in + ": not found (expected a prompt-set or batch folder, its summary.json, or merge's runs.jsonl)");
  }
  if (set.empty())
    throw Error(path_in + ": holds no runs (expected NNN/ or <id>/ folders with summary.json, or merge's runs.jsonl)");
  return set;
}

std::vector<GateResult> run_paired_gate(const RunSet& cur, const RunSet& base, const Tolerances& tol,
                                        const GatePolicy& policy) {
  size_t paired = 0;
  for (const auto& [id, v] : base) paired += cur.count(id);
  if (paired < 2)
    throw Error("check --paired: " + std::to_string(paired) +
                " runs pair between the two sets (the same ids, or the same prompt and seed); at least 2 are needed");
  std::set<std::string> base_keys, cur_keys;
  for (const auto& [id, v] : base)
    for (const auto& [k, x] : v) base_keys.insert(k);
  for (const auto& [id, v] : cur)
    for (const auto& [k, x] : v) cur_keys.insert(k);
  std::vector<GateResult> out;
  for (const auto& k : base_keys) {
    std::vector<double> before, after, diffs;
    for (const auto& [id, bv] : base) {
      auto bi = bv.find(k);
      if (bi != bv.end() && std::isfinite(bi->second)) before.push_back(bi->second);
      auto ci = cur.find(id);
      if (ci == cur.end() || bi == bv.end()) continue;
      auto cv = ci->second.find(k);
      if (cv == ci->second.end()) continue;
      if (std::isfinite(bi->second) && std::isfinite(cv->second)) diffs.push_back(cv->second - bi->second);
    }
    std::vector<double> all_after;
    for (const auto& [id, cv] : cur) {
      auto ci = cv.find(k);
      if (ci != cv.end() && std::isfinite(ci->second)) all_after.push_back(ci->second);
    }
    const double b = before.empty() ? kNaN : metrics::mean(before), c = all_after.empty() ? kNaN : metrics::mean(all_after);
    const double t = tol.for_key(k).allowed(b);
    if (!cur_keys.count(k)) {
      out.push_back(missing_result(k, b, t, policy));
      continue;
    }
    GateResult r{k, GateStatus::Pass, b, c, t, "", false};
    r.pairs = diffs.size();
    if (diffs.size() < 2) {
      r.status = GateStatus::Few;
      r.message = k + ": " + std::to_string(diffs.size()) + " pair" + (diffs.size() == 1 ? "" : "s") +
                  " with values on both sides (2 needed for an interval; not gated)";
      out.push_back(r);
      continue;
    }
    r.diff = metrics::mean(diffs);
    const auto iv = metrics::bootstrap_mean_interval(diffs);
    r.diff_lo = iv.lo, r.diff_hi = iv.hi;
    if (r.diff_lo > t || r.diff_hi < -t) {
      r.status = GateStatus::Moved, r.fails = true;
      r.message = k + ": mean paired change " + signed_num(r.diff) + ", 95% interval [" + signed_num(r.diff_lo) + ", " +
                  signed_num(r.diff_hi) + "] over " + std::to_string(r.pairs) + " pairs lies beyond +-" + num(t);
    }
    out.push_back(r);
  }
  for (const auto& k : cur_keys)
    if (!base_keys.count(k)) {
      double c = kNaN;
      std::vector<double> v;
      for (const auto& [id, cv] : cur) {
        auto ci = cv.find(k);
        if (ci != cv.end() && std::isfinite(ci->second)) v.push_back(ci->second);
      }
      if (!v.empty()) c = metrics::mean(v);
      out.push_back(new_result(k, c, policy));
    }
  return out;
}

std::vector<GateResult> select_keys(std::vector<GateResult> results, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return results;
  std::vector<GateResult> out;
  for (auto& r : results) {
    bool keep = r.bar;
    for (const auto& p : patterns) keep |= matches(r.name, p);
    if (keep) out.push_back(std::move(r));
  }
  return out;
}

namespace {
const char* status_name(GateStatus s) {
  switch (s) {
    case GateStatus::Pass: return "PASS";
    case GateStatus::Moved: return "MOVED";
    case GateStatus::Missing: return "MISSING";
    case GateStatus::New: return "NEW";
    case GateStatus::Few: return "FEW PAIRS";
    case GateStatus::Below: return "BELOW";
    case GateStatus::NotLess: return "NOT LESS";
  }
  return "?";
}
}  // namespace

std::string gate_status_name(GateStatus s) { return status_name(s); }

bool gate_failed(const std::vector<GateResult>& results) {
  for (const auto& r : results)
    if (r.fails) return true;
  return false;
}

namespace {
struct GateCounts {
  size_t gated = 0, moved = 0, missing = 0, fresh = 0, few = 0, bars = 0, bars_failed = 0;
  bool strict_new = false, missing_allowed = false;
};

GateCounts count(const std::vector<GateResult>& results) {
  GateCounts n;
  for (const auto& r : results) {
    if (r.bar) {
      ++n.bars;
      n.bars_failed += r.fails;
      continue;
    }
    switch (r.status) {
      case GateStatus::New: ++n.fresh, n.strict_new |= r.fails; continue;
      case GateStatus::Moved: ++n.moved; break;
      case GateStatus::Missing: ++n.missing, n.missing_allowed |= !r.fails; break;
      case GateStatus::Few: ++n.few; break;
      default: break;
    }
    ++n.gated;
  }
  return n;
}

/// Skipped in JUnit: not gated, or allowed.
bool skipped(const GateResult& r) { return !r.fails && (r.status == GateStatus::New || r.status == GateStatus::Missing || r.status == GateStatus::Few); }
}  // namespace

std::string gate_summary_line(const std::vector<GateResult>& results) {
  const GateCounts n = count(results);
  std::string line;
  if (n.gated || (!n.bars && !n.fresh)) line = std::to_string(n.moved) + " of " + std::to_string(n.gated) + " gated metrics moved beyond tolerance";
  auto part = [&](const std::string& p) { line += (line.empty() ? "" : "; ") + p; };
  if (n.missing) part(std::to_string(n.missing) + " missing" + (n.missing_allowed ? " (allowed)" : ""));
  if (n.few) part(std::to_string(n.few) + " with too few pairs, not gated");
  if (n.fresh) part(std::to_string(n.fresh) + " new" + (n.strict_new ? ", failing (--fail-on-new)" : ", not gated"));
  if (n.bars) part(std::to_string(n.bars_failed) + " of " + std::to_string(n.bars) + " bars failed");
  return line;
}

std::string gate_junit(const std::vector<GateResult>& results, const std::string& suite) {
  size_t failures = 0, skips = 0;
  for (const auto& r : results) failures += r.fails, skips += skipped(r);
  const std::string counts = " tests=\"" + std::to_string(results.size()) + "\" failures=\"" + std::to_string(failures) + "\"";
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<testsuites name=\"diffscope check\"" + counts + " skipped=\"" + std::to_string(skips) + "\">\n";
  x += "  <testsuite name=\"" + xml_escape(suite) + "\"" + counts + " errors=\"0\" skipped=\"" + std::to_string(skips) + "\">\n";
  for (const auto& r : results) {
    x += "    <testcase classname=\"" + xml_escape(suite) + "\" name=\"" + xml_escape(r.name) + "\"";
    if (r.status == GateStatus::Pass && !r.fails) {
      x += "/>\n";
      continue;
    }
    const std::string msg = std::string(status_name(r.status)) + ": " + r.message;
    if (r.fails)
      x += ">\n      <failure type=\"" + std::string(status_name(r.status)) + "\" message=\"" + xml_escape(msg) + "\">" +
           xml_escape(msg) + "</failure>\n    </testcase>\n";
    else
      x += ">\n      <skipped message=\"" + xml_escape(msg) + "\"/>\n    </testcase>\n";
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

std::string gate_markdown(const std::vector<GateResult>& results, bool all) {
  auto cell = [](const std::string& t) {
    std::string o;
    for (char c : t) o += c == '|' ? std::string("\\|") : (c == '\n' ? std::string(" ") : std::string(1, c));
    return o;
  };
  bool paired = false;
  for (const auto& r : results) paired |= r.pairs > 0;
  std::string md = std::string("**diffscope check: ") + (gate_failed(results) ? "failed" : "passed") + "**: " +
                   gate_summary_line(results) + "\n\n";
  auto listed = [&](const GateResult& r) { return all || r.fails || (r.status == GateStatus::Missing); };
  bool any = false;
  for (const auto& r : results) any |= listed(r);
  if (!any) return md;
  md += paired ? "| status | metric | baseline mean | current mean | mean paired change | 95% interval | pairs | tolerance |\n"
                 "|---|---|---|---|---|---|---|---|\n"
               : "| status | metric | baseline | current | change | tolerance |\n|---|---|---|---|---|---|\n";
  for (const auto& r : results) {
    if (!listed(r)) continue;
    const double change = paired && !r.bar ? r.diff : r.current - r.baseline;
    md += "| " + std::string(status_name(r.status)) + " | `" + cell(r.name) + "` | " + num(r.baseline) + " | " +
          num(r.current) + " | " + (std::isfinite(change) ? signed_num(change) : std::string("")) + " | ";
    if (paired)
      md += (std::isfinite(r.diff_lo) ? "[" + signed_num(r.diff_lo) + ", " + signed_num(r.diff_hi) + "]" : std::string("")) +
            " | " + (r.bar ? std::string("") : std::to_string(r.pairs)) + " | ";
    md += (std::isnan(r.tolerance) ? std::string("") : num(r.tolerance)) + " |\n";
  }
  return md;
}

}  // namespace diffscope
