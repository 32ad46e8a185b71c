"""Flux (diffusers' FluxPipeline folder: FluxTransformer2DModel, CLIPTextModel, T5EncoderModel, a 16-channel VAE)
-> a diffscope package of format_version 2.

What diffusers 0.31's FluxPipeline feeds the transformer, reproduced by the package's traced modules:
- text_encoder/model.pt (ids [B, 77 + T]: CLIP's 77, padded with the tokenizer's pad token, then T5's T, as
  T5Tokenizer pads to max_sequence_length) -> [B, T + 1, J]: T5's last hidden state (no attention mask), then one
  row holding CLIPTextModel's pooled output (pooler_output: the final hidden state at the end-of-text token),
  zero-padded to the T5 width J. The text rows are T5's alone (model_index.json "text_rows": "t5"): CLIP's ids are
  read only for the pooled vector.
- transformer/model.pt (AnalyzableFlux): packs the latent [B, C, h, w] into 2x2 patches [B, h/2 * w/2, 4C] as
  FluxPipeline._pack_latents does, builds the rotary positions (text tokens at 0, image tokens at (0, row, col)),
  gives the transformer timestep / 1000 (the transformer multiplies by 1000 again, as the pipeline's call does), and
  for a guidance-distilled model (guidance_embeds, FLUX.1-dev) the guidance scale that the loop writes into the
  pooled row at "guidance_index" (model_index.json "guidance": "distilled"; no classifier-free guidance batch). A
  model without guidance embedding (FLUX.1-schnell) has "guidance": "none". It returns the velocity unpacked to
  [B, C, h, w], per attention layer (the two-stream transformer_blocks.N.attn, then the single-stream
  single_transformer_blocks.N.attn) the image-query x text-key block of the joint softmax [B, heads, N, T], and the
  image stream after every block [B, D, h/2, w/2].
- vae/decoder.pt adds the VAE's shift_factor; vae/encoder.pt returns mean - shift_factor (as for SD3).
The package's vae_scale_factor is the VAE's own (8 for Flux); FluxPipeline's vae_scale_factor (16) counts the 2x2
packing too.
"""
import json
import os

import torch
import torch.nn.functional as F

from .joint_attention import _merge, concepts_through_joint_block, image_qkv, text_qkv
from .package import ExportError, layer_table, trace_checked, write_package
from .sd3 import _pad_token, _VaeDecoder, _VaeEncoder, example_ids, lend_sdpa
from .transformer_wrapper import JointAttentionMethods, _Store


def _rotate(x, rotary):
    from diffusers.models.embeddings import apply_rotary_emb
    return apply_rotary_emb(x, rotary)


class FluxCaptureProcessor:
    """Flux's joint attention (diffusers' FluxAttnProcessor2_0: text tokens first, rotary embeddings on queries and
    keys) with the softmax written out, recording the image-query x text-key block [B, heads, N, T] of every layer;
    the output is computed from the recorded block (so the maps lie on the gradient path) and equals the plain
    processor's. Two-stream layers (transformer_blocks.N.attn) get the text stream as encoder_hidden_states;
    single-stream layers (single_transformer_blocks.N.attn) get [text, image] joined, whose first store.text_rows
    rows are text. With concept tokens in the store (generate --concepts), also ConceptAttention's maps: the concept
    tokens pass through each block's own modules beside the text stream, attending one way to the image tokens and
    to each other (nothing attends to them, so the image is unchanged)."""

    def __init__(self, name, store, block, single):
        self.name, self.store, self.block, self.single = name, store, block, single

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None):
        store = self.store
        q, k, v = image_qkv(attn, hidden_states)
        if encoder_hidden_states is not None:
            cq, ck, cv = text_qkv(attn, encoder_hidden_states)
            q, k, v = torch.cat([cq, q], dim=2), torch.cat([ck, k], dim=2), torch.cat([cv, v], dim=2)
            text = encoder_hidden_states.shape[1]
        else:
            text = store.text_rows
        if image_rotary_emb is not None:
            q, k = _rotate(q, image_rotary_emb), _rotate(k, image_rotary_emb)
        probs = (torch.matmul(q, k.transpose(-1, -2)) * attn.scale).softmax(dim=-1)
        if store.recording:
            text_rows, image_rows = probs[:, :, :text], probs[:, :, text:]
            maps = image_rows[:, :, :, :text]
            store.maps.append((self.name, maps))
            if store.text_queries:  # the text-query x image-key block, as [B, heads, N, T]
                store.text_query_maps.append(text_rows[:, :, :, text:].transpose(-1, -2))
            probs = torch.cat([text_rows, torch.cat([maps, image_rows[:, :, :, text:]], dim=-1)], dim=2)
        out = torch.matmul(probs, v)
        if store.recording and store.concept_state is not None:
            k_img, v_img, out_img = k[:, :, text:], v[:, :, text:], out[:, :, text:]
            if self.single:
                self._single_concepts(attn, k_img, v_img, out_img)
            else:
                concepts_through_joint_block(attn, self.block, store, k_img, v_img, out_img)
        out = _merge(out)
        if encoder_hidden_states is None:
            return out
        return attn.to_out[1](attn.to_out[0](out[:, text:])), attn.to_add_out(out[:, :text])

    def _single_concepts(self, attn, k, v, image_out):
        """ConceptAttention in a single-stream block (FluxSingleTransformerBlock): the concept tokens take the block's
        norm, shared projections and qk norms, attend to the image tokens and each other, and move on through the
        block's attention-and-MLP output as its tokens do."""
        block, store = self.block, self.store
        c = store.concept_state
        norm_c, gate = block.norm(c, emb=store.temb)
        cq, ck, cv = image_qkv(attn, norm_c)
        keys, values = torch.cat([k, ck], dim=2), torch.cat([v, cv], dim=2)
        concept_out = torch.matmul((torch.matmul(cq, keys.transpose(-1, -2)) * attn.scale).softmax(dim=-1), values)
        image_o, concept_o = _merge(image_out), _merge(concept_out)
        store.concept_maps.append(torch.matmul(image_o, concept_o.transpose(-1, -2)).softmax(dim=-1).unsqueeze(1))
        mlp = block.act_mlp(block.proj_mlp(norm_c))
        store.concept_state = c + gate.unsqueeze(1) * block.proj_out(torch.cat([concept_o, mlp], dim=2))


class AnalyzableFlux(JointAttentionMethods):
    """FluxTransformer2DModel behind AnalyzableTransformer's calls (forward, forward_prediction, forward_concepts,
    forward_text_queries; JointAttentionMethods):
    `context` [B, T + 1, J] is the package text encoder's output, T5's rows then the pooled row, whose entry
    `guidance_index` holds the distilled guidance scale when the model has a guidance embedding."""

    patch_size = 2  # FluxPipeline packs 2x2 latent pixels into one token

    def __init__(self, transformer, pooled_dim, guidance_index=None):
        super().__init__()
        self.transformer = transformer
        self.pooled_dim = pooled_dim
        self.guidance_index = guidance_index
        self.store = _Store()
        self.layer_names_ = []
        self.block_names = []
        self._features = []
        self._grid = (0, 0)
        for kind, blocks, single in (("transformer_blocks", transformer.transformer_blocks, False),
                                     ("single_transformer_blocks", transformer.single_transformer_blocks, True)):
            for i, blk in enumerate(blocks):
                name = f"{kind}.{i}"
                blk.attn.set_processor(FluxCaptureProcessor(name + ".attn", self.store, blk, single))
                self.layer_names_.append(name + ".attn")
                self.block_names.append(name)
                blk.register_forward_hook(self._single_hook if single else self._double_hook)
        transformer.time_text_embed.register_forward_hook(self._temb_hook)

    def _temb_hook(self, module, inputs, output):
        self.store.temb = output

    def _keep(self, image):
        if self.store.recording:
            h, w = self._grid
            self._features.append(image.transpose(1, 2).reshape(image.shape[0], image.shape[2], h, w))

    def _double_hook(self, module, inputs, output):
        self._keep(output[1])  # (text stream, image stream)

    def _single_hook(self, module, inputs, output):
        self._keep(output[:, self.store.text_rows:])

    def _call(self, sample, timestep, context):
        tokens, pooled = context[:, :-1], context[:, -1, :self.pooled_dim]
        guidance = None if self.guidance_index is None else context[:, -1, self.guidance_index]
        self.store.text_rows = tokens.shape[1]
        self.store.text_tokens = tokens.shape[1]
        b, c, h, w = sample.shape
        ih, iw = h // 2, w // 2
        self._grid = (ih, iw)
        packed = sample.reshape(b, c, ih, 2, iw, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, ih * iw, c * 4)
        rows = torch.arange(ih, device=sample.device, dtype=torch.float32)[:, None].expand(ih, iw)
        cols = torch.arange(iw, device=sample.device, dtype=torch.float32)[None, :].expand(ih, iw)
        img_ids = torch.stack([torch.zeros_like(rows), rows, cols], dim=-1).reshape(ih * iw, 3)
        txt_ids = torch.zeros(tokens.shape[1], 3, device=sample.device, dtype=torch.float32)
        out = self.transformer(hidden_states=packed, timestep=timestep / 1000, guidance=guidance,
                               pooled_projections=pooled, encoder_hidden_states=tokens, txt_ids=txt_ids,
                               img_ids=img_ids, return_dict=False)[0]
        return out.reshape(b, ih, iw, c, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)


class FluxTextEncoder(torch.nn.Module):
    """ids [B, clip_length + T] -> [B, T + 1, J]: T5's last hidden state over its T ids, then CLIPTextModel's pooled
    output over the clip_length ids, zero-padded to J (the guidance entry after it is 0 here; the loop sets it)."""

    def __init__(self, clip, t5, joint_dim, clip_length=77):
        super().__init__()
        self.clip, self.t5, self.joint_dim, self.clip_length = clip, t5, joint_dim, clip_length

    def forward(self, all_ids):
        pooled = self.clip(all_ids[:, :self.clip_length], output_hidden_states=False, return_dict=False)[1]
        rows = self.t5(all_ids[:, self.clip_length:])[0]
        return torch.cat([rows, F.pad(pooled, (0, self.joint_dim - pooled.shape[-1]))[:, None]], dim=1)


def export_flux(src, out, *, name, height=None, width=None, t5_max_length=None):
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from transformers import CLIPTextModel, T5EncoderModel

    spiece = os.path.join(src, "tokenizer_2", "spiece.model")
    if not os.path.exists(spiece):
        raise ExportError(f"{spiece}: missing; diffscope tokenizes T5 with the slow tokenizer's SentencePiece model")
    t5_max_length = t5_max_length or 512  # FluxPipeline's max_sequence_length default (FLUX.1-schnell uses 256)
    if not 2 <= t5_max_length <= 4096:
        raise ExportError(f"--t5-max-length {t5_max_length}: expected 2..4096 (FluxPipeline uses 512)")
    with lend_sdpa():
        transformer = FluxTransformer2DModel.from_pretrained(src, subfolder="transformer").eval()
    clip = CLIPTextModel.from_pretrained(src, subfolder="text_encoder").eval()
    t5 = T5EncoderModel.from_pretrained(src, subfolder="text_encoder_2").eval()
    vae = AutoencoderKL.from_pretrained(src, subfolder="vae").eval()
    sched_cfg = json.load(open(os.path.join(src, "scheduler", "scheduler_config.json")))
    vocab = json.load(open(os.path.join(src, "tokenizer", "vocab.json")))
    pad = _pad_token(os.path.join(src, "tokenizer"), "<|endoftext|>")

    cfg = transformer.config
    if cfg.in_channels % 4 or cfg.patch_size != 1:
        raise ExportError(f"{src}/transformer: expected patch_size 1 and in_channels a multiple of 4 (2x2 packed latent "
                          f"channels, as FluxPipeline), got {cfg.patch_size} and {cfg.in_channels}")
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    lc = cfg.in_channels // 4
    if vae.config.latent_channels != lc:
        raise ExportError(f"{src}: the VAE has {vae.config.latent_channels} latent channels, the transformer takes "
                          f"{lc} (in_channels / 4)")
    height = height or 64 * factor * 2  # FluxPipeline: default_sample_size 64 x its vae_scale_factor
    width = width or 64 * factor * 2
    if height % (2 * factor) or width % (2 * factor):
        raise ExportError(f"--height/--width: expected multiples of {2 * factor} (the VAE factor times the 2x2 packing)")
    lh, lw = height // factor, width // factor
    joint, pooled_dim = cfg.joint_attention_dim, clip.config.hidden_size
    if cfg.pooled_projection_dim != pooled_dim:
        raise ExportError(f"{src}: the transformer's pooled_projection_dim {cfg.pooled_projection_dim} differs from "
                          f"the CLIP text encoder's width {pooled_dim}")
    guided = bool(cfg.guidance_embeds)
    if pooled_dim + (1 if guided else 0) > joint:
        raise ExportError(f"{src}: the pooled row ({pooled_dim} + guidance) does not fit the T5 width {joint}")
    max_length = clip.config.max_position_embeddings

    g = torch.Generator().manual_seed(0)
    eos = vocab["<|endoftext|>"]

    ids = lambda b: example_ids(b, len(vocab), vocab[pad], eos, max_length, g, t5.config.vocab_size,  # noqa: E731
                                t5_max_length)

    rnd = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    t = lambda b: torch.rand(b, generator=g) * 1000  # noqa: E731

    def ctx(b):
        c = rnd(b, t5_max_length + 1, joint)
        c[:, -1, pooled_dim:] = 0
        if guided:
            c[:, -1, pooled_dim] = 3.5
        return c

    te = trace_checked("text_encoder", FluxTextEncoder(clip, t5, joint, max_length), (ids(1),), [(ids(2),)])
    wrapper = AnalyzableFlux(transformer, pooled_dim, pooled_dim if guided else None).eval()
    example = (rnd(1, lc, lh, lw), t(1), ctx(1))
    layers = layer_table(wrapper, *example)
    tr = trace_checked("transformer", wrapper, example,
                       [(rnd(2, lc, lh, lw), t(2), ctx(2)), (rnd(1, lc, lh + 4, lw + 2), t(1), ctx(1))])
    enc = trace_checked("vae/encoder", _VaeEncoder(vae), (rnd(1, 3, height, width).clamp(-1, 1),), [])
    dec = trace_checked("vae/decoder", _VaeDecoder(vae), (rnd(1, lc, lh, lw),), [(rnd(2, lc, lh, lw),)])
    extra = {"pipeline": "FluxPipeline", "text_rows": "t5", "guidance": "distilled" if guided else "none"}
    if guided:
        extra["guidance_index"] = pooled_dim
    write_package(out, name=name, text_encoder=te, unet=tr, vae_encoder=enc, vae_decoder=dec,
                  vocab_json=os.path.join(src, "tokenizer", "vocab.json"),
                  merges_txt=os.path.join(src, "tokenizer", "merges.txt"), scheduler_config=sched_cfg,
                  sample_size=height, vae_scale_factor=factor, latent_channels=lc, prediction_type="flow",
                  scaling_factor=float(vae.config.scaling_factor), layers=layers, pad_token=pad,
                  max_length=max_length, family="mmdit", pooled_rows=1,
                  t5={"spiece": spiece, "max_length": t5_max_length}, index_extra=extra)
    return layers, height, width
