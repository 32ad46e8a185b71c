// Multinomial logistic-regression probe (see probe.h).
#include "diffscope/represent/probe.h"

#include <ATen/ATen.h>
#include <torch/optim/lbfgs.h>

#include "diffscope/util/error.h"

namespace diffscope {

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
  ProbeResult r;
  const at::Tensor pt = at::argmax(at::matmul(xt, w) + b, 1), ps = at::argmax(at::matmul(xs, w) + b, 1);
  const at::Tensor ys = y_test.to(at::kLong);
  r.train_accuracy = pt.eq(yt).to(at::kDouble).mean().item<double>();
  r.test_accuracy = ps.eq(ys).to(at::kDouble).mean().item<double>();
  r.confusion.assign(static_cast<size_t>(classes), std::vector<int64_t>(static_cast<size_t>(classes), 0));
  auto ya = ys.accessor<int64_t, 1>();
  auto pa = ps.accessor<int64_t, 1>();
  for (int64_t i = 0; i < ys.size(0); ++i) ++r.confusion[static_cast<size_t>(ya[i])][static_cast<size_t>(pa[i])];
  int64_t best = 0;
  for (const auto& row : r.confusion) {
    int64_t n = 0;
    for (int64_t v : row) n += v;
    best = std::max(best, n);
  }
  r.chance = double(best) / double(ys.size(0));
  return r;
}

}  // namespace diffscope
