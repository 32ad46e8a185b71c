// The HTML report: one self-contained file (inline CSS and JS, images as data: URIs, no network) showing one study
// folder as a whole. For run folders and compare folders: the pipeline overview (text encoder -> denoiser over the
// steps with the scheduler -> VAE, with the run's tensor shapes and timings), a step slider with play/pause and arrow
// keys over every run's x0 estimate and latent, a word picker overlaying that word's attention map (this step or all
// steps) with an opacity control and colour scale, the final images, and for a compare sweep a guidance (and prompt)
// slider. For batch, merge, saliency, features/probe and SAE folders: their tables (a batch's or merge's runs as a
// sortable, filterable table with drill-down into each run) and figures. Figures and tables are grouped by the
// question they answer (what appears when, where each word attends, which steps matter, what the layers represent).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffscope {

/// What kind of folder `report` was given, told from the files it holds.
enum class ReportKind {
  Unknown,
  Run,       ///< run.json (generate, analyze, attribute)
  Compare,   ///< runs/ and tables/runs.csv (compare)
  Batch,     ///< sub-folders with batch.json, or failures.jsonl (batch)
  Merge,     ///< runs.csv, runs.jsonl and aggregate.csv (merge)
  Saliency,  ///< saliency_prompts.csv (saliency --prompts), or a run's saliency/ (over_steps.csv, step_NNN/)
  Features,  ///< index.json and features/ (features; with probe/ when probe ran on it), or a probe/ folder itself
  Sae,       ///< config.json and weights/ (sae train; with inspect/), or an inspect/ folder itself
};

ReportKind detect_report_kind(const std::string& dir);
/// "run", "compare", "batch", "merge", "saliency", "features", "sae" ("unknown" for Unknown).
const char* report_kind_name(ReportKind kind);

struct ReportOptions {
  std::string title;           ///< default: the first run's prompt, or "comparison of N runs", or the study's kind
  size_t max_table_rows = 60;  ///< longer CSV tables are cut (the note says how many rows the file has)
  bool overwrite = false;      ///< replace an earlier report at the output path (never another file: claim_output_file)
};

struct ReportInfo {
  size_t bytes = 0;  ///< size of the written file
  int runs = 0, steps = 0, words = 0, figures = 0, tables = 0;
  std::string kind;  ///< report_kind_name of what was reported
};

/// Writes `out_html` (atomically) for `dirs`: run folders (shown side by side; they need the same number of steps),
/// or one compare, batch, merge, saliency, features/probe or SAE folder. Error naming the folder and what was
/// expected when one is none of these.
ReportInfo write_report(const std::vector<std::string>& dirs, const std::string& out_html,
                        const ReportOptions& options = {});

}  // namespace diffscope
