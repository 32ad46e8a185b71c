// Linear probes: how much of a label a representation holds (Revelio's light classifiers).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
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
};

/// Multinomial logistic regression on standardised features (train mean and std, as StandardScaler), minimising
/// C * sum of the log losses + 0.5 ||W||^2 (scikit-learn's objective; bias unpenalised) with full-batch L-BFGS:
/// deterministic. x: [N, D] float; y: [N] int64 in 0..classes-1. Error when a split is empty.
ProbeResult linear_probe(const at::Tensor& x_train, const at::Tensor& y_train, const at::Tensor& x_test,
                         const at::Tensor& y_test, int64_t classes, const ProbeOptions& options = {});

}  // namespace diffscope
