#!/usr/bin/python3
"""The markdown tables of scripts/shapes/probe_study.sh from each model's probe/tables/probe.csv (linear head):
per label the chance, the pixel and latent baselines and the best probe (layer, t) with its 95% bootstrap interval,
the models side by side; then per model a layer x timestep table of each label's test accuracy.

    /usr/bin/python3 scripts/shapes/probe_tables.py runs/probe-study/shapes-v1/probe runs/probe-study/shapes-mmdit-v1/probe
"""
import csv
import os
import sys


def load(probe_dir):
    rows = [r for r in csv.DictReader(open(os.path.join(probe_dir, "tables", "probe.csv"))) if r["head"] == "linear"]
    return rows


def name_of(probe_dir):
    return os.path.basename(os.path.dirname(os.path.abspath(probe_dir)))


def cell(r):
    return f"{float(r['test_accuracy']):.2f} [{float(r['test_accuracy_ci_lo']):.2f}, {float(r['test_accuracy_ci_hi']):.2f}]"


def main():
    dirs = sys.argv[1:]
    models = [(name_of(d), load(d)) for d in dirs]
    labels = []
    for _, rows in models:
        for r in rows:
            if r["label"] not in labels:
                labels.append(r["label"])
    head = "| label | chance | pixels | VAE latent |" + "".join(f" best: {m} (layer, t) |" for m, _ in models)
    print(head)
    print("|" + "---|" * (4 + len(models)))
    for lab in labels:
        first = [r for r in models[0][1] if r["label"] == lab]
        base = {r["features"]: r for r in first if r["features"] in ("pixels", "latent")}
        line = f"| {lab} | {float(first[0]['chance']):.2f} | " + \
            f"{cell(base['pixels']) if 'pixels' in base else '-'} | {cell(base['latent']) if 'latent' in base else '-'} |"
        for _, rows in models:
            cells = [r for r in rows if r["label"] == lab and r["features"] not in ("pixels", "latent")]
            best = max(cells, key=lambda r: float(r["test_accuracy"]))
            line += f" {cell(best)} ({best['layer']}, {best['t']}) |"
        print(line)
    for m, rows in models:
        ts = sorted({int(r["t"]) for r in rows if r["features"] not in ("pixels", "latent")})
        layers = []
        for r in rows:
            if r["features"] not in ("pixels", "latent") and r["layer"] not in layers:
                layers.append(r["layer"])
        print()
        print(f"{m}: test accuracy per layer (rows) and t (columns), per label")
        print()
        print("| label | layer |" + "".join(f" t = {t} |" for t in ts))
        print("|---|---|" + "---|" * len(ts))
        for lab in labels:
            for layer in layers:
                acc = {int(r["t"]): float(r["test_accuracy"]) for r in rows
                       if r["label"] == lab and r["layer"] == layer and r["features"] not in ("pixels", "latent")}
                print(f"| {lab} | {layer} |" + "".join(f" {acc[t]:.2f} |" if t in acc else " - |" for t in ts))


if __name__ == "__main__":
    main()
