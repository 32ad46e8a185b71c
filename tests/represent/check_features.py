#!/usr/bin/python3
"""Recomputes `diffscope features` with PyTorch from the package's own TorchScript files, and checks resuming.

Usage: check_features.py DIFFSCOPE PACKAGE PYTHON_SHAPES_SCRIPT WORKDIR
Writes a 10-image shapes dataset, runs `diffscope features` (two timesteps, batch 4), then for every image:
loads it (OpenCV area resize, RGB in [-1, 1]), encodes it with vae/encoder.pt (x scaling_factor), draws its noise with
torch.Generator().manual_seed(splitmix64(seed, index)), noises it with the package schedule's alphas_cumprod,
runs unet/model.pt with the empty prompt's text embedding, and averages each block output over space; the pixel
baseline is the image average-pooled to 16x16. Every .npy must match to 1e-4 (relative to the values' scale).
Then an interrupted extraction is simulated (index.json removed, progress.json set back to image 4, the rows after it
zeroed) and the same command must resume and give identical files. Exit 0 when all holds.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import cv2

M64 = (1 << 64) - 1


def splitmix(seed, index):
    z = (seed * 0x9E3779B97F4A7C15 + index + 0x632BE59BD9B4E019) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def alphas_cumprod(cfg):
    n = cfg["num_train_timesteps"]
    if cfg.get("beta_schedule") == "scaled_linear":
        betas = torch.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, n, dtype=torch.float32) ** 2
    else:
        betas = torch.linspace(cfg["beta_start"], cfg["beta_end"], n, dtype=torch.float32)
    return torch.cumprod(1.0 - betas, 0)


def main():
    ds, pkg, shapes, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.path.join(work, "data")
    subprocess.run([sys.executable, shapes, "--out", data, "--count", "10", "--split", "all", "--seed", "3"], check=True,
                   stdout=subprocess.DEVNULL)
    out = os.path.join(work, "feat")
    cmd = [ds, "features", "-m", pkg, "--dataset", data, "--t", "50,400", "--batch", "4", "--seed", "9",
           "--threads", "1", "-q", "-o", out]
    subprocess.run(cmd, check=True)
    index = json.load(open(os.path.join(out, "index.json")))
    torch.set_num_threads(1)
    unet = torch.jit.load(os.path.join(pkg, "unet", "model.pt")).eval()
    enc = torch.jit.load(os.path.join(pkg, "vae", "encoder.pt")).eval()
    text = torch.jit.load(os.path.join(pkg, "text_encoder", "model.pt")).eval()
    info = json.load(open(os.path.join(pkg, "model_index.json")))
    scale = json.load(open(os.path.join(pkg, "vae", "config.json")))["scaling_factor"]
    acp = alphas_cumprod(json.load(open(os.path.join(pkg, "scheduler", "scheduler_config.json"))))
    # the empty prompt: <|startoftext|> <|endoftext|> padded with the pad token (<|endoftext|>)
    vocab = json.load(open(os.path.join(pkg, "tokenizer", "vocab.json")))
    ids = [vocab["<|startoftext|>"]] + [vocab["<|endoftext|>"]] * (info["max_length"] - 1)
    n = len(index["images"])
    size = info["sample_size"]
    with torch.no_grad():
        ctx = text(torch.tensor([ids], dtype=torch.int64))
        if isinstance(ctx, (tuple, list)):
            ctx = ctx[0]
        want = {}
        for item in index["images"]:
            i = item["index"]
            # OpenCV's area resize, as diffscope loads images (the dataset is 64 px, the tiny package 32 px)
            bgr = cv2.imread(item["image"], cv2.IMREAD_COLOR)
            img = cv2.cvtColor(cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB).astype(np.float32)
            x = torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0
            lat = enc(x) * scale
            want.setdefault("latent", []).append(lat.reshape(-1).numpy())
            want.setdefault("pixels", []).append(torch.nn.functional.adaptive_avg_pool2d(x, 16).reshape(-1).numpy())
            g = torch.Generator().manual_seed(splitmix(9, i))
            noise = torch.randn(lat.shape, generator=g)
            for t in index["timesteps"]:
                a = acp[t]
                xt = a ** 0.5 * lat + (1 - a) ** 0.5 * noise
                _, _, feats = unet(xt, torch.full((1,), float(t)), ctx)
                for f in index["files"]:
                    if f.get("t") == t and f["pooling"] == "mean":
                        want.setdefault(os.path.basename(f["file"]), []).append(feats[f["index"]].mean((2, 3)).reshape(-1).numpy())
    checked = 0
    for f in index["files"]:
        name = os.path.basename(f["file"])
        key = name if name in want else name[:-4]
        got = np.load(os.path.join(out, f["file"]))
        w = np.stack(want[key])
        if got.shape != w.shape:
            fail(f"{name}: shape {got.shape}, expected {w.shape}")
        err = np.abs(got - w).max() / max(1e-6, np.abs(w).max())
        if err > 1e-4:
            fail(f"{name}: differs from PyTorch by {err:.2e} (relative to its largest value)")
        checked += 1
    print(f"ok: {checked} feature files of {n} images match PyTorch")
    # resume: as if killed after the first batch
    saved = {f["file"]: np.load(os.path.join(out, f["file"])) for f in index["files"]}
    os.remove(os.path.join(out, "index.json"))
    os.remove(os.path.join(out, "labels.csv"))
    settings = {"model": os.path.abspath(pkg), "dataset": os.path.abspath(data), "images": n,
                "timesteps": index["timesteps"], "layers": sorted({f["index"] for f in index["files"] if "index" in f}),
                "prompt": "", "spatial": 0, "seed": 9, "test_fraction": 0.25}
    json.dump({"settings": settings, "done": 4}, open(os.path.join(out, "progress.json"), "w"))
    for f in index["files"]:
        a = np.load(os.path.join(out, f["file"]), mmap_mode="r+")
        a[4:] = 0
        a.flush()
        del a
    r = subprocess.run(cmd[:-2] + ["-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        fail("resume: " + r.stdout + r.stderr)
    if not os.path.exists(os.path.join(out, "index.json")):
        fail("resume: no index.json")
    for k, v in saved.items():
        if not np.array_equal(np.load(os.path.join(out, k)), v):
            fail(f"resume: {k} differs from the uninterrupted extraction")
    print("ok: an interrupted extraction resumed at image 4 and gave identical files")
    # other settings are refused, naming the folder
    os.remove(os.path.join(out, "index.json"))
    json.dump({"settings": dict(settings, seed=1), "done": 4}, open(os.path.join(out, "progress.json"), "w"))
    r = subprocess.run(cmd[:-2] + ["-o", out], capture_output=True, text=True)
    if r.returncode != 2 or "other settings" not in r.stdout + r.stderr:
        fail("resume with other settings was not refused: " + r.stdout + r.stderr)
    print("ok: an unfinished extraction with other settings is refused")


if __name__ == "__main__":
    main()
