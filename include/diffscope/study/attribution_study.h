// Real-image attribution as library calls: one image (encode, noise to each t, one denoiser pass per t, then the
// heatmap/AUC/correlation analyses), or every item of a shapes-format dataset folder.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "diffscope/analysis/analyze.h"
#include "diffscope/analysis/summary.h"
#include "diffscope/study/session.h"

namespace diffscope {

struct AttributionSpec {
  std::string model = "models/shapes-v1";
  std::string image, prompt, negative_prompt;  ///< one image
  std::string dataset;                         ///< or a dataset folder (index.json, diffscope-shapes format)
  std::string out;
  std::vector<int64_t> timesteps{100, 300, 600};
  double guidance = 1.0;
  int64_t seed = 0;                            ///< the one noise draw shared by every t
  int limit = 0;                               ///< dataset: only the first N items (0 = all)
  bool overwrite = false;                      ///< replace an earlier diffscope output in `out`
};

/// One image into spec.out (a run folder); returns the analyses' summary keys.
std::map<std::string, double> attribute_image(const AttributionSpec& spec, const AnalysisOptions& options,
                                              const Session& session);

/// Every dataset item into spec.out/items/<id>, spec.out/attribution.csv (one row per scored word) and
/// spec.out/summary.json: KEY.mean/.std/.n over the items, auc.class.<class>.{roc_auc,ap,iou}.* per word class,
/// and "items". Returns that summary.
Summary attribute_dataset(const AttributionSpec& spec, const AnalysisOptions& options, const Session& session);

}  // namespace diffscope
