// `sae train` and `sae inspect` as library calls: a k-sparse autoencoder on one layer x timestep of a feature set
// (diffscope features), and what its latents respond to (Revelio's SD-kSAE).
#pragma once
#include <cstdint>
#include <string>

#include "diffscope/analysis/summary.h"
#include "diffscope/study/session.h"

namespace diffscope {

struct SaeTrainSpec {
  std::string features;        ///< a finished `diffscope features` folder
  std::string layer;           ///< block output (mid_block, up_blocks.1, ...); empty: the feature set's only layer
  int64_t t = -1;              ///< timestep; < 0: the feature set's only timestep
  bool spatial = false;        ///< train on the SxS token vectors (the _s<S> file) instead of the pooled ones
  std::string out;             ///< default FEATURES/sae/<layer>_t<T>[_s<S>]
  int expansion = 8;           ///< latents = expansion x channels (Revelio: 64 on SD 1.5's 1280-d mid block)
  int64_t k = 32;
  int64_t batch = 1024;
  int epochs = 10;
  double lr = 4e-4;
  int64_t warmup = 100;        ///< linear learning-rate warm-up steps
  uint64_t seed = 0;
  bool overwrite = false;
};

/// Trains on the train split's vectors (streamed from the memory-mapped .npy in a seeded order per epoch) and writes
/// OUT/weights/{W_enc,b_enc,W_dec,b_dec}.npy, OUT/config.json, OUT/tables/loss.csv (step, epoch, lr, loss),
/// OUT/tables/latents.csv (firing counts and frequencies on train and test), OUT/plots/loss.png|svg,
/// OUT/plots/latent_frequency.png|svg and OUT/summary.json (sae.test.nmse, sae.test.explained_variance,
/// sae.train.nmse, sae.dead_fraction, ...). Returns that summary.
Summary sae_train(const SaeTrainSpec& spec, const Session& session);

struct SaeInspectSpec {
  std::string sae;             ///< an OUT folder of sae_train
  std::string out;             ///< default SAE/inspect
  int top = 10;                ///< top-activating images per latent
  int sheets = 16;             ///< contact sheets for the most monosemantic latents
  int min_images = 10;         ///< latents active on fewer images are not scored
  uint64_t seed = 0;           ///< the random-direction control
  bool overwrite = false;
};

/// Per latent, the images that activate it most (an image's activation: its pooled vector's code, or the largest over
/// its tokens for a spatial SAE), and for every label the purity of those `top` images (the dominant value's share)
/// and its entropy (over the images where the label is defined, at least half of them), against the same statistic for as many random unit directions:
/// OUT/tables/latents.csv, OUT/tables/purity.csv, contact sheets OUT/plots/latents/latent_NNNNN.png (activation
/// heatmaps over the images for spatial SAEs), OUT/plots/overview_<label>.png (the purest latents for that label,
/// a row each), and OUT/summary.json: sae.inspect.<label>.{mean_purity,share_ge_0.9,values_covered} and the same
/// with random_ for the control (values_covered: how many of the label's values some direction with purity >= 0.9
/// picks out), sae.inspect.scored.
Summary sae_inspect(const SaeInspectSpec& spec, const Session& session);

}  // namespace diffscope
