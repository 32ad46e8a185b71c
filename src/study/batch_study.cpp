// Batch studies over manifests, and merging their folders (see batch_study.h).
#include "diffscope/study/batch_study.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "diffscope/analysis/registry.h"
#include "diffscope/analysis/run_folder.h"
#include "diffscope/study/manifest.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/output_folder.h"
#include "diffscope/util/path_confine.h"
#include "diffscope/util/progress.h"
#include "diffscope/util/sha256.h"
#include "study/internal.h"

namespace fs = std::filesystem;

namespace diffscope {

namespace {

/// SHA-256 over the package's files (name and content hash): what "the same model" means for --resume.
std::string package_hash(const Model& model) {
  std::string list;
  for (const auto& [f, hash] : model.file_hashes()) list += f + " " + hash + "\n";
  return sha256_hex(list);
}

/// A line's generation settings over the batch defaults.
GenerationSpec resolve_generation(const BatchSpec& b, const ManifestLine& l, const std::string& dir) {
  GenerationSpec g = b.defaults;
  g.prompt = l.prompt;
  g.out = dir;
  g.overwrite = true;  // the folder's state was checked before (fresh, --resume or --overwrite)
  if (l.negative_prompt) g.negative_prompt = *l.negative_prompt;
  if (l.scheduler) g.scheduler = *l.scheduler;
  if (l.seed) g.seed = *l.seed;
  if (l.steps) g.steps = *l.steps;
  if (l.height) g.height = *l.height;
  if (l.width) g.width = *l.width;
  if (l.guidance) g.guidance = *l.guidance;
  if (l.concepts) g.concepts = *l.concepts;
  return g;
}

/// A line's saliency settings over the batch defaults (an Error names the bad setting).
SaliencyOptions resolve_saliency(const SaliencyOptions& base, const nlohmann::json& j) {
  SaliencyOptions o = base;
  try {
    for (const auto& [k, v] : j.items()) {
      if (k == "step") o.step = v.get<int>();
      else if (k == "steps") o.steps = v.is_string() ? v.get<std::string>() : v.dump();
      else if (k == "step_frac") o.step_frac = v.get<double>();
      else if (k == "samples") o.samples = v.get<int>();
      else if (k == "k") o.k = v.get<int>();
      else if (k == "batch") o.batch = v.get<int>();
      else if (k == "mask_seeds") o.mask_seeds = v.get<int>();
      else if (k == "seed") o.seed = v.get<uint64_t>();
      else if (k == "similarity") o.similarity = v.get<std::string>();
      else if (k == "methods") o.methods = v.is_string() ? std::vector<std::string>{v.get<std::string>()} : v.get<std::vector<std::string>>();
    }
  } catch (const nlohmann::json::exception&) {
    throw Error("\"saliency\": a setting of the wrong type (steps: \"0,6\" or \"0:25:4\"; methods: a list of names)");
  }
  if (o.steps.size() > 1 && o.steps.front() == '[') {  // a JSON list of steps
    std::string s;
    for (char c : o.steps)
      if (c != '[' && c != ']' && c != ' ') s += c;
    o.steps = s;
  }
  return o;
}

/// What --resume compares: the resolved inputs of a line and the package.
std::string input_hash(const GenerationSpec& g, const ManifestLine& l, const AnalysisOptions& a,
                       const SaliencyOptions* sal, const std::string& package, const std::string& precision) {
  nlohmann::json j = {{"prompt", g.prompt},   {"negative_prompt", g.negative_prompt}, {"seed", g.seed},
                      {"steps", g.steps},     {"guidance", g.guidance},               {"scheduler", g.scheduler},
                      {"height", g.height},   {"width", g.width},                     {"eta", g.eta},
                      {"x0_every", g.x0_every}, {"attention", g.capture_attention},   {"meta", l.meta},
                      {"analyses", std::vector<std::string>(a.which.begin(), a.which.end())},
                      {"agg_steps", a.steps}, {"package", package}};
  // options added later enter the hash only when set, so earlier batches resume as before
  if (precision != "fp32") j["precision"] = precision;
  if (g.x0_view != "auto") j["x0_view"] = g.x0_view;
  if (!g.concepts.empty()) j["concepts"] = {g.concepts, g.concept_context};
  if (sal)
    j["saliency"] = {{"step", sal->step ? *sal->step : -1}, {"steps", sal->steps},     {"step_frac", sal->step_frac},
                     {"samples", sal->samples},              {"k", sal->k},              {"methods", sal->methods},
                     {"mask_seeds", sal->mask_seeds},        {"seed", sal->seed},        {"similarity", sal->similarity}};
  return sha256_hex(j.dump());
}

/// Whether two lines can share one denoising loop (pipeline's check_batchable, on the specs).
bool same_loop(const GenerationSpec& a, const GenerationSpec& b) {
  return a.steps == b.steps && a.timestep_schedule == b.timestep_schedule && a.scheduler == b.scheduler &&
         a.guidance == b.guidance && a.height == b.height && a.width == b.width && a.eta == b.eta &&
         a.concepts.size() == b.concepts.size() && a.concept_context == b.concept_context &&
         a.capture_attention == b.capture_attention;
}

bool complete_for(const std::string& dir, const std::string& hash) {
  const std::string p = dir + "/batch.json";
  if (!fs::exists(p)) return false;
  try {
    const auto j = read_json_file(p);
    return j.is_object() && j.value("input_hash", std::string()) == hash;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

BatchResult run_batch(const BatchSpec& b, const Session& session) {
  if (b.resume && b.overwrite) throw Error("batch: give --resume or --overwrite, not both");
  if (b.shards < 1 || b.shard < 0 || b.shard >= b.shards) throw Error("--shard: expected I/N with 0 <= I < N");
  if (b.out.empty()) throw Error("--out: required");
  if (fs::exists(b.out) && !fs::is_directory(b.out)) throw Error("--out " + b.out + ": is a file, expected a folder");
  if (fs::exists(fs::path(b.out) / "run.json"))  // as generate refuses a run folder: a batch never writes into one
    throw Error("--out " + b.out + ": holds a run (run.json), not a batch; choose a new or empty folder (a batch writes "
                "one run folder per line into it)");
  Manifest manifest = read_manifest(b.manifest);
  // a line naming an analysis that does not exist is a bad line like any other: skipped with FILE:LINE
  std::vector<ManifestLine> lines;
  for (auto& l : manifest_shard(manifest.lines, b.shard, b.shards)) {
    std::string bad;
    for (const auto& a : l.analyses) {
      if (a == "none") continue;
      try {
        find_analysis(a);
      } catch (const Error& e) {
        bad = e.what();
        break;
      }
    }
    if (bad.empty()) lines.push_back(std::move(l));
    else manifest.problems.push_back({l.line, l.index, b.manifest + ":" + std::to_string(l.line) + ": \"analyses\": " + bad});
  }
  BatchResult r;
  r.entries = manifest.entries;
  r.selected = lines.size();
  for (const auto& p : manifest.problems)
    if (static_cast<int>(p.index % static_cast<size_t>(b.shards)) == b.shard) ++r.selected;
  // a used folder is only continued or redone when asked
  if (!b.resume && !b.overwrite)
    for (const auto& l : lines)
      if (fs::exists(b.out + "/" + l.id))
        throw Error("--out " + b.out + ": " + l.id + "/ already exists (give --resume to continue this batch, "
                    "--overwrite to redo it)");
  ensure_dir(b.out);
  const std::string failures_file =
      b.out + (b.shards == 1 ? std::string("/failures.jsonl")
                             : "/failures.shard-" + std::to_string(b.shard) + "-of-" + std::to_string(b.shards) + ".jsonl");
  std::string failures;
  auto record = [&](const nlohmann::json& f) {
    failures += f.dump() + "\n";
    write_file_atomic(failures_file, failures);
    r.failures_file = failures_file;
  };
  if (fs::exists(failures_file)) fs::remove(failures_file);  // this run's failures only
  for (const auto& p : manifest.problems) {
    if (static_cast<int>(p.index % static_cast<size_t>(b.shards)) != b.shard) continue;
    spdlog::warn("{} (skipped)", p.message);
    record({{"line", p.line}, {"stage", "manifest"}, {"error", p.message}});
    ++r.bad;
  }
  const Model model = study::load_model(b.defaults.model, session);
  const std::string package = package_hash(model);
  Session quiet = session;
  quiet.quiet = true;
  Progress progress("batch", static_cast<int>(lines.size()), session.quiet);
  // A line ready to generate; --batch-size consecutive lines that share the loop's settings are denoised together.
  struct Job {
    const ManifestLine* line;
    std::string dir, hash;
    GenerationSpec g;
    AnalysisOptions a;
    bool saliency = false, no_analyses = false;
    SaliencyOptions sal;
  };
  const auto fail = [&](const Job& j, const std::string& stage, const std::exception& e) {
    const std::string msg = one_line(e.what());
    spdlog::error("{}:{}: {} failed at {}: {}", b.manifest, j.line->line, j.line->id, stage, msg);
    record({{"id", j.line->id}, {"line", j.line->line}, {"stage", stage}, {"error", msg}});
    ++r.failed;
  };
  const auto finish = [&](Job& j) {  // the line's analyses and its completion mark
    try {
      if (j.saliency) {  // the line's saliency runs after its other analyses, on the loaded model
        if (j.a.which.empty())
          for (const Analysis* an : registered_analyses())
            if (an->by_default) j.a.which.insert(an->name);
        if (j.no_analyses) j.a.which = {};
        j.a.which.insert("saliency");
        j.a.saliency = j.sal;
      }
      if (!j.no_analyses || j.saliency) study::analyze_folder_with(&model, j.dir, j.a, quiet);
      const ManifestLine& l = *j.line;
      nlohmann::json done = {{"id", l.id},         {"line", l.line},   {"index", l.index}, {"manifest", b.manifest},
                             {"input_hash", j.hash}, {"meta", l.meta}, {"entry", nlohmann::json::parse(l.canonical)}};
      write_json_atomic(j.dir + "/batch.json", done);  // last: the line is complete
      ++r.done;
    } catch (const std::exception& e) {
      fail(j, "analyze", e);
    }
    progress.tick(j.line->id);
  };
  std::vector<Job> group;
  const auto flush = [&] {
    if (group.empty()) return;
    std::vector<GenerationSpec> specs;
    for (const auto& j : group) specs.push_back(j.g);
    bool together = true;
    try {
      study::generate_batch_with(model, specs, quiet, "batch");
    } catch (const std::exception& e) {
      together = false;
      if (group.size() == 1) {
        fail(group.front(), "generate", e);
        progress.tick(group.front().line->id);
        group.clear();
        return;
      }
    }
    for (auto& j : group) {
      if (!together) {
        try {  // a failed batch is redone one line at a time, so one bad line fails alone
          study::generate_with(model, j.g, quiet, "batch");
        } catch (const std::exception& e) {
          fail(j, "generate", e);
          progress.tick(j.line->id);
          continue;
        }
      }
      finish(j);
    }
    group.clear();
  };
  const size_t batch_size = static_cast<size_t>(std::max(1, session.batch_size));
  for (const auto& l : lines) {
    Job j;
    j.line = &l;
    try {
      j.dir = confine_name(b.out, l.id, b.manifest + ":" + std::to_string(l.line) + ": \"id\"");
      j.g = resolve_generation(b, l, j.dir);
      j.a = b.analysis;
      if (!l.analyses.empty()) j.a.which = std::set<std::string>(l.analyses.begin(), l.analyses.end());
      j.no_analyses = j.a.which.count("none") > 0;
      j.saliency = l.saliency.is_object() || j.a.which.count("saliency");
      j.sal = l.saliency.is_object() ? resolve_saliency(j.a.saliency, l.saliency) : j.a.saliency;
      j.hash = input_hash(j.g, l, j.a, j.saliency ? &j.sal : nullptr, package, session.precision);
      if (b.resume && complete_for(j.dir, j.hash)) {
        ++r.skipped;
        progress.tick(l.id + " (done before)");
        continue;
      }
      check_generation(j.g);
      std::error_code ec;
      fs::remove(j.dir + "/batch.json", ec);  // the completion mark goes first: a killed redo is never complete
    } catch (const std::exception& e) {
      fail(j, "settings", e);
      progress.tick(l.id);
      continue;
    }
    if (!group.empty() && (group.size() == batch_size || !same_loop(group.front().g, j.g))) flush();
    group.push_back(std::move(j));
  }
  flush();
  progress.finish();
  return r;
}

// ---- merge ----

namespace {

struct MergedRun {
  std::string id, dir;
  nlohmann::json inputs, meta;
  std::map<std::string, double> summary;
};

/// A meta key as part of a file name.
std::string safe_file_part(const std::string& s) {
  std::string o;
  for (unsigned char c : s) o += std::isalnum(c) || c == '-' || c == '_' ? static_cast<char>(c) : '_';
  return o;
}

std::string cell_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  if (v.is_number_float()) return format_number(v.get<double>());
  return v.dump();
}

}  // namespace

Summary merge_batches(const std::vector<std::string>& dirs, const std::string& out, const std::string& group_by,
                      bool overwrite) {
  if (dirs.empty()) throw Error("merge: give at least one batch folder");
  if (!group_by.empty() && group_by.rfind("meta.", 0) != 0)
    throw Error("--group-by " + group_by + ": expected meta.KEY (a key of the manifest lines' meta objects)");
  std::vector<MergedRun> runs;
  std::set<std::string> ids;
  std::string first_model, first_described, first_run;
  size_t unfinished = 0;
  std::string failures;
  for (const auto& d : dirs) {
    if (!fs::is_directory(d)) throw Error("merge: " + d + " is not a folder (expected a diffscope batch --out folder)");
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(d)) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    for (const auto& p : entries) {
      const std::string name = p.filename().string();
      if (fs::is_regular_file(p) && name.rfind("failures", 0) == 0 && p.extension() == ".jsonl") {
        std::ifstream in(p);
        std::string line;
        while (std::getline(in, line))
          if (!line.empty()) {
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded()) throw Error(p.string() + ": not JSON lines");
            j["batch"] = d;
            failures += j.dump() + "\n";
          }
        continue;
      }
      if (!fs::is_directory(p)) continue;
      if (!fs::exists(p / "batch.json")) {
        if (fs::exists(p / "run.json") || fs::exists(p / ".diffscope.lock")) ++unfinished;
        continue;
      }
      const auto b = read_json_object((p / "batch.json").string());
      MergedRun m;
      m.id = b.value("id", name);
      m.dir = p.string();
      if (!ids.insert(m.id).second) throw Error("merge: run \"" + m.id + "\" appears in two batch folders (" + p.string() + ")");
      m.meta = b.contains("meta") ? b["meta"] : nlohmann::json();
      const auto run = read_json_object((p / "run.json").string());
      m.inputs = run.contains("inputs") && run["inputs"].is_object() ? run["inputs"] : nlohmann::json::object();
      // the run.json that goes into the table says what its batch line asked (an edited one is not carried over)
      const nlohmann::json entry = b.contains("entry") && b["entry"].is_object() ? b["entry"] : nlohmann::json::object();
      for (const char* key : {"prompt", "negative_prompt", "seed"})
        if (entry.contains(key) && m.inputs.value(key, nlohmann::json()) != entry[key])
          throw Error("merge: " + (p / "run.json").string() + ": inputs." + key + " " +
                      m.inputs.value(key, nlohmann::json()).dump() + " differs from its batch line's " +
                      entry[key].dump() + " (batch.json); the run folder was edited: rerun that line");
      // one model per table: the package's files and their hashes, as run.json records them
      const nlohmann::json model = run.contains("model") && run["model"].is_object() ? run["model"] : nlohmann::json::object();
      const std::string identity = model.contains("files") ? model["files"].dump() : std::string();
      const std::string described = model.value("name", std::string("?")) + " (" + model.value("dir", std::string("?")) + ")";
      if (runs.empty()) {
        first_model = identity, first_described = described, first_run = p.string();
      } else if (identity != first_model) {
        throw Error("merge: " + first_run + " was generated with the model " + first_described + " and " + p.string() +
                    " with " + (described == first_described ? "other package files (run.json model.files differ)" : described) +
                    "; merge one model's batches at a time");
      }
      if (fs::exists(p / "summary.json")) m.summary = Summary::load_or_empty((p / "summary.json").string()).numbers();
      m.summary.erase("seed");
      runs.push_back(std::move(m));
    }
  }
  if (runs.empty()) throw Error("merge: no finished runs in " + dirs.front() + (dirs.size() > 1 ? " ..." : "") +
                                " (each run folder needs its batch.json)");
  std::sort(runs.begin(), runs.end(), [](const MergedRun& a, const MergedRun& b) { return a.id < b.id; });
  // columns: the inputs, every meta key, every summary key (sorted unions)
  const std::vector<std::string> input_cols{"prompt", "negative_prompt", "seed", "steps", "guidance_scale", "scheduler",
                                            "height", "width"};
  std::set<std::string> meta_keys, keys;
  for (const auto& r : runs) {
    if (r.meta.is_object())
      for (const auto& [k, v] : r.meta.items()) meta_keys.insert(k);
    for (const auto& [k, v] : r.summary) keys.insert(k);
  }
  if (!group_by.empty() && !meta_keys.count(group_by.substr(5))) {
    std::string known;
    for (const auto& k : meta_keys) known += (known.empty() ? "meta." : ", meta.") + k;
    throw Error("--group-by " + group_by + ": no run's meta has \"" + group_by.substr(5) + "\" (" +
                (known.empty() ? std::string("the runs have no meta keys") : "known: " + known) + ")");
  }
  const OutputFolder claimed = claim_output_folder(out, overwrite);
  std::vector<std::string> header{"id"};
  for (const auto& c : input_cols) header.push_back(c);
  for (const auto& k : meta_keys) header.push_back("meta." + k);
  for (const auto& k : keys) header.push_back(k);
  CsvWriter csv(out + "/runs.csv", header);
  std::string jsonl;
  SummaryAggregate all;
  std::map<std::string, SummaryAggregate> groups;
  const std::string group_key = group_by.empty() ? "" : group_by.substr(5);
  for (const auto& r : runs) {
    csv.cell(r.id);
    for (const auto& c : input_cols) csv.cell(r.inputs.contains(c) ? cell_text(r.inputs[c]) : std::string());
    for (const auto& k : meta_keys)
      csv.cell(r.meta.is_object() && r.meta.contains(k) ? cell_text(r.meta[k]) : std::string());
    for (const auto& k : keys) {
      auto it = r.summary.find(k);
      if (it == r.summary.end()) csv.cell(std::string());
      else csv.cell(it->second);
    }
    csv.end_row();
    nlohmann::json s = nlohmann::json::object();
    for (const auto& [k, v] : r.summary) s[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
    jsonl += nlohmann::json{{"id", r.id}, {"inputs", r.inputs}, {"meta", r.meta}, {"summary", s}}.dump() + "\n";
    all.add(r.summary);
    if (!group_key.empty()) {
      const std::string g = r.meta.is_object() && r.meta.contains(group_key) ? cell_text(r.meta[group_key]) : "(none)";
      groups[g].add(r.summary);
    }
  }
  csv.commit();
  write_file_atomic(out + "/runs.jsonl", jsonl);
  write_file_atomic(out + "/failures.jsonl", failures);
  Summary summary;
  all.write_to(summary);
  summary.set_count("runs", static_cast<int64_t>(runs.size()));
  summary.set_count("unfinished", static_cast<int64_t>(unfinished));
  summary.set_count("failures", static_cast<int64_t>(std::count(failures.begin(), failures.end(), '\n')));
  auto write_aggregate = [&](const std::string& path, const std::map<std::string, Summary>& by, bool grouped) {
    std::vector<std::string> h;
    if (grouped) h.push_back(group_key);
    for (const char* c : {"key", "n", "mean", "std", "ci95_lo", "ci95_hi"}) h.push_back(c);
    CsvWriter t(path, h);
    for (const auto& [g, s] : by) {
      const auto n = s.numbers();
      for (const auto& k : keys) {
        if (!n.count(k + ".n")) continue;
        if (grouped) t.cell(g);
        t.cell(k);
        for (const char* suffix : {".n", ".mean", ".std", ".ci95_lo", ".ci95_hi"}) {
          auto it = n.find(k + suffix);
          t.cell(it == n.end() ? std::nan("") : it->second);
        }
        t.end_row();
      }
    }
    t.commit();
  };
  write_aggregate(out + "/aggregate.csv", {{"", summary}}, false);
  if (!group_key.empty()) {
    std::map<std::string, Summary> by;
    for (const auto& [g, agg] : groups) agg.write_to(by[g]);
    write_aggregate(out + "/aggregate_by_" + safe_file_part(group_key) + ".csv", by, true);
  }
  summary.write(out + "/summary.json");
  if (unfinished) spdlog::warn("merge: {} unfinished run folder(s) left out (resume their batch)", unfinished);
  return summary;
}

}  // namespace diffscope
