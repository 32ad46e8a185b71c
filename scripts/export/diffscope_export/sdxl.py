"""Stable Diffusion XL (diffusers' StableDiffusionXLPipeline folder) -> a diffscope package of format_version 3
(family "sdxl"; the C++ loader does not read it yet: it refuses format_version 3 in one line).

What diffusers 0.31's StableDiffusionXLPipeline feeds the UNet, reproduced by the package's traced modules:
- text_encoder/model.pt (ids [B, 77] of tokenizer, padded with its pad token) -> (prompt_embeds [B, 77, D1 + D2],
  pooled [B, P]): text_encoder (CLIPTextModel) and text_encoder_2 (CLIPTextModelWithProjection) each give their
  penultimate hidden state (hidden_states[-2], clip_skip None: SDXL always reads the penultimate layer, without the
  final layer norm), concatenated on the feature axis; pooled is text_encoder_2's projected pooled output
  (text_embeds). text_encoder_2 sees the same ids with every position after the first end-of-text token replaced by
  tokenizer_2's pad id (SDXL's tokenizer_2 pads with "!"); both tokenizers must share one vocabulary.
- unet/model.pt (AnalyzableSDXLUNet): forward(sample, timestep, encoder_hidden_states, text_embeds, time_ids) ->
  (noise_pred, the softmax probabilities of every attn2 module in execution order (down, mid, up; every transformer
  depth of every block), the down/mid/up block outputs); forward_prediction and forward_concepts as the SD 1.x UNet's,
  with text_embeds and time_ids after encoder_hidden_states (and concepts last).
- vae/decoder.pt, vae/encoder.pt as SD 1.x's (SDXL's VAE has no shift factor).
model_index.json adds "family": "sdxl", "pipeline": "StableDiffusionXLPipeline", "force_zeros_for_empty_prompt" (no
negative prompt -> zero negative embeddings and pooled vector), "pooled_dim", "time_ids_dim" (6) and
"default_time_ids" (original size, crop top-left, target size: [H, W, 0, 0, H, W] at sample_size).
"""
import json
import os

import torch

from .package import ExportError, layer_table, trace_checked, write_hashes, write_package, _write_json
from .sd3 import _pad_token, example_ids
from .unet_wrapper import AnalyzableUNet, _first_tensor

FORMAT_VERSION = 3


class SDXLTextEncoder(torch.nn.Module):
    """ids [B, 77] -> (penultimate states of both encoders side by side [B, 77, D1 + D2], text_encoder_2's projected
    pooled output [B, P]), as StableDiffusionXLPipeline.encode_prompt with clip_skip None."""

    def __init__(self, te1, te2, eos_id, pad2_id):
        super().__init__()
        self.te1, self.te2, self.eos_id, self.pad2_id = te1, te2, eos_id, pad2_id

    def forward(self, ids):
        eos = (ids == self.eos_id).int()
        after_first_eos = (torch.cumsum(eos, dim=1) - eos) > 0
        ids2 = torch.where(after_first_eos, torch.full_like(ids, self.pad2_id), ids)
        o1 = self.te1(ids, output_hidden_states=True, return_dict=False)  # (last, pooler_output, hidden_states)
        o2 = self.te2(ids2, output_hidden_states=True, return_dict=False)  # (text_embeds, last, hidden_states)
        return torch.cat([o1[2][-2], o2[2][-2]], dim=-1), o2[0]


class AnalyzableSDXLUNet(AnalyzableUNet):
    """AnalyzableUNet with SDXL's added conditioning: (sample, timestep, encoder_hidden_states, text_embeds [B, P],
    time_ids [B, 6]) -> (noise_pred, cross-attention probabilities, block outputs)."""

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids):
        self.store.clear()
        self._features = []
        out = self.unet(sample, timestep, encoder_hidden_states,
                        added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}, return_dict=False)
        noise = _first_tensor(out)
        return noise, [p for _, p in self.store.maps], list(self._features)

    def forward_prediction(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids):
        self.store.recording = False
        try:
            noise, _, _ = self.forward(sample, timestep, encoder_hidden_states, text_embeds, time_ids)
        finally:
            self.store.recording = True
        return noise

    def forward_concepts(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids, concepts):
        self.store.concepts = concepts
        try:
            noise, maps, feats = self.forward(sample, timestep, encoder_hidden_states, text_embeds, time_ids)
            concept_maps = list(self.store.concept_maps)
        finally:
            self.store.concepts = None
        return noise, maps, feats, concept_maps


class _Bound:
    """layer_table's view of the SDXL wrapper: (sample, timestep, context) with text_embeds and time_ids fixed."""

    def __init__(self, wrapper, text_embeds, time_ids):
        self.wrapper, self.text_embeds, self.time_ids = wrapper, text_embeds, time_ids
        self.store, self.block_names = wrapper.store, wrapper.block_names

    def __call__(self, sample, timestep, context):
        return self.wrapper(sample, timestep, context, self.text_embeds, self.time_ids)


class _VaeEncoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, image):
        h = self.vae.encoder(image)
        if self.vae.quant_conv is not None:
            h = self.vae.quant_conv(h)
        return h.chunk(2, dim=1)[0]


class _VaeDecoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, z):
        if self.vae.post_quant_conv is not None:
            z = self.vae.post_quant_conv(z)
        return self.vae.decoder(z)


def default_time_ids(height, width):
    """StableDiffusionXLPipeline's add_time_ids when original_size, crops_coords_top_left and target_size are left
    out: (height, width) + (0, 0) + (height, width)."""
    return [float(height), float(width), 0.0, 0.0, float(height), float(width)]


def export_sdxl(src, out, *, name, height=None, width=None):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    index = json.load(open(os.path.join(src, "model_index.json")))
    for sub in ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer/vocab.json", "tokenizer/merges.txt",
                "tokenizer_2/vocab.json", "scheduler/scheduler_config.json"):
        if not os.path.exists(os.path.join(src, sub)):
            raise ExportError(f"{os.path.join(src, sub)}: missing (expected a diffusers StableDiffusionXLPipeline "
                              "folder; the refiner, which has no text_encoder, is not supported)")
    unet = UNet2DConditionModel.from_pretrained(src, subfolder="unet").eval()
    te1 = CLIPTextModel.from_pretrained(src, subfolder="text_encoder").eval()
    te2 = CLIPTextModelWithProjection.from_pretrained(src, subfolder="text_encoder_2").eval()
    vae = AutoencoderKL.from_pretrained(src, subfolder="vae").eval()
    sched_cfg = json.load(open(os.path.join(src, "scheduler", "scheduler_config.json")))
    vocab = json.load(open(os.path.join(src, "tokenizer", "vocab.json")))
    vocab2 = json.load(open(os.path.join(src, "tokenizer_2", "vocab.json")))
    if vocab != vocab2:
        raise ExportError(f"{src}: tokenizer and tokenizer_2 have different vocabularies (diffscope tokenizes once)")
    pad = _pad_token(os.path.join(src, "tokenizer"), "<|endoftext|>")
    pad2 = _pad_token(os.path.join(src, "tokenizer_2"), "<|endoftext|>")
    cfg = unet.config
    if cfg.addition_embed_type != "text_time":
        raise ExportError(f"{src}/unet: addition_embed_type is {cfg.addition_embed_type!r}, expected \"text_time\"")
    if cfg.time_cond_proj_dim is not None:
        raise ExportError(f"{src}/unet: time_cond_proj_dim is set (an LCM-distilled UNet); not supported yet")
    pooled_dim = te2.config.projection_dim
    time_ids_dim = 6
    if cfg.addition_time_embed_dim * time_ids_dim + pooled_dim != unet.add_embedding.linear_1.in_features:
        raise ExportError(f"{src}/unet: add_embedding expects {unet.add_embedding.linear_1.in_features} inputs, "
                          f"not {time_ids_dim} time ids x {cfg.addition_time_embed_dim} + pooled {pooled_dim}")
    ctx_dim = te1.config.hidden_size + te2.config.hidden_size
    if ctx_dim != cfg.cross_attention_dim:
        raise ExportError(f"{src}: the encoders' widths {te1.config.hidden_size} + {te2.config.hidden_size} do not "
                          f"make the UNet's cross_attention_dim {cfg.cross_attention_dim}")

    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    height = height or cfg.sample_size * factor
    width = width or cfg.sample_size * factor
    if height % factor or width % factor:
        raise ExportError(f"--height/--width must be multiples of {factor}")
    lh, lw, lc = height // factor, width // factor, cfg.in_channels
    max_length = te1.config.max_position_embeddings
    eos = vocab["<|endoftext|>"]
    g = torch.Generator().manual_seed(0)
    ids = lambda b: example_ids(b, len(vocab), vocab[pad], eos, max_length, g)  # noqa: E731
    rnd = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    t = lambda b: torch.rand(b, generator=g) * 999  # noqa: E731

    def tid(b, h=height, w=width):
        return torch.tensor([default_time_ids(h, w)] * b)

    te = trace_checked("text_encoder", SDXLTextEncoder(te1, te2, eos, vocab[pad2]), (ids(1),), [(ids(2),)])
    wrapper = AnalyzableSDXLUNet(unet).eval()
    example = (rnd(1, lc, lh, lw), t(1), rnd(1, max_length, ctx_dim), rnd(1, pooled_dim), tid(1))
    layers = layer_table(_Bound(wrapper, example[3], example[4]), *example[:3])
    step = 2 ** (len(cfg.block_out_channels) - 1)  # a second latent size the UNet's levels divide
    o_h, o_w = lh + step, lw + step
    un = trace_checked("unet", wrapper, example,
                       [(rnd(2, lc, lh, lw), t(2), rnd(2, max_length, ctx_dim), rnd(2, pooled_dim), tid(2)),
                        (rnd(1, lc, o_h, o_w), t(1), rnd(1, max_length, ctx_dim), rnd(1, pooled_dim),
                         tid(1, o_h * factor, o_w * factor))])
    enc = trace_checked("vae/encoder", _VaeEncoder(vae), (rnd(1, 3, height, width).clamp(-1, 1),), [])
    dec = trace_checked("vae/decoder", _VaeDecoder(vae), (rnd(1, lc, lh, lw),), [(rnd(2, lc, lh, lw),)])
    write_package(out, name=name, text_encoder=te, unet=un, vae_encoder=enc, vae_decoder=dec,
                  vocab_json=os.path.join(src, "tokenizer", "vocab.json"),
                  merges_txt=os.path.join(src, "tokenizer", "merges.txt"), scheduler_config=sched_cfg,
                  sample_size=height, vae_scale_factor=factor, latent_channels=lc,
                  prediction_type=sched_cfg.get("prediction_type", "epsilon"),
                  scaling_factor=float(vae.config.scaling_factor), layers=layers, pad_token=pad,
                  max_length=max_length)
    # write_package writes format_version 1; SDXL's keys go on top (and the hashes are taken again)
    path = os.path.join(out, "model_index.json")
    j = json.load(open(path))
    j.update({"format_version": FORMAT_VERSION, "family": "sdxl", "denoiser": "unet",
              "pipeline": "StableDiffusionXLPipeline",
              "force_zeros_for_empty_prompt": bool(index.get("force_zeros_for_empty_prompt", True)),
              "pad_token_2": pad2, "context_dim": ctx_dim, "pooled_dim": pooled_dim, "time_ids_dim": time_ids_dim,
              "default_time_ids": default_time_ids(height, width)})
    _write_json(path, j)
    write_hashes(out)
    return layers, height, width
