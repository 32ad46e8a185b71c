#!/usr/bin/python3
"""Loss curves of a shapes-v1 training run (losses_vae.csv, losses_unet.csv) or a shapes-mmdit run
(losses_mmdit.csv) as one PNG for the model card.

    /usr/bin/python3 scripts/shapes/plot_training.py --work scripts/.cache/train --out models/shapes-v1/loss_curves.png
    /usr/bin/python3 scripts/shapes/plot_training.py --work scripts/.cache/train-mmdit --denoiser mmdit \
        --out models/shapes-mmdit-v1/loss_curves.png
"""
import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def smooth(y, k=9):
    if len(y) < k:
        return y
    return np.convolve(np.pad(y, (k // 2, k // 2), mode="edge"), np.ones(k) / k, mode="valid")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="scripts/.cache/train")
    ap.add_argument("--out", default="models/shapes-v1/loss_curves.png")
    ap.add_argument("--denoiser", choices=["unet", "mmdit"], default="unet")
    a = ap.parse_args()
    unet = read(os.path.join(a.work, f"losses_{a.denoiser}.csv"))
    vae_csv = os.path.join(a.work, "losses_vae.csv")
    if os.path.exists(vae_csv):  # absent when the run took its VAE from a package (--vae-from)
        vae = read(vae_csv)
        fig, (l, r) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
        l.plot(vae["step"], vae["psnr_db"], alpha=0.3, color="C0")
        l.plot(vae["step"], smooth(vae["psnr_db"]), color="C0")
        l.set(title="VAE reconstruction (training batches)", xlabel="step (batch 32)", ylabel="PSNR (dB)")
        l.grid(alpha=0.3)
    else:
        fig, r = plt.subplots(1, 1, figsize=(5.5, 3.6), dpi=100)
    r.plot(unet["step"], unet["loss"], alpha=0.3, color="C1")
    r.plot(unet["step"], smooth(unet["loss"]), color="C1")
    title = "UNet + text encoder (epsilon MSE)" if a.denoiser == "unet" else "MMDiT (flow-matching velocity MSE)"
    r.set(title=title, xlabel="step (batch 48)", ylabel="loss", yscale="log")
    r.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
