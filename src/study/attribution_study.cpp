// Real-image attribution on one image or a dataset folder (see attribution_study.h).
#include "diffscope/study/attribution_study.h"

#include <filesystem>

#include "diffscope/analysis/class_scores.h"
#include "diffscope/analysis/segmentation.h"
#include "diffscope/engine/attention_capture.h"
#include "diffscope/engine/attribute.h"
#include "diffscope/engine/run_recorder.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/json_util.h"
#include "diffscope/util/output_folder.h"
#include "diffscope/util/progress.h"
#include "study/internal.h"

namespace fs = std::filesystem;

namespace diffscope {

namespace {
/// One attribution into `dir`; returns the analyses' summary.
std::map<std::string, double> attribute_one(const Model& model, const AttributionSpec& o, const AnalysisOptions& base,
                                            const std::string& image, const std::string& prompt,
                                            const std::string& masks, const std::string& dir) {
  AttributeOptions ao;
  ao.image_path = image;
  ao.prompt = prompt;
  ao.negative_prompt = o.negative_prompt;
  ao.timesteps = o.timesteps;
  ao.guidance_scale = o.guidance;
  ao.seed = o.seed;
  const OutputFolder folder = claim_output_folder(dir, o.overwrite);
  RunRecorderOptions ro;
  ro.dir = dir;
  RunRecorder rec(ro);
  AttentionCapture att;
  GenerateResult r = attribute(model, ao, {&rec, &att});
  rec.write(attribute_as_generate_options(ao), r, &att, {{"command", "attribute"}, {"image", image}});
  AnalysisOptions a = base;
  a.which = {"heatmaps", "auc", "correlate"};
  if (!masks.empty()) a.masks_dir = masks;
  return run_analyses(dir, a);
}
}  // namespace

std::map<std::string, double> attribute_image(const AttributionSpec& o, const AnalysisOptions& options,
                                              const Session& session) {
  if (o.prompt.empty()) throw Error("--prompt: required with --image");
  const Model model = study::load_model(o.model, session);
  model.require_attention("attribute");
  return attribute_one(model, o, options, o.image, o.prompt, options.masks_dir, o.out);
}

Summary attribute_dataset(const AttributionSpec& o, const AnalysisOptions& options, const Session& session) {
  const Model model = study::load_model(o.model, session);
  model.require_attention("attribute");
  const std::string index_path = (fs::path(o.dataset) / "index.json").string();
  const auto index = read_json_object(index_path);
  if (index.value("format", std::string()) != "diffscope-shapes")
    throw Error(index_path + ": expected a dataset in the diffscope-shapes format (scripts/shapes/shapes_dataset.py)");
  Concepts concepts;
  const fs::path cpath = fs::path(o.model) / "concepts.json";
  const bool have_concepts = fs::exists(cpath);
  if (have_concepts) concepts = Concepts::load(cpath.string());
  const OutputFolder root = claim_output_folder(o.out, o.overwrite);
  CsvWriter csv(o.out + "/attribution.csv", {"item", "caption", "word", "class", "roc_auc", "ap", "iou"});
  SummaryAggregate agg;
  const auto& items = index.at("items");
  const int n = o.limit > 0 ? std::min<int>(o.limit, static_cast<int>(items.size())) : static_cast<int>(items.size());
  Progress progress("attributing", n, session.quiet);
  for (int i = 0; i < n; ++i) {
    const auto& it = items[static_cast<size_t>(i)];
    const std::string id = it.at("id"), caption = it.at("caption");
    const auto keys = attribute_one(model, o, options, (fs::path(o.dataset) / it.at("image").get<std::string>()).string(),
                                    caption, (fs::path(o.dataset) / it.at("masks").get<std::string>()).string(),
                                    o.out + "/items/" + id);
    const auto scores = class_scores(keys, have_concepts ? &concepts : nullptr);
    for (const auto& sc : scores) {
      csv.cell(id).cell(caption).cell(sc.word).cell(sc.cls).cell(sc.roc_auc).cell(sc.ap).cell(sc.iou);
      csv.end_row();
    }
    agg.add(keys);
    add_class_scores(agg, scores);
    progress.tick(id);
  }
  progress.finish();
  csv.commit();
  Summary summary;
  agg.write_to(summary);
  summary.set_count("items", n);
  summary.write(o.out + "/summary.json");
  return summary;
}

}  // namespace diffscope
