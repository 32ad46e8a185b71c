// The analysis registry: every analysis of a run folder is one class in the file named for its concept, registered
// with DIFFSCOPE_ANALYSIS the way commands are. `analyze` runs the registry; each registered analysis is also a
// subcommand (`diffscope <name> --run DIR`). Adding an analysis is one new file plus its test. Analyses that run the
// denoiser again (kNeedsModel: saliency, relevance) register the same way from the study layer, which provides the
// loaded model through AnalysisInput::model.
#pragma once
#include <map>
#include <functional>
#include <string>
#include <vector>

#include "diffscope/analysis/analyze.h"
#include "diffscope/analysis/run_folder.h"

namespace diffscope {

/// What an analysis reads: the run folder (arrays, run.json, images), the options, the steps aggregated into word
/// maps (--agg-steps).
struct AnalysisInput {
  const RunFolder& run;
  const AnalysisOptions& options;
  const std::vector<int>& steps;
  const ModelSource& model;  ///< set whenever the analysis declares kNeedsModel
  bool quiet = false;        ///< no progress bars
};

/// Summary keys an analysis reports (dotted, stable).
using AnalysisKeys = std::map<std::string, double>;

/// What an analysis needs beyond the run folder's arrays.
enum AnalysisNeeds : unsigned {
  kNeedsArrays = 0,        ///< latents, attention maps, run.json
  kNeedsImages = 1u << 0,  ///< final.png / steps/x0_NNN.png
  kNeedsMasks = 1u << 1,   ///< ground-truth masks (--masks or the package's concepts.json)
  kNeedsAttention = 1u << 2,  ///< attention/maps.npy (not in a --no-attention run)
  kNeedsModel = 1u << 3,      ///< the loaded package: it runs the denoiser again (saliency, relevance)
  kNeedsConcepts = 1u << 4,   ///< attention/concept_maps.npy (generate --concepts); skipped quietly without
};

/// A registered analysis: what it is called and does, and the function that runs it.
struct Analysis {
  std::string name;
  std::string summary;  ///< one line for `diffscope --help`
  int order = 0;        ///< run (and help) order; ties by name
  unsigned needs = kNeedsArrays;
  std::vector<std::string> examples;  ///< argument lists for `diffscope <name>` beyond "--run DIR"
  std::vector<std::string> options;   ///< the shared analysis options it reads (names without "--"), for its --help
  /// Writes its tables and figures into the run folder (atomically, through the util writers) and adds its keys.
  std::function<void(const AnalysisInput& in, AnalysisKeys& keys)> run;
  bool by_default = true;   ///< false: runs only when named (analyze --analyses NAME), e.g. it costs many model calls
  bool own_command = false; ///< its subcommand is written by hand (cli/cmd_NAME.cpp), not generated from the registry
};

/// Adds an analysis (static registration); returns the number registered.
int register_analysis(Analysis analysis);
/// Every registered analysis, by order.
std::vector<const Analysis*> registered_analyses();
/// The analysis called `name`; Error listing the registered names otherwise.
const Analysis& find_analysis(const std::string& name);

}  // namespace diffscope

#define DIFFSCOPE_ANALYSIS_CONCAT2(a, b) a##b
#define DIFFSCOPE_ANALYSIS_CONCAT(a, b) DIFFSCOPE_ANALYSIS_CONCAT2(a, b)
/// Registers an analysis at static-initialisation time:
/// DIFFSCOPE_ANALYSIS({"settle", "one line", 20, kNeedsAttention, {examples}, {"agg-steps"},
///                     [](const AnalysisInput& in, AnalysisKeys& k) {...}});
#define DIFFSCOPE_ANALYSIS(...)                                                    \
  static const int DIFFSCOPE_ANALYSIS_CONCAT(ds_analysis_registered_, __LINE__) = \
      ::diffscope::register_analysis(::diffscope::Analysis __VA_ARGS__)
