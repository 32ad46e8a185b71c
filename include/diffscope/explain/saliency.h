// Step-by-step saliency over the latent (paper: "Explaining generative diffusion models via visual analysis"):
// DF-RISE, DF-CAM, attention saliency, insertion/deletion curves and cross-attention relevance.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "diffscope/sched/step_math.h"

namespace diffscope {

class Model;
class Scheduler;

/// One denoising step of a run: x_t, the prompt context and the schedule the DDIM update at t needs.
struct StepContext {
  const Model* model = nullptr;
  at::Tensor latent;    ///< x_t [1,C,h,w]
  at::Tensor context;   ///< [2,L,D] (uncond, cond) when guided, else [1,L,D]
  double timestep = 0;
  double guidance = 1.0;
  std::vector<double> timesteps;  ///< the run's
  std::vector<double> alpha_bars;  ///< alpha_bar at each of the run's steps
  int step = 0;
  std::vector<double> alphas_cumprod;  ///< the package scheduler's training schedule
  Prediction prediction_type = Prediction::Epsilon;
  /// What the denoiser is given for `latent` (held in the VP space): 1 for VP models, sqrt((1-s)^2 + s^2) for a
  /// flow-matching model at sigma s (its samples are (1-s) x0 + s noise, the VP sample of the same SNR times that).
  double input_scale = 1.0;
  /// The same for the step after (sigma' of the run's next step, 0 after the last): a flow model's next sample is
  /// the VP sample ddim_step gives times this, and that is what the run holds and decodes.
  double next_input_scale = 1.0;
};

/// The denoiser's input for latents in the step's VP space (times StepContext::input_scale).
at::Tensor denoiser_input(const StepContext& s, const at::Tensor& latents);

/// One denoising step of a run, reconstructed: x_t [1,C,h,w] as the loop held it (`sigma_space` for Euler's
/// sigma-scaled samples, and a flow-matching model's samples, brought to the VP space here), the prompt context, and
/// the run's timesteps.
StepContext make_step_context(const Model& model, const at::Tensor& latent, const std::string& prompt,
                              const std::string& negative_prompt, double guidance,
                              const std::vector<double>& timesteps, int step, bool sigma_space);

/// Guided noise for a batch of latents [N,C,h,w] (CFG doubles the batch internally), processed `batch` at a time.
at::Tensor guided_noise_batch(const StepContext& s, const at::Tensor& latents, int batch);
/// The DDIM clean-latent estimate x0 and one DDIM step x_{t-1} for a batch, from guided noise.
at::Tensor ddim_x0(const StepContext& s, const at::Tensor& latents, const at::Tensor& noise);
at::Tensor ddim_step(const StepContext& s, const at::Tensor& latents, const at::Tensor& noise);
/// The decoded image of a batch of next-step samples from ddim_step, scaled as the run's sampler holds them (a flow
/// model's (1 - s') x0 + s' noise; the VP sample for the others).
at::Tensor decode_next(const StepContext& s, const at::Tensor& next);

/// Similarity of two batches of images or latents [N,C,H,W] -> N values; 1 = identical.
/// structure (default), ssim, luminance, contrast: SSIM terms (data_range 2); cosine; mse: 1 - mse/4.
std::vector<double> similarity(const at::Tensor& a, const at::Tensor& b, const std::string& kind);
void check_similarity(const std::string& kind);

/// DF-RISE: N random RISE masks (cells of a coarse grid kept with p = 0.5, upsampled with a random shift) applied
/// to x_t; each masked latent's x0 estimate is scored against the unmasked one; saliency = sum(mask * score) / (N p),
/// ReLU, min-max. The masks are drawn one at a time from `seed` (independent of `batch`). [h,w]
at::Tensor df_rise(const StepContext& s, int samples, int batch, const std::string& sim, uint64_t seed, bool quiet);

/// DF-RISE with the map also taken after the first `checkpoints` masks (those in 1..samples-1): the masks are drawn
/// one at a time from the seed, so the map after n masks is df_rise with samples = n, whatever --batch is.
struct DfRiseResult {
  at::Tensor map;                         ///< after all `samples` masks [h,w]
  std::vector<int> checkpoints;           ///< mask counts, ascending
  std::vector<at::Tensor> at_checkpoints; ///< the map after each [h,w]
};
DfRiseResult df_rise_checkpoints(const StepContext& s, int samples, int batch, const std::string& sim, uint64_t seed,
                                 bool quiet, const std::vector<int>& checkpoints);

/// DF-CAM: Grad-CAM over the UNet's block outputs, from d sum(guided noise) / d features, halves combined as
/// g_u + w (g_c - g_u) (and the activations likewise); per block ReLU(sum_k mean(G_k) A_k), upsampled, summed,
/// min-max. [h,w]
at::Tensor df_cam(const StepContext& s);

/// Grad-CAM on given activations [C,h,w] and gradients [C,h,w]: ReLU(sum_k mean_hw(G_k) A_k). (Exposed for tests.)
at::Tensor grad_cam(const at::Tensor& activations, const at::Tensor& gradients);

/// Cross-attention relevance per token: ReLU of the guided prediction's gradient x attention (the CFG halves'
/// (1 - w) g_u A_u + w g_c A_c, with g = d sum(prediction) / dA), averaged over heads, summed over pixels and layers.
/// Non-negative by construction. [L] (tokens)
at::Tensor token_relevance(const StepContext& s);

/// An insertion or deletion curve for a saliency map [h,w] (all channels of a pixel move together).
struct Curve {
  std::vector<double> fraction;    ///< 0..1, K+1 stages
  std::vector<double> score;       ///< raw similarity to the unperturbed decode
  std::vector<double> normalised;  ///< score min-max rescaled over this curve (the paper's normalised curve)
  double auc = 0;                  ///< trapezoid AUC of the normalised curve: the paper's metric
  double auc_raw = 0;              ///< trapezoid AUC of the raw similarity
};

/// Builds a Curve (normalised curve and both AUCs) from fractions and raw scores.
Curve make_curve(std::vector<double> fraction, std::vector<double> score);

/// Deletion: the most salient pixels set to 0 first; insertion: original pixels put into a blurred latent
/// (Gaussian 11x11, sigma 5) first. After each of K+1 stages, one DDIM step and a decode, scored against the
/// unperturbed latent's decode. AUC by the trapezoid rule over fractions 0..1, of the min-max normalised curve
/// (as X-Diffusion computes it) and of the raw one.
Curve perturbation_curve(const StepContext& s, const at::Tensor& saliency, bool insertion, int k, int batch,
                         const std::string& sim);

/// The order in which pixels are perturbed: descending saliency, ties by index (stable).
std::vector<int64_t> pixel_order(const at::Tensor& saliency);

/// A saliency map of uniformly random values (the random-order baseline), seeded.
at::Tensor random_saliency(int h, int w, uint64_t seed);

}  // namespace diffscope
