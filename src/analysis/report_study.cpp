// The report of the study folders (see report.h): batch and merge (a runs table with drill-down into each run),
// saliency (a prompt set's or a run's saliency/), features with their probes, and sparse autoencoders.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "analysis/report_internal.h"
#include "diffscope/analysis/summary.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"

namespace fs = std::filesystem;

namespace diffscope::report_detail {
namespace {

using Rows = std::vector<std::vector<std::string>>;

std::string dir_name(const std::string& dir) {
  std::string n = fs::path(dir).filename().string();
  if (n.empty() || n == ".") n = fs::absolute(dir).lexically_normal().filename().string();
  if (n.empty()) n = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  return n;
}

bool parse_number(const std::string& s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return end && *end == '\0' && std::isfinite(v);
}

/// Identity columns of a runs table (the rest are numbers: the summary keys).
bool identity_column(const std::string& c) {
  static const std::set<std::string> k{"id", "index", "prompt", "negative_prompt", "seed", "steps", "guidance_scale",
                                       "scheduler", "height", "width", "step", "method"};
  return k.count(c) || c.rfind("meta.", 0) == 0;
}

/// What a run folder holds for drill-down: its final image and a link to its report, relative to the page.
void drill_down(const std::string& folder, const std::string& out_html, nlohmann::json& row) {
  row["folder"] = folder;
  row["final"] = nullptr;
  row["href"] = nullptr;
  if (folder.empty() || !fs::is_directory(folder)) return;
  if (fs::is_regular_file(fs::path(folder) / "final.png")) row["final"] = file_uri((fs::path(folder) / "final.png").string());
  const fs::path page = fs::path(folder) / "report.html";
  if (fs::is_regular_file(page)) {
    const fs::path base = fs::absolute(out_html).parent_path();
    std::string rel = fs::absolute(page).lexically_normal().lexically_relative(base.lexically_normal()).generic_string();
    if (rel.empty()) rel = fs::absolute(page).generic_string();
    // "./" first: a folder named like a URL scheme ("javascript:x") stays a relative path in the page's href
    if (rel.rfind("../", 0) != 0 && rel.front() != '/') rel = "./" + rel;
    row["href"] = rel;
  }
}

/// The runs table the page sorts and filters: identity columns as text, every other column as a number per row (null
/// when empty, nan or text), each row with its folder (for drill-down) where one is known.
nlohmann::json runs_table(const Rows& csv, const std::vector<std::string>& folders, const std::string& out_html,
                          const std::string& caption) {
  nlohmann::json t{{"columns", nlohmann::json::array()}, {"metrics", nlohmann::json::array()},
                   {"rows", nlohmann::json::array()}, {"caption", caption}};
  if (csv.empty()) return t;
  const auto& head = csv.front();
  std::vector<size_t> ids, nums;
  for (size_t c = 0; c < head.size(); ++c) {
    bool any = false;
    for (size_t r = 1; r < csv.size(); ++r) any = any || (c < csv[r].size() && !csv[r][c].empty());
    if (identity_column(head[c])) {
      if (any) ids.push_back(c);
    } else {
      nums.push_back(c);
    }
  }
  for (size_t c : ids) t["columns"].push_back(head[c]);
  for (size_t c : nums) t["metrics"].push_back(head[c]);
  // the default metric: the first of these the table has, else its first number
  std::string def;
  for (const char* k : {"auc.mean_specificity", "auc.mean_roc_auc", "emergence.layout_at_50pct", "settle.mean_decided_step"})
    for (size_t c : nums)
      if (def.empty() && head[c] == k) def = k;
  if (def.empty() && !nums.empty()) def = head[nums.front()];
  t["default_metric"] = def;
  for (size_t r = 1; r < csv.size(); ++r) {
    nlohmann::json row{{"cells", nlohmann::json::array()}, {"values", nlohmann::json::array()}};
    for (size_t c : ids) row["cells"].push_back(c < csv[r].size() ? csv[r][c] : "");
    for (size_t c : nums) {
      double v = 0;
      if (c < csv[r].size() && parse_number(csv[r][c], v))
        row["values"].push_back(v);
      else
        row["values"].push_back(nullptr);
    }
    drill_down(r - 1 < folders.size() ? folders[r - 1] : "", out_html, row);
    t["rows"].push_back(row);
  }
  return t;
}

/// The rows of the run folders under `dir` (batch runs: batch.json; a saliency set's NNN/: run.json), as a CSV
/// matrix like merge's runs.csv: id, prompt, seed, steps, guidance_scale, scheduler, meta.*, every summary key.
Rows rows_of_run_folders(const std::string& dir, const char* mark, std::vector<std::string>& folders) {
  std::vector<std::string> subs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && fs::is_regular_file(e.path() / mark) && fs::is_regular_file(e.path() / "run.json"))
      subs.push_back(e.path().string());
  std::sort(subs.begin(), subs.end());
  std::vector<std::map<std::string, std::string>> recs;
  std::set<std::string> meta_keys, num_keys;
  for (const auto& s : subs) {
    std::map<std::string, std::string> rec;
    rec["id"] = fs::path(s).filename().string();
    const auto run = read_json_object(s + "/run.json");
    const auto in = run.value("inputs", nlohmann::json::object());
    rec["prompt"] = in.value("prompt", "");
    rec["seed"] = std::to_string(in.value("seed", int64_t(0)));
    rec["steps"] = std::to_string(in.value("steps", int64_t(0)));
    rec["guidance_scale"] = shorten(in.value("guidance_scale", 0.0));
    rec["scheduler"] = in.value("scheduler", "");
    if (fs::is_regular_file(fs::path(s) / "batch.json")) {
      const auto b = read_json_object(s + "/batch.json");
      if (b.contains("id") && b["id"].is_string()) rec["id"] = b["id"].get<std::string>();
      if (b.contains("meta") && b["meta"].is_object())
        for (const auto& [k, v] : b["meta"].items()) {
          rec["meta." + k] = v.is_string() ? v.get<std::string>() : v.dump();
          meta_keys.insert("meta." + k);
        }
    }
    for (const auto& [k, v] : Summary::load_or_empty(s + "/summary.json").numbers()) {
      rec[k] = format_number(v);
      num_keys.insert(k);
    }
    recs.push_back(rec);
    folders.push_back(s);
  }
  Rows out;
  std::vector<std::string> head{"id", "prompt", "seed", "steps", "guidance_scale", "scheduler"};
  head.insert(head.end(), meta_keys.begin(), meta_keys.end());
  head.insert(head.end(), num_keys.begin(), num_keys.end());
  out.push_back(head);
  for (const auto& rec : recs) {
    std::vector<std::string> row;
    for (const auto& h : head) {
      auto it = rec.find(h);
      row.push_back(it == rec.end() ? "" : it->second);
    }
    out.push_back(row);
  }
  return out;
}

/// failures.jsonl as a table (line, id, stage, error); empty when the file is missing or empty.
nlohmann::json failures_table(const std::string& path, size_t& count) {
  nlohmann::json t{{"title", "failures.jsonl"}, {"columns", {"line", "id", "stage", "error"}}, {"rows", nlohmann::json::array()}};
  count = 0;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++count;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    auto str = [&](const char* k) {
      if (!j.is_object() || !j.contains(k)) return std::string();
      return j[k].is_string() ? j[k].get<std::string>() : j[k].dump();
    };
    if (j.is_discarded())
      t["rows"].push_back({"", "", "", line});
    else
      t["rows"].push_back({str("line"), str("id"), str("stage"), str("error")});
  }
  return t;
}

void add_csv(Sections& sec, const std::string& section, const std::string& dir, const std::string& rel,
             const std::string& caption, size_t max_rows, const std::string& facet = "") {
  const std::string p = (fs::path(dir) / rel).string();
  if (fs::is_regular_file(p)) sec.table(section, csv_table(p, rel, max_rows), caption, facet);
}

void add_summary(Sections& sec, const std::string& path, const std::string& title, const std::string& caption) {
  if (!fs::is_regular_file(path)) return;
  auto t = summary_table(path, title);
  if (!t["rows"].empty()) sec.table("numbers", t, caption);
}

// ---- batch and merge ----

void batch_data(const std::string& dir, const std::string& out_html, const ReportOptions& o, nlohmann::json& data,
                Sections& sec) {
  std::vector<std::string> folders;
  const Rows rows = rows_of_run_folders(dir, "batch.json", folders);
  data["runs_table"] = runs_table(rows, folders, out_html, "The runs of this batch (each folder's batch.json, run.json and summary.json)");
  size_t failed = 0;
  auto f = failures_table(dir + "/failures.jsonl", failed);
  if (failed) sec.table("runs", f, "Lines that failed: the manifest line, the stage and the error");
  data["title_default"] = "diffscope: batch " + dir_name(dir);
  data["header"].push_back({"study", "batch"});
  data["header"].push_back({"runs", std::to_string(rows.size() - 1)});
  data["header"].push_back({"failures", std::to_string(failed)});
  (void)o;
}

void merge_data(const std::string& dir, const std::vector<std::string>& batches, const std::string& out_html,
                const ReportOptions& o, nlohmann::json& data, Sections& sec) {
  const Rows rows = read_csv(dir + "/runs.csv");
  std::vector<std::string> folders;
  size_t id_col = 0;
  if (!rows.empty())
    for (size_t c = 0; c < rows.front().size(); ++c)
      if (rows.front()[c] == "id") id_col = c;
  for (size_t r = 1; r < rows.size(); ++r) {
    std::string found;
    const std::string id = id_col < rows[r].size() ? rows[r][id_col] : "";
    for (const auto& b : batches)
      if (found.empty() && !id.empty() && fs::is_regular_file(fs::path(b) / id / "run.json")) found = (fs::path(b) / id).string();
    folders.push_back(found);
  }
  data["runs_table"] = runs_table(rows, folders, out_html,
                                  batches.empty() ? "The merged runs (runs.csv); give the batch folders after this one "
                                                    "(diffscope report MERGE BATCH... -o FILE) to see each run's image"
                                                  : "The merged runs (runs.csv), each with its folder in the batch folders given");
  add_csv(sec, "numbers", dir, "aggregate.csv", "Per key over the runs: n, mean, std and the 95% bootstrap interval",
          o.max_table_rows);
  std::vector<std::string> by;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("aggregate_by_", 0) == 0 && e.path().extension() == ".csv") by.push_back(n);
  }
  std::sort(by.begin(), by.end());
  for (const auto& n : by)
    add_csv(sec, "numbers", dir, n, "The same per group (" + n.substr(13, n.size() - 17) + ")", o.max_table_rows);
  size_t failed = 0;
  auto f = failures_table(dir + "/failures.jsonl", failed);
  if (failed) sec.table("runs", f, "Lines that failed in the merged batches: the manifest line, the stage and the error");
  data["title_default"] = "diffscope: merged study " + dir_name(dir);
  data["header"].push_back({"study", "merge"});
  data["header"].push_back({"runs", std::to_string(rows.empty() ? 0 : rows.size() - 1)});
  data["header"].push_back({"failures", std::to_string(failed)});
}

// ---- saliency ----

void saliency_data(const std::string& dir, const std::string& out_html, const ReportOptions& o, nlohmann::json& data,
                   Sections& sec) {
  const bool set = fs::is_regular_file(fs::path(dir) / "saliency_prompts.csv");
  // the figures at the top level (a set's or a run's), then each step folder's
  std::vector<std::string> top, steps;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && e.path().extension() == ".png") top.push_back(n);
    if (e.is_directory() && n.rfind("step_", 0) == 0) steps.push_back(n);
  }
  std::sort(top.begin(), top.end());
  std::sort(steps.begin(), steps.end());
  for (const auto& f : top) {
    const FigurePlace p = classify_figure(f);
    if (!p.section.empty()) sec.figure(p.section, f, p.caption, (fs::path(dir) / f).string(), p.facet);
  }
  add_csv(sec, "steps", dir, "over_steps.csv",
          set ? "Per step and method: the mean AUCs over the prompts with their 95% bootstrap intervals"
              : "Per step and method: deletion and insertion AUC (normalised and raw)",
          o.max_table_rows);
  for (const auto& s : steps) sec.figures_under(dir, s);
  for (const auto& s : steps)
    add_csv(sec, "steps", dir, s + "/auc.csv",
            "Each method's deletion (lower is better) and insertion (higher) AUC at this step, beside the random order",
            o.max_table_rows);
  std::string prompt;
  if (set) {
    add_csv(sec, "steps", dir, "saliency_prompts.csv", "Every prompt, step and method: its AUCs", o.max_table_rows);
    std::vector<std::string> folders;
    const Rows rows = rows_of_run_folders(dir, "run.json", folders);
    if (rows.size() > 1)
      data["runs_table"] = runs_table(rows, folders, out_html, "The prompts of the set, a run folder each (saliency keys per run)");
    add_summary(sec, dir + "/summary.json", "summary.json", "Means over the prompts, with std, n and 95% intervals");
    data["title_default"] = "diffscope: saliency over " + std::to_string(rows.size() - 1) + " prompts";
  } else {
    const fs::path parent = fs::absolute(dir).lexically_normal().parent_path();
    if (fs::is_regular_file(parent / "run.json")) {
      const auto run = read_json_object((parent / "run.json").string());
      prompt = run.value("inputs", nlohmann::json::object()).value("prompt", "");
      if (fs::is_regular_file(parent / "final.png"))
        sec.figure("steps", "final.png", "The run's final image, whose steps are explained", (parent / "final.png").string());
    }
    data["title_default"] = prompt.empty() ? "diffscope: saliency" : "diffscope: saliency of \"" + prompt + "\"";
  }
  data["header"].push_back({"study", set ? "saliency over a prompt set" : "saliency of one run"});
  if (!prompt.empty()) data["header"].push_back({"prompt", prompt});
  data["header"].push_back({"steps explained", std::to_string(steps.size())});
}

// ---- features and probes ----

std::string accuracy_cell(const std::map<std::string, std::string>& r) {
  double v = 0;
  auto it = r.find("test_accuracy");
  if (it == r.end() || !parse_number(it->second, v)) return "";
  std::string s = shorten(v);
  double lo = 0, hi = 0;
  for (const char* l : {"test_accuracy_ci_lo", "test_accuracy_ci95_lo"})
    for (const char* h : {"test_accuracy_ci_hi", "test_accuracy_ci95_hi"}) {
      auto a = r.find(l), b = r.find(h);
      if (s.find('[') == std::string::npos && a != r.end() && b != r.end() && parse_number(a->second, lo) &&
          parse_number(b->second, hi))
        s += " [" + shorten(lo) + ", " + shorten(hi) + "]";
    }
  return s;
}

/// probe.csv pivoted: per label and head, a layer x timestep table of test accuracy, the baselines and chance.
void probe_tables(const std::string& probe_dir, Sections& sec) {
  const std::string path = probe_dir + "/tables/probe.csv";
  if (!fs::is_regular_file(path)) return;
  const Rows csv = read_csv(path);
  if (csv.size() < 2) return;
  std::vector<std::map<std::string, std::string>> recs;
  for (size_t r = 1; r < csv.size(); ++r) {
    std::map<std::string, std::string> m;
    for (size_t c = 0; c < csv.front().size() && c < csv[r].size(); ++c) m[csv.front()[c]] = csv[r][c];
    recs.push_back(m);
  }
  std::vector<std::string> labels, heads;
  for (const auto& r : recs) {
    if (std::find(labels.begin(), labels.end(), r.at("label")) == labels.end()) labels.push_back(r.at("label"));
    if (std::find(heads.begin(), heads.end(), r.at("head")) == heads.end()) heads.push_back(r.at("head"));
  }
  for (const auto& label : labels)
    for (const auto& head : heads) {
      std::vector<std::string> layers, ts;
      std::map<std::pair<std::string, std::string>, std::string> cell;
      std::vector<std::pair<std::string, std::string>> baselines;
      std::string chance;
      for (const auto& r : recs) {
        if (r.at("label") != label) continue;
        auto tt = r.find("t");
        const bool baseline = tt == r.end() || tt->second.empty();
        if (baseline) {
          if (head == heads.front()) baselines.push_back({r.at("layer"), accuracy_cell(r)});
        } else if (r.at("head") == head) {
          if (std::find(layers.begin(), layers.end(), r.at("layer")) == layers.end()) layers.push_back(r.at("layer"));
          if (std::find(ts.begin(), ts.end(), tt->second) == ts.end()) ts.push_back(tt->second);
          cell[{r.at("layer"), tt->second}] = accuracy_cell(r);
        }
        auto ch = r.find("chance");
        double v = 0;
        if (ch != r.end() && parse_number(ch->second, v)) chance = shorten(v);
      }
      if (layers.empty()) continue;
      std::sort(ts.begin(), ts.end(), [](const std::string& a, const std::string& b) { return std::stod(a) < std::stod(b); });
      nlohmann::json cols = nlohmann::json::array({"layer"});
      for (const auto& t : ts) cols.push_back("t = " + t);
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& l : layers) {
        nlohmann::json row = nlohmann::json::array({l});
        for (const auto& t : ts) row.push_back(cell.count({l, t}) ? cell[{l, t}] : "");
        rows.push_back(row);
      }
      for (const auto& [name, acc] : baselines) {
        nlohmann::json row = nlohmann::json::array({name + " (baseline)"});
        for (size_t i = 0; i < ts.size(); ++i) row.push_back(acc);
        rows.push_back(row);
      }
      if (!chance.empty()) {
        nlohmann::json row = nlohmann::json::array({"chance (majority class)"});
        for (size_t i = 0; i < ts.size(); ++i) row.push_back(chance);
        rows.push_back(row);
      }
      sec.table("layers",
                {{"title", "probe accuracy: " + label + (head == "linear" ? "" : " (" + head + " head)")},
                 {"columns", cols},
                 {"rows", rows}},
                "Test accuracy of the " + head + " probe for \u201c" + label +
                    "\u201d per layer (rows) and timestep (columns); the pixel and latent baselines and chance, which "
                    "take no timestep, are repeated across",
                label);
    }
}

void features_data(const std::string& dir, const ReportOptions& o, nlohmann::json& data, Sections& sec) {
  const bool is_probe = !fs::is_regular_file(fs::path(dir) / "index.json") && fs::is_regular_file(fs::path(dir) / "tables/probe.csv");
  const std::string feat = is_probe ? fs::absolute(dir).lexically_normal().parent_path().string() : dir;
  const std::string probe = is_probe ? dir : dir + "/probe";
  size_t images = 0;
  std::set<std::string> layers, ts;
  if (fs::is_regular_file(fs::path(feat) / "index.json")) {
    const auto idx = read_json_object(feat + "/index.json");
    nlohmann::json rows = nlohmann::json::array();
    if (idx.contains("files") && idx["files"].is_array())
      for (const auto& f : idx["files"]) {
        std::string shape;
        if (f.contains("shape") && f["shape"].is_array())
          for (size_t i = 0; i < f["shape"].size(); ++i) shape += (i ? " x " : "") + f["shape"][i].dump();
        rows.push_back({f.value("layer", ""), f.contains("t") ? f["t"].dump() : "", f.value("pooling", ""), shape,
                        f.value("file", "")});
        layers.insert(f.value("layer", ""));
        if (f.contains("t")) ts.insert(f["t"].dump());
      }
    if (idx.contains("images") && idx["images"].is_array()) images = idx["images"].size();
    sec.table("layers", {{"title", "index.json: feature files"}, {"columns", {"layer", "t", "pooling", "shape", "file"}}, {"rows", rows}},
              "The block outputs kept: one file per layer and timestep, [images, channels] pooled over space (or S x S)");
    data["header"].push_back({"dataset", idx.value("dataset", "")});
  }
  if (fs::is_regular_file(fs::path(feat) / "labels.csv")) {
    const Rows lab = read_csv(feat + "/labels.csv");
    if (!images && lab.size() > 1) images = lab.size() - 1;
    nlohmann::json rows = nlohmann::json::array();
    if (!lab.empty())
      for (size_t c = 0; c < lab.front().size(); ++c) {
        const std::string& name = lab.front()[c];
        if (name == "index" || name == "image" || name == "split") continue;
        std::map<std::string, int> counts;
        for (size_t r = 1; r < lab.size(); ++r)
          if (c < lab[r].size() && !lab[r][c].empty()) ++counts[lab[r][c]];
        std::string vals;
        for (const auto& [v, n] : counts) vals += (vals.empty() ? "" : ", ") + v + " (" + std::to_string(n) + ")";
        rows.push_back({name, std::to_string(counts.size()), vals});
      }
    sec.table("layers", {{"title", "labels.csv: the labels"}, {"columns", {"label", "values", "images per value"}}, {"rows", rows}},
              "What each image is labelled with (the probes' targets)");
  }
  probe_tables(probe, sec);
  sec.figures_under(probe, "plots", "probe/");
  add_csv(sec, "layers", probe, "tables/probe.csv",
          "Every probe: features, layer, timestep, label, head, classes, split sizes, train and test accuracy, chance",
          o.max_table_rows);
  add_summary(sec, probe + "/summary.json", "probe/summary.json", "Best cell, best layer and baselines per label");
  data["title_default"] = "diffscope: features and probes of " + dir_name(feat);
  data["header"].push_back({"study", fs::is_directory(probe) ? "features and probes" : "features"});
  data["header"].push_back({"images", std::to_string(images)});
  if (!layers.empty()) data["header"].push_back({"layers", std::to_string(layers.size())});
  if (!ts.empty()) {
    std::string t;
    for (const auto& x : ts) t += (t.empty() ? "" : ", ") + x;
    data["header"].push_back({"timesteps", t});
  }
}

// ---- sparse autoencoders ----

void sae_data(const std::string& dir, const ReportOptions& o, nlohmann::json& data, Sections& sec) {
  const bool is_inspect = !fs::is_regular_file(fs::path(dir) / "config.json") && fs::is_regular_file(fs::path(dir) / "tables/purity.csv");
  const std::string sae = is_inspect ? fs::absolute(dir).lexically_normal().parent_path().string() : dir;
  const std::string inspect = is_inspect ? dir : dir + "/inspect";
  if (fs::is_regular_file(fs::path(sae) / "config.json")) {
    const auto cfg = read_json_object(sae + "/config.json");
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& [k, v] : cfg.items())
      if (!v.is_object() && !v.is_array()) rows.push_back({k, v.is_string() ? v.get<std::string>() : v.dump()});
    sec.table("layers", {{"title", "config.json"}, {"columns", {"setting", "value"}}, {"rows", rows}},
              "How this SAE was trained and how its weights encode a vector");
    for (const char* k : {"layer", "t", "k", "d_sae"})
      if (cfg.contains(k)) data["header"].push_back({k, cfg[k].is_string() ? cfg[k].get<std::string>() : cfg[k].dump()});
  }
  sec.figures_under(sae, "plots");
  add_csv(sec, "layers", inspect, "tables/purity.csv",
          "Per label: the SAE latents' mean purity of their top images and share at 0.9 or more, against as many random "
          "directions",
          o.max_table_rows);
  sec.figures_under(inspect, "plots", "inspect/");
  add_csv(sec, "layers", inspect, "tables/latents.csv", "Each latent: images active, largest activation, its purest label",
          o.max_table_rows);
  add_csv(sec, "layers", sae, "tables/latents.csv", "Each latent's firing counts on the train and test vectors", o.max_table_rows);
  add_summary(sec, sae + "/summary.json", "summary.json", "Held-out normalised MSE, explained variance, dead fraction");
  add_summary(sec, inspect + "/summary.json", "inspect/summary.json", "Per label: mean purity of the latents beside random directions");
  data["title_default"] = "diffscope: sparse autoencoder " + dir_name(sae);
  data["header"].insert(data["header"].begin(), nlohmann::json::array({"study", "sparse autoencoder"}));
}

}  // namespace

void study_data(ReportKind kind, const std::string& dir, const std::vector<std::string>& extra, const std::string& out_html,
                const ReportOptions& o, nlohmann::json& data, Sections& sec) {
  switch (kind) {
    case ReportKind::Batch: batch_data(dir, out_html, o, data, sec); break;
    case ReportKind::Merge: merge_data(dir, extra, out_html, o, data, sec); break;
    case ReportKind::Saliency: saliency_data(dir, out_html, o, data, sec); break;
    case ReportKind::Features: features_data(dir, o, data, sec); break;
    case ReportKind::Sae: sae_data(dir, o, data, sec); break;
    default: throw Error(dir + ": not a study folder", kExitFailure);
  }
  if (sec.figures() == 0 && sec.tables() == 0 && !data.contains("runs_table"))
    throw Error(dir + ": holds no tables or figures to report (is the " + std::string(report_kind_name(kind)) +
                " run finished?)");
}

}  // namespace diffscope::report_detail
