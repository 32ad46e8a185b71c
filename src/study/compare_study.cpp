// `compare` (see compare_study.h).
#include "diffscope/study/compare_study.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <set>

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

Summary compare_study(const CompareSpec& spec, const Session& session) {
  const auto plan = plan_comparison(spec);
  for (const auto& r : plan) {
    GenerationSpec g = spec.base;
    g.prompt = r.prompt;
    check_generation(g);
  }
  const std::string root = spec.base.out;
  const OutputFolder claimed = claim_output_folder(root, spec.base.overwrite);
  const Model model = study::load_model(spec.base.model, session);
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

}  // namespace diffscope
