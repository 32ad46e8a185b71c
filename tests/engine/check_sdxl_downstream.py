#!/usr/bin/python3
"""Everything downstream of a run on an SDXL package (issue 37, item 3), on the tiny SDXL package:
saliency (DF-RISE, DF-CAM, attention against the random order), relevance, compare (two prompts), batch (a two-run
manifest), attribute (a real image), features on the UNet's blocks, probe and a k-sparse autoencoder (train and
inspect) on them, and `report` over each of those folders.

The random-weight model draws nothing recognisable, so the numbers are checked for what they must be whatever the
weights (AUCs and accuracies in [0, 1], every value finite, one row per word, one feature row per image, the
folders' run.json saying family sdxl), and the report pages for naming the SDXL denoiser and its two encoders in the
pipeline overview.

Usage: check_sdxl_downstream.py DIFFSCOPE PACKAGE WORKDIR
"""
import csv
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np

PROMPT = "a red circle and a blue square"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{' '.join(args[1:3])} exited {r.returncode}: {r.stderr.strip()[-400:]}")


def rows(path):
    if not os.path.exists(path):
        fail(f"{path} was not written")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def number(cell, where):
    try:
        v = float(cell)
    except ValueError:
        fail(f"{where}: {cell!r} is not a number")
    if not math.isfinite(v):
        fail(f"{where}: {cell} is not finite")
    return v


def unit(cell, where):
    v = number(cell, where)
    if not 0.0 <= v <= 1.0:
        fail(f"{where}: {v} is outside [0, 1]")
    return v


def finite_summary(path):
    s = json.load(open(path))
    for k, v in s.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(v):
            fail(f"{path}: {k} = {v}")
    return s


def sdxl_run(folder):
    meta = json.load(open(os.path.join(folder, "run.json")))
    if meta["model"]["family"] != "sdxl":
        fail(f"{folder}/run.json: model.family {meta['model']['family']!r}")
    return meta


def report(diffscope, folder, out, work):
    html = os.path.join(work, out)
    run(diffscope, "report", folder, "-o", html, "--overwrite", "-q")
    text = open(html, encoding="utf-8").read()
    if "http://" in text.replace("http://www.w3.org", "") or "https://" in text:
        fail(f"{html} refers to the network")
    return text


def main():
    diffscope, package, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    common = ["--threads", "1", "-q"]
    ds = diffscope

    # one run, then saliency of its middle step and relevance over its steps
    r = os.path.join(work, "run")
    run(ds, "generate", "-m", package, "-p", PROMPT, "--seed", "3", "--steps", "6", "-g", "5", "-o", r, *common)
    meta = sdxl_run(r)
    if meta["model"].get("denoiser", "").find("SDXL") < 0:
        fail(f"run.json's model.denoiser is {meta['model'].get('denoiser')!r}")
    run(ds, "saliency", "-r", r, "--step", "3", "--samples", "24", "--k", "8", *common)
    auc = rows(os.path.join(r, "saliency", "step_003", "auc.csv"))
    methods = sorted(a["method"] for a in auc)
    if methods != ["attention", "df-cam", "df-rise", "random"]:
        fail(f"saliency auc.csv has methods {methods}")
    for a in auc:
        unit(a["deletion_auc"], f"saliency {a['method']} deletion_auc")
        unit(a["insertion_auc"], f"saliency {a['method']} insertion_auc")
    run(ds, "relevance", "-r", r, *common)
    rel = rows(os.path.join(r, "tables", "relevance.csv"))
    if not rel:
        fail("tables/relevance.csv has no rows")
    words = list(dict.fromkeys(row["word"] for row in rel))
    if words != ["a", "red", "circle", "and", "a#2", "blue", "square"]:
        fail(f"relevance.csv's words are {words} (the repeated 'a' must be a#2)")
    if len(rel) != 6 * len(words):
        fail(f"relevance.csv has {len(rel)} rows for 6 steps x {len(words)} words")
    for i, row in enumerate(rel):
        number(row["relevance"], f"relevance.csv row {i}")
    summary = finite_summary(os.path.join(r, "summary.json"))
    if not any(k.startswith("saliency.step_003.") for k in summary):
        fail("summary.json has no saliency keys")
    page = report(ds, r, "run.html", work)
    for want in ("SDXL UNet", "two CLIP text encoders", "saliency/step_003"):
        if want not in page:
            fail(f"the run's report does not show {want!r}")

    # compare two prompts from one seed
    c = os.path.join(work, "compare")
    run(ds, "compare", "-m", package, "-p", "a red circle", "-p", "a blue square", "--steps", "4", "-g", "5", "-o", c,
        *common)
    for sub in sorted(os.listdir(os.path.join(c, "runs"))):
        sdxl_run(os.path.join(c, "runs", sub))
    finite_summary(os.path.join(c, "summary.json"))
    if "SDXL" not in report(ds, c, "compare.html", work):
        fail("the compare report does not name the SDXL denoiser")

    # a batch of two runs
    manifest = os.path.join(work, "manifest.jsonl")
    with open(manifest, "w") as f:
        f.write(json.dumps({"id": "r1", "prompt": "a red circle", "seed": 1, "steps": 3, "guidance": 5}) + "\n")
        f.write(json.dumps({"id": "r2", "prompt": "a blue square", "seed": 2, "steps": 3, "guidance": 5}) + "\n")
    b = os.path.join(work, "batch")
    run(ds, "batch", "-m", package, manifest, "-o", b, *common)
    for rid in ("r1", "r2"):
        m = sdxl_run(os.path.join(b, rid))
        if m["inputs"]["seed"] != int(rid[1]):
            fail(f"batch run {rid} has seed {m['inputs']['seed']}")
    report(ds, b, "batch.html", work)

    # attribute: a real image through the UNet at two timesteps
    import cv2
    dataset = os.path.join(work, "images")
    rng = np.random.default_rng(0)
    for cls, colour in (("red", (0, 0, 255)), ("blue", (255, 0, 0))):
        os.makedirs(os.path.join(dataset, cls))
        for i in range(12):
            im = np.full((64, 64, 3), 255, np.uint8)
            centre = tuple(int(v) for v in rng.integers(16, 48, 2))
            cv2.circle(im, centre, int(rng.integers(8, 14)), colour, -1)
            cv2.imwrite(os.path.join(dataset, cls, f"{i:02d}.png"), im)
    a = os.path.join(work, "attribute")
    run(ds, "attribute", "-m", package, "-i", os.path.join(dataset, "red", "00.png"), "-p", "a red circle", "--t",
        "100,300", "-o", a, *common)
    finite_summary(os.path.join(a, "summary.json"))

    # Revelio on the SDXL UNet's blocks: features, probe, k-SAE
    feat = os.path.join(work, "features")
    run(ds, "features", "-m", package, "--dataset", dataset, "--t", "25,200", "--batch", "8", "-o", feat, *common)
    blocks = sorted(f[:-4] for f in os.listdir(os.path.join(feat, "features"))
                    if f.endswith(".npy") and f not in ("latent.npy", "pixels.npy"))
    if "mid_block_t25" not in blocks or not any(x.startswith("up_blocks.") for x in blocks):
        fail(f"features wrote {blocks}")
    for name in blocks:
        x = np.load(os.path.join(feat, "features", name + ".npy"))
        if x.shape[0] != 24 or not np.isfinite(x).all():
            fail(f"features/{name}.npy is {x.shape}, finite {np.isfinite(x).all()} (24 images)")
    run(ds, "probe", "--features", feat, "--bootstrap", "50", *common)
    probe = rows(os.path.join(feat, "probe", "tables", "probe.csv"))
    if len(probe) < len(blocks):
        fail(f"probe.csv has {len(probe)} rows for {len(blocks)} layer x timestep files")
    for p in probe:
        where = f"probe {p['layer']} t{p['t']}"
        unit(p["test_accuracy"], where)
        lo, hi = unit(p["test_accuracy_ci_lo"], where + " ci_lo"), unit(p["test_accuracy_ci_hi"], where + " ci_hi")
        if lo > hi:
            fail(f"{where}: bootstrap interval [{lo}, {hi}] is reversed")
    if "probe" not in report(ds, os.path.join(feat, "probe"), "probe.html", work).lower():
        fail("the probe report does not show the probe")
    sae = os.path.join(feat, "sae", "mid")
    run(ds, "sae", "train", "--features", feat, "--layer", "mid_block", "--t", "25", "--expansion", "2", "--k", "4",
        "--epochs", "3", "--batch", "8", "-o", sae, *common)
    s = finite_summary(os.path.join(sae, "summary.json"))
    run(ds, "sae", "inspect", "--sae", sae, "--top", "3", "--sheets", "2", "--min-images", "2", *common)
    sheets = os.path.join(sae, "inspect", "plots", "latents")
    if not os.path.isdir(sheets) or not any(f.endswith(".png") for f in os.listdir(sheets)):
        fail(f"sae inspect wrote no contact sheet under {sheets}")
    report(ds, sae, "sae.html", work)
    print(f"OK: saliency {len(auc)} methods, relevance {len(rel)} rows of {len(words)} words, compare, batch, "
          f"attribute, features {len(blocks)} files of 24 images, probe {len(probe)} rows with intervals, "
          f"SAE {len(s)} summary keys, 5 reports")


if __name__ == "__main__":
    main()
