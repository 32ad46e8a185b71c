#!/usr/bin/python3
"""Export the trained shapes-v1 checkpoints (EMA weights) into models/shapes-v1 (the diffscope package).

    /usr/bin/python3 scripts/shapes/export_shapes_model.py --work scripts/.cache/train --out models/shapes-v1
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_bpe import build_vocab, shapes_words  # noqa: E402
from shapes_concepts import CONCEPTS  # noqa: E402
from shapes_export import export_shapes  # noqa: E402
from shapes_model import AutoencoderKL, TextEncoder, UNet  # noqa: E402
from train_shapes_model import TEXT_DIM, TEXT_LAYERS, UNET_CHANNELS  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "train"))
    ap.add_argument("--out", default="models/shapes-v1")
    a = ap.parse_args()
    torch.set_num_threads(2)
    vocab, merges = build_vocab(shapes_words())
    vae = AutoencoderKL()
    vae.load_state_dict(torch.load(os.path.join(a.work, "vae.pt"))["model"])
    ck = torch.load(os.path.join(a.work, "unet.pt"))
    unet = UNet(channels=UNET_CHANNELS, context_dim=TEXT_DIM)
    text = TextEncoder(len(vocab), dim=TEXT_DIM, layers=TEXT_LAYERS)
    unet.load_state_dict(ck["ema_unet"])
    text.load_state_dict(ck["ema_text"])
    export_shapes(a.out, name="shapes-v1", vae=vae, text=text, unet=unet, vocab=vocab, merges=merges, sample_size=64,
                  extra_files={"concepts.json": CONCEPTS})
    print(f"wrote {a.out} (UNet trained {ck['state']['step']} steps)")


if __name__ == "__main__":
    main()
