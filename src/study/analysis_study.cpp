// `analyze` for one prompt or a prompt set (see analysis_study.h).
#include "diffscope/study/analysis_study.h"

#include <filesystem>
#include <limits>
#include <optional>

#include "diffscope/analysis/class_scores.h"
#include "diffscope/analysis/segmentation.h"
#include "diffscope/util/atomic_file.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/output_folder.h"
#include "study/internal.h"

namespace diffscope {

std::map<std::string, double> study::analyze_folder_with(const Model* loaded, const std::string& run_dir,
                                                         const AnalysisOptions& options, const Session& session) {
  std::optional<Model> own;
  const ModelSource model = [&]() -> const Model& {
    if (loaded) return *loaded;
    if (!own) own.emplace(load_model(run_model_dir(RunFolder::load(run_dir, false), options.model_dir), session));
    return *own;
  };
  return run_analyses(run_dir, options, model, session.quiet);
}

std::map<std::string, double> analyze_folder(const std::string& run_dir, const AnalysisOptions& options,
                                             const Session& session) {
  return study::analyze_folder_with(nullptr, run_dir, options, session);
}

std::map<std::string, double> analyze_run(const GenerationSpec& spec, const AnalysisOptions& options,
                                          const Session& session) {
  check_generation(spec);
  const Model model = study::load_model(spec.model, session);
  study::generate_with(model, spec, session, "analyze");
  return study::analyze_folder_with(&model, spec.out, options, session);
}

Summary analyze_prompt_set(const GenerationSpec& base, const std::string& prompts_file, const AnalysisOptions& options,
                           const Session& session) {
  const auto items = read_prompt_file(prompts_file, base.seed);
  const std::string root = base.out;
  const OutputFolder claimed = claim_output_folder(root, base.overwrite);
  const Model model = study::load_model(base.model, session);
  Concepts concepts;
  const std::string cpath = base.model + "/concepts.json";
  const bool have_concepts = std::filesystem::exists(cpath);
  if (have_concepts) concepts = Concepts::load(cpath);

  SummaryAggregate agg;
  CsvWriter csv(root + "/prompts.csv",
                {"index", "seed", "prompt", "folder", "auc.mean_roc_auc", "auc.miou", "binding.mean"});
  study::for_each_prompt(model, base, items, root, session, "analyze", false,
                         [&](const PromptItem& item, const std::string& dir) {
                           const auto keys = study::analyze_folder_with(&model, dir, options, session);
                           agg.add(keys);
                           add_class_scores(agg, class_scores(keys, have_concepts ? &concepts : nullptr));
                           auto get = [&](const char* k) {
                             return keys.count(k) ? keys.at(k) : std::numeric_limits<double>::quiet_NaN();
                           };
                           csv.cell(static_cast<int64_t>(item.index)).cell(item.seed).cell(item.prompt).cell(item.folder);
                           csv.cell(get("auc.mean_roc_auc")).cell(get("auc.miou")).cell(get("binding.mean"));
                           csv.end_row();
                         });
  csv.commit();
  Summary s;
  agg.write_to(s);
  s.set_count("prompts", static_cast<int64_t>(items.size()));
  s.write(root + "/summary.json");
  return s;
}

}  // namespace diffscope
