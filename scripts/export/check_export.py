#!/usr/bin/python3
"""Check an exported package against the eager model it came from: the traced UNet's noise prediction and every
cross-attention map must equal the eager model's (attention recomputed independently as softmax(q k^T * scale)
from each attn2 module's own projections), and the package must honour the contract (files, layers.json, maps whose
rows sum to 1). Exit 0 when all holds, 1 with one line per problem.

    /usr/bin/python3 scripts/export/check_export.py --package build/testdata/tiny-package --tiny-seed 0
    /usr/bin/python3 scripts/export/check_export.py --package models/shapes-v1 --eager-from-package

--tiny-seed rebuilds the eager model from make_test_package.py's seed (weights and computation checked);
--eager-from-package rebuilds an eager shapes-architecture UNet from the traced module's own weights (the computation
checked: capture, tracing, map order), which works for the shipped model without its training checkpoints.
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "shapes"))  # shapes_model, clip_bpe
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))  # make_test_package


def eager_attention(unet, sample, t, ctx):
    """Runs the eager UNet with its own processors and recomputes each attn2's probabilities from its inputs."""
    maps = []

    class Recording:
        """Wraps the module's own processor: records softmax(q k^T * scale) from its inputs, then defers to it."""

        def __init__(self, inner):
            self.inner = inner

        def __call__(self, attn, hidden_states, encoder_hidden_states=None, *args, **kwargs):
            q = attn.head_to_batch_dim(attn.to_q(hidden_states))
            k = attn.head_to_batch_dim(attn.to_k(encoder_hidden_states))
            p = (torch.matmul(q, k.transpose(-1, -2)) * attn.scale).softmax(-1)
            maps.append(p.reshape(hidden_states.shape[0], attn.heads, p.shape[1], p.shape[2]))
            return self.inner(attn, hidden_states, encoder_hidden_states, *args, **kwargs)

    mods = [m for n, m in unet.named_modules() if n.endswith("attn2")]
    originals = [m.processor for m in mods]
    for m in mods:
        m.processor = Recording(m.processor)
    with torch.no_grad():
        noise = unet(sample, t, ctx)
    for m, o in zip(mods, originals):
        m.processor = o
    return noise, maps


def eager_unet_from_package(traced, layers):
    """An eager shapes_model.UNet holding the traced AnalyzableUNet's weights (config read off the weight shapes)."""
    from shapes_model import UNet
    sd = {k[len("unet."):]: v for k, v in traced.state_dict().items() if k.startswith("unet.")}
    channels = tuple(sd[f"down_blocks.{i}.resnets.0.conv1.weight"].shape[0] for i in range(3))
    unet = UNet(in_channels=sd["conv_in.weight"].shape[1], channels=channels,
                context_dim=sd["down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"].shape[1],
                heads=layers[0]["heads"], temb_dim=sd["time_embedding.linear_2.weight"].shape[0])
    unet.load_state_dict(sd, strict=True)
    return unet


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package", required=True)
    ap.add_argument("--tiny-seed", type=int, help="the package is make_test_package.py's with this seed")
    ap.add_argument("--eager-from-package", action="store_true",
                    help="compare with an eager shapes-architecture UNet built from the package's own weights")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    problems = []
    pkg = a.package
    for f in ("model_index.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/model.pt",
              "unet/model.pt", "unet/layers.json", "vae/decoder.pt", "vae/encoder.pt", "vae/config.json",
              "scheduler/scheduler_config.json"):
        if not os.path.exists(os.path.join(pkg, f)):
            problems.append(f"{f}: missing")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    index = json.load(open(os.path.join(pkg, "model_index.json")))
    layers = json.load(open(os.path.join(pkg, "unet/layers.json")))["cross_attention"]
    traced = torch.jit.load(os.path.join(pkg, "unet/model.pt"))
    lat = index["sample_size"] // index["vae_scale_factor"]
    torch.manual_seed(1)
    sample = torch.randn(2, index["latent_channels"], lat, lat)
    t = torch.tensor([999.0, 10.0])
    text = torch.jit.load(os.path.join(pkg, "text_encoder/model.pt"))
    from clip_bpe import ClipBPE
    tok = ClipBPE.from_files(os.path.join(pkg, "tokenizer/vocab.json"), os.path.join(pkg, "tokenizer/merges.txt"))
    # one real prompt (its attention is peaked, as in use) and one random id sequence
    ids = torch.tensor([tok.context("a red circle and a blue square"),
                        torch.randint(0, len(tok.encoder), (index["max_length"],)).tolist()])
    with torch.no_grad():
        ctx = text(ids)
    with torch.no_grad():
        noise_t, maps_t, feats_t = traced(sample, t, ctx)
    if len(maps_t) != len(layers):
        problems.append(f"unet/layers.json lists {len(layers)} layers, the UNet returns {len(maps_t)} maps")
    for i, (m, l) in enumerate(zip(maps_t, layers)):
        if tuple(m.shape) != (2, l["heads"], l["height"] * l["width"], index["max_length"]):
            problems.append(f"map {i} ({l['name']}) has shape {tuple(m.shape)}, layers.json says heads {l['heads']} "
                            f"and {l['height']}x{l['width']}")
        err = (m.sum(-1) - 1).abs().max().item()
        if err > 1e-5:
            problems.append(f"map {i} ({l['name']}): rows sum to 1 within {err:.2g} only")
    if a.tiny_seed is not None or a.eager_from_package:
        if a.tiny_seed is not None:
            from make_test_package import build_tiny
            _, _, unet, _, _ = build_tiny(a.tiny_seed)
        else:
            unet = eager_unet_from_package(traced, layers)
        unet.eval()
        noise_e, maps_e = eager_attention(unet, sample, t, ctx)
        d = (noise_e - noise_t).abs().max().item()
        if d > 1e-4:
            problems.append(f"noise prediction differs from the eager model by {d:.3g}")
        if len(maps_e) != len(maps_t):
            problems.append(f"eager model has {len(maps_e)} attn2 layers, the export {len(maps_t)}")
        for i, (me, mt) in enumerate(zip(maps_e, maps_t)):
            d = (me - mt).abs().max().item()
            if d > 1e-5:
                problems.append(f"attention map {i} ({layers[i]['name']}) differs from the eager model's by {d:.3g}")
        print(f"compared {len(maps_t)} attention maps and the noise prediction with the eager model")
    for p in problems:
        print("PROBLEM:", p)
    if not problems:
        print(f"{pkg}: contract holds")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
