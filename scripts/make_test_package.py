#!/usr/bin/python3
"""Write a tiny random-weight diffscope package (32px images, 8x8 latents) deterministically, through the same
export code as the shipped model. The C++ tests run on it.

    /usr/bin/python3 scripts/make_test_package.py --out build/testdata/tiny-package [--seed 0] [--plain-unet]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_bpe import build_vocab, shapes_words  # noqa: E402
from shapes_export import export_shapes  # noqa: E402
from shapes_model import AutoencoderKL, TextEncoder, UNet  # noqa: E402


def build_tiny(seed=0):
    """The tiny random model (eager), deterministically from `seed`."""
    torch.manual_seed(seed)
    vocab, merges = build_vocab(shapes_words())
    vae = AutoencoderKL()
    vae.scaling_factor.fill_(0.5)
    text = TextEncoder(len(vocab), dim=32, layers=1, heads=2)
    unet = UNet(channels=(16, 16, 32), context_dim=32, heads=2, temb_dim=32)
    return vae, text, unet, vocab, merges


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plain-unet", action="store_true", help="UNet returns only the noise prediction")
    a = ap.parse_args()
    torch.set_num_threads(1)
    vae, text, unet, vocab, merges = build_tiny(a.seed)
    export_shapes(a.out, name="tiny-random" + ("-plain" if a.plain_unet else ""), vae=vae, text=text, unet=unet,
                  vocab=vocab, merges=merges, sample_size=32, plain_unet=a.plain_unet)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
