#!/usr/bin/python3
"""Recomputes `diffscope compare`'s numbers with numpy from the run folders it wrote.

Usage: check_compare.py DIFFSCOPE PACKAGE OUTDIR
Runs a two-prompt comparison and a three-value guidance sweep on PACKAGE, then checks, independently of the C++:
pixel RMSE between the runs' x0 PNGs and to each run's final.png, latent RMSE from latents.npy, the stay-apart /
stay-together steps from those curves, the PCA projection (numpy SVD, up to each component's sign, which diffscope
fixes so that run 0's last point is positive) and its explained-variance ratios, and the word-map correlations.
Exit 0 when everything agrees, 1 with the first disagreement printed.
"""
import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def close(a, b, what, tol=1e-5):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not np.allclose(a, b, rtol=tol, atol=tol):
        fail(f"{what}: diffscope {a.ravel()[:6]} vs numpy {b.ravel()[:6]}")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def img(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0


def rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def apart(d, frac):
    if len(d) == 0 or not d[-1] > 0:
        return -1
    k = len(d) - 1
    while k > 0 and d[k - 1] >= frac * d[-1]:
        k -= 1
    return k


def together(d, frac):
    bar = frac * max(d)
    if d[-1] > bar:
        return -1
    k = len(d) - 1
    while k > 0 and d[k - 1] <= bar:
        k -= 1
    return k


def word_map(run_dir, meta, word, steps):
    maps = np.load(os.path.join(run_dir, "attention", "maps.npy"))  # [steps, tokens, h, w]
    pos = word["positions"]
    return maps[steps][:, pos].mean(axis=1).mean(axis=0).ravel()


def check(out):
    s = json.load(open(os.path.join(out, "summary.json")))
    runs = read_csv(os.path.join(out, "tables", "runs.csv"))
    dirs = [r["folder"] for r in runs]
    metas = [json.load(open(os.path.join(d, "run.json"))) for d in dirs]
    steps = metas[0]["x0_steps"]
    if s["compare.runs"] != len(dirs):
        fail("compare.runs")
    x0 = [[img(os.path.join(d, "steps", f"x0_{k:03d}.png")) for k in steps] for d in dirs]
    finals = [img(os.path.join(d, "final.png")) for d in dirs]
    lat = [np.load(os.path.join(d, "latents.npy")).astype(np.float64) for d in dirs]
    rows = read_csv(os.path.join(out, "tables", "compare.csv"))
    n_pairs = len(dirs) * (len(dirs) - 1) // 2
    if len(rows) != n_pairs * len(steps):
        fail(f"compare.csv has {len(rows)} rows, expected {n_pairs * len(steps)}")
    for r in rows:
        a, b, k = int(r["run_a"]), int(r["run_b"]), int(r["step"])
        i = steps.index(k)
        close(float(r["pixel_rmse"]), rmse(x0[a][i], x0[b][i]), f"pixel_rmse {a} {b} step {k}")
        close(float(r["latent_rmse"]), rmse(lat[a][k + 1], lat[b][k + 1]), f"latent_rmse {a} {b} step {k}")
    for j in range(1, len(dirs)):
        d = [rmse(x0[0][i], x0[j][i]) for i in range(len(steps))]
        p = f"compare.run{j}."
        close(s[p + "final_pixel_rmse"], rmse(finals[0], finals[j]), p + "final_pixel_rmse")
        close(s[p + "final_latent_rmse"], rmse(lat[0][-1], lat[j][-1]), p + "final_latent_rmse")
        close(s[p + "mean_pixel_rmse"], np.mean(d), p + "mean_pixel_rmse")
        t = together(d, 0.5)
        a = -1 if t >= 0 else apart(d, 0.5)
        if s[p + "apart_step"] != (-1 if a < 0 else steps[a]) or s[p + "together_step"] != (-1 if t < 0 else steps[t]):
            fail(f"{p}apart/together: {s[p + 'apart_step']}, {s[p + 'together_step']} vs {a}, {t}")
    for r in read_csv(os.path.join(out, "tables", "to_final.csv")):
        i, k = int(r["run"]), int(r["step"])
        close(float(r["pixel_rmse"]), rmse(x0[i][steps.index(k)], finals[i]), f"to_final run {i} step {k}")
    # latent difference maps: the figure's scale is the largest channel-mean |z_j - z_0| over the shown steps
    n_cols = min(8, len(steps))  # --filmstrip-steps 8, spread evenly (rounding half away from zero, as lround)
    shown = sorted({int(np.floor(i * (len(steps) - 1) / (n_cols - 1) + 0.5)) for i in range(n_cols)}) if n_cols > 1 else [len(steps) - 1]
    idx = [steps[i] + 1 for i in shown] + [lat[0].shape[0] - 1]
    scale = max(np.abs(lat[j][k] - lat[0][k]).mean(axis=0).max() for j in range(1, len(dirs)) for k in idx)
    close(s["compare.latent_difference_scale"], scale, "latent_difference_scale", 1e-5)
    if not os.path.exists(os.path.join(out, "plots", "latent_difference.png")):
        fail("plots/latent_difference.png missing")
    # PCA of every latent of every run together
    X = np.concatenate([l.reshape(l.shape[0], -1) for l in lat])
    Xc = X - X.mean(axis=0)
    _, sv, vt = np.linalg.svd(Xc, full_matrices=False)
    P = Xc @ vt[:2].T
    n = lat[0].shape[0]
    for c in range(2):
        if P[n - 1, c] < 0:
            P[:, c] *= -1
    ratio = sv ** 2 / np.sum(sv ** 2)
    close(s["compare.pca.pc1_variance"], ratio[0], "pc1_variance", 1e-4)
    close(s["compare.pca.pc2_variance"], ratio[1], "pc2_variance", 1e-4)
    traj = read_csv(os.path.join(out, "tables", "trajectory.csv"))
    got = np.array([[float(r["pc1"]), float(r["pc2"])] for r in traj])
    scale = np.abs(P).max()
    if np.abs(got - P).max() > 1e-4 * scale:
        fail(f"trajectory differs from numpy's PCA by {np.abs(got - P).max()} (scale {scale})")
    # word maps shared by all runs: correlation of step-averaged maps with run 0's
    for j in range(1, len(dirs)):
        for key, v in s.items():
            pre = f"compare.run{j}.word."
            if not key.startswith(pre):
                continue
            w = key[len(pre):-len(".map_corr")]
            def find(meta):
                seen = {}
                for word in meta["words"]:
                    if word.get("punctuation"):
                        continue
                    seen[word["word"]] = seen.get(word["word"], 0) + 1
                    k = word["word"] if seen[word["word"]] == 1 else f'{word["word"]}#{seen[word["word"]]}'
                    if k == w:
                        return word
                fail(f"word {w} not in {meta['inputs']['prompt']}")
            all_steps = list(range(len(metas[0]["timesteps"])))
            a = word_map(dirs[0], metas[0], find(metas[0]), all_steps)
            b = word_map(dirs[j], metas[j], find(metas[j]), all_steps)
            close(v, np.corrcoef(a, b)[0, 1], key, 1e-4)
    # the word and filmstrip figures: PNG + PDF + SVG; words.svg names every word of words.csv and carries its colour
    # bar's numeric ticks and normalisation
    for name in ("words", "filmstrips", "difference"):
        for ext in (".png", ".pdf", ".svg"):
            if not os.path.isfile(os.path.join(out, "plots", name + ext)):
                fail(f"plots/{name}{ext} missing")
    texts = re.findall(r">([^<]*)</text>", open(os.path.join(out, "plots", "words.svg")).read())
    for r in read_csv(os.path.join(out, "tables", "words.csv")):
        if r["word"] not in texts:
            fail(f"words.svg does not name {r['word']}")
    ticks = {float(t) for t in texts if re.fullmatch(r"[0-9]+(\.[0-9]+)?", t)}
    if not {0.0, 0.5, 1.0} <= ticks or "attention, per map: min-max to 0-1" not in texts:
        fail(f"words.svg: no colour bar 0-1 with its normalisation (has {texts})")
    print(f"ok: {out}: {len(dirs)} runs, {len(rows)} pair rows, PCA variance {ratio[0]:.4f}/{ratio[1]:.4f}")


def main():
    ds, pkg, out = sys.argv[1:4]
    base = [ds, "compare", "-m", pkg, "--steps", "6", "--threads", "1", "-q", "--overwrite", "--scheduler", "ddim"]
    subprocess.run(base + ["-p", "a red circle", "-p", "a blue square", "--guidance", "3", "-o", out + "/prompts"],
                   check=True)
    check(out + "/prompts")
    subprocess.run(base + ["-p", "a red circle", "--guidance", "0,3,7", "-o", out + "/sweep"], check=True)
    check(out + "/sweep")


if __name__ == "__main__":
    main()
