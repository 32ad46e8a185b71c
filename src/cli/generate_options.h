// The options `generate` and `analyze` share, and the one function that runs a captured generation.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/command.h"

namespace diffscope::cli {

struct GenerateCli {
  CommonOptions common;
  std::string model = "models/shapes-v1", out, prompt, negative_prompt, scheduler, init_latents, schedule;
  int64_t seed = 0;
  int steps = 25, height = 0, width = 0, x0_every = 1;
  double guidance = 7.5, eta = 0.0;
  bool no_attention = false, allow_empty_prompt = false;
  std::string attention_half = "cond";
  std::vector<std::string> layers;  ///< indices, module names, blocks (down/mid/up) or resolutions (16x16)
  std::vector<int> keep_layer_steps, keep_head_steps;
};

/// Adds every generation option to `app`.
void add_generate_options(CLI::App& app, GenerateCli& g);
/// Loads the model, runs the hooked loop and writes the run folder g.out. Returns the run folder.
std::string run_generate(const GenerateCli& g, const std::string& command_name);

}  // namespace diffscope::cli
