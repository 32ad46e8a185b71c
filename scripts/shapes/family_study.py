#!/usr/bin/python3
"""The README's two-family table: UNet cross-attention (shapes-v1) against MMDiT joint attention and ConceptAttention's
maps (shapes-mmdit-v1), on the same prompts and seeds, against exact masks.

The 20 prompts of tests/data/shapes_prompts.txt with their seeds, 25 steps, guidance 5 (shapes-v1: DDIM; shapes-mmdit-v1:
flow_euler), each run once per word class with --concepts set to that class's words (encoded after the prompt): a
class's words are mutually exclusive at a pixel, as the segmentation classes ConceptAttention is evaluated on, and its
maps are a softmax over the concepts given (the UNet's concept maps do not depend on the others given).
For every word of the prompt whose object is in the image, the scores diffscope's analyses computed against the
segmentation of the generated image: ROC-AUC and average precision (scikit-learn's definitions) and IoU of the
thresholded map (DAAM's), of the prompt token's own map (auc analysis) and of the concept map of the same word
(concepts analysis), with the word-blind blurred-foreground control. Per word class: mean [95% bootstrap interval]
(n maps); mIoU is the mean IoU.

    /usr/bin/python3 scripts/shapes/family_study.py [--out runs/family] [--threads 2]   (about 20 minutes on 2 cores)
    ... --families mmdit --layers 3 --out runs/family-l3   (one layer's maps: the per-layer numbers of the README)
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
from concepts_study import CLASSES, ci, prompts  # noqa: E402

MODELS = {"unet": ("shapes-v1", "ddim"), "mmdit": ("shapes-mmdit-v1", "flow_euler")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/family")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--diffscope", default=os.path.join(ROOT, "build", "diffscope"))
    ap.add_argument("--json", help="also write the table's numbers here")
    ap.add_argument("--mmdit-model", help="another shapes-mmdit package in place of models/shapes-mmdit-v1")
    ap.add_argument("--families", nargs="+", default=list(MODELS), choices=list(MODELS),
                    help="which models to run (default both)")
    ap.add_argument("--layers", help="generate --layers for every run (e.g. 3: one layer's maps, token and concept "
                                     "alike); default all layers")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    scores = {}  # (column, class, metric) -> values
    models = dict(MODELS)
    if a.mmdit_model:
        models["mmdit"] = (os.path.abspath(a.mmdit_model), "flow_euler")
    for family, (model, scheduler) in models.items():
        if family not in a.families:
            continue
        for i, (seed, p) in enumerate(prompts()):
            words = set(p.split())
            for cls, ws in CLASSES.items():
                run = os.path.join(a.out, f"{family}_{i:02d}_{cls}")
                if not os.path.exists(os.path.join(run, "summary.json")):
                    subprocess.run([a.diffscope, "analyze", "-m", os.path.join(ROOT, "models", model), "-p", p,
                                    "--seed", str(seed), "--steps", "25", "--guidance", "5", "--scheduler", scheduler,
                                    "--x0-every", "0", "--concepts", ",".join(ws), "--analyses", "auc,concepts",
                                    "--threads", str(a.threads), "-q", "--overwrite", "-o", run] +
                                   (["--layers", a.layers] if a.layers else []), check=True)
                s = json.load(open(os.path.join(run, "summary.json")))
                for w in ws:
                    if w not in words:
                        continue
                    for column, prefix in ((f"{family} token", "auc"), (f"{family} concept", "concepts")):
                        for metric in ("roc_auc", "ap", "iou", "baseline_foreground"):
                            v = s.get(f"{prefix}.word.{w}.{metric}")
                            if v is not None:
                                scores.setdefault((column, cls, metric), []).append(v)
    rng = np.random.default_rng(0)

    def fmt(column, cls, metric):
        v = scores.get((column, cls, metric))
        return "-" if not v else "{:.3f} [{:.3f}, {:.3f}] (n={})".format(*ci(v, rng), len(v))

    columns = [("unet token", "UNet cross-attention (shapes-v1)"),
               ("mmdit token", "MMDiT joint attention (shapes-mmdit-v1)"),
               ("mmdit concept", "MMDiT ConceptAttention (output space, per class)"),
               ("unet concept", "UNet concept keys (shapes-v1)")]
    for metric, title in (("roc_auc", "ROC-AUC"), ("ap", "average precision"), ("iou", "mIoU")):
        print(f"\n{title}\n")
        print("| word class | " + " | ".join(t for _, t in columns) + " | blurred-foreground control (MMDiT runs) |")
        print("|---|" + "---|" * (len(columns) + 1))
        for cls in CLASSES:
            print(f"| {cls} | " + " | ".join(fmt(c, cls, metric) for c, _ in columns) +
                  f" | {fmt('mmdit token', cls, 'baseline_foreground') if metric == 'roc_auc' else '-'} |")
    if a.json:
        json.dump({f"{c}|{cls}|{m}": v for (c, cls, m), v in scores.items()}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
