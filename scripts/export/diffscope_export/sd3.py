"""Stable Diffusion 3 (diffusers' StableDiffusion3Pipeline folder) -> a diffscope package of format_version 2.

What diffusers 0.31's pipeline feeds the transformer, reproduced by the package's two traced modules:
- text_encoder/model.pt (ids [B, 77], padded with tokenizer's pad token) -> [B, 78, J]: per CLIP encoder (text_encoder
  and text_encoder_2, both CLIPTextModelWithProjection) the penultimate hidden state (clip_skip None), the two
  concatenated on the feature axis and zero-padded to the transformer's joint_attention_dim J; then one row holding
  the two projected pooled outputs (text_embeds) concatenated, zero-padded to J. text_encoder_2 sees the same ids
  with every position after the first end-of-text token replaced by tokenizer_2's pad id (SD3's tokenizer_2 pads
  with "!").
- with text_encoder_3 (T5EncoderModel) and tokenizer_3's spiece.model: the ids go on with T5's (--t5-max-length,
  SD3's max_sequence_length, 256 by default: pieces, </s>, <pad>), and T5's last hidden state follows the CLIP rows
  before the pooled row; diffscope tokenizes T5 itself (src/text/sentencepiece.cpp, tokenizer_3/spiece.model).
- transformer/model.pt (AnalyzableTransformer): appends the 77 rows of zeros that diffusers puts in T5's place when
  the pipeline has no text_encoder_3 (or --without-t5), runs SD3Transformer2DModel, returns the velocity, the joint-attention maps
  over the 77 CLIP tokens and the block outputs.
- vae/decoder.pt adds the VAE's shift_factor (diffusers decodes latents / scaling_factor + shift_factor);
  vae/encoder.pt returns mean - shift_factor (diffscope multiplies by scaling_factor).
"""
import json
import math
import os

import torch
import torch.nn.functional as F

from .package import ExportError, layer_table, trace_checked, write_package
from .transformer_wrapper import AnalyzableTransformer

T5_ROWS = 77  # StableDiffusion3Pipeline._get_t5_prompt_embeds without text_encoder_3: zeros [B, tokenizer_max_length, J]


def plain_sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(QK^T / sqrt(d)) V: lent to torch 1.13 (no F.scaled_dot_product_attention) while diffusers builds SD3."""
    scores = torch.matmul(query, key.transpose(-1, -2)) * (scale or 1.0 / math.sqrt(query.shape[-1]))
    if attn_mask is not None:
        scores = scores + attn_mask
    return torch.matmul(scores.softmax(dim=-1), value)


class lend_sdpa:
    """Gives torch 1.13's torch.nn.functional a scaled_dot_product_attention (plain_sdpa) for the duration: diffusers'
    JointTransformerBlock refuses to be built without one. Nothing built inside uses it once diffscope's processors
    are installed."""

    def __enter__(self):
        self.had = hasattr(F, "scaled_dot_product_attention")
        if not self.had:
            F.scaled_dot_product_attention = plain_sdpa
        return self

    def __exit__(self, *exc):
        if not self.had:
            del F.scaled_dot_product_attention


def example_ids(b, vocab_size, pad_id, eos_id, clip_length, g, t5_vocab_size=0, t5_length=0):
    """Tracing inputs for a text encoder: [b, clip_length] CLIP ids (random tokens, the end token at 5, padding after),
    then with T5 [b, t5_length] T5 ids (random pieces, </s> (1) at 4, <pad> (0) after, as T5Tokenizer pads)."""
    x = torch.randint(0, vocab_size, (b, clip_length), generator=g)
    x[:, 6:] = pad_id
    x[:, 5] = eos_id
    if t5_length:
        y = torch.randint(3, t5_vocab_size, (b, t5_length), generator=g)
        y[:, 4] = 1
        y[:, 5:] = 0
        x = torch.cat([x, y], dim=1)
    return x


class SD3TextEncoder(torch.nn.Module):
    """ids [B, clip_length (+ T with T5)] -> [B, clip_length (+ T) + 1, J]; with `te3` (T5EncoderModel) the T ids
    after the CLIP ids are T5's, and its last hidden state follows the CLIP rows, as diffusers concatenates them."""

    def __init__(self, te1, te2, eos_id, pad2_id, joint_dim, te3=None, clip_length=77):
        super().__init__()
        self.te1, self.te2, self.te3 = te1, te2, te3
        self.eos_id, self.pad2_id, self.joint_dim, self.clip_length = eos_id, pad2_id, joint_dim, clip_length

    def forward(self, all_ids):
        ids = all_ids[:, :self.clip_length]
        eos = (ids == self.eos_id).int()
        after_first_eos = (torch.cumsum(eos, dim=1) - eos) > 0
        ids2 = torch.where(after_first_eos, torch.full_like(ids, self.pad2_id), ids)
        o1 = self.te1(ids, output_hidden_states=True, return_dict=False)
        o2 = self.te2(ids2, output_hidden_states=True, return_dict=False)
        clip = torch.cat([o1[2][-2], o2[2][-2]], dim=-1)  # (text_embeds, last_hidden_state, hidden_states)
        clip = F.pad(clip, (0, self.joint_dim - clip.shape[-1]))
        pooled = torch.cat([o1[0], o2[0]], dim=-1)
        pooled = F.pad(pooled, (0, self.joint_dim - pooled.shape[-1]))
        if self.te3 is not None:  # StableDiffusion3Pipeline._get_t5_prompt_embeds: no attention mask
            clip = torch.cat([clip, self.te3(all_ids[:, self.clip_length:])[0]], dim=1)
        return torch.cat([clip, pooled[:, None]], dim=1)


class _VaeEncoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae
        self.shift = float(vae.config.shift_factor or 0.0)

    def forward(self, image):
        h = self.vae.encoder(image)
        if self.vae.quant_conv is not None:
            h = self.vae.quant_conv(h)
        return h.chunk(2, dim=1)[0] - self.shift


class _VaeDecoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae
        self.shift = float(vae.config.shift_factor or 0.0)

    def forward(self, z):
        z = z + self.shift
        if self.vae.post_quant_conv is not None:
            z = self.vae.post_quant_conv(z)
        return self.vae.decoder(z)


def _pad_token(folder, default):
    for f in ("special_tokens_map.json", "tokenizer_config.json"):
        p = os.path.join(folder, f)
        if os.path.exists(p):
            pt = json.load(open(p)).get("pad_token")
            if isinstance(pt, dict):
                pt = pt.get("content")
            if isinstance(pt, str):
                return pt
    return default


def export_sd3(src, out, *, name, height=None, width=None, without_t5=False, t5_max_length=256):
    from diffusers import AutoencoderKL, SD3Transformer2DModel
    from transformers import CLIPTextModelWithProjection

    te3, t5 = None, None
    if os.path.isdir(os.path.join(src, "text_encoder_3")) and not without_t5:
        from transformers import T5EncoderModel
        spiece = os.path.join(src, "tokenizer_3", "spiece.model")
        if not os.path.exists(spiece):
            raise ExportError(f"{spiece}: missing; diffscope tokenizes T5 with the slow tokenizer's SentencePiece "
                              "model (or --without-t5 exports the pipeline as diffusers runs it without T5)")
        if not 2 <= t5_max_length <= 4096:
            raise ExportError(f"--t5-max-length {t5_max_length}: expected 2..4096 (SD3's pipeline uses 256)")
        te3 = T5EncoderModel.from_pretrained(src, subfolder="text_encoder_3").eval()
        t5 = {"spiece": spiece, "max_length": t5_max_length}
    with lend_sdpa():
        transformer = SD3Transformer2DModel.from_pretrained(src, subfolder="transformer").eval()
    te1 = CLIPTextModelWithProjection.from_pretrained(src, subfolder="text_encoder").eval()
    te2 = CLIPTextModelWithProjection.from_pretrained(src, subfolder="text_encoder_2").eval()
    vae = AutoencoderKL.from_pretrained(src, subfolder="vae").eval()
    sched_cfg = json.load(open(os.path.join(src, "scheduler", "scheduler_config.json")))
    vocab = json.load(open(os.path.join(src, "tokenizer", "vocab.json")))
    vocab2 = json.load(open(os.path.join(src, "tokenizer_2", "vocab.json")))
    pad = _pad_token(os.path.join(src, "tokenizer"), "<|endoftext|>")
    pad2 = _pad_token(os.path.join(src, "tokenizer_2"), "<|endoftext|>")
    if vocab != vocab2:
        raise ExportError(f"{src}: tokenizer and tokenizer_2 have different vocabularies (diffscope tokenizes once)")

    cfg = transformer.config
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    height = height or cfg.sample_size * factor
    width = width or cfg.sample_size * factor
    lh, lw, lc = height // factor, width // factor, cfg.in_channels
    max_length = te1.config.max_position_embeddings
    joint = cfg.joint_attention_dim
    eos = vocab["<|endoftext|>"]

    g = torch.Generator().manual_seed(0)

    t5_length = t5["max_length"] if t5 else 0

    ids = lambda b: example_ids(b, len(vocab), vocab[pad], eos, max_length, g,  # noqa: E731
                                te3.config.vocab_size if t5 else 0, t5_length)

    rnd = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    t = lambda b: torch.rand(b, generator=g) * 1000  # noqa: E731
    ctx = lambda b: rnd(b, max_length + t5_length + 1, joint)  # noqa: E731
    te = trace_checked("text_encoder", SD3TextEncoder(te1, te2, eos, vocab[pad2], joint, te3, max_length),
                       (ids(1),), [(ids(2),)])
    wrapper = AnalyzableTransformer(transformer, cfg.pooled_projection_dim, cfg.patch_size,
                                    zero_rows=0 if t5 else T5_ROWS).eval()
    example = (rnd(1, lc, lh, lw), t(1), ctx(1))
    layers = layer_table(wrapper, *example)
    p = cfg.patch_size
    tr = trace_checked("transformer", wrapper, example,
                       [(rnd(2, lc, lh, lw), t(2), ctx(2)), (rnd(1, lc, lh + 2 * p, lw + 2 * p), t(1), ctx(1))])
    enc = trace_checked("vae/encoder", _VaeEncoder(vae), (rnd(1, 3, height, width).clamp(-1, 1),), [])
    dec = trace_checked("vae/decoder", _VaeDecoder(vae), (rnd(1, lc, lh, lw),), [(rnd(2, lc, lh, lw),)])
    write_package(out, name=name, text_encoder=te, unet=tr, vae_encoder=enc, vae_decoder=dec,
                  vocab_json=os.path.join(src, "tokenizer", "vocab.json"),
                  merges_txt=os.path.join(src, "tokenizer", "merges.txt"), scheduler_config=sched_cfg,
                  sample_size=height, vae_scale_factor=factor, latent_channels=lc, prediction_type="flow",
                  scaling_factor=float(vae.config.scaling_factor), layers=layers, pad_token=pad,
                  max_length=max_length, family="mmdit", pooled_rows=1, t5=t5)
    return layers, height, width
