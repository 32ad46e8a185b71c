#!/usr/bin/python3
"""Export the trained shapes-mmdit checkpoint (EMA weights) into models/shapes-mmdit-v1 (a format_version 2 package),
with shapes-v1's tokenizer, text encoder (plus its pooled row) and VAE, which the training kept frozen.

    /usr/bin/python3 scripts/shapes/export_shapes_mmdit.py --work scripts/.cache/train-mmdit --out models/shapes-mmdit-v1

--weights-from PACKAGE re-exports an existing shapes-mmdit package with the current export code (its transformer's
weights read back from transformer/model.pt, the VAE from --package), e.g. after a change to the capture processors.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_bpe import build_vocab, shapes_words  # noqa: E402
from shapes_concepts import CONCEPTS  # noqa: E402
from shapes_export import export_shapes_mmdit  # noqa: E402
from shapes_mmdit import SD3Transformer  # noqa: E402
from shapes_model import AutoencoderKL  # noqa: E402
from train_shapes_mmdit import MMDIT_CONFIG, text_encoder_from_package  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache",
                                                   "train-mmdit"))
    ap.add_argument("--package", default="models/shapes-v1", help="where the text encoder came from")
    ap.add_argument("--out", default="models/shapes-mmdit-v1")
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--weights-from", help="take the transformer's weights from this package instead of --work")
    a = ap.parse_args()
    torch.set_num_threads(2)
    vocab, merges = build_vocab(shapes_words())
    vae = AutoencoderKL()
    transformer = SD3Transformer(**MMDIT_CONFIG)
    if a.weights_from:
        sd = torch.jit.load(os.path.join(a.weights_from, "transformer", "model.pt")).state_dict()
        transformer.load_state_dict({k[len("transformer."):]: v for k, v in sd.items() if k.startswith("transformer.")})
        enc = torch.jit.load(os.path.join(a.weights_from, "vae/encoder.pt")).state_dict()
        vsd = {"encoder." + k[len("enc."):]: v for k, v in enc.items() if k.startswith("enc.")}
        vsd.update({"decoder." + k: v for k, v in torch.jit.load(os.path.join(a.weights_from, "vae/decoder.pt"))
                    .state_dict().items()})
        vsd["scaling_factor"] = torch.tensor(json.load(open(os.path.join(a.weights_from, "vae/config.json")))
                                             ["scaling_factor"])
        vae.load_state_dict(vsd)
        steps = "as " + a.weights_from
    else:
        vae.load_state_dict(torch.load(os.path.join(a.work, "vae.pt"))["model"])
        ck = torch.load(os.path.join(a.work, "mmdit.pt"))
        transformer.load_state_dict(ck["ema"])
        steps = f"{ck['state']['step']} steps"
    text = text_encoder_from_package(a.package, len(vocab))
    export_shapes_mmdit(a.out, name="shapes-mmdit-v1", vae=vae, text=text, transformer=transformer, vocab=vocab,
                        merges=merges, sample_size=64, max_length=a.max_length,
                        extra_files={"concepts.json": CONCEPTS})
    print(f"wrote {a.out} (MMDiT trained {steps})")


if __name__ == "__main__":
    main()
