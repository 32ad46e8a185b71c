#!/usr/bin/python3
"""The README's open-vocabulary concept-map table on shipped shapes-v1, from scratch.

The 20 prompts of tests/data/shapes_prompts.txt (their seeds), and the same 20 with every colour word removed
("a red circle and a blue square" -> "a circle and a square"), each generated with --concepts set to every colour,
shape, size and position word the shapes model knows. Each concept map is scored (ROC-AUC, scikit-learn's
definition, computed by diffscope's concepts analysis) against the exact mask of what the generated image holds
(segmentation with concepts.json); a concept whose object is not in the image is unscored. Per word class the table
gives the concept maps' mean ROC-AUC with a 95% bootstrap interval, split into concepts that are words of the prompt
and concepts left out of it, for both concept contexts (the word encoded after the prompt, or alone), beside the
prompt's own token maps (auc analysis) for the words in the prompt, the word-blind blurred-foreground control, and
the specificity (own-object ROC-AUC minus ROC-AUC on the other objects; defined in two-object scenes).

    /usr/bin/python3 scripts/shapes/concepts_study.py [--out runs/concepts] [--threads 2]   (about 10 minutes)
"""
import argparse
import json
import os
import re
import subprocess

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
CLASSES = {"colour": COLOURS, "shape": ["circle", "square", "triangle"], "size": ["small", "large"],
           "position": ["left", "right"]}
CONCEPTS = [w for ws in CLASSES.values() for w in ws]


def prompts():
    out = []
    for line in open(os.path.join(ROOT, "tests", "data", "shapes_prompts.txt")):
        if line.startswith("#") or not line.strip():
            continue
        seed, p = line.rstrip("\n").split("\t")
        out.append((int(seed), p))
    return out


def strip_colours(p):
    p = re.sub(r"\b(" + "|".join(COLOURS) + r") ", "", p)
    return re.sub(r"\ban (?=[^aeiou])", "a ", p)


def ci(values, rng):
    v = np.asarray(values, float)
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    boots = [rng.choice(v, len(v)).mean() for _ in range(2000)]
    return v.mean(), np.percentile(boots, 2.5), np.percentile(boots, 97.5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/concepts")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--diffscope", default=os.path.join(ROOT, "build", "diffscope"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sets = {"with colours": prompts(), "colours removed": [(s, strip_colours(p)) for s, p in prompts()]}
    rows = {}  # (context, class, in_prompt) -> list of concept AUCs; ("prompt token", class) -> token AUCs
    controls = {}
    specificity = {}  # own-object AUC minus the AUC on the other objects (two-object scenes only)
    for context in ("prompt", "alone"):
        for set_name, items in sets.items():
            for i, (seed, p) in enumerate(items):
                run = os.path.join(a.out, f"{context}_{'plain' if set_name == 'colours removed' else 'full'}_{i:02d}")
                if not os.path.exists(os.path.join(run, "summary.json")):
                    subprocess.run([a.diffscope, "analyze", "-m", os.path.join(ROOT, "models", "shapes-v1"), "-p", p,
                                    "--seed", str(seed), "--steps", "25", "--guidance", "5", "--scheduler", "ddim",
                                    "--x0-every", "0", "--concepts", ",".join(CONCEPTS), "--concept-context", context,
                                    "--analyses", "auc,concepts", "--threads", str(a.threads), "-q", "--overwrite",
                                    "-o", run], check=True)
                s = json.load(open(os.path.join(run, "summary.json")))
                words = set(p.split())
                for cls, ws in CLASSES.items():
                    for w in ws:
                        v = s.get(f"concepts.word.{w}.roc_auc")
                        if v is None:
                            continue
                        rows.setdefault((context, cls, w in words), []).append(v)
                        fg = s.get(f"concepts.word.{w}.baseline_foreground")
                        if fg is not None:
                            controls.setdefault((context, cls, w in words), []).append(fg)
                        sp = s.get(f"concepts.word.{w}.specificity")
                        if sp is not None:
                            specificity.setdefault((context, cls, w in words), []).append(sp)
                        if context == "prompt" and w in words and s.get(f"auc.word.{w}.roc_auc") is not None:
                            rows.setdefault(("prompt token", cls, True), []).append(s[f"auc.word.{w}.roc_auc"])
    rng = np.random.default_rng(0)
    fmt = lambda v: "-" if not v else "{:.3f} [{:.3f}, {:.3f}] (n={})".format(*ci(v, rng), len(v))  # noqa: E731
    print("| word class | in the prompt: token map (auc) | in the prompt: concept, after the prompt | "
          "in the prompt: concept, alone | left out: concept, after the prompt | left out: concept, alone | "
          "left out: blurred-foreground control | left out: specificity, after the prompt |")
    print("|---|---|---|---|---|---|---|---|")
    for cls in CLASSES:
        print(f"| {cls} | {fmt(rows.get(('prompt token', cls, True)))} | {fmt(rows.get(('prompt', cls, True)))} | "
              f"{fmt(rows.get(('alone', cls, True)))} | {fmt(rows.get(('prompt', cls, False)))} | "
              f"{fmt(rows.get(('alone', cls, False)))} | {fmt(controls.get(('prompt', cls, False)))} | "
              f"{fmt(specificity.get(('prompt', cls, False)))} |")


if __name__ == "__main__":
    main()
