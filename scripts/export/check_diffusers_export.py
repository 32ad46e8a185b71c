#!/usr/bin/python3
"""End-to-end check of scripts/export/export_diffusers.py against diffusers itself (needs diffusers and transformers;
not part of CI, which cannot install them).

For each variant it builds a small randomly initialised Stable Diffusion pipeline with the *structure* of the
real one and saves it with diffusers' save_pretrained (safetensors, like a downloaded checkpoint):
  sd1  SD 1.x layout: 4 UNet levels, 2 layers per block -> 16 cross-attention layers, 8 heads, quick_gelu CLIP
       text encoder, pad token <|endoftext|>, epsilon prediction
  sd2  SD 2.x layout: heads per level with a fixed head dim, linear projections, upcast attention, gelu text
       encoder, pad token "!", v-prediction
  sd3  SD 3 layout (StableDiffusion3Pipeline without T5): two CLIP encoders with projection (the second padding
       with "!"), an SD3Transformer2DModel (joint attention, flow matching, shift 3), a 16-channel VAE with a shift
       factor (scripts/export/sd3_reference.py builds it and records diffusers' run)
  sd3-t5  the same with a tiny T5EncoderModel and a T5Tokenizer (max_sequence_length 16)
  flux  Flux layout (FluxPipeline, scripts/export/flux_reference.py): CLIPTextModel for the pooled vector, a tiny
       T5 encoder for the text rows, a FluxTransformer2DModel with two- and single-stream blocks, rotary positions
       and a guidance embedding (FLUX.1-dev), Flux's resolution-dependent shift
  flux-schnell  the same without a guidance embedding and with a static shift of 1 (FLUX.1-schnell)
Widths are small so it runs on a CPU in seconds. Then it exports the folder with export_diffusers.py, runs
diffusers' StableDiffusionPipeline and `diffscope generate` from the same seed, and compares every step's latent,
the decoded image, and `diffscope info`'s layer table with the diffusers UNet's attn2 modules.

    PYTHONPATH=<diffusers + transformers> /usr/bin/python3 scripts/export/check_diffusers_export.py \\
        --diffscope build/diffscope --work /tmp/dcheck [--variant sd1 sd2] [--scheduler ddim euler dpm++2m]

Exit status 0 when every comparison is within tolerance, 1 otherwise, 2 when diffusers is missing.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DIFFUSERS_SCHEDULER = {"ddim": "DDIMScheduler", "euler": "EulerDiscreteScheduler",
                       "dpm++2m": "DPMSolverMultistepScheduler", "ddpm": "DDPMScheduler", "pndm": "PNDMScheduler"}
SD15_SCHEDULER = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "num_train_timesteps": 1000, "steps_offset": 1, "set_alpha_to_one": False, "clip_sample": False,
                  "skip_prk_steps": True, "timestep_spacing": "leading"}


def avoid_baddbmm_nan():
    """torch 1.13's CPU baddbmm with beta=0 on torch.empty (diffusers' get_attention_scores without a mask) can
    read the uninitialised buffer and return NaN for small heads; pass an explicit zero mask instead (the same
    maths: 0 + scale * q k^T) so the reference itself is sound."""
    import torch
    from diffusers.models.attention_processor import Attention

    orig = Attention.get_attention_scores

    def scores(self, query, key, attention_mask=None):
        if attention_mask is None:
            dtype = torch.float32 if self.upcast_attention else query.dtype
            attention_mask = torch.zeros(query.shape[0], query.shape[1], key.shape[1], dtype=dtype,
                                         device=query.device)
        return orig(self, query, key, attention_mask)

    Attention.get_attention_scores = scores


def build_tiny(variant, folder, tokenizer_dir, seed, full=False):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    sd2 = variant == "sd2"
    ctx = (1024 if sd2 else 768) if full else (64 if sd2 else 32)
    heads2 = (5, 10, 20, 20) if full else (2, 4, 4, 4)
    unet = UNet2DConditionModel(
        sample_size=32 if full else 16, in_channels=4, out_channels=4, layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280) if full else (32, 64, 64, 64),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=ctx,
        # diffusers' attention_head_dim is the number of heads (a historical misnomer): SD 1.x has 8 everywhere,
        # SD 2.x 5/10/20/20 so that every head is 64 wide; here 2/4/4/4 heads of 16
        attention_head_dim=heads2 if sd2 else 8,
        use_linear_projection=sd2, upcast_attention=sd2, norm_num_groups=32)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2 if full else 1,
                        block_out_channels=(128, 256, 512, 512) if full else (16, 16, 32, 32),
                        norm_num_groups=32 if full else 8,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        sample_size=256 if full else 128)
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, hidden_size=ctx, intermediate_size=4 * ctx if full else 2 * ctx,
        num_hidden_layers=(23 if sd2 else 12) if full else 2, num_attention_heads=(16 if sd2 else 12) if full else 4,
        max_position_embeddings=77, hidden_act="gelu" if sd2 else "quick_gelu", projection_dim=ctx,
        bos_token_id=49406, eos_token_id=49407, pad_token_id=1))
    # random init gives the UNet's zero-initialised output conv and attention out-projections; perturb every
    # parameter so the noise prediction and the attention really depend on the prompt
    with torch.no_grad():
        for m in (unet, vae, text):
            for p in m.parameters():
                p.add_(torch.randn_like(p) * 0.02)
    tok = CLIPTokenizer(os.path.join(tokenizer_dir, "vocab.json"), os.path.join(tokenizer_dir, "merges.txt"),
                        pad_token="!" if sd2 else "<|endoftext|>", model_max_length=77)
    cfg = dict(SD15_SCHEDULER, prediction_type="v_prediction" if sd2 else "epsilon")
    sched = DDIMScheduler(**{k: v for k, v in cfg.items() if k != "skip_prk_steps"})
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    # keep the SD 1.5 keys the other schedulers read (skip_prk_steps) in the saved config, as real checkpoints do
    p = os.path.join(folder, "scheduler", "scheduler_config.json")
    j = json.load(open(p))
    j.update(cfg)
    json.dump(j, open(p, "w"), indent=2)


def run_diffusers(folder, prompt, scheduler, steps, guidance, seed):
    import torch
    import diffusers
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None, requires_safety_checker=False,
                                                   low_cpu_mem_usage=False)
    pipe.scheduler = getattr(diffusers, DIFFUSERS_SCHEDULER[scheduler]).from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    lat = []

    def on_step(p, i, t, kw):
        lat.append(kw["latents"].detach().clone())
        return kw

    out = pipe(prompt, num_inference_steps=steps, guidance_scale=guidance,
               generator=torch.Generator("cpu").manual_seed(seed), output_type="np",
               callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"])
    image = np.round(out.images[0] * 255).astype(np.uint8)
    return torch.cat(lat).numpy(), image, pipe.unet


def compare_attention(folder, pkg, seed):
    """diffusers' own attention probabilities (its default processor's get_attention_scores, recorded per attn2
    call) and noise prediction vs the exported TorchScript UNet's outputs on the same random input."""
    import torch
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet", low_cpu_mem_usage=False).eval()
    rec = []
    for name, m in unet.named_modules():
        if name.endswith("attn2"):
            def scores(q, k, mask=None, orig=m.get_attention_scores):
                p = orig(q, k, mask)
                rec.append(p)
                return p
            m.get_attention_scores = scores
    g = torch.Generator().manual_seed(seed)
    c = unet.config
    x = torch.randn(2, c.in_channels, c.sample_size, c.sample_size, generator=g)
    t = torch.tensor([801.0, 801.0])
    ctx = torch.randn(2, 77, c.cross_attention_dim, generator=g)
    with torch.no_grad():
        ref = unet(x, t, ctx, return_dict=False)[0]
        noise, maps, _ = torch.jit.load(os.path.join(pkg, "unet", "model.pt")).eval()(x, t, ctx)
    if len(maps) != len(rec):
        return float("inf"), float("inf"), len(maps), len(rec)
    d_maps = max(float((m.reshape(-1, m.shape[2], m.shape[3]) - r).abs().max()) for m, r in zip(maps, rec))
    return float((noise - ref).abs().max()), d_maps, len(maps), len(rec)


def run_against_reference(a, pkg, ref, prompt, steps, guidance, run):
    """`diffscope generate` on `pkg` with the reference run's prompt, seed, steps and guidance; every step's latent
    within 1e-4 of the latents' scale and the image within --pixel-tol. Returns (ok, latents, latent diff, image diff)."""
    import cv2
    subprocess.run([a.diffscope, "generate", "-m", pkg, "-p", prompt, "--steps", str(steps), "-g", str(guidance),
                    "--seed", str(a.seed), "--threads", str(a.threads), "--x0-every", "0", "-q", "--overwrite", "-o",
                    run], check=True)
    ours = np.load(os.path.join(run, "latents.npy"))
    d_lat = float(np.abs(ours - ref["latents"]).max()) if ours.shape == ref["latents"].shape else float("inf")
    img = cv2.cvtColor(cv2.imread(os.path.join(run, "final.png")), cv2.COLOR_BGR2RGB).astype(int)
    d_img = int(np.abs(img - np.round(ref["image"] * 255).astype(int)).max())
    ok = d_lat <= 1e-4 * max(1.0, float(np.abs(ref["latents"]).max())) and d_img <= a.pixel_tol
    return ok, ours, d_lat, d_img


def check_sd3(a, work, t5=False):
    """The SD3 layout: a tiny StableDiffusion3Pipeline (sd3_reference.build_tiny_sd3: two CLIP encoders with
    projection, no T5, a 2-block SD3Transformer2DModel, a 16-channel VAE with a shift factor, FlowMatchEuler with
    shift 3) exported, then (1) the exported velocity and joint-attention maps against an explicit joint softmax on
    diffusers' own modules, (2) every step's latent and the image of diffusers' StableDiffusion3Pipeline against
    `diffscope generate` from the same seed, (3) `diffscope info`'s layer table. t5: the pipeline with a tiny T5
    encoder and T5Tokenizer (max_sequence_length 16), exported with it. Returns the number of failures."""
    import torch
    from diffusers import SD3Transformer2DModel
    from check_mmdit_against_diffusers import explicit_joint_softmax
    from diffscope_export.sd3 import T5_ROWS
    from sd3_reference import PROMPT, T5_MAX_LEN, build_tiny_sd3, run_reference, sdpa_shim

    failures = 0
    tag = "tiny-sd3-t5" if t5 else "tiny-sd3"
    src, pkg = os.path.join(work, tag), os.path.join(work, tag + "-package")
    build_tiny_sd3(src, seed=0, t5=t5)
    subprocess.run([sys.executable, os.path.join(HERE, "export_diffusers.py"), "--model", src, "--out", pkg] +
                   (["--t5-max-length", str(T5_MAX_LEN)] if t5 else []), check=True)
    rows = 77 + (T5_MAX_LEN if t5 else 0)  # the package's text rows: CLIP's (then T5's)
    with sdpa_shim():
        tr = SD3Transformer2DModel.from_pretrained(src, subfolder="transformer").eval()
    probs = []

    class Recording:
        def __call__(self, attn, hidden_states, encoder_hidden_states=None, *args, **kwargs):
            p = explicit_joint_softmax(attn, hidden_states, encoder_hidden_states)
            probs.append(p)
            b, n, hd = hidden_states.shape[0], hidden_states.shape[1], attn.to_q.out_features // attn.heads
            v = torch.cat([attn.to_v(hidden_states), attn.add_v_proj(encoder_hidden_states)], 1)
            out = (p @ v.view(b, -1, attn.heads, hd).transpose(1, 2)).transpose(1, 2).reshape(b, -1, attn.heads * hd)
            image, text = out[:, :n], out[:, n:]
            return attn.to_out[0](image), (None if attn.context_pre_only else attn.to_add_out(text))

    tr.set_attn_processor(Recording())
    c = tr.config
    g = torch.Generator().manual_seed(a.seed)
    x = torch.randn(2, c.in_channels, c.sample_size, c.sample_size, generator=g)
    t = torch.tensor([801.5, 801.5])
    tokens = torch.randn(2, rows, c.joint_attention_dim, generator=g)
    pooled = torch.randn(2, c.pooled_projection_dim, generator=g)
    with torch.no_grad():
        joint = tokens if t5 else torch.cat([tokens, torch.zeros(2, T5_ROWS, tokens.shape[2])], 1)
        ref = tr(hidden_states=x, encoder_hidden_states=joint,
                 pooled_projections=pooled, timestep=t, return_dict=False)[0]
        row = torch.nn.functional.pad(pooled, (0, c.joint_attention_dim - pooled.shape[1]))[:, None]
        module = torch.jit.load(os.path.join(pkg, "transformer", "model.pt")).eval()
        v, maps, _ = module(x, t, torch.cat([tokens, row], 1))
        _, _, _, text_queries = module.forward_text_queries(x, t, torch.cat([tokens, row], 1))
    n = maps[0].shape[2]
    d_v = float((v - ref).abs().max())
    d_maps = max(float((m - p[:, :, :n, n:n + rows]).abs().max()) for m, p in zip(maps, probs))
    d_q = max(float((m - p[:, :, n:n + rows, :n].transpose(-1, -2)).abs().max()) for m, p in zip(text_queries, probs))
    ok = d_v <= 1e-4 and d_maps <= 1e-5 and d_q <= 1e-5 and len(maps) == len(probs) == len(text_queries)
    failures += not ok
    name = "sd3+t5" if t5 else "sd3"
    print(f"{name} transformer vs diffusers' modules: velocity max diff {d_v:.2e}, joint-attention text block max diff "
          f"{d_maps:.2e}, text x image block (forward_text_queries) {d_q:.2e} over {len(maps)} layers  "
          f"{'ok' if ok else 'FAIL'}")
    steps, guidance, seed = 6, 4.0, a.seed
    ref = run_reference(src, PROMPT, seed, steps, guidance, os.path.join(work, tag + "-reference.npz"), t5=t5)
    ok, ours, d_lat, d_img = run_against_reference(a, pkg, ref, PROMPT, steps, guidance, os.path.join(work, "run-" + tag))
    failures += not ok
    print(f"{name} flow_euler latents {ours.shape}: max |diffscope - StableDiffusion3Pipeline| {d_lat:.2e} (latent scale "
          f"{float(np.abs(ref['latents']).max()):.2f}); image max 8-bit difference {d_img}  {'ok' if ok else 'FAIL'}")
    info = json.loads(subprocess.run([a.diffscope, "info", "-m", pkg, "--json"], check=True, capture_output=True,
                                     text=True).stdout)
    names = [f"transformer_blocks.{i}.attn" for i in range(c.num_layers)]
    got = info.get("joint_attention", [])
    ok = [layer["name"] for layer in got] == names and all(layer["heads"] == c.num_attention_heads for layer in got)
    failures += not ok
    print(f"{name} info: {len(got)} joint-attention layers, heads {sorted(set(layer['heads'] for layer in got))}, "
          f"image x text tokens {got[0]['image_tokens'] if got else '-'} x {got[0]['text_tokens'] if got else '-'}, "
          f"prediction {info.get('prediction_type')}  {'ok' if ok else 'FAIL'}")
    return failures


def check_flux(a, work, schnell=False):
    """The Flux layout: a tiny FluxPipeline (flux_reference.build_tiny_flux: CLIPTextModel for the pooled vector, a
    2-layer T5 encoder, a FluxTransformer2DModel with 2 two-stream and 2 single-stream blocks and rotary axes
    (4, 6, 6), a 4-channel VAE with a shift factor; FLUX.1-dev's guidance embedding and resolution-dependent shift,
    or with schnell FLUX.1-schnell's: no guidance embedding, static shift 1) exported, then (1) the exported velocity
    and maps against an explicit joint softmax (text first, rotary on queries and keys) on diffusers' own modules,
    (2) every step's latent and the image of FluxPipeline against `diffscope generate` from the same seed,
    (3) `diffscope info`'s layer table. Returns the number of failures."""
    import torch
    from diffusers import FluxTransformer2DModel
    from diffusers.models.embeddings import apply_rotary_emb
    from flux_reference import PROMPT, SIZE, T5_MAX_LEN, build_tiny_flux, run_reference
    from diffscope_export.sd3 import lend_sdpa

    failures = 0
    tag = "tiny-flux-schnell" if schnell else "tiny-flux"
    src, pkg = os.path.join(work, tag), os.path.join(work, tag + "-package")
    build_tiny_flux(src, seed=0, schnell=schnell)
    subprocess.run([sys.executable, os.path.join(HERE, "export_diffusers.py"), "--model", src, "--out", pkg,
                    "--t5-max-length", str(T5_MAX_LEN), "--height", str(SIZE), "--width", str(SIZE)], check=True)
    with lend_sdpa():
        tr = FluxTransformer2DModel.from_pretrained(src, subfolder="transformer").eval()
    probs, texts, queries = [], [], []

    class Recording:  # the joint softmax written out, text first, as FluxAttnProcessor2_0 orders it
        def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                     image_rotary_emb=None):
            b, hd = hidden_states.shape[0], attn.to_q.out_features // attn.heads
            sh = lambda x: x.view(b, -1, attn.heads, hd).transpose(1, 2)  # noqa: E731
            q, k, v = sh(attn.to_q(hidden_states)), sh(attn.to_k(hidden_states)), sh(attn.to_v(hidden_states))
            q, k = attn.norm_q(q), attn.norm_k(k)
            text = texts[-1]
            if encoder_hidden_states is not None:
                eq, ek = sh(attn.add_q_proj(encoder_hidden_states)), sh(attn.add_k_proj(encoder_hidden_states))
                ev = sh(attn.add_v_proj(encoder_hidden_states))
                q = torch.cat([attn.norm_added_q(eq), q], 2)
                k = torch.cat([attn.norm_added_k(ek), k], 2)
                v = torch.cat([ev, v], 2)
            q, k = apply_rotary_emb(q, image_rotary_emb), apply_rotary_emb(k, image_rotary_emb)
            p = (q @ k.transpose(-1, -2) / float(hd) ** 0.5).softmax(-1)
            probs.append(p[:, :, text:, :text])
            queries.append(p[:, :, :text, text:].transpose(-1, -2))
            out = (p @ v).transpose(1, 2).reshape(b, -1, attn.heads * hd)
            if encoder_hidden_states is None:
                return out
            return attn.to_out[0](out[:, text:]), attn.to_add_out(out[:, :text])

    tr.set_attn_processor(Recording())
    c = tr.config
    g = torch.Generator().manual_seed(a.seed)
    lc, n = c.in_channels // 4, SIZE // 2  # the latent: 4 channels, 16 x 16 (VAE factor 2)
    x = torch.randn(2, lc, n, n, generator=g)
    t = torch.tensor([801.5, 801.5])
    tokens = torch.randn(2, T5_MAX_LEN, c.joint_attention_dim, generator=g)
    pooled = torch.randn(2, c.pooled_projection_dim, generator=g)
    guidance = None if schnell else torch.tensor([3.5, 3.5])
    packed = x.view(2, lc, n // 2, 2, n // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(2, (n // 2) ** 2, lc * 4)
    img_ids = torch.zeros(n // 2, n // 2, 3)
    img_ids[..., 1] += torch.arange(n // 2)[:, None]
    img_ids[..., 2] += torch.arange(n // 2)[None, :]
    texts.append(T5_MAX_LEN)
    with torch.no_grad():
        ref = tr(hidden_states=packed, timestep=t / 1000, guidance=guidance, pooled_projections=pooled,
                 encoder_hidden_states=tokens, txt_ids=torch.zeros(T5_MAX_LEN, 3), img_ids=img_ids.reshape(-1, 3),
                 return_dict=False)[0]
        ref = ref.view(2, n // 2, n // 2, lc, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(2, lc, n, n)
        row = torch.nn.functional.pad(pooled, (0, c.joint_attention_dim - pooled.shape[1]))
        if not schnell:
            row[:, c.pooled_projection_dim] = 3.5
        module = torch.jit.load(os.path.join(pkg, "transformer", "model.pt")).eval()
        v, maps, _ = module(x, t, torch.cat([tokens, row[:, None]], 1))
        v2, maps2, _, text_queries = module.forward_text_queries(x, t, torch.cat([tokens, row[:, None]], 1))
    d_v = float((v - ref).abs().max())
    d_maps = max(float((m - p).abs().max()) for m, p in zip(maps, probs))
    d_q = max(float((m - p).abs().max()) for m, p in zip(text_queries, queries))
    same = torch.equal(v, v2) and all(torch.equal(a, b) for a, b in zip(maps, maps2))
    ok = (d_v <= 1e-4 and d_maps <= 1e-5 and d_q <= 1e-5 and same
          and len(maps) == len(probs) == len(text_queries) == c.num_layers + c.num_single_layers)
    failures += not ok
    print(f"{tag} transformer vs diffusers' modules: velocity max diff {d_v:.2e}, image x text block max diff "
          f"{d_maps:.2e}, text x image block (forward_text_queries) {d_q:.2e} over {len(maps)} layers, forward's "
          f"outputs unchanged by it: {same}  {'ok' if ok else 'FAIL'}")
    steps, guidance_scale = 6, 3.5
    ref = run_reference(src, PROMPT, a.seed, steps, guidance_scale, os.path.join(work, tag + "-reference.npz"))
    ok, ours, d_lat, d_img = run_against_reference(a, pkg, ref, PROMPT, steps, guidance_scale,
                                                   os.path.join(work, "run-" + tag))
    failures += not ok
    print(f"{tag} flow_euler latents {ours.shape}: max |diffscope - FluxPipeline| {d_lat:.2e} (latent scale "
          f"{float(np.abs(ref['latents']).max()):.2f}); image max 8-bit difference {d_img}  {'ok' if ok else 'FAIL'}")
    info = json.loads(subprocess.run([a.diffscope, "info", "-m", pkg, "--json"], check=True, capture_output=True,
                                     text=True).stdout)
    names = ([f"transformer_blocks.{i}.attn" for i in range(c.num_layers)] +
             [f"single_transformer_blocks.{i}.attn" for i in range(c.num_single_layers)])
    got = info.get("joint_attention", [])
    ok = ([layer["name"] for layer in got] == names and all(layer["heads"] == c.num_attention_heads for layer in got)
          and all(layer["text_tokens"] == T5_MAX_LEN for layer in got)
          and info.get("guidance") == ("none" if schnell else "distilled"))
    failures += not ok
    print(f"{tag} info: {len(got)} attention layers, heads {sorted(set(layer['heads'] for layer in got))}, image x "
          f"text tokens {got[0]['image_tokens'] if got else '-'} x {got[0]['text_tokens'] if got else '-'}, guidance "
          f"{info.get('guidance')}  {'ok' if ok else 'FAIL'}")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--diffscope", default="build/diffscope")
    ap.add_argument("--work", default=os.path.join(HERE, "..", ".cache", "diffusers-check"))
    ap.add_argument("--variant", nargs="+", default=["sd1", "sd2", "sd3", "sd3-t5", "flux", "flux-schnell"],
                    choices=["sd1", "sd2", "sd3", "sd3-t5", "flux", "flux-schnell"])
    ap.add_argument("--scheduler", nargs="+", default=["ddim", "euler", "dpm++2m"], choices=list(DIFFUSERS_SCHEDULER))
    ap.add_argument("--tokenizer-dir",
                    default=os.path.join(HERE, "..", "..", "tests", "data", "reference", "clip-tokenizer"))
    ap.add_argument("--prompt", default="a photo of a red circle and a blue square")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--full-width", action="store_true",
                    help="the real checkpoints' widths (SD 1.5: 320..1280 channels, 768-d context, 12-layer text "
                         "encoder; SD 2.x: 1024-d, 5/10/20/20 heads of 64, 23 layers) at 256 px: slow on a CPU")
    ap.add_argument("--latent-tol", type=float, default=1e-3, help="max abs latent difference, any step")
    ap.add_argument("--pixel-tol", type=int, default=1, help="max 8-bit difference of the decoded image")
    a = ap.parse_args()
    try:
        import diffusers
        import transformers
        import torch
    except ImportError as e:
        print(f"check_diffusers_export.py: needs diffusers and transformers ({e.name} is missing)", file=sys.stderr)
        return 2
    import cv2

    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}")
    torch.set_num_threads(a.threads)
    avoid_baddbmm_nan()
    failures = 0
    for variant in a.variant:
        if variant in ("sd3", "sd3-t5"):
            failures += check_sd3(a, a.work, t5=variant == "sd3-t5")
            continue
        if variant in ("flux", "flux-schnell"):
            failures += check_flux(a, a.work, schnell=variant == "flux-schnell")
            continue
        tag = ("full-" if a.full_width else "tiny-") + variant
        src = os.path.join(a.work, tag)
        pkg = os.path.join(a.work, f"{tag}-package")
        build_tiny(variant, src, a.tokenizer_dir, seed=11, full=a.full_width)
        subprocess.run([sys.executable, os.path.join(HERE, "export_diffusers.py"), "--model", src, "--out", pkg],
                       check=True)
        info = json.loads(subprocess.run([a.diffscope, "info", "-m", pkg, "--json"], check=True,
                                         capture_output=True, text=True).stdout)
        d_noise, d_maps, n_ours, n_ref = compare_attention(src, pkg, a.seed)
        ok = d_noise <= 1e-4 and d_maps <= 1e-5
        failures += not ok
        print(f"{variant} UNet vs diffusers' own processor: noise max diff {d_noise:.2e}, attention probabilities "
              f"max diff {d_maps:.2e} over {n_ours} exported / {n_ref} diffusers maps  {'ok' if ok else 'FAIL'}")
        ref_unet = None
        for sched in a.scheduler:
            ref_lat, ref_img, ref_unet = run_diffusers(src, a.prompt, sched, a.steps, a.guidance, a.seed)
            run = os.path.join(a.work, f"run-{tag}-{sched}")
            subprocess.run([a.diffscope, "generate", "-m", pkg, "-p", a.prompt, "--scheduler", sched,
                            "--steps", str(a.steps), "-g", str(a.guidance), "--seed", str(a.seed), "--threads", str(a.threads),
                            "--x0-every", "0", "-q", "-o", run], check=True)
            ours = np.load(os.path.join(run, "latents.npy"))[1:]
            img = cv2.cvtColor(cv2.imread(os.path.join(run, "final.png")), cv2.COLOR_BGR2RGB)
            d_lat = float(np.abs(ours - ref_lat).max()) if ours.shape == ref_lat.shape else float("inf")
            scale = float(np.abs(ref_lat).max())
            d_img = int(np.abs(img.astype(int) - ref_img.astype(int)).max()) if img.shape == ref_img.shape else 999
            ok = d_lat <= a.latent_tol and d_img <= a.pixel_tol
            failures += not ok
            print(f"{variant} {sched:8s} latents {ours.shape}: max |diffscope - diffusers| {d_lat:.2e} "
                  f"(latent scale {scale:.2f}); image max 8-bit difference {d_img}  {'ok' if ok else 'FAIL'}")
        # execution order: down blocks, mid block, up blocks (named_modules lists mid_block last)
        rank = {"down_blocks": 0, "mid_block": 1, "up_blocks": 2}
        names = sorted((n for n, m in ref_unet.named_modules() if n.endswith("attn2")),
                       key=lambda n: rank[n.split(".")[0]])
        heads = [ref_unet.get_submodule(n).heads for n in names]
        got = info.get("cross_attention", info.get("layers", []))
        got_names = [layer.get("name") for layer in got]
        got_heads = [layer.get("heads") for layer in got]
        ok = got_names == names and got_heads == heads and info.get("context_dim") == ref_unet.config.cross_attention_dim
        failures += not ok
        print(f"{variant} info: {len(got_names)} cross-attention layers, heads {sorted(set(got_heads))}, context "
              f"{info.get('context_dim')}, prediction {info.get('prediction_type')}  {'ok' if ok else 'FAIL'}")
    print("all checks passed" if not failures else f"{failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
