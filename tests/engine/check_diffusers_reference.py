#!/usr/bin/python3
"""diffscope on a committed tiny transformer package against what diffusers computed with the same pipeline:
StableDiffusion3Pipeline (tests/data/reference/sd3-tiny, or sd3-t5-tiny with a T5 encoder; written by
scripts/fixtures/make_sd3_fixture.py) or FluxPipeline (flux-tiny with a guidance embedding, flux-schnell-tiny
without; scripts/fixtures/make_flux_fixture.py).

Usage: check_diffusers_reference.py DIFFSCOPE FIXTURE_DIR WORKDIR
Runs `diffscope generate` ("a red circle and a blue square", seed and steps and guidance of the reference, the package's flow_euler)
and requires: the same token ids, the same timesteps (float32), every step's latent within 1e-4 of
the latents' scale, the decoded image within one 8-bit level. Exit 0 when all holds.
"""
import json
import os
import subprocess
import sys

import cv2
import numpy as np


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    diffscope, fixture, work = sys.argv[1:4]
    ref = np.load(os.path.join(fixture, "reference.npz"))
    run = os.path.join(work, "run")
    subprocess.run([diffscope, "generate", "-m", os.path.join(fixture, "package"), "-p",
                    "a red circle and a blue square", "--seed", str(int(ref["seed"])), "--steps",
                    str(len(ref["timesteps"])), "--guidance", str(float(ref["guidance"])), "--x0-every", "0",
                    "--threads", "1", "-q", "--overwrite", "-o", run], check=True)
    meta = json.load(open(os.path.join(run, "run.json")))
    if "clip_ids" in meta:  # Flux: the text rows are T5's (ids); CLIP's ids give the pooled vector
        got, ids = meta["clip_ids"] + meta["ids"], ref["token_ids"].tolist() + ref["token_ids_3"].tolist()
    else:  # SD3: CLIP's 77 ids, then T5Tokenizer's with T5 (sd3-t5-tiny)
        got, ids = meta["ids"], ref["token_ids"].tolist() + (ref["token_ids_3"].tolist() if "token_ids_3" in ref else [])
    if got != ids:
        fail(f"token ids {got} differ from diffusers' {ids}")
    if np.array(meta["timesteps"], np.float32).tolist() != ref["timesteps"].tolist():
        fail(f"timesteps {meta['timesteps']} differ from diffusers' {ref['timesteps'].tolist()}")
    ours = np.load(os.path.join(run, "latents.npy"))
    if ours.shape != ref["latents"].shape:
        fail(f"latents {ours.shape}, diffusers {ref['latents'].shape}")
    scale = float(np.abs(ref["latents"]).max())
    d = np.abs(ours - ref["latents"]).reshape(len(ours), -1).max(1)
    img = cv2.cvtColor(cv2.imread(os.path.join(run, "final.png")), cv2.COLOR_BGR2RGB).astype(int)
    d_img = int(np.abs(img - np.round(ref["image"] * 255).astype(int)).max())
    print(f"per-step latent max diff {np.array2string(d, precision=2)} (scale {scale:.2f}); image {d_img}/255")
    if not d.max() <= 1e-4 * scale:
        fail(f"latents differ by {d.max():.3g}")
    if d_img > 1:
        fail(f"image differs by {d_img}/255")
    print("OK")


if __name__ == "__main__":
    main()
