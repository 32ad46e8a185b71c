// Batch studies: a manifest of runs (one per line), one model load, a run folder per line, bad lines and failed runs
// recorded and skipped, --resume after a kill, --shard I/N across processes or Slurm array tasks; and merge, which
// gathers batch folders into one table and aggregate.
#pragma once
#include <string>
#include <vector>

#include "diffscope/analysis/analyze.h"
#include "diffscope/analysis/summary.h"
#include "diffscope/study/generation.h"
#include "diffscope/study/saliency_study.h"
#include "diffscope/study/session.h"

namespace diffscope {

struct BatchSpec {
  std::string manifest;     ///< .jsonl or .csv (study/manifest.h)
  std::string out;          ///< DIR: DIR/<id>/ per line, DIR/failures.jsonl
  GenerationSpec defaults;  ///< model and every generation setting a line leaves unset
  AnalysisOptions analysis; ///< the analyses (and their options) of a line without "analyses"; analysis.saliency:
                            ///< the defaults of a line's "saliency" settings
  int shard = 0, shards = 1;
  bool resume = false;      ///< skip lines already complete for the same inputs; redo unfinished ones
  bool overwrite = false;   ///< redo every line of this shard
};

struct BatchResult {
  size_t entries = 0;   ///< the manifest's entries (all shards)
  size_t selected = 0;  ///< this shard's
  size_t done = 0, skipped = 0, failed = 0, bad = 0;
  std::string failures_file;  ///< where failures and bad lines were recorded (empty when none)
};

/// Runs this shard's lines: each into out/<id>/ (generate, the analyses, saliency when the line asks), then
/// out/<id>/batch.json (id, line, meta and the hash of the resolved inputs with the package's hash) as the
/// completion mark. A bad line or a failed run goes to out/failures.jsonl (out/failures.shard-I-of-N.jsonl for a
/// shard) with its line number and error, and the batch goes on. Error before any work when out/<id> folders exist
/// without --resume or --overwrite.
BatchResult run_batch(const BatchSpec& spec, const Session& session);

/// Gathers batch folders (each DIR/<id>/ with its batch.json) into `out`: runs.csv and runs.jsonl (one row per run:
/// id, inputs, meta, every summary key; sorted by id), aggregate.csv and summary.json (per key: n, mean, std and
/// 95% bootstrap interval), aggregate_by_<meta key>.csv for `group_by` ("meta.category"), failures.jsonl (the
/// batches' failures). Unfinished folders are counted and left out. Error on an id present in two folders.
Summary merge_batches(const std::vector<std::string>& dirs, const std::string& out, const std::string& group_by,
                      bool overwrite);

}  // namespace diffscope
