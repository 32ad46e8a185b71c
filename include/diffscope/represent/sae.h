// k-sparse (TopK) autoencoders on denoiser features (Revelio's SD-kSAE; Gao et al. 2024, "Scaling and evaluating
// sparse autoencoders"): the model, its initialisation, one training step and a streaming evaluation.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "diffscope/represent/epoch_order.h"

namespace diffscope {

struct SaeConfig {
  int64_t d_in = 0;              ///< input width (the layer's channels)
  int64_t d_sae = 0;             ///< latents (expansion x d_in)
  int64_t k = 32;                ///< latents kept per vector
  int64_t batch = 1024;
  int epochs = 10;
  double lr = 4e-4;              ///< Adam learning rate after warm-up
  int64_t warmup_steps = 100;    ///< linear warm-up: lr x min(1, (step + 1) / warmup_steps)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  uint64_t seed = 0;             ///< initial weights and data order
};

/// The weights: encoder W_enc [d_in, d_sae] + b_enc [d_sae], decoder W_dec [d_sae, d_in] (unit-norm rows) + the
/// pre-encoder bias b_dec [d_in] that is subtracted before encoding and added after decoding.
struct SaeWeights {
  at::Tensor w_enc, b_enc, w_dec, b_dec;
};

/// Gao et al.'s initialisation: W_dec = torch.randn(d_sae, d_in) on a generator seeded `config.seed`, rows scaled
/// to unit norm; W_enc = W_dec^T; b_enc = 0; b_dec = `mean` (the training data's mean, [d_in]).
SaeWeights sae_init(const SaeConfig& config, const at::Tensor& mean);

/// Latent codes of x [B, d_in]: pre = (x - b_dec) W_enc + b_enc; the k largest pre-activations of each row kept
/// (through a ReLU), the rest zero. [B, d_sae].
at::Tensor sae_encode(const SaeWeights& w, const at::Tensor& x, int64_t k);
/// Reconstruction z W_dec + b_dec.
at::Tensor sae_decode(const SaeWeights& w, const at::Tensor& z);
/// Normalised MSE of a batch: mean((x_hat - x)^2) / mean((x - mean_rows(x))^2).
at::Tensor normalised_mse(const at::Tensor& x_hat, const at::Tensor& x);

/// Adam on all four tensors with the normalised MSE loss; before each step the gradient component parallel to each
/// decoder row is removed, after it the rows are renormalised to unit norm.
class SaeTrainer {
 public:
  SaeTrainer(const SaeConfig& config, SaeWeights init);
  ~SaeTrainer();
  SaeTrainer(const SaeTrainer&) = delete;
  SaeTrainer& operator=(const SaeTrainer&) = delete;
  /// One optimiser step on `batch` [B, d_in]; returns the batch's loss before the step. Error on a non-finite loss.
  double step(const at::Tensor& batch);
  int64_t steps_done() const { return step_; }
  double current_lr() const;  ///< the learning rate the next step uses
  const SaeWeights& weights() const { return w_; }

 private:
  SaeConfig config_;
  SaeWeights w_;
  int64_t step_ = 0;
  struct Optim;
  Optim* optim_;
};

/// Reconstruction quality and latent use over a data set streamed in chunks (`next` fills up to `max_rows` rows
/// and returns how many; 0 ends). nmse = sum (x_hat - x)^2 / sum (x - mean(x))^2 over all rows.
struct SaeEvaluation {
  int64_t rows = 0;
  double nmse = 0, explained_variance = 0;
  std::vector<int64_t> fire_counts;  ///< per latent: rows where it is active
};
SaeEvaluation sae_evaluate(const SaeWeights& w, int64_t k,
                           const std::function<at::Tensor(int64_t max_rows)>& next, int64_t chunk = 4096);

}  // namespace diffscope
