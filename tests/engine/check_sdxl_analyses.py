#!/usr/bin/python3
"""The run-folder analyses on an SDXL run: `diffscope analyze` on the tiny SDXL package (every attn2 layer of its
down, mid and up blocks captured) with every analysis it runs by default, then requires the heatmaps, settle,
emergence, correlation and the other outputs to exist, summary.json's numbers to be finite, and the attention maps
to be finite probabilities.

Usage: check_sdxl_analyses.py DIFFSCOPE PACKAGE WORKDIR
"""
import json
import math
import os
import subprocess
import sys

import numpy as np


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def numbers(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from numbers(v, f"{path}.{k}" if path else k)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from numbers(v, f"{path}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield path, x
    elif x is None:
        yield path, float("nan")


def main():
    diffscope, package, work = sys.argv[1:4]
    out = os.path.join(work, "run")
    # word masks for auc (the random-weight model draws no shapes: the numbers are checked finite, not high)
    import cv2
    masks = os.path.join(work, "masks")
    os.makedirs(masks, exist_ok=True)
    left, right = np.zeros((64, 64), np.uint8), np.zeros((64, 64), np.uint8)
    cv2.circle(left, (16, 32), 12, 255, -1)
    right[20:44, 36:60] = 255
    for word, m in (("red", left), ("circle", left), ("blue", right), ("square", right)):
        cv2.imwrite(os.path.join(masks, word + ".png"), m)
    subprocess.run([diffscope, "analyze", "-m", package, "-p", "a red circle and a blue square", "--negative-prompt",
                    "black white", "--seed", "3", "--steps", "6", "--guidance", "5", "--threads", "1", "-q",
                    "--masks", masks, "--overwrite", "-o", out], check=True)
    meta = json.load(open(os.path.join(out, "run.json")))
    if meta["model"]["family"] != "sdxl":
        fail(f"run.json's model.family is {meta['model']['family']!r}")
    layers = meta["attention"]["layers"]
    if len(layers) != len(meta["model"]["attention_layers"]) or len(layers) != 28:
        fail(f"{len(layers)} layers captured, the package lists {len(meta['model']['attention_layers'])}")
    maps = np.load(os.path.join(out, "attention", "maps.npy"))
    if maps.shape[:2] != (6, 77) or not np.isfinite(maps).all() or maps.min() < 0:
        fail(f"attention/maps.npy is {maps.shape}, finite {np.isfinite(maps).all()}, min {maps.min()}")
    summary = json.load(open(os.path.join(out, "summary.json")))
    bad = [(k, v) for k, v in numbers(summary) if not math.isfinite(v)]
    if bad:
        fail(f"summary.json has numbers that are not finite: {bad[:8]}")
    keys = sorted(summary) if isinstance(summary, dict) else []
    for prefix in ("heatmaps", "settle", "emergence", "correlate", "auc"):
        if not any(k.startswith(prefix) for k in keys):
            fail(f"summary.json has no {prefix}.* key (keys: {keys[:20]})")
    files = []
    for dp, _, fs in os.walk(out):
        files += [os.path.relpath(os.path.join(dp, f), out) for f in fs]
    for want in ("heatmaps", "tables", "plots", "attention"):
        if not any(f.startswith(want) for f in files):
            fail(f"no {want} output in {out} ({sorted(files)[:30]})")
    for f in files:
        if f.endswith(".csv"):
            lines = open(os.path.join(out, f)).read().split("\n")
            scored = lines[0].split(",").index("scored") if "scored" in lines[0].split(",") else -1
            for row in lines[1:]:
                if not row or (scored >= 0 and row.split(",")[scored] == "no"):
                    continue  # a word without a mask has no score (nan), by design
                header = lines[0].split(",")
                for col, cell in enumerate(row.split(",")):
                    if col < len(header) and header[col] == "psnr" and cell == "inf":
                        continue  # the last step's x0 is the final image: identical, PSNR infinite by definition
                    if cell.strip().lower() in ("nan", "inf", "-inf"):
                        fail(f"{f}: a number that is not finite ({row})")
    print(f"OK: {len(files)} files, {len(list(numbers(summary)))} finite summary numbers, {len(layers)} layers")


if __name__ == "__main__":
    main()
