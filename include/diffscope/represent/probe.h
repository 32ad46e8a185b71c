// Linear probes: how much of a label a representation holds (Revelio's light classifiers).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace diffscope {

struct ProbeOptions {
  double c = 1.0;          ///< inverse L2 strength, as scikit-learn's LogisticRegression(C=...)
  int max_iterations = 300;
};

struct ProbeResult {
  double train_accuracy = 0, test_accuracy = 0;
  double chance = 0;                            ///< the majority class's share of the test set
  std::vector<std::vector<int64_t>> confusion;  ///< [true][predicted] on the test set
  std::vector<uint8_t> test_correct;            ///< per test image (in the given order): 1 when predicted right
};

/// A test accuracy's uncertainty: the percentile bootstrap over the test images.
struct AccuracyInterval {
  double lo = std::numeric_limits<double>::quiet_NaN();  ///< the (1 - level) / 2 percentile of the resampled accuracies
  double hi = std::numeric_limits<double>::quiet_NaN();  ///< the (1 + level) / 2 percentile
  double se = std::numeric_limits<double>::quiet_NaN();  ///< their standard deviation (ddof 1): the bootstrap SE
  int resamples = 0;
};

/// Percentile bootstrap of the accuracy sum(correct) / n: `resamples` draws of n test images with replacement, image
/// index = splitmix64(seed)'s next output mod n, n per draw, draws one after another from one stream; percentiles
/// interpolated linearly between order statistics as numpy.percentile's default. The same (n, seed) gives the same
/// draws whatever `correct` holds, so every cell of one label is resampled on the same test images (paired).
/// resamples == 0 or an empty `correct`: the NaN interval. Deterministic.
AccuracyInterval bootstrap_accuracy(const std::vector<uint8_t>& correct, int resamples, uint64_t seed,
                                    double level = 0.95);

/// Multinomial logistic regression on standardised features (train mean and std, as StandardScaler), minimising
/// C * sum of the log losses + 0.5 ||W||^2 (scikit-learn's objective; bias unpenalised) with full-batch L-BFGS:
/// deterministic. x: [N, D] float; y: [N] int64 in 0..classes-1. Error when a split is empty.
ProbeResult linear_probe(const at::Tensor& x_train, const at::Tensor& y_train, const at::Tensor& x_test,
                         const at::Tensor& y_test, int64_t classes, const ProbeOptions& options = {});

/// The light convolutional head on spatial features (Revelio's Diff-C-style transfer classifier): conv 3x3
/// (C -> hidden, padding 1) + ReLU, mean over positions, linear to the classes; inputs standardised per channel with
/// the train split's mean and std over images and positions. Adam on the mean cross-entropy plus
/// 0.5 weight_decay ||W||^2 (weights, not biases), mini-batches in the seeded epoch_order.
struct ConvProbeOptions {
  int64_t hidden = 16;
  int epochs = 15;
  int64_t batch = 32;
  double lr = 1e-2;
  double weight_decay = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  uint64_t seed = 0;        ///< initial weights and data order
};

struct ConvProbeWeights {
  at::Tensor conv_w, conv_b, lin_w, lin_b;
};

/// conv_w = randn(hidden, C, 3, 3) x sqrt(2 / 9C) then lin_w = randn(classes, hidden) x sqrt(1 / hidden), both from one
/// CPU generator seeded `seed` (He / LeCun scaling); biases zero.
ConvProbeWeights conv_probe_init(int64_t channels, int64_t classes, const ConvProbeOptions& options);
/// Logits [B, classes] of standardised x [B, C, S, S].
at::Tensor conv_probe_logits(const ConvProbeWeights& w, const at::Tensor& x);

struct ConvProbeRun {
  ProbeResult result;
  std::vector<double> loss_curve;  ///< each step's batch loss, before the step
  ConvProbeWeights weights;
  at::Tensor test_logits;
};

/// Trains the head (from `init` when given, else conv_probe_init) on x_train [N, C, S, S] and scores it.
ConvProbeRun conv_probe(const at::Tensor& x_train, const at::Tensor& y_train, const at::Tensor& x_test,
                        const at::Tensor& y_test, int64_t classes, const ConvProbeOptions& options = {},
                        const ConvProbeWeights* init = nullptr);

}  // namespace diffscope
