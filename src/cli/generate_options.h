// The options `generate`, `analyze` and the prompt-set modes share (the library's GenerationSpec).
#pragma once
#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "diffscope/study/generation.h"

namespace diffscope::cli {

/// A generation as the command line gives it: the library's spec plus --threads/--device/--quiet.
struct GenerateCli {
  GenerationSpec spec;
  CommonOptions common;
  bool no_attention = false;
  /// The spec with the flags applied.
  GenerationSpec resolved() const {
    GenerationSpec s = spec;
    s.capture_attention = !no_attention;
    return s;
  }
};

/// Adds every generation option to `app`.
void add_generate_options(CLI::App& app, GenerateCli& g);

/// --batch-size (analyze --prompts, batch): prompts denoised together, one denoiser call per step.
void add_batch_size_option(CLI::App& app, CommonOptions& common);

}  // namespace diffscope::cli
