// Batch manifests: one run per line, as JSON lines (.jsonl) or CSV with a header row. LibTorch-free (fuzzed).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace diffscope {

/// One valid line of a manifest. Unset fields take the batch command's defaults.
struct ManifestLine {
  int line = 0;                 ///< 1-based line number in the file (CSV: counting the header)
  size_t index = 0;             ///< 0-based index among the file's entries (bad ones included): what --shard splits
  std::string id;               ///< the run folder's name; default: the index, zero-padded to 5 digits
  std::string prompt;
  std::optional<std::string> negative_prompt, scheduler;
  std::optional<int64_t> seed;
  std::optional<int> steps, height, width;
  std::optional<double> guidance;
  std::vector<std::string> analyses;  ///< registered analyses to run; empty = all
  std::optional<std::vector<std::string>> concepts;  ///< generate --concepts for this line
  nlohmann::json saliency;            ///< null, or {"step"|"steps"|"step_frac", "samples", "k", "batch", "methods",
                                      ///< "mask_seeds", "seed", "similarity"}
  nlohmann::json meta;                ///< a free object carried into the results (null when absent)
  std::string canonical;              ///< the parsed entry as canonical JSON (sorted keys): what --resume hashes
};

/// A line that was refused, with its number and why.
struct ManifestProblem {
  int line = 0;
  size_t index = 0;
  std::string message;  ///< "FILE:LINE: ..."
};

struct Manifest {
  std::vector<ManifestLine> lines;
  std::vector<ManifestProblem> problems;
  size_t entries = 0;  ///< lines + problems
};

/// Reads a manifest: CSV when the name ends in .csv, else JSON lines. Blank lines and lines starting with # are
/// skipped. A bad entry (malformed JSON, unknown key, wrong type, empty prompt, an id that is not a safe folder name
/// or repeats an earlier one) becomes a problem; the rest are read. Error (naming the file) only when it cannot be
/// read or holds no entries at all.
Manifest read_manifest(const std::string& path);

/// Parses one JSON-lines entry (exposed for tests and the fuzzer); Error with the reason.
ManifestLine parse_manifest_entry(const nlohmann::json& entry);

/// The entries of shard `i` of `n` (0-based, index % n == i): N processes split a manifest with no coordination.
std::vector<ManifestLine> manifest_shard(const std::vector<ManifestLine>& lines, int i, int n);

/// "I/N" with 0 <= I < N < 100000 (a Slurm array --array=0-(N-1) passes SLURM_ARRAY_TASK_ID as I). Error naming
/// --shard otherwise.
std::pair<int, int> parse_shard(const std::string& spec);

}  // namespace diffscope
