#!/usr/bin/python3
"""Re-trace a shapes-architecture package's UNet with the current AnalyzableUNet (e.g. to add forward_concepts for
generate --concepts and forward_prediction), from the package's own weights: no training checkpoint needed. The text encoder and VAE
files are left as they are. Refuses to write unless the new forward() returns bit-identical outputs to the old one
on fixed inputs, so every run made with the package stays reproducible.

    /usr/bin/python3 scripts/shapes/retrace_unet.py --package models/shapes-v1
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "export"))
from check_export import eager_unet_from_package  # noqa: E402
from diffscope_export.package import _flatten, _write_json, write_hashes  # noqa: E402
from shapes_export import trace_unet  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    path = os.path.join(a.package, "unet", "model.pt")
    index = json.load(open(os.path.join(a.package, "model_index.json")))
    layers_old = json.load(open(os.path.join(a.package, "unet", "layers.json")))
    old = torch.jit.load(path)
    unet = eager_unet_from_package(old, layers_old["cross_attention"])
    lat = index["sample_size"] // index["vae_scale_factor"]
    new, layers = trace_unet(unet, lat)
    if layers != layers_old:
        sys.exit(f"{a.package}/unet/layers.json: the re-traced UNet describes its layers differently; not written")
    g = torch.Generator().manual_seed(7)
    lc, dim = unet.config["in_channels"], unet.config["context_dim"]
    for b in (1, 2, 3):
        inputs = (torch.randn(b, lc, lat, lat, generator=g), torch.rand(b, generator=g) * 999,
                  torch.randn(b, 77, dim, generator=g))
        with torch.no_grad():
            for x, y in zip(_flatten(old(*inputs)), _flatten(new(*inputs))):
                if not torch.equal(x, y):
                    sys.exit(f"{path}: the re-traced forward differs from the shipped one by "
                             f"{(x - y).abs().max().item():.3g} at batch {b}; not written")
    tmp = path + ".tmp"
    torch.jit.save(new, tmp)
    os.replace(tmp, path)
    _write_json(os.path.join(a.package, "unet", "layers.json"), layers)
    write_hashes(a.package)
    print(f"re-traced {path}: forward bit-identical to the previous export; forward_concepts and forward_prediction "
          "traced beside it")


if __name__ == "__main__":
    main()
