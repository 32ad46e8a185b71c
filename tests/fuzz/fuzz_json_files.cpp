// Fuzz harness: the JSON files diffscope reads (run.json with its run folder, summary.json, the gate's tolerances,
// concepts.json, the package's model_index.json, unet/layers.json and vae/config.json, diffusers'
// scheduler_config.json with every scheduler class), CSV tables, baseline files and batch manifests (as JSON lines
// and as CSV), each given the same arbitrary bytes.
#include <filesystem>

#include "diffscope/analysis/gate.h"
#include "diffscope/analysis/run_folder.h"
#include "diffscope/analysis/segmentation.h"
#include "diffscope/analysis/summary.h"
#include "diffscope/engine/model_info.h"
#include "diffscope/sched/scheduler_config.h"
#include "diffscope/study/manifest.h"
#include "diffscope/util/csv.h"
#include "diffscope/util/json_util.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = ds_fuzz::write_input("input.json", data, size);
  ds_fuzz::expect_clean([&] { diffscope::read_json_object(p); });
  ds_fuzz::expect_clean([&] { diffscope::Summary::load_or_empty(p); });
  ds_fuzz::expect_clean([&] { diffscope::flatten_numbers(p); });
  ds_fuzz::expect_clean([&] { diffscope::Tolerances::load(p); });
  ds_fuzz::expect_clean([&] { diffscope::Baseline::load(p); });
  ds_fuzz::expect_clean([&] { diffscope::read_manifest(p); });
  ds_fuzz::expect_clean([&] { diffscope::read_manifest(ds_fuzz::write_input("input.csv", data, size)); });
  ds_fuzz::expect_clean([&] { diffscope::Concepts::load(p); });
  ds_fuzz::expect_clean([&] { diffscope::read_csv(p); });
  ds_fuzz::expect_clean([&] {
    const auto c = diffscope::SchedulerConfig::from_file(p);
    for (const char* s : {"ddim", "ddpm", "pndm", "euler", "euler_a", "lms", "dpm++2m", "flow_euler"}) {
      try {
        c.resolved_for(s);
      } catch (const diffscope::Error&) {  // a key this class refuses: fine, the next class may take the file
      }
    }
  });
  ds_fuzz::expect_clean([&] {
    diffscope::ModelInfo info;
    diffscope::read_model_index(info, p);
  });
  ds_fuzz::expect_clean([&] {
    diffscope::ModelInfo info;
    diffscope::read_layers(info, p);
  });
  ds_fuzz::expect_clean([&] {  // a transformer package's layers.json ("joint_attention")
    diffscope::ModelInfo info;
    info.family = "mmdit";
    info.denoiser_dir = "transformer";
    diffscope::read_layers(info, p);
  });
  ds_fuzz::expect_clean([&] {
    diffscope::ModelInfo info;
    diffscope::read_vae_config(info, p);
  });
  // a run folder whose run.json is the input (no arrays beside it: every path to them must be refused cleanly)
  const std::string run = ds_fuzz::scratch() + "/run";
  std::filesystem::create_directories(run);
  std::filesystem::copy_file(p, run + "/run.json", std::filesystem::copy_options::overwrite_existing);
  ds_fuzz::expect_clean([&] { diffscope::RunFolder::load(run, false); });
  return 0;
}
