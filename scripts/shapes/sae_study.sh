#!/usr/bin/env bash
# The README's k-SAE numbers on shipped shapes-v1, from scratch: a 1600-image shapes dataset (25% held out), spatial
# features (8x8 tokens) at t = 25 and 200, a TopK SAE on up_blocks.1 at each t, and its inspection.
# Usage: scripts/shapes/sae_study.sh [OUT=runs/sae-study] [THREADS=2]   (about 2 minutes on 2 cores)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-runs/sae-study}"
threads="${2:-2}"
ds="${DIFFSCOPE:-$here/build/diffscope}"
py=/usr/bin/python3
mkdir -p "$out"
[ -f "$out/data/index.json" ] || "$py" "$here/scripts/shapes/shapes_dataset.py" --out "$out/data" --count 1600 --split all --seed 11 >/dev/null
"$ds" features -m "$here/models/shapes-v1" --dataset "$out/data" --t 25,200 --spatial 8 --threads "$threads" -q \
  --overwrite -o "$out/feat"
for t in 25 200; do
  "$ds" sae train --features "$out/feat" --layer up_blocks.1 --t "$t" --spatial --expansion 8 --k 8 --epochs 30 \
    --lr 1e-3 --threads "$threads" -q --overwrite
  "$ds" sae inspect --sae "$out/feat/sae/up_blocks.1_t${t}_s8" --threads "$threads" -q --overwrite
done
"$py" - "$out/feat/sae" <<'PY'
import csv, json, sys
root = sys.argv[1]
print("| t | test nmse | explained variance | dead | label | SAE mean purity | random mean purity | SAE share >= 0.9 | random share >= 0.9 |")
print("|---|---|---|---|---|---|---|---|---|")
for t in (25, 200):
    d = f"{root}/up_blocks.1_t{t}_s8"
    s, i = json.load(open(d + "/summary.json")), json.load(open(d + "/inspect/summary.json"))
    for lab in ("colour", "shape", "size", "count"):
        k = "sae.inspect." + lab
        print(f"| {t} | {s['sae.test.nmse']:.3f} | {s['sae.test.explained_variance']:.3f} | {s['sae.dead_fraction']:.3f} | {lab} | "
              f"{i[k + '.mean_purity']:.2f} | {i[k + '.random_mean_purity']:.2f} | {i[k + '.share_ge_0.9']:.2f} | "
              f"{i[k + '.random_share_ge_0.9']:.2f} |")
PY
