#!/usr/bin/python3
"""diffscope on the committed tiny SDXL package (tests/data/reference/sdxl-tiny/package, exported from
tests/data/sdxl/pipeline with scripts/export/export_diffusers.py) against what StableDiffusionXLPipeline computed
with the same pipeline (tests/data/sdxl/reference.npz and runs.json, written by scripts/fixtures/make_sdxl_fixture.py
with diffusers 0.31).

Usage: check_sdxl_reference.py DIFFSCOPE PACKAGE SDXL_DATA_DIR WORKDIR [--tol 1e-5]

For each run of runs.json (Euler and DDIM with guidance 5 and a negative prompt, Euler with no negative prompt, so
force_zeros_for_empty_prompt zeroes the negative rows; SDXL-Turbo's configuration: trailing timestep spacing,
guidance 0, Euler over 2 steps and Euler ancestral over 1) runs `diffscope generate` (the Turbo runs on a copy of
the package whose scheduler_config.json says "trailing", as SDXL-Turbo's does) and requires: the token ids of both
tokenizers (`diffscope tokenize --json`: ids, ids_2), the same timesteps, and every step's latent within TOL of the
latents' scale. Prints each run's largest difference. Exit 0 when all holds.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

SCHEDULERS = {"EulerDiscreteScheduler": "euler", "DDIMScheduler": "ddim", "EulerAncestralDiscreteScheduler": "euler_a"}


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("diffscope")
    ap.add_argument("package")
    ap.add_argument("data")
    ap.add_argument("work")
    ap.add_argument("--tol", type=float, default=1e-5, help="largest latent difference, relative to the latents' scale")
    a = ap.parse_args()
    ref = np.load(os.path.join(a.data, "reference.npz"))
    runs = json.load(open(os.path.join(a.data, "runs.json")))
    os.makedirs(a.work, exist_ok=True)

    tok = json.loads(subprocess.run([a.diffscope, "tokenize", "-m", a.package, "-p", runs["prompt"], "--json"],
                                    check=True, capture_output=True, text=True).stdout)
    if tok["ids"] != ref["token_ids"].tolist():
        fail(f"tokenizer's ids {tok['ids']} differ from diffusers' {ref['token_ids'].tolist()}")
    if tok.get("ids_2") != ref["token_ids_2"].tolist():
        fail(f"tokenizer_2's ids {tok.get('ids_2')} differ from diffusers' {ref['token_ids_2'].tolist()}")

    worst = 0.0
    for name, r in runs["runs"].items():
        pkg = a.package
        spacing = r["scheduler_overrides"].get("timestep_spacing")
        if r["scheduler_overrides"] and set(r["scheduler_overrides"]) != {"timestep_spacing"}:
            fail(f"run {name}: overrides {r['scheduler_overrides']} are not a package configuration")
        if spacing:  # SDXL-Turbo: the same family, its scheduler configured to trailing spacing
            pkg = os.path.join(a.work, f"package-{spacing}")
            shutil.rmtree(pkg, ignore_errors=True)
            shutil.copytree(a.package, pkg)
            cfg_path = os.path.join(pkg, "scheduler", "scheduler_config.json")
            cfg = json.load(open(cfg_path))
            cfg["timestep_spacing"] = spacing
            json.dump(cfg, open(cfg_path, "w"), indent=2)
            os.remove(os.path.join(pkg, "hashes.json"))
        out = os.path.join(a.work, name)
        cmd = [a.diffscope, "generate", "-m", pkg, "-p", runs["prompt"], "--seed", str(runs["seed"]),
               "--steps", str(r["steps"]), "--guidance", str(r["guidance_scale"]),
               "--scheduler", SCHEDULERS[r["scheduler"]], "--height", str(runs["height"]), "--width", str(runs["width"]),
               "--x0-every", "0", "--threads", "1", "-q", "--overwrite", "-o", out]
        if r["negative_prompt"]:
            cmd += ["--negative-prompt", r["negative_prompt"]]
        subprocess.run(cmd, check=True)
        meta = json.load(open(os.path.join(out, "run.json")))
        if meta["ids"] != ref["token_ids"].tolist():
            fail(f"run {name}: token ids differ from diffusers'")
        if np.array(meta["timesteps"], np.float32).tolist() != ref[f"{name}_timesteps"].astype(np.float32).tolist():
            fail(f"run {name}: timesteps {meta['timesteps']} differ from diffusers' {ref[name + '_timesteps'].tolist()}")
        ours, theirs = np.load(os.path.join(out, "latents.npy")), ref[f"{name}_latents"]
        # latents.npy: the initial latent (the seed's noise times init_noise_sigma), then every step's
        start = ref["noise"][0] * np.float32(r["init_noise_sigma"])
        if ours.shape[1:] != start.shape or np.abs(ours[0] - start).max() > 1e-6 * np.abs(start).max():
            fail(f"run {name}: the initial latent differs from diffusers' noise x init_noise_sigma")
        ours = ours[1:]
        if ours.shape != theirs.shape:
            fail(f"run {name}: latents {ours.shape}, diffusers {theirs.shape}")
        scale = float(np.abs(theirs).max())
        d = np.abs(ours.astype(np.float64) - theirs).reshape(len(ours), -1).max(1)
        worst = max(worst, float(d.max()) / scale)
        print(f"{name:16s} {r['scheduler']:32s} steps {r['steps']} guidance {r['guidance_scale']}: per-step latent max "
              f"diff {np.array2string(d, precision=2)} (scale {scale:.2f}, relative {d.max() / scale:.2g})")
        if not d.max() <= a.tol * scale:
            fail(f"run {name}: latents differ by {d.max():.3g} (tolerance {a.tol} x {scale:.2f})")
    print(f"OK (largest relative difference {worst:.2g})")


if __name__ == "__main__":
    main()
