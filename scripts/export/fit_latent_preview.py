#!/usr/bin/python3
"""Fits (or refits) the latent-to-RGB preview of an existing package: vae/latent_rgb.json, and refreshes its
hashes.json. New exports write both themselves (scripts/export/diffscope_export/package.py).
Usage: /usr/bin/python3 scripts/export/fit_latent_preview.py --package models/shapes-v1 [--images 48] [--threads 2]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diffscope_export.package import write_hashes  # noqa: E402
from diffscope_export.preview import fit_latent_preview  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package", required=True)
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    p = a.package
    index = json.load(open(os.path.join(p, "model_index.json")))
    scaling = json.load(open(os.path.join(p, "vae", "config.json")))["scaling_factor"]
    enc_path = os.path.join(p, "vae", "encoder.pt")
    if not os.path.exists(enc_path):
        print(f"{enc_path}: missing; the preview is fitted on encoded images", file=sys.stderr)
        return 2
    prev = fit_latent_preview(torch.jit.load(enc_path), torch.jit.load(os.path.join(p, "vae", "decoder.pt")),
                              scaling_factor=scaling, sample_size=index["sample_size"],
                              vae_scale_factor=index["vae_scale_factor"], n=a.images)
    with open(os.path.join(p, "vae", "latent_rgb.json"), "w") as f:
        json.dump(prev, f, indent=2)
        f.write("\n")
    if os.path.exists(os.path.join(p, "hashes.json")):
        write_hashes(p)
    print(f"{p}/vae/latent_rgb.json: RMSE {prev['rmse_fit']:.4f} (fit), {prev['rmse_heldout']:.4f} (held out), "
          f"in [-1, 1] units")
    return 0


if __name__ == "__main__":
    sys.exit(main())
