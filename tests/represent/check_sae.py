#!/usr/bin/python3
"""Recomputes `diffscope sae train` and `diffscope sae inspect` with numpy/PyTorch from the files they wrote.

Usage: check_sae.py DIFFSCOPE PACKAGE PYTHON_SHAPES_SCRIPT WORKDIR
Writes a 48-image shapes dataset, extracts spatial features of one block (t = 25, 2x2 tokens), trains a small SAE on
them and inspects it. Then, from the written weights and the feature file alone:
- train/test normalised MSE, explained variance, dead fraction and per-latent firing counts (latents.csv) must match
  summary.json to 1e-4;
- W_dec's rows are unit-norm; loss.csv holds one row per step with the warm-up learning rates;
- per latent, the top images (largest activation over an image's tokens), their label purity and entropy
  (inspect/tables/latents.csv), and the random-direction control's mean purity (torch.randn on a generator seeded
  --seed) must match inspect/summary.json;
- a second train into the same folder without --overwrite exits 2 with one line; --t 999 exits 2 naming it;
- `diffscope probe` on the same folder: every linear row of probe.csv is within one test image of scikit-learn's
  StandardScaler + LogisticRegression(C=1) on the same file and split, chance is the majority class's test share, the
  convolutional head has a row per spatial file and label, and summary.json's best keys are the table's maxima;
- `features --split FILE` keeps exactly the listed images with their listed splits; a bad split word or an image the
  dataset lacks exits 2 naming the file.
Exit 0 when all holds.
"""
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections import Counter

import numpy as np
import torch


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def close(a, b, what, tol=1e-4):
    if not (abs(a - b) <= tol * max(1.0, abs(b))):
        fail(f"{what}: diffscope {a}, recomputed {b}")


def encode(x, w_enc, b_enc, b_dec, k):
    pre = (x - b_dec) @ w_enc + b_enc
    idx = np.argsort(-pre, axis=1, kind="stable")[:, :k]
    z = np.zeros_like(pre)
    rows = np.arange(x.shape[0])[:, None]
    z[rows, idx] = np.maximum(pre[rows, idx], 0)
    return z


def purity(values):
    vals = [v for v in values if v != ""]
    if not vals or 2 * len(vals) < len(values):
        return math.nan, math.nan, ""
    c = Counter(vals)
    dom, best = max(sorted(c.items()), key=lambda kv: kv[1])
    ent = -sum(n / len(vals) * math.log2(n / len(vals)) for n in c.values())
    return best / len(vals), ent, dom


def check_probe(ds, feat, labels):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    subprocess.run([ds, "probe", "--features", feat, "--conv-epochs", "3", "--threads", "1", "-q"], check=True)
    rows = list(csv.DictReader(open(os.path.join(feat, "probe", "tables", "probe.csv"))))
    summ = json.load(open(os.path.join(feat, "probe", "summary.json")))
    index = json.load(open(os.path.join(feat, "index.json")))
    spatial = [f for f in index["files"] if f.get("pooling", "").startswith("adaptive_avg_")]
    n_linear = n_conv = 0
    for r in rows:
        lab = r["label"]
        keep = [i for i, l in enumerate(labels) if l[lab] != ""]
        classes = sorted({labels[i][lab] for i in keep})
        tr = [i for i in keep if labels[i]["split"] != "test"]
        te = [i for i in keep if labels[i]["split"] == "test"]
        y = {i: classes.index(labels[i][lab]) for i in keep}
        counts = Counter(y[i] for i in te)
        close(float(r["chance"]), max(counts.values()) / len(te), f"{r['features']} {lab} chance")
        # the 95% bootstrap interval: 1000 resamples (the default), holding the accuracy, within 0..1
        lo, hi, acc_r = float(r["test_accuracy_ci_lo"]), float(r["test_accuracy_ci_hi"]), float(r["test_accuracy"])
        if r["bootstrap_resamples"] != "1000" or not (0 <= lo <= acc_r <= hi <= 1) or float(r["test_accuracy_se"]) < 0:
            fail(f"probe {r['features']} {lab}: interval [{lo}, {hi}] for {acc_r} ({r['bootstrap_resamples']} resamples)")
        if r["head"] == "conv":
            n_conv += 1
            continue
        n_linear += 1
        x = np.load(os.path.join(feat, "features", r["features"] + ".npy")).reshape(len(labels), -1).astype(np.float64)
        sc = StandardScaler().fit(x[tr])
        clf = LogisticRegression(C=1.0, max_iter=5000, tol=1e-10).fit(sc.transform(x[tr]), [y[i] for i in tr])
        acc = clf.score(sc.transform(x[te]), [y[i] for i in te])
        if abs(float(r["test_accuracy"]) - acc) > 1.0 / len(te) + 1e-9:
            fail(f"probe {r['features']} {lab}: diffscope {r['test_accuracy']}, scikit-learn {acc} ({len(te)} test images)")
    probed = {r["label"] for r in rows}
    # each label's accuracy figure (PNG + PDF + SVG) names the baselines with probe.csv's values and intervals
    for lab in probed:
        stem = os.path.join(feat, "probe", "plots", f"accuracy_{lab}")
        for ext in (".png", ".pdf", ".svg"):
            if not os.path.isfile(stem + ext):
                fail(f"probe: {stem}{ext} missing")
        texts = re.findall(r">([^<]*)</text>", open(stem + ".svg").read())
        for r in rows:
            if r["label"] == lab and r["head"] == "linear" and r["layer"] in ("pixels", "latent"):
                want = (f"{r['layer']} {float(r['test_accuracy']):.2f} [{float(r['test_accuracy_ci_lo']):.2f}, "
                        f"{float(r['test_accuracy_ci_hi']):.2f}]")
                if want not in texts:
                    fail(f"probe: accuracy_{lab}.svg lacks {want!r} (has {texts})")
        chance = next(float(r["chance"]) for r in rows if r["label"] == lab)
        if f"chance {chance:.2f}" not in texts:
            fail(f"probe: accuracy_{lab}.svg lacks the chance line's label")
    if n_conv != len(spatial) * len(probed):
        fail(f"{n_conv} conv rows, expected {len(spatial)} spatial files x {len(probed)} labels")
    for lab in probed:
        for head, key in (("linear", f"probe.{lab}.best"), ("conv", f"probe.{lab}.conv.best")):
            accs = [float(r["test_accuracy"]) for r in rows if r["label"] == lab and r["head"] == head and r["t"] != ""]
            close(summ[key], max(accs), key)
    return n_linear


def check_split_file(ds, pkg, data, work):
    items = json.load(open(os.path.join(data, "index.json")))["items"]
    chosen = {it["image"]: ("test" if i % 3 == 0 else "train") for i, it in enumerate(items[:20])}
    split = os.path.join(work, "split.txt")
    with open(split, "w") as f:
        f.write("# image split\n")
        for image, which in chosen.items():
            f.write(f"{image}\t{which}\n")
    out = os.path.join(work, "feat-split")
    base = [ds, "features", "-m", pkg, "--dataset", data, "--t", "25", "--layers", "mid_block", "--threads", "1", "-q"]
    subprocess.run(base + ["--split", split, "-o", out], check=True)
    got = {os.path.relpath(r["image"], data): r["split"] for r in csv.DictReader(open(os.path.join(out, "labels.csv")))}
    if got != chosen:
        fail(f"--split: labels.csv holds {got}, expected {chosen}")
    for text, want in (("images/000000.png maybe\n", "split 'maybe'"), ("images/nope.png test\n", "images/nope.png")):
        with open(split, "w") as f:
            f.write(text)
        p = subprocess.run(base + ["--split", split, "--overwrite", "-o", out], capture_output=True, text=True)
        if p.returncode != 2 or want not in p.stderr or "split.txt" not in p.stderr:
            fail(f"--split with {text.strip()!r}: exit {p.returncode}, stderr {p.stderr!r}")


def main():
    ds, pkg, shapes, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.path.join(work, "data")
    subprocess.run([sys.executable, shapes, "--out", data, "--count", "48", "--split", "all", "--seed", "4"], check=True,
                   stdout=subprocess.DEVNULL)
    feat = os.path.join(work, "feat")
    layer = "mid_block"
    subprocess.run([ds, "features", "-m", pkg, "--dataset", data, "--t", "25", "--layers", layer, "--spatial", "2",
                    "--threads", "1", "-q", "-o", feat], check=True)
    sae = os.path.join(work, "sae")
    k, expansion, batch, epochs, warmup, lr = 4, 2, 32, 3, 4, 2e-3
    train_cmd = [ds, "sae", "train", "--features", feat, "--spatial", "--expansion", str(expansion), "--k", str(k),
                 "--batch", str(batch), "--epochs", str(epochs), "--warmup", str(warmup), "--lr", str(lr),
                 "--seed", "3", "--threads", "1", "-q", "-o", sae]
    subprocess.run(train_cmd, check=True)
    subprocess.run([ds, "sae", "inspect", "--sae", sae, "--top", "5", "--min-images", "5", "--sheets", "3",
                    "--seed", "2", "--threads", "1", "-q"], check=True)

    cfg = json.load(open(os.path.join(sae, "config.json")))
    summ = json.load(open(os.path.join(sae, "summary.json")))
    w = {n: np.load(os.path.join(sae, "weights", n + ".npy")).astype(np.float64) for n in ("W_enc", "b_enc", "W_dec", "b_dec")}
    f = np.load(os.path.join(feat, cfg["file"]))  # [N, C, S, S]
    n_img, c = f.shape[0], f.shape[1]
    tokens = f.reshape(n_img, c, -1).transpose(0, 2, 1).astype(np.float64)  # [N, P, C]
    pos = tokens.shape[1]
    labels = list(csv.DictReader(open(os.path.join(feat, "labels.csv"))))
    test = np.array([r["split"] == "test" for r in labels])
    if w["W_enc"].shape != (c, c * expansion):
        fail(f"W_enc shape {w['W_enc'].shape}")
    norms = np.linalg.norm(w["W_dec"], axis=1)
    if np.abs(norms - 1).max() > 1e-5:
        fail(f"W_dec rows are not unit-norm (largest deviation {np.abs(norms - 1).max()})")

    fires_total = np.zeros(c * expansion)
    for name, mask in (("train", ~test), ("test", test)):
        x = tokens[mask].reshape(-1, c)
        z = encode(x, w["W_enc"], w["b_enc"], w["b_dec"], k)
        xh = z @ w["W_dec"] + w["b_dec"]
        nmse = ((xh - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
        close(summ[f"sae.{name}.nmse"], nmse, f"{name} nmse")
        close(summ[f"sae.{name}.explained_variance"], 1 - nmse, f"{name} explained variance")
        fires = (z > 0).sum(0)
        fires_total += fires
        lat = list(csv.DictReader(open(os.path.join(sae, "tables", "latents.csv"))))
        got = np.array([int(r["fires_" + name]) for r in lat])
        if np.abs(got - fires).sum() > 2:
            fail(f"{name} firing counts differ by {np.abs(got - fires).sum()}")
    close(summ["sae.dead_fraction"], float((fires_total == 0).mean()), "dead fraction")

    loss = list(csv.DictReader(open(os.path.join(sae, "tables", "loss.csv"))))
    n_train = int((~test).sum()) * pos
    steps = epochs * math.ceil(n_train / batch)
    if len(loss) != steps or summ["sae.steps"] != steps:
        fail(f"loss.csv has {len(loss)} rows, summary {summ['sae.steps']} steps, expected {steps}")
    for r in loss[:warmup + 1]:
        close(float(r["lr"]), lr * min(1.0, (int(r["step"]) + 1) / warmup), f"lr at step {r['step']}")
    if not float(loss[-1]["loss"]) < float(loss[0]["loss"]):
        fail("the loss did not fall")

    # inspect: per-image activation = max over tokens; top 5 images per latent; purity per label
    ins = os.path.join(sae, "inspect")
    isum = json.load(open(os.path.join(ins, "summary.json")))
    feats = json.load(open(os.path.join(feat, "index.json")))["labels"]
    allx = tokens.reshape(-1, c)
    act = encode(allx, w["W_enc"], w["b_enc"], w["b_dec"], k).reshape(n_img, pos, -1).max(1)  # [N, d_sae]
    rows = list(csv.DictReader(open(os.path.join(ins, "tables", "latents.csv"))))
    top = 5
    checked = 0
    sae_mean = {lab: [] for lab in feats}
    for j, r in enumerate(rows):
        active = int((act[:, j] > 0).sum())
        if int(r["images_active"]) != active:
            fail(f"latent {j}: active on {r['images_active']} images, recomputed {active}")
        close(float(r["max_activation"]), act[:, j].max(), f"latent {j} max activation")
        if active < top:
            if r["best_label"] != "":
                fail(f"latent {j} is active on {active} < {top} images but was scored")
            continue
        order = np.argsort(-act[:, j], kind="stable")[:top]
        for lab in feats:
            p, e, dom = purity([labels[i][lab] for i in order])
            got = r[lab + "_purity"]
            if math.isnan(p):
                if got not in ("", "nan", "NaN"):
                    fail(f"latent {j} {lab}: purity {got}, expected none")
                continue
            close(float(got), p, f"latent {j} {lab} purity")
            close(float(r[lab + "_entropy"]), e, f"latent {j} {lab} entropy")
            sae_mean[lab].append(p)
            checked += 1
    if checked == 0:
        fail("no latent was scored")
    g = torch.Generator().manual_seed(2)
    dirs = torch.randn(c, act.shape[1], generator=g, dtype=torch.float32).double().numpy()
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    ract = ((allx - w["b_dec"]) @ dirs).reshape(n_img, pos, -1).max(1)
    for lab in feats:
        if sae_mean[lab]:
            close(isum[f"sae.inspect.{lab}.mean_purity"], float(np.mean(sae_mean[lab])), f"{lab} mean purity")
        rp = []
        for j in range(ract.shape[1]):
            p, _, _ = purity([labels[i][lab] for i in np.argsort(-ract[:, j], kind="stable")[:top]])
            if not math.isnan(p):
                rp.append(p)
        if rp:
            close(isum[f"sae.inspect.{lab}.random_mean_purity"], float(np.mean(rp)), f"{lab} random mean purity")
    latents_dir = os.path.join(ins, "plots", "latents")
    sheets = sorted(f for f in os.listdir(latents_dir) if f.endswith(".png"))
    if not 1 <= len(sheets) <= 3:
        fail(f"expected 1-3 contact sheets, found {sheets}")
    # each sheet and overview also as PDF and SVG; a sheet's SVG carries its activation scale (numeric ticks, the
    # normalisation stated) and each image's activation
    for png in sheets + [os.path.join("..", f) for f in os.listdir(os.path.join(ins, "plots")) if f.endswith(".png")]:
        stem = os.path.join(latents_dir, png[:-4])
        for ext in (".pdf", ".svg"):
            if not os.path.isfile(stem + ext):
                fail(f"{stem}.png has no {ext}")
    for png in sheets:
        svg = open(os.path.join(latents_dir, png[:-4] + ".svg")).read()
        texts = re.findall(r">([^<]*)</text>", svg)
        latent = int(png[len("latent_"):-4])
        if "SAE activation" not in texts or not any("the latent&apos;s largest activation" in t for t in texts):
            fail(f"{png}: no activation scale or normalisation in its SVG text")
        top_act = float(rows[latent]["max_activation"])
        if f"{top_act:.2f}" not in texts:
            fail(f"{png}: the top activation {top_act:.2f} (latents.csv) is not under its first image")
        if not any(re.fullmatch(r"[0-9.]+", t) and float(t) > 0 and float(t) <= top_act + 1e-6 for t in texts):
            fail(f"{png}: no numeric colour-bar tick")

    # refusals: one line, exit 2
    for cmd, want in ((train_cmd, "--out"), (train_cmd[:5] + ["--t", "999", "-o", sae + "2"], "--t 999")):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 2 or want not in p.stderr or p.stderr.strip().count("\n") != 0:
            fail(f"{' '.join(cmd[1:4])}: exit {p.returncode}, stderr {p.stderr!r} (expected exit 2, one line with {want})")
    check_probe(ds, feat, labels)
    check_split_file(ds, pkg, data, work)
    print(f"sae: nmse, firing counts, {checked} latent purities and the random control match")


if __name__ == "__main__":
    main()
