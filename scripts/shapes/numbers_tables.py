#!/usr/bin/env python3
"""The README's tables from scripts/shapes/numbers_study.sh's output folder (markdown on stdout), and the
aggregated layer x step figure docs/numbers_layers.png.

Usage: numbers_tables.py OUT [--figures DIR]
"""
import csv
import glob
import json
import os
import sys

import numpy as np


def load(path):
    with open(path) as f:
        return json.load(f)


def ci(s, key, digits=3):
    m, lo, hi = s.get(key + ".mean"), s.get(key + ".ci95_lo"), s.get(key + ".ci95_hi")
    if m is None:
        return "-"
    if lo is None or hi is None:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def class_table(out):
    s = load(os.path.join(out, "analyze/summary.json"))
    print("| word class | n | attention ROC-AUC | foreground baseline | mean-map baseline | AUC on the other objects | specificity |")
    print("|---|---|---|---|---|---|---|")
    for cls in ("colour", "shape", "size", "position", "all"):
        k = f"auc.class.{cls}"
        if k + ".roc_auc.n" not in s:
            continue
        print(f"| {cls} | {int(s[k + '.roc_auc.n'])} | {ci(s, k + '.roc_auc')} | {ci(s, k + '.baseline_foreground')} | "
              f"{ci(s, k + '.baseline_mean_map')} | {ci(s, k + '.roc_auc_vs_others')} | {ci(s, k + '.specificity')} |")
    print()
    return s


def layer_tables(out, s, figures):
    names = sorted({k[len("auc.layer."):-len(".roc_auc.mean")] for k in s
                    if k.startswith("auc.layer.") and k.endswith(".roc_auc.mean")})
    rows = []
    for name in names:
        rows.append((s[f"auc.layer.{name}.roc_auc.mean"], name))
    order = [n for _, n in sorted(rows, reverse=True)]
    # layer x step: mean over runs and masked words of the per-run tables
    cells = {}
    for path in sorted(glob.glob(os.path.join(out, "analyze/[0-9][0-9][0-9]/tables/auc_layers.csv"))):
        for r in csv.DictReader(open(path)):
            cells.setdefault((r["name"], int(r["step"])), []).append(float(r["roc_auc"]))
    steps = sorted({st for _, st in cells})
    short = lambda n: n.replace(".transformer_blocks.0.attn2", "")
    print("| layer (best first) | ROC-AUC, mean over steps | specificity | " + " | ".join(f"step {st}" for st in steps) + " |")
    print("|---|---|---|" + "---|" * len(steps))
    for name in order:
        per_step = [np.nanmean(cells.get((name, st), [np.nan])) for st in steps]
        print(f"| {short(name)} | {ci(s, f'auc.layer.{name}.roc_auc')} | {ci(s, f'auc.layer.{name}.specificity')} | " +
              " | ".join(f"{v:.2f}" for v in per_step) + " |")
    print()
    if figures:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        m = np.array([[np.nanmean(cells.get((n, st), [np.nan])) for st in steps] for n in order])
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(order) + 1.4))
        im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(steps)), [str(st) for st in steps])
        ax.set_yticks(range(len(order)), [short(n) for n in order])
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color="black" if m[i, j] > 0.6 else "white",
                        fontsize=8)
        ax.set_xlabel("step (0-based)")
        ax.set_title("ROC-AUC per layer and step, 20 prompts x 3 seeds")
        fig.colorbar(im, ax=ax, label="ROC-AUC")
        fig.tight_layout()
        fig.savefig(os.path.join(figures, "numbers_layers.png"), dpi=110)


def saliency_tables(out):
    table = list(csv.DictReader(open(os.path.join(out, "saliency/over_steps.csv"))))
    methods = list(dict.fromkeys(r["method"] for r in table))
    steps = sorted({int(r["step"]) for r in table})
    get = {(int(r["step"]), r["method"]): r for r in table}
    # the mask-seed spread: per prompt, the standard deviation over 3 mask seeds, averaged over prompts
    sd = {}
    agree = {}
    for path in sorted(glob.glob(os.path.join(out, "saliency/[0-9][0-9][0-9]/summary.json"))):
        r = load(path)
        for st in steps:
            for m in ("df-rise", "random"):
                for c in ("deletion", "insertion"):
                    v = r.get(f"saliency.step_{st:03d}.{m}.{c}_auc_sd")
                    if v is not None:
                        sd.setdefault((st, m, c), []).append(v)
            for c in ("deletion", "insertion"):
                v = r.get(f"saliency.step_{st:03d}.{c}_best_agreement")
                if v is not None:
                    agree.setdefault((st, c), []).append(v)
    for curve, better in (("deletion", "lower"), ("insertion", "higher")):
        print(f"| step | " + " | ".join(methods) + f" | DF-RISE sd over mask seeds | random sd | best method same for every seed |")
        print("|---|" + "---|" * len(methods) + "---|---|---|")
        for st in steps:
            cells = []
            for m in methods:
                r = get[(st, m)]
                cells.append(f"{float(r[curve + '_auc']):.3f} [{float(r[curve + '_auc_ci95_lo']):.3f}, "
                             f"{float(r[curve + '_auc_ci95_hi']):.3f}]")
            a = agree.get((st, curve), [])
            print(f"| {st} | " + " | ".join(cells) + f" | {np.mean(sd.get((st, 'df-rise', curve), [np.nan])):.3f} | "
                  f"{np.mean(sd.get((st, 'random', curve), [np.nan])):.3f} | "
                  f"{sum(1 for v in a if v == 1.0)}/{len(a)} |")
        print(f"\n({curve} AUC, {better} is better; mean over prompts with its 95% bootstrap interval)\n")


def convergence_table(out):
    print("| DF-RISE masks | Spearman between two mask seeds' maps | map at half the masks vs all (Spearman) | deletion AUC, mean +- sd over 3 seeds | insertion AUC, mean +- sd |")
    print("|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(out, "masks_*/summary.json")), key=lambda p: int(p.split("masks_")[1].split("/")[0])):
        n = int(path.split("masks_")[1].split("/")[0])
        s = load(path)
        k = "saliency.step_012.df-rise"
        print(f"| {n} | {s[k + '.seed_spearman']:.3f} | {s[k + '.convergence_spearman_half']:.3f} | "
              f"{s[k + '.deletion_auc']:.3f} +- {s[k + '.deletion_auc_sd']:.3f} | "
              f"{s[k + '.insertion_auc']:.3f} +- {s[k + '.insertion_auc_sd']:.3f} |")
    print()


def main():
    out = sys.argv[1]
    figures = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--figures" else None
    s = class_table(out)
    layer_tables(out, s, figures)
    if os.path.exists(os.path.join(out, "saliency/over_steps.csv")):
        saliency_tables(out)
    convergence_table(out)


if __name__ == "__main__":
    main()
