"""Tiny randomly initialised Stable Diffusion 3 pipeline + a diffusers reference run.

Builds a toy ``StableDiffusion3Pipeline`` entirely from diffusers / transformers classes
(two small CLIP text encoders, no T5, a tiny SD3 MMDiT, a tiny 2-level VAE, flow-matching
Euler scheduler), saves it with ``save_pretrained`` (safetensors), reloads it with
``StableDiffusion3Pipeline.from_pretrained`` and records a full sampling run so another
implementation can be checked against it step by step.

Usage (torch 1.13 + diffusers 0.31.0 on this machine):

    cd /tmp && PYTHONPATH=/work/pyenv /usr/bin/python3 \\
        /work/main/scripts/export/sd3_reference.py /tmp/sd3-tiny /tmp/sd3-ref.npz

What diffusers 0.31.0 ``StableDiffusion3Pipeline`` does with the text (read from
diffusers/pipelines/stable_diffusion_3/pipeline_stable_diffusion_3.py):

``tokenizer_max_length`` = ``tokenizer.model_max_length`` (77 here, saved in tokenizer_config.json).

``_get_clip_prompt_embeds(prompt, clip_model_index=i, clip_skip=None)``
    ids = tokenizer_i(prompt, padding="max_length", max_length=77, truncation=True).input_ids
    (i.e. ``<|startoftext|> tokens... <|endoftext|>`` then padding with tokenizer_i's pad token:
    ``<|endoftext|>`` for ``tokenizer``, ``!`` for ``tokenizer_2``, exactly like real SD3).
    No attention mask is passed: the CLIP text model runs over all 77 positions with only its
    causal mask.  ``out = text_encoder_i(ids, output_hidden_states=True)``; returns
      * prompt_embeds = ``out.hidden_states[-2]`` -- the output of the penultimate encoder layer,
        *without* the final layer norm (with clip_skip=k it would be hidden_states[-(k+2)]);
        shape [B, 77, hidden_i]  ([1, 77, 16] for text_encoder, [1, 77, 24] for text_encoder_2);
      * pooled = ``out[0]`` = ``text_embeds`` of CLIPTextModelWithProjection, i.e.
        text_projection(final_layer_norm(last_hidden_state)[eos position]); shape [B, proj_i]
        ([1, 16] each here).  The eos position is the first index where ids == config.eos_token_id
        (transformers' rule when eos_token_id != 2; we set eos_token_id to the real
        ``<|endoftext|>`` id, which is also the largest id, so the legacy argmax rule agrees).
    Note: the *negative* prompt is always encoded with clip_skip=None.

``_get_t5_prompt_embeds`` with ``text_encoder_3=None`` returns
    ``torch.zeros(B, tokenizer_max_length, joint_attention_dim)`` = zeros [1, 77, 64]
    (max_sequence_length is ignored in that case).

``encode_prompt`` then
    clip = cat([clip_1 [1,77,16], clip_2 [1,77,24]], dim=-1)          -> [1, 77, 40]
    clip = F.pad(clip, (0, 64 - 40))  (zeros appended on the feature axis) -> [1, 77, 64]
    prompt_embeds = cat([clip, t5_zeros [1,77,64]], dim=-2)           -> [1, 154, 64]
    pooled        = cat([pooled_1 [1,16], pooled_2 [1,16]], dim=-1)   -> [1, 32]
    and the same for negative_prompt="" (negative_prompt_embeds [1,154,64], negative pooled [1,32]).

Sampling (``__call__``): latents [1,16,16,16] = randn_tensor(shape, generator) (here drawn by us
identically and passed in as ``latents=``); with CFG the transformer batch is
[negative, positive]; noise = uncond + guidance * (text - uncond); FlowMatchEuler step
latents += (sigma_next - sigma) * noise; at the end image = vae.decode(latents / scaling_factor
+ shift_factor), postprocessed to [0, 1] (x / 2 + 0.5, clamped), NHWC float.
"""
import json
import math
import os
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

from diffusers import (  # noqa: E402
    AutoencoderKL,
    FlowMatchEulerDiscreteScheduler,
    SD3Transformer2DModel,
    StableDiffusion3Pipeline,
)
from diffusers.models.attention_processor import AttnProcessor  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diffscope_export.sd3 import lend_sdpa as sdpa_shim  # noqa: E402
from diffusers.utils.torch_utils import randn_tensor  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer  # noqa: E402

PROMPT = "a red circle and a blue square"
MAX_LEN = 77

# Words that the toy BPE merges spell as single tokens; anything else falls back to
# smaller pieces (every printable ASCII char and its "</w>" form is in the vocab).
WORDS = (
    "a red circle and blue square green triangle yellow black white orange purple "
    "the on of in left right top bottom small large big dog cat photo with"
).split()


# ----------------------------------------------------------------------------- attention
def explicit_attention(q, k, v):
    """softmax(Q K^T / sqrt(d)) V for q/k/v [B, heads, L, d]."""
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return torch.matmul(scores.softmax(dim=-1), v)


class ExplicitJointAttnProcessor:
    """Same math as diffusers' JointAttnProcessor2_0, without F.scaled_dot_product_attention."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        residual = hidden_states
        b = hidden_states.shape[0]
        q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        hd = k.shape[-1] // attn.heads
        sh = lambda t: t.view(b, -1, attn.heads, hd).transpose(1, 2)  # noqa: E731
        q, k, v = sh(q), sh(k), sh(v)
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k = attn.norm_k(k)
        if encoder_hidden_states is not None:
            eq = sh(attn.add_q_proj(encoder_hidden_states))
            ek = sh(attn.add_k_proj(encoder_hidden_states))
            ev = sh(attn.add_v_proj(encoder_hidden_states))
            if attn.norm_added_q is not None:
                eq = attn.norm_added_q(eq)
            if attn.norm_added_k is not None:
                ek = attn.norm_added_k(ek)
            q, k, v = torch.cat([q, eq], 2), torch.cat([k, ek], 2), torch.cat([v, ev], 2)
        h = explicit_attention(q, k, v).transpose(1, 2).reshape(b, -1, attn.heads * hd).to(q.dtype)
        if encoder_hidden_states is not None:
            h, encoder_hidden_states = h[:, : residual.shape[1]], h[:, residual.shape[1]:]
            if not attn.context_pre_only:
                encoder_hidden_states = attn.to_add_out(encoder_hidden_states)
        h = attn.to_out[1](attn.to_out[0](h))
        return (h, encoder_hidden_states) if encoder_hidden_states is not None else h


def _use_explicit_processors(pipe):
    pipe.transformer.set_attn_processor(ExplicitJointAttnProcessor())
    # the VAE mid-block attention would get AttnProcessor2_0 while the shim is active
    pipe.vae.set_attn_processor(AttnProcessor())


# ----------------------------------------------------------------------------- toy BPE
def _bpe(word, ranks):
    """CLIP's BPE on one pre-token (same algorithm as CLIPTokenizer.bpe)."""
    parts = list(word[:-1]) + [word[-1] + "</w>"]
    while len(parts) > 1:
        pairs = [(ranks.get((a, b), float("inf")), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
        best = min(pairs)[0]
        if best == float("inf"):
            break
        pair = min(p for p in zip(parts, parts[1:]) if ranks.get(p, float("inf")) == best)
        out, i = [], 0
        while i < len(parts):
            if i < len(parts) - 1 and (parts[i], parts[i + 1]) == pair:
                out.append(parts[i] + parts[i + 1])
                i += 2
            else:
                out.append(parts[i])
                i += 1
        parts = out
    return parts


def toy_vocab_and_merges(words=WORDS):
    """Vocab: printable ASCII '!'..'~' (id 0 = '!'), the same with '</w>', merge results,
    then <|startoftext|>, <|endoftext|> as the last two ids (like real CLIP)."""
    base = [chr(c) for c in range(ord("!"), ord("~") + 1)]
    tokens = base + [c + "</w>" for c in base]
    merges, ranks = [], {}
    for w in words:
        parts = _bpe(w, ranks)
        while len(parts) > 1:
            pair = (parts[0], parts[1])
            ranks[pair] = len(merges)
            merges.append(pair)
            merged = pair[0] + pair[1]
            if merged not in tokens:
                tokens.append(merged)
            parts = _bpe(w, ranks)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    return vocab, merges


def write_tokenizer_files(d):
    os.makedirs(d, exist_ok=True)
    vocab, merges = toy_vocab_and_merges()
    vf, mf = os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt")
    with open(vf, "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(mf, "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return vf, mf, vocab


# ----------------------------------------------------------------------------- build
T5_MAX_LEN = 16  # max_sequence_length of the T5 variant
T5_SPIECE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "reference",
                         "sentencepiece", "t5like.model")


def build_tiny_sd3(out_dir, seed=0, t5=False):
    """t5: also a tiny T5EncoderModel (2 layers, d_model = the joint width) with a T5Tokenizer over the 800-piece
    SentencePiece model of tests/data/reference/sentencepiece (T5's own cannot be downloaded here)."""
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:  # the tokenizers re-save vocab.json/merges.txt themselves
        vf, mf, vocab = write_tokenizer_files(td)
        tokenizer = CLIPTokenizer(vf, mf, model_max_length=MAX_LEN, pad_token="<|endoftext|>")
        tokenizer_2 = CLIPTokenizer(vf, mf, model_max_length=MAX_LEN, pad_token="!")
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    assert vocab["!"] == 0 and eos == len(vocab) - 1 and eos != 2

    torch.manual_seed(seed)

    def clip_cfg(hidden, pad_id):
        return CLIPTextConfig(vocab_size=1000, hidden_size=hidden, intermediate_size=37, num_hidden_layers=2,
                              num_attention_heads=2, max_position_embeddings=MAX_LEN, projection_dim=16,
                              hidden_act="gelu", layer_norm_eps=1e-5, bos_token_id=bos, eos_token_id=eos,
                              pad_token_id=pad_id)

    text_encoder = CLIPTextModelWithProjection(clip_cfg(16, eos)).eval()
    text_encoder_2 = CLIPTextModelWithProjection(clip_cfg(24, vocab["!"])).eval()

    with sdpa_shim():
        transformer = SD3Transformer2DModel(
            sample_size=16, patch_size=2, in_channels=16, num_layers=2, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=64, caption_projection_dim=32,
            pooled_projection_dim=32, out_channels=16, pos_embed_max_size=16).eval()
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), latent_channels=16,
            norm_num_groups=4, sample_size=32, scaling_factor=1.5305, shift_factor=0.0609,
            use_quant_conv=False, use_post_quant_conv=False).eval()
    # diffusers zero-inits some SD3 layers (e.g. proj_out / adaLN); perturb everything
    with torch.no_grad():
        for p in transformer.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    text_encoder_3 = tokenizer_3 = None
    if t5:
        from transformers import T5Config, T5EncoderModel, T5Tokenizer
        tokenizer_3 = T5Tokenizer(vocab_file=T5_SPIECE, extra_ids=0, legacy=True, model_max_length=T5_MAX_LEN)
        text_encoder_3 = T5EncoderModel(T5Config(vocab_size=800, d_model=64, d_kv=16, d_ff=96, num_layers=2,
                                                 num_heads=4, relative_attention_num_buckets=8,
                                                 relative_attention_max_distance=16, dropout_rate=0.0,
                                                 feed_forward_proj="gated-gelu", pad_token_id=0,
                                                 eos_token_id=1)).eval()

    pipe = StableDiffusion3Pipeline(
        transformer=transformer, scheduler=scheduler, vae=vae,
        text_encoder=text_encoder, tokenizer=tokenizer,
        text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2,
        text_encoder_3=text_encoder_3, tokenizer_3=tokenizer_3)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return pipe


# ----------------------------------------------------------------------------- reference
def _ids(tok, text):
    return np.asarray(tok(text, padding="max_length", max_length=MAX_LEN, truncation=True).input_ids,
                      dtype=np.int64)


def run_reference(pipe_dir, prompt, seed, steps, guidance, out_npz, t5=False):
    with sdpa_shim():
        if t5:
            pipe = StableDiffusion3Pipeline.from_pretrained(pipe_dir, torch_dtype=torch.float32)
        else:
            pipe = StableDiffusion3Pipeline.from_pretrained(
                pipe_dir, text_encoder_3=None, tokenizer_3=None, torch_dtype=torch.float32)
        pipe.to("cpu")
    _use_explicit_processors(pipe)
    pipe.set_progress_bar_config(disable=True)
    dev = torch.device("cpu")

    with torch.no_grad():
        pe, npe, pooled, npooled = pipe.encode_prompt(
            prompt=prompt, prompt_2=None, prompt_3=None, device=dev, num_images_per_prompt=1,
            do_classifier_free_guidance=True, negative_prompt="", max_sequence_length=T5_MAX_LEN)

    height = width = 32
    generator = torch.Generator("cpu").manual_seed(seed)
    shape = (1, pipe.transformer.config.in_channels, height // pipe.vae_scale_factor, width // pipe.vae_scale_factor)
    latents0 = randn_tensor(shape, generator=generator, device=dev, dtype=torch.float32)  # as prepare_latents

    recorded = [latents0[0].clone()]

    def on_step_end(p, i, t, kw):
        recorded.append(kw["latents"][0].detach().clone())
        return kw

    with torch.no_grad():
        image = pipe(prompt, height=height, width=width, num_inference_steps=steps, guidance_scale=guidance,
                     generator=generator, latents=latents0.clone(), output_type="np", max_sequence_length=T5_MAX_LEN,
                     callback_on_step_end=on_step_end, callback_on_step_end_tensor_inputs=["latents"]).images

    out = dict(
        latents=torch.stack(recorded).numpy().astype(np.float32),
        timesteps=pipe.scheduler.timesteps.numpy().astype(np.float32),
        sigmas=pipe.scheduler.sigmas.numpy().astype(np.float32),
        prompt_embeds=pe.numpy().astype(np.float32),
        negative_prompt_embeds=npe.numpy().astype(np.float32),
        pooled=pooled.numpy().astype(np.float32),
        negative_pooled=npooled.numpy().astype(np.float32),
        image=np.asarray(image[0], dtype=np.float32),
        token_ids=_ids(pipe.tokenizer, prompt),
        token_ids_2=_ids(pipe.tokenizer_2, prompt),
        negative_token_ids=_ids(pipe.tokenizer, ""),
        negative_token_ids_2=_ids(pipe.tokenizer_2, ""),
        seed=np.int64(seed), guidance=np.float32(guidance),
    )
    if t5:
        out["token_ids_3"] = np.asarray(pipe.tokenizer_3(prompt, padding="max_length", max_length=T5_MAX_LEN,
                                                         truncation=True).input_ids, dtype=np.int64)
    np.savez(out_npz, **out)
    return out


if __name__ == "__main__":
    pipe_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/sd3-tiny"
    out_npz = sys.argv[2] if len(sys.argv) > 2 else "/tmp/sd3-ref.npz"
    build_tiny_sd3(pipe_dir, seed=0)
    print("built", pipe_dir, sorted(os.listdir(pipe_dir)))
    ref = run_reference(pipe_dir, PROMPT, seed=3, steps=6, guidance=4.0, out_npz=out_npz)
    for k, v in ref.items():
        v = np.asarray(v)
        extra = ""
        if v.dtype.kind == "f" and v.size > 1:
            extra = " mean %.6f std %.6f finite %s" % (v.mean(), v.std(), bool(np.isfinite(v).all()))
        print("%-22s %-16s %-8s%s" % (k, tuple(v.shape), v.dtype, extra))
    print("timesteps", ref["timesteps"].tolist())
    n1 = int(np.argmax(ref["token_ids"] == ref["token_ids"].max()))  # first <|endoftext|> (largest id)
    print("token_ids   (prompt, first %d)" % (n1 + 1), ref["token_ids"][: n1 + 1].tolist())
    print("token_ids_2 (prompt, first %d)" % (n1 + 1), ref["token_ids_2"][: n1 + 1].tolist())
    print("negative_token_ids[:4]", ref["negative_token_ids"][:4].tolist(),
          "negative_token_ids_2[:4]", ref["negative_token_ids_2"][:4].tolist())
    print("saved", out_npz)
