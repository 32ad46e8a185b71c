// Multinomial logistic-regression probe (see probe.h).
#include "diffscope/represent/probe.h"

#include <ATen/ATen.h>
#include <torch/optim/adam.h>
#include <torch/optim/lbfgs.h>

#include <algorithm>
#include <cmath>

#include "diffscope/represent/epoch_order.h"

#include "diffscope/util/error.h"

namespace diffscope {
namespace {

/// Accuracies, the test confusion matrix and chance (the majority class's test share) from predictions.
ProbeResult score_predictions(const at::Tensor& pred_train, const at::Tensor& y_train, const at::Tensor& pred_test,
                              const at::Tensor& y_test, int64_t classes) {
  ProbeResult r;
  const at::Tensor ys = y_test.to(at::kLong);
  r.train_accuracy = pred_train.eq(y_train.to(at::kLong)).to(at::kDouble).mean().item<double>();
  r.test_accuracy = pred_test.eq(ys).to(at::kDouble).mean().item<double>();
  r.confusion.assign(static_cast<size_t>(classes), std::vector<int64_t>(static_cast<size_t>(classes), 0));
  auto ya = ys.accessor<int64_t, 1>();
  auto pa = pred_test.accessor<int64_t, 1>();
  r.test_correct.resize(static_cast<size_t>(ys.size(0)));
  for (int64_t i = 0; i < ys.size(0); ++i) {
    ++r.confusion[static_cast<size_t>(ya[i])][static_cast<size_t>(pa[i])];
    r.test_correct[static_cast<size_t>(i)] = ya[i] == pa[i] ? 1 : 0;
  }
  int64_t best = 0;
  for (const auto& row : r.confusion) {
    int64_t n = 0;
    for (int64_t v : row) n += v;
    best = std::max(best, n);
  }
  r.chance = double(best) / double(ys.size(0));
  return r;
}

/// numpy.percentile's default ("linear"): between the order statistics at (n - 1) q.
double percentile_linear(const std::vector<double>& sorted, double q) {
  const double h = (static_cast<double>(sorted.size()) - 1) * q;
  const size_t i = static_cast<size_t>(std::floor(h));
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (h - static_cast<double>(i)) * (sorted[i + 1] - sorted[i]);
}

}  // namespace

AccuracyInterval bootstrap_accuracy(const std::vector<uint8_t>& correct, int resamples, uint64_t seed, double level) {
  AccuracyInterval r;
  if (resamples <= 0 || correct.empty()) return r;
  if (!(level > 0 && level < 1)) throw Error("bootstrap: the interval's level must be in (0, 1)");
  const uint64_t n = correct.size();
  uint64_t s = seed;
  auto next = [&]() {  // splitmix64
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  std::vector<double> acc(static_cast<size_t>(resamples));
  double mean = 0;
  for (auto& a : acc) {
    uint64_t hits = 0;
    for (uint64_t i = 0; i < n; ++i) hits += correct[static_cast<size_t>(next() % n)];
    a = static_cast<double>(hits) / static_cast<double>(n);
    mean += a;
  }
  mean /= resamples;
  double ss = 0;
  for (double a : acc) ss += (a - mean) * (a - mean);
  std::sort(acc.begin(), acc.end());
  r.lo = percentile_linear(acc, (1 - level) / 2);
  r.hi = percentile_linear(acc, (1 + level) / 2);
  r.se = resamples > 1 ? std::sqrt(ss / (resamples - 1)) : 0.0;
  r.resamples = resamples;
  return r;
}

ProbeResult linear_probe(const at::Tensor& x_train, const at::Tensor& y_train, const at::Tensor& x_test,
                         const at::Tensor& y_test, int64_t classes, const ProbeOptions& o) {
  if (x_train.size(0) == 0 || x_test.size(0) == 0) throw Error("probe: the train and test splits must both hold images");
  if (classes < 2) throw Error("probe: a label needs at least two classes");
  at::AutoGradMode grad(true);
  // standardise with the training split's statistics (population std, as StandardScaler; constant columns kept at 0)
  at::Tensor xt = x_train.to(at::kDouble), xs = x_test.to(at::kDouble);
  at::Tensor mean = xt.mean(0), sd = xt.std(0, /*unbiased=*/false);
  sd = at::where(sd > 0, sd, at::ones_like(sd));
  xt = (xt - mean) / sd;
  xs = (xs - mean) / sd;
  const int64_t d = xt.size(1);
  at::Tensor w = at::zeros({d, classes}, at::kDouble).set_requires_grad(true);
  at::Tensor b = at::zeros({classes}, at::kDouble).set_requires_grad(true);
  torch::optim::LBFGS opt({w, b}, torch::optim::LBFGSOptions(1.0)
                                      .max_iter(o.max_iterations)
                                      .history_size(20)
                                      .tolerance_grad(1e-8)
                                      .tolerance_change(1e-12)
                                      .line_search_fn("strong_wolfe"));
  const at::Tensor yt = y_train.to(at::kLong);
  auto closure = [&]() -> at::Tensor {
    opt.zero_grad();
    at::Tensor logits = at::matmul(xt, w) + b;
    at::Tensor loss = o.c * at::nll_loss(at::log_softmax(logits, 1), yt, {}, at::Reduction::Sum) + 0.5 * (w * w).sum();
    loss.backward();
    return loss;
  };
  opt.step(closure);
  at::NoGradGuard ng;
  return score_predictions(at::argmax(at::matmul(xt, w) + b, 1), yt, at::argmax(at::matmul(xs, w) + b, 1), y_test,
                           classes);
}

ConvProbeWeights conv_probe_init(int64_t channels, int64_t classes, const ConvProbeOptions& o) {
  at::Generator g = at::detail::createCPUGenerator(o.seed);
  const auto f = at::TensorOptions().dtype(at::kFloat);
  ConvProbeWeights w;
  w.conv_w = at::randn({o.hidden, channels, 3, 3}, g, f) * std::sqrt(2.0 / static_cast<double>(channels * 9));
  w.conv_b = at::zeros({o.hidden}, f);
  w.lin_w = at::randn({classes, o.hidden}, g, f) * std::sqrt(1.0 / static_cast<double>(o.hidden));
  w.lin_b = at::zeros({classes}, f);
  return w;
}

at::Tensor conv_probe_logits(const ConvProbeWeights& w, const at::Tensor& x) {
  const at::Tensor h = at::relu(at::conv2d(x, w.conv_w, w.conv_b, 1, 1)).mean({2, 3});
  return at::linear(h, w.lin_w, w.lin_b);
}

ConvProbeRun conv_probe(const at::Tensor& x_train, const at::Tensor& y_train, const at::Tensor& x_test,
                        const at::Tensor& y_test, int64_t classes, const ConvProbeOptions& o,
                        const ConvProbeWeights* init) {
  if (x_train.dim() != 4 || x_test.dim() != 4 || x_train.size(1) != x_test.size(1))
    throw Error("probe: the convolutional head needs spatial features [N, C, S, S] (diffscope features --spatial S)");
  if (x_train.size(0) == 0 || x_test.size(0) == 0) throw Error("probe: the train and test splits must both hold images");
  if (classes < 2) throw Error("probe: a label needs at least two classes");
  // standardise each channel with the training split's statistics over images and positions
  const at::Tensor xd = x_train.to(at::kDouble);
  const at::Tensor mean = xd.mean({0, 2, 3}, true);
  at::Tensor sd = xd.std({0, 2, 3}, /*unbiased=*/false, true);
  sd = at::where(sd > 0, sd, at::ones_like(sd));
  const at::Tensor mf = mean.to(at::kFloat), sf = sd.to(at::kFloat);
  const at::Tensor xt = (x_train.to(at::kFloat) - mf) / sf, xs = (x_test.to(at::kFloat) - mf) / sf;
  const at::Tensor yt = y_train.to(at::kLong), ys = y_test.to(at::kLong);

  ConvProbeRun run;
  ConvProbeWeights& w = run.weights;
  w = init ? *init : conv_probe_init(x_train.size(1), classes, o);
  for (at::Tensor* t : {&w.conv_w, &w.conv_b, &w.lin_w, &w.lin_b}) *t = t->detach().clone().set_requires_grad(true);
  torch::optim::Adam adam({w.conv_w, w.conv_b, w.lin_w, w.lin_b},
                          torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}).eps(o.eps));
  {
    at::AutoGradMode grad(true);
    const int64_t n = xt.size(0);
    for (int e = 0; e < o.epochs; ++e) {
      const std::vector<int64_t> order = epoch_order(o.seed, e, n);
      for (int64_t b = 0; b < n; b += o.batch) {
        const int64_t m = std::min(o.batch, n - b);
        const at::Tensor idx = at::tensor(std::vector<int64_t>(order.begin() + b, order.begin() + b + m), at::kLong);
        adam.zero_grad();
        const at::Tensor loss =
            at::cross_entropy_loss(conv_probe_logits(w, xt.index_select(0, idx)), yt.index_select(0, idx)) +
            0.5 * o.weight_decay * (w.conv_w.pow(2).sum() + w.lin_w.pow(2).sum());
        run.loss_curve.push_back(loss.item<double>());
        if (!std::isfinite(run.loss_curve.back()))
          throw Error("probe: the convolutional head's loss became non-finite (non-finite features?)", kExitFailure);
        loss.backward();
        adam.step();
      }
    }
  }
  at::NoGradGuard ng;
  for (at::Tensor* t : {&w.conv_w, &w.conv_b, &w.lin_w, &w.lin_b}) *t = t->detach();
  run.test_logits = conv_probe_logits(w, xs);
  run.result = score_predictions(at::argmax(conv_probe_logits(w, xt), 1), yt, at::argmax(run.test_logits, 1), ys, classes);
  return run;
}

}  // namespace diffscope
