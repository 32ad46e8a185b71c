// `compare` (see compare_study.h).
#include "diffscope/study/compare_study.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "diffscope/study/prompt_set.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/error.h"
#include "diffscope/util/output_folder.h"
#include "study/internal.h"

namespace diffscope {

namespace {
std::string guidance_label(double w) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "w=%g", w);
  return buf;
}
}  // namespace

std::vector<CompareRunPlan> plan_comparison(const CompareSpec& spec) {
  const std::vector<std::string> prompts = spec.prompts.empty() ? std::vector<std::string>{spec.base.prompt} : spec.prompts;
  const std::vector<double> gs = spec.guidances.empty() ? std::vector<double>{spec.base.guidance} : spec.guidances;
  std::vector<std::string> schedules = spec.schedules;
  if (schedules.empty()) schedules.push_back(spec.base.timestep_schedule.empty() ? "default" : spec.base.timestep_schedule);
  if (std::set<std::string>(prompts.begin(), prompts.end()).size() != prompts.size())
    throw Error("--prompt: the same prompt is given twice");
  if (std::set<double>(gs.begin(), gs.end()).size() != gs.size()) throw Error("--guidance: the same value is given twice");
  if (std::set<std::string>(schedules.begin(), schedules.end()).size() != schedules.size())
    throw Error("--timestep-schedules: the same schedule is given twice");
  std::vector<CompareRunPlan> plan;
  for (const auto& p : prompts)
    for (double g : gs)
      for (const auto& s : schedules) {
        CompareRunPlan r;
        r.prompt = p;
        r.guidance = g;
        r.schedule = s == "default" ? "" : s;
        std::string label;
        auto add = [&](const std::string& part) { label += (label.empty() ? "" : ", ") + part; };
        if (prompts.size() > 1) add(p);
        if (gs.size() > 1) add(guidance_label(g));
        if (schedules.size() > 1) add(s);
        r.label = label;
        char folder[32];
        std::snprintf(folder, sizeof folder, "runs/%02zu", plan.size());
        r.folder = folder;
        plan.push_back(r);
      }
  if (plan.size() < 2)
    throw Error("compare: needs at least two runs: give several --prompt, --guidance values or --timestep-schedules");
  if (plan.size() > 64) throw Error("compare: " + std::to_string(plan.size()) + " runs; at most 64 are compared at once");
  return plan;
}

namespace {
void check_plan(const CompareSpec& spec, const std::vector<CompareRunPlan>& plan) {
  for (const auto& r : plan) {
    GenerationSpec g = spec.base;
    g.prompt = r.prompt;
    check_generation(g);
  }
}

/// The runs of one comparison into root (already claimed) on a loaded model, then the comparison.
Summary compare_with(const Model& model, const CompareSpec& spec, const std::vector<CompareRunPlan>& plan,
                     const std::string& root, const Session& session) {
  Session run_session = session;
  run_session.quiet = true;
  std::vector<CompareInput> inputs;
  for (size_t i = 0; i < plan.size(); ++i) {
    const auto& r = plan[i];
    GenerationSpec g = spec.base;
    g.prompt = r.prompt;
    g.guidance = r.guidance;
    g.timestep_schedule = r.schedule;
    g.x0_every = 1;  // distances need every step's x0
    g.out = root + "/" + r.folder;
    g.overwrite = false;  // the compare folder was emptied when claimed
    spdlog::info("run {}/{}: {}", i + 1, plan.size(), r.label);
    study::generate_with(model, g, run_session, "compare");
    if (spec.analyze_runs) run_analyses(g.out, spec.analysis);
    inputs.push_back({g.out, r.label});
  }
  spdlog::info("comparing {} runs", plan.size());
  Summary s;
  s.set_all(compare_runs(inputs, root, spec.compare));
  for (size_t i = 0; i < plan.size(); ++i) s.set_text("compare.run" + std::to_string(i) + ".label", plan[i].label);
  s.write(root + "/summary.json");
  return s;
}
}  // namespace

Summary compare_study(const CompareSpec& spec, const Session& session) {
  const auto plan = plan_comparison(spec);
  check_plan(spec, plan);
  const OutputFolder claimed = claim_output_folder(spec.base.out, spec.base.overwrite);
  const Model model = study::load_model(spec.base.model, session);
  return compare_with(model, spec, plan, spec.base.out, session);
}

Summary compare_groups(const CompareSpec& spec, const std::string& groups_file, const Session& session) {
  if (!spec.prompts.empty()) throw Error("compare: give --prompt or --pairs, not both");
  const auto groups = read_prompt_groups(groups_file);
  std::vector<std::vector<CompareRunPlan>> plans;
  for (const auto& g : groups) {
    CompareSpec one = spec;
    one.prompts = g;
    plans.push_back(plan_comparison(one));
    check_plan(one, plans.back());
  }
  const std::string root = spec.base.out;
  const OutputFolder claimed = claim_output_folder(root, spec.base.overwrite);
  const Model model = study::load_model(spec.base.model, session);
  SummaryAggregate agg;
  std::vector<std::string> header{"group", "folder", "prompts"};
  const std::vector<std::string> cols{"final_pixel_rmse", "final_latent_rmse", "mean_pixel_rmse", "apart_step",
                                      "together_step"};
  for (const auto& c : cols) header.push_back("run1." + c);
  CsvWriter csv(root + "/groups.csv", header);
  for (size_t i = 0; i < groups.size(); ++i) {
    char folder[16];
    std::snprintf(folder, sizeof folder, "%03zu", i);
    std::string prompts;
    for (const auto& p : groups[i]) prompts += (prompts.empty() ? "" : " | ") + p;
    spdlog::info("group {}/{}: {}", i + 1, groups.size(), prompts);
    CompareSpec one = spec;
    one.prompts = groups[i];
    const Summary s = compare_with(model, one, plans[i], root + "/" + folder, session);
    const auto keys = s.numbers();
    agg.add(keys);
    csv.cell(static_cast<int64_t>(i)).cell(folder).cell(prompts);
    for (const auto& c : cols) {
      const auto it = keys.find("compare.run1." + c);
      csv.cell(it == keys.end() ? std::nan("") : it->second);
    }
    csv.end_row();
  }
  csv.commit();
  Summary s;
  agg.write_to(s);
  s.set_count("groups", static_cast<int64_t>(groups.size()));
  s.write(root + "/summary.json");
  return s;
}

}  // namespace diffscope
