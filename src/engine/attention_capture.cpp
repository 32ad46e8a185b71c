// Streaming reduction of cross-attention maps (heads, CFG half, upsampling, layers) at each step.
#include "diffscope/engine/attention_capture.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "diffscope/util/error.h"
#include "diffscope/engine/model.h"

namespace diffscope {

AttentionCapture::AttentionCapture(AttentionCaptureOptions options) : options_(std::move(options)) {
  if (options_.half != "cond" && options_.half != "uncond")
    throw Error("--attention-half: expected cond or uncond, got " + options_.half);
}

at::Tensor AttentionCapture::reduce_layer(const at::Tensor& probs, int64_t batch_index, int layer_h, int layer_w,
                                          int out_h, int out_w, bool keep_heads) {
  // probs [B, heads, HW, L] -> [heads, HW, L]
  at::Tensor a = probs.select(0, batch_index).to(at::kFloat);
  const int64_t heads = a.size(0), L = a.size(2);
  if (!keep_heads) a = a.mean(0, /*keepdim=*/true);  // [1, HW, L]
  // [H', HW, L] -> [H', L, h, w]
  a = a.transpose(1, 2).reshape({keep_heads ? heads : 1, L, layer_h, layer_w});
  if (layer_h != out_h || layer_w != out_w)
    a = at::upsample_bilinear2d(a, {out_h, out_w}, /*align_corners=*/false);
  return keep_heads ? a : a.squeeze(0);
}

void AttentionCapture::on_begin(const RunContext& ctx, const at::Tensor&) {
  const Model& model = *ctx.model;
  model.require_attention("attention capture");
  const auto& layers = model.info().attention_layers;
  layers_used_.clear();
  if (options_.layers.empty()) {
    for (size_t i = 0; i < layers.size(); ++i) layers_used_.push_back(static_cast<int>(i));
  } else {
    for (int l : options_.layers) {
      if (l < 0 || l >= static_cast<int>(layers.size()))
        throw Error("--layers: layer " + std::to_string(l) + " does not exist (the model has " +
                    std::to_string(layers.size()) + " cross-attention layers; see diffscope info)");
      layers_used_.push_back(l);
    }
  }
  if (options_.half == "uncond" && !ctx.guided)
    throw Error("--attention-half uncond: needs classifier-free guidance (--guidance > 1)");
  const int64_t steps = static_cast<int64_t>(ctx.timesteps.size());
  maps_ = at::zeros({steps, model.info().text_tokens(), ctx.latent_height, ctx.latent_width}, at::kFloat);
  concept_maps_ = ctx.concepts.empty() ? at::Tensor()
                                       : at::zeros({steps, static_cast<int64_t>(ctx.concepts.size()), ctx.latent_height,
                                                    ctx.latent_width}, at::kFloat);
  text_query_maps_ = ctx.text_queries ? at::zeros_like(maps_) : at::Tensor();
  layer_maps_.clear();
  head_maps_.clear();
}

void AttentionCapture::on_step(const RunContext& ctx, const StepState& step) {
  const Model& model = *ctx.model;
  const auto& probs = *step.text_attention;
  const int64_t b = ctx.guided ? (options_.half == "cond" ? 1 : 0) : 0;
  const int oh = ctx.latent_height, ow = ctx.latent_width;
  const bool keep_layers = std::count(options_.keep_layer_steps.begin(), options_.keep_layer_steps.end(), step.index) > 0;
  const bool keep_heads = std::count(options_.keep_head_steps.begin(), options_.keep_head_steps.end(), step.index) > 0;

  const bool concepts = concept_maps_.defined();
  if (concepts && (!step.concept_attention || step.concept_attention->size() != probs.size()))
    throw Error("attention capture: the denoiser returned no concept maps for --concepts", kExitFailure);
  const bool queries = text_query_maps_.defined();
  if (queries && (!step.text_queries || step.text_queries->size() != probs.size()))
    throw Error("attention capture: the denoiser returned no text-query maps for --text-queries", kExitFailure);
  at::Tensor sum, concept_sum, query_sum;
  std::vector<at::Tensor> per_layer, per_head;
  int64_t max_heads = 0;
  for (int l : layers_used_) {
    auto [lh, lw] = model.layer_size(static_cast<size_t>(l), oh, ow);
    at::Tensor m = reduce_layer(probs[static_cast<size_t>(l)], b, lh, lw, oh, ow);
    sum = sum.defined() ? sum + m : m;
    if (concepts) {
      at::Tensor c = reduce_layer((*step.concept_attention)[static_cast<size_t>(l)], b, lh, lw, oh, ow);
      concept_sum = concept_sum.defined() ? concept_sum + c : c;
    }
    if (queries) {
      at::Tensor q = reduce_layer((*step.text_queries)[static_cast<size_t>(l)], b, lh, lw, oh, ow);
      query_sum = query_sum.defined() ? query_sum + q : q;
    }
    if (keep_layers) per_layer.push_back(m.cpu());
    if (keep_heads) {
      per_head.push_back(reduce_layer(probs[static_cast<size_t>(l)], b, lh, lw, oh, ow, true).cpu());
      max_heads = std::max(max_heads, per_head.back().size(0));
    }
  }
  maps_[step.index].copy_(sum.div(static_cast<double>(layers_used_.size())).cpu());
  if (concepts) concept_maps_[step.index].copy_(concept_sum.div(static_cast<double>(layers_used_.size())).cpu());
  if (queries) text_query_maps_[step.index].copy_(query_sum.div(static_cast<double>(layers_used_.size())).cpu());
  if (keep_layers) layer_maps_.emplace_back(step.index, at::stack(per_layer));
  if (keep_heads) {
    for (auto& h : per_head)
      if (h.size(0) < max_heads) h = at::cat({h, at::zeros({max_heads - h.size(0), h.size(1), oh, ow})});
    head_maps_.emplace_back(step.index, at::stack(per_head));
  }
}

}  // namespace diffscope
