// Real-image attribution on one image or a dataset folder (see attribution_study.h).
#include "diffscope/study/attribution_study.h"

#include <algorithm>
#include <filesystem>
#include <set>

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
#include "diffscope/util/path_confine.h"
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

namespace {
struct DatasetItem {
  std::string id, caption, image, masks;  ///< image and masks confined to the dataset folder
};

/// The dataset's items (the first `limit`, 0 = all), every field checked before any model load or write: ids are
/// output folder names (util's rule, as batch's manifest ids), image and masks paths lie inside the dataset folder.
std::vector<DatasetItem> read_dataset_items(const std::string& dataset, int limit) {
  if (!fs::is_directory(dataset)) throw Error("--dataset " + dataset + ": not a folder");
  const std::string index_path = (fs::path(dataset) / "index.json").string();
  const auto index = read_json_object(index_path);
  if (index.value("format", std::string()) != "diffscope-shapes" || !index.contains("items") || !index["items"].is_array())
    throw Error(index_path + ": expected a dataset in the diffscope-shapes format (scripts/shapes/shapes_dataset.py)");
  const auto& items = index["items"];
  const size_t n = limit > 0 ? std::min<size_t>(static_cast<size_t>(limit), items.size()) : items.size();
  if (n == 0) throw Error(index_path + ": holds no items");
  std::vector<DatasetItem> out;
  std::set<std::string> ids;
  for (size_t i = 0; i < n; ++i) {
    const auto& it = items[i];
    const std::string where = index_path + ": items[" + std::to_string(i) + "]";
    if (!it.is_object()) throw Error(where + ": expected an object with id, caption, image and masks");
    const auto field = [&](const char* key) {
      if (!it.contains(key) || !it[key].is_string())
        throw Error(where + ": \"" + key + "\" " + (it.contains(key) ? "is not a string" : "is missing") +
                    " (expected id, caption, image and masks)");
      return it[key].get<std::string>();
    };
    DatasetItem d;
    d.id = field("id");
    confine_name("items", d.id, where + ".id");
    if (!ids.insert(d.id).second) throw Error(where + ".id \"" + d.id + "\": repeats an earlier item's");
    d.caption = field("caption");
    if (d.caption.find_first_not_of(" \t\r\n") == std::string::npos) throw Error(where + ".caption: is empty");
    d.image = confine_path(dataset, field("image"), where + ".image");
    d.masks = confine_path(dataset, field("masks"), where + ".masks");
    out.push_back(std::move(d));
  }
  return out;
}
}  // namespace

Summary attribute_dataset(const AttributionSpec& o, const AnalysisOptions& options, const Session& session) {
  if (o.limit < 0) throw Error("--limit: expected 1 or more items (or leave it out for all), got " + std::to_string(o.limit));
  const std::vector<DatasetItem> items = read_dataset_items(o.dataset, o.limit);
  const Model model = study::load_model(o.model, session);
  model.require_attention("attribute");
  Concepts concepts;
  const fs::path cpath = fs::path(o.model) / "concepts.json";
  const bool have_concepts = fs::exists(cpath);
  if (have_concepts) concepts = Concepts::load(cpath.string());
  const OutputFolder root = claim_output_folder(o.out, o.overwrite);
  CsvWriter csv(o.out + "/attribution.csv", {"item", "caption", "word", "class", "roc_auc", "ap", "iou"});
  SummaryAggregate agg;
  const int n = static_cast<int>(items.size());
  Progress progress("attributing", n, session.quiet);
  for (int i = 0; i < n; ++i) {
    const DatasetItem& it = items[static_cast<size_t>(i)];
    const std::string& id = it.id;
    const std::string& caption = it.caption;
    const auto keys = attribute_one(model, o, options, it.image, caption, it.masks, confine_name(o.out + "/items", id, "item id"));
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
