#!/usr/bin/python3
"""Recomputes a diffscope run on a transformer (MMDiT, flow-matching) package with PyTorch from the package's own
TorchScript files, independently of diffscope's C++:

Usage: check_mmdit_loop.py DIFFSCOPE PACKAGE WORKDIR

Runs `diffscope generate` (6 flow_euler steps, guidance 4, seed 3), then in Python: the prompt's ids from run.json
and the empty prompt's ids built from the vocabulary; text_encoder/model.pt on [uncond, cond] ([2, L + 1, D]: tokens
and the pooled row); the initial latent torch.randn on torch.Generator().manual_seed(3); diffusers'
FlowMatchEulerDiscreteScheduler schedule with shift 1 (timesteps linspace(1000, 1, steps) as float32, sigma = t/1000,
last sigma 0); each step transformer/model.pt on the doubled latent, classifier-free guidance, x += (s' - s) v. Each
step's latent (latents.npy) must match to 1e-4 of the latents' scale, and each step's maps (attention/maps.npy) to
1e-5: the cond row's joint-attention text block averaged over heads, bilinearly upsampled (align_corners=False) to
the latent grid, averaged over layers. Exit 0 when all holds.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    diffscope, package, work = sys.argv[1:4]
    torch.set_num_threads(1)
    run = os.path.join(work, "run")
    os.makedirs(work, exist_ok=True)
    steps, guidance, seed = 6, 4.0, 3
    subprocess.run([diffscope, "generate", "-m", package, "-p", "a red circle and a blue square", "--steps",
                    str(steps), "--guidance", str(guidance), "--seed", str(seed), "--threads", "1", "-q",
                    "--overwrite", "-o", run], check=True)
    meta = json.load(open(os.path.join(run, "run.json")))
    index = json.load(open(os.path.join(package, "model_index.json")))
    vocab = json.load(open(os.path.join(package, "tokenizer", "vocab.json")))
    if index.get("format_version") != 2 or index.get("family") != "mmdit" or index.get("prediction_type") != "flow":
        fail(f"{package} is not a flow-matching transformer package")
    length = index["max_length"]
    eos = vocab["<|endoftext|>"]
    uncond = [vocab["<|startoftext|>"]] + [eos] * (length - 1)
    ids = torch.tensor([uncond, meta["ids"]], dtype=torch.long)
    text = torch.jit.load(os.path.join(package, "text_encoder", "model.pt"))
    transformer = torch.jit.load(os.path.join(package, "transformer", "model.pt"))
    with torch.no_grad():
        ctx = text(ids)
    if tuple(ctx.shape[:2]) != (2, length + index["pooled_rows"]):
        fail(f"text encoder output {tuple(ctx.shape)}, expected [2, {length + index['pooled_rows']}, D]")

    timesteps = np.linspace(1000.0, 1.0, steps).astype(np.float32)
    if not np.allclose(np.array(meta["timesteps"], dtype=np.float64), timesteps.astype(np.float64), rtol=0, atol=1e-3):
        fail(f"run.json timesteps {meta['timesteps']} differ from diffusers' {timesteps.tolist()}")
    sigmas = np.append(timesteps / np.float32(1000.0), np.float32(0.0)).astype(np.float32)

    shape = meta["latent_shape"]
    x = torch.randn([1] + shape, generator=torch.Generator().manual_seed(seed))
    latents = np.load(os.path.join(run, "latents.npy"))
    maps = np.load(os.path.join(run, "attention", "maps.npy"))
    h, w = shape[1], shape[2]
    scale = float(np.abs(latents).max())
    worst_latent, worst_map = float(np.abs(latents[0] - x[0].numpy()).max()), 0.0
    for i, t in enumerate(timesteps):
        with torch.no_grad():
            v, layer_maps, _ = transformer(torch.cat([x, x]), torch.full((2,), float(t)), ctx)
        v = v[0:1] + guidance * (v[1:2] - v[0:1])
        x = x + (float(sigmas[i + 1]) - float(sigmas[i])) * v
        worst_latent = max(worst_latent, float(np.abs(latents[i + 1] - x[0].numpy()).max()))
        total = 0
        for m in layer_maps:  # [2, heads, n, L]: the cond row, head mean, to [L, lh, lw], bilinear to [L, h, w]
            n = m.shape[2]
            side = int(round((h * w / n) ** 0.5))
            lh, lw = -(-h // side), -(-w // side)
            a = m[1].mean(0).transpose(0, 1).reshape(1, length, lh, lw)
            if (lh, lw) != (h, w):
                a = F.interpolate(a, size=(h, w), mode="bilinear", align_corners=False)
            total = total + a[0]
        expect = (total / len(layer_maps)).numpy()
        worst_map = max(worst_map, float(np.abs(maps[i] - expect).max()))
    print(f"{steps} steps: latents max diff {worst_latent:.3g} (scale {scale:.3g}); maps max diff {worst_map:.3g}")
    if not worst_latent <= 1e-4 * max(scale, 1.0):
        fail(f"latents differ by {worst_latent:.3g}")
    if not worst_map <= 1e-5:
        fail(f"attention maps differ by {worst_map:.3g}")
    print("OK")


if __name__ == "__main__":
    main()
