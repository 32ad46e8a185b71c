// TopK sparse autoencoder (see sae.h).
#include "diffscope/represent/sae.h"

#include <torch/optim/adam.h>

#include <algorithm>
#include <cmath>

#include "diffscope/util/error.h"

namespace diffscope {

SaeWeights sae_init(const SaeConfig& c, const at::Tensor& mean) {
  if (c.d_in <= 0 || c.d_sae <= 0) throw Error("sae: the input width and the number of latents must be positive");
  if (c.k <= 0 || c.k > c.d_sae)
    throw Error("sae: --k " + std::to_string(c.k) + " must lie in 1.." + std::to_string(c.d_sae) + " (the latents)");
  if (mean.dim() != 1 || mean.size(0) != c.d_in)
    throw Error("sae: the data mean has " + std::to_string(mean.numel()) + " values, expected " + std::to_string(c.d_in));
  at::NoGradGuard ng;
  at::Generator gen = at::detail::createCPUGenerator(c.seed);
  SaeWeights w;
  w.w_dec = at::randn({c.d_sae, c.d_in}, gen, at::TensorOptions().dtype(at::kFloat));
  w.w_dec.div_(w.w_dec.norm(2, {1}, /*keepdim=*/true));
  w.w_enc = w.w_dec.t().clone().contiguous();
  w.b_enc = at::zeros({c.d_sae}, at::kFloat);
  w.b_dec = mean.to(at::kFloat).clone();
  return w;
}

at::Tensor sae_encode(const SaeWeights& w, const at::Tensor& x, int64_t k) {
  const at::Tensor pre = at::matmul(x - w.b_dec, w.w_enc) + w.b_enc;
  auto [vals, idx] = pre.topk(k, 1);
  return at::zeros_like(pre).scatter(1, idx, at::relu(vals));
}

at::Tensor sae_decode(const SaeWeights& w, const at::Tensor& z) { return at::matmul(z, w.w_dec) + w.b_dec; }

at::Tensor normalised_mse(const at::Tensor& x_hat, const at::Tensor& x) {
  return (x_hat - x).pow(2).mean() / (x - x.mean(0, /*keepdim=*/true)).pow(2).mean();
}

struct SaeTrainer::Optim {
  torch::optim::Adam adam;
  explicit Optim(const std::vector<at::Tensor>& params, const SaeConfig& c)
      : adam(params, torch::optim::AdamOptions(c.lr).betas({c.beta1, c.beta2}).eps(c.eps)) {}
};

SaeTrainer::SaeTrainer(const SaeConfig& config, SaeWeights init) : config_(config), w_(std::move(init)) {
  for (at::Tensor* t : {&w_.w_enc, &w_.b_enc, &w_.w_dec, &w_.b_dec}) *t = t->detach().clone().set_requires_grad(true);
  optim_ = new Optim({w_.w_enc, w_.b_enc, w_.w_dec, w_.b_dec}, config_);
}

SaeTrainer::~SaeTrainer() { delete optim_; }

double SaeTrainer::current_lr() const {
  const double warm = config_.warmup_steps > 0
                          ? std::min(1.0, static_cast<double>(step_ + 1) / static_cast<double>(config_.warmup_steps))
                          : 1.0;
  return config_.lr * warm;
}

double SaeTrainer::step(const at::Tensor& batch) {
  at::AutoGradMode grad_mode(true);
  optim_->adam.zero_grad();
  const at::Tensor x = batch.to(at::kFloat);
  const at::Tensor loss = normalised_mse(sae_decode(w_, sae_encode(w_, x, config_.k)), x);
  const double value = loss.item<double>();
  if (!std::isfinite(value))
    throw Error("sae: the loss became " + std::to_string(value) + " at step " + std::to_string(step_) +
                    " (non-finite features, or a constant batch; try a smaller --lr)",
                kExitFailure);
  loss.backward();
  {
    at::NoGradGuard ng;
    at::Tensor g = w_.w_dec.grad();
    g.sub_((g * w_.w_dec).sum(1, /*keepdim=*/true) * w_.w_dec);
  }
  static_cast<torch::optim::AdamOptions&>(optim_->adam.param_groups()[0].options()).lr(current_lr());
  optim_->adam.step();
  {
    at::NoGradGuard ng;
    w_.w_dec.div_(w_.w_dec.norm(2, {1}, /*keepdim=*/true));
  }
  ++step_;
  return value;
}

SaeEvaluation sae_evaluate(const SaeWeights& w, int64_t k, const std::function<at::Tensor(int64_t)>& next,
                           int64_t chunk) {
  at::NoGradGuard ng;
  const int64_t d_sae = w.w_enc.size(1), d_in = w.w_enc.size(0);
  SaeEvaluation e;
  at::Tensor fires = at::zeros({d_sae}, at::kLong);
  at::Tensor sum = at::zeros({d_in}, at::kDouble), sum_sq = at::zeros({d_in}, at::kDouble);
  double err = 0;
  const SaeWeights plain{w.w_enc.detach(), w.b_enc.detach(), w.w_dec.detach(), w.b_dec.detach()};
  for (;;) {
    const at::Tensor x = next(chunk);
    if (!x.defined() || x.size(0) == 0) break;
    const at::Tensor z = sae_encode(plain, x, k);
    const at::Tensor xd = x.to(at::kDouble);
    err += (sae_decode(plain, z).to(at::kDouble) - xd).pow(2).sum().item<double>();
    sum += xd.sum(0);
    sum_sq += xd.pow(2).sum(0);
    fires += (z > 0).sum(0);
    e.rows += x.size(0);
  }
  if (e.rows == 0) throw Error("sae: no rows to evaluate");
  const double total = (sum_sq - sum.pow(2) / static_cast<double>(e.rows)).sum().item<double>();
  e.nmse = total > 0 ? err / total : std::nan("");
  e.explained_variance = 1.0 - e.nmse;
  e.fire_counts.assign(fires.data_ptr<int64_t>(), fires.data_ptr<int64_t>() + d_sae);
  return e;
}

}  // namespace diffscope
