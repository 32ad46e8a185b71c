// `features` and `probe` as library calls: a dataset's block-output features at chosen timesteps, streamed to
// .npy files, and linear probes over every layer x timestep x label (Revelio).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "diffscope/analysis/summary.h"
#include "diffscope/study/session.h"

namespace diffscope {

struct FeatureSpec {
  std::string model = "models/shapes-v1";
  std::string dataset;                 ///< a diffscope-shapes folder (index.json) or an ImageFolder (DIR/<class>/*.png)
  std::string out;
  std::vector<int64_t> timesteps{25};  ///< Revelio's default t = 25 of 1000
  std::vector<std::string> layers;     ///< block outputs: indices, names (mid_block), or down/mid/up; empty = all
  std::string prompt;                  ///< "" = the empty prompt; "{label}" is replaced by the image's class
  int spatial = 0;                     ///< > 0: also SxS adaptive-average features
  int batch = 16;
  int limit = 0;                       ///< first N images only (0 = all)
  uint64_t seed = 0;                   ///< noise per image and the train/test split
  double test_fraction = 0.25;         ///< of each class, held out for the probes
  std::string split_file;              ///< lines "<image relative to the dataset> <train|test>" instead of the seeded split
  bool overwrite = false;
};

struct FeatureSetInfo {
  int images = 0, layers = 0, timesteps = 0, resumed_at = 0;
  double images_per_second = 0;
  std::vector<std::string> labels;  ///< label columns of labels.csv
};

/// Extracts OUT/features/<layer>_t<T>.npy [N, C] (and _s<S>.npy [N, C, S, S]), the baselines pixels.npy (the
/// image at 16x16, RGB) and latent.npy (the clean VAE latent), OUT/labels.csv (index, image, split, labels) and,
/// last, OUT/index.json. One model load, batched denoiser calls, rows streamed to disk; an interrupted extraction
/// with the same settings resumes where it stopped (progress.json). Labels: shapes format -> count, and for
/// one-object images shape, colour, size, position; ImageFolder -> class.
FeatureSetInfo extract_dataset_features(const FeatureSpec& spec, const Session& session);

struct ProbeSpec {
  std::string features;   ///< an OUT folder of extract_dataset_features
  std::string out;        ///< default: FEATURES/probe
  std::vector<std::string> labels;  ///< empty = every label column
  double c = 1.0;         ///< inverse L2 strength (scikit-learn's C)
  std::vector<std::string> heads{"linear", "conv"};  ///< linear on pooled files, conv on spatial files (when present)
  int conv_hidden = 16;   ///< the convolutional head (represent/probe.h ConvProbeOptions): channels,
  int conv_epochs = 15;   ///< epochs,
  double conv_lr = 1e-2;  ///< Adam learning rate,
  uint64_t seed = 0;      ///< initial weights and data order; the bootstrap's draws
  int bootstrap = 1000;   ///< resamples of the test images for each accuracy's 95% interval (0: none)
  bool overwrite = false;
};

/// A linear probe per pooled feature file (layer x timestep, plus the pixel and latent baselines) and, for spatial
/// files, the convolutional head (Diff-C style), per label; trained on the train split and scored on the test split:
/// OUT/tables/probe.csv (features, layer, t, label, head, classes, train/test accuracy, chance, and the test accuracy's
/// 95% percentile-bootstrap interval over the test images: test_accuracy_ci_lo/_hi/_se, bootstrap_resamples),
/// OUT/plots/probe_<label>[_conv].png (layer x timestep accuracy, annotated, colour bar fixed 0-1),
/// OUT/plots/accuracy_<label>[_conv].png (accuracy per layer for each timestep with its interval, the pixel and latent
/// baselines as bands and chance as a line), the best cell's confusion matrix OUT/plots/confusion_<label>[_conv].png
/// (each figure also .pdf and .svg), and OUT/summary.json: probe.<label>.best(_layer), probe.<label>.best.ci_lo/_hi,
/// probe.<label>.<layer>.t<T>, probe.<label>.conv.best(_layer), probe.<label>.conv.<layer>.t<T>,
/// probe.<label>.pixels(.ci_lo/_hi), probe.<label>.latent(.ci_lo/_hi), probe.<label>.chance.
Summary probe_features(const ProbeSpec& spec, const Session& session);

}  // namespace diffscope
