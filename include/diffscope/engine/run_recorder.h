// RunRecorder: an Observer that keeps latents, decodes each step's x0, and writes the run folder.
#pragma once
#include "diffscope/util/sha256.h"  // sha256_file, for run.json's hashes
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "diffscope/engine/observer.h"

#include <nlohmann/json_fwd.hpp>

namespace diffscope {

class AttentionCapture;
struct GenerateOptions;
struct GenerateResult;

/// Which decoded x0 estimates to write as steps/x0_NNN.png: every `x0_every`-th step (and the last); 0 = none.
struct RunRecorderOptions {
  std::string dir;        ///< the run folder (created)
  int x0_every = 1;
  std::string x0_view = "decode";  ///< how x0 images are made: decode (the VAE) or preview (the package's W z + b)
  int filmstrip_columns = 0;  ///< steps/filmstrip.png wraps after this many images (0 = at most 8 a row, rows as even as they can be)
};

/// Records latents [steps+1,C,h,w] and writes x0 PNGs on a background thread while the loop runs.
class RunRecorder : public Observer {
 public:
  explicit RunRecorder(RunRecorderOptions options);
  ~RunRecorder() override;
  void on_begin(const RunContext& ctx, const at::Tensor& initial_latent) override;
  void on_step(const RunContext& ctx, const StepState& step) override;
  void on_end(const RunContext& ctx, const at::Tensor& final_latent) override;

  /// Writes final.png, latents.npy, attention/*.npy, steps/filmstrip.png and run.json (last, so a folder with
  /// run.json is complete). `extra` is merged into run.json (e.g. the command line, timings).
  void write(const GenerateOptions& options, const GenerateResult& result, const AttentionCapture* attention,
             const nlohmann::json& extra);

  /// Latents recorded so far, [steps+1, C, h, w] on CPU.
  at::Tensor latents() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace diffscope
