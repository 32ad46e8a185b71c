#!/usr/bin/env bash
# The README's "numbers that mean something" tables on shipped shapes-v1, from scratch:
#  1. the 20 fixed prompts of tests/data/shapes_prompts.txt over 3 seeds (each line's seed, +1000, +2000), analysed
#     with per-layer maps kept at steps 0,6,12,18,24 and per-head maps at step 12: per word class, the attention
#     ROC-AUC, its word-blind baselines and the own-vs-other-object specificity, with 95% bootstrap intervals; per
#     layer and per layer x step the same (which layers localise);
#  2. saliency over the steps 0:25:4 of the 8 prompts of tests/data/saliency_prompts.txt, 3 mask seeds, 100 DF-RISE
#     masks, K = 32: deletion and insertion AUC per step and method with 95% intervals (X-Diffusion's
#     saliency-over-time view) and the mask-seed spread;
#  3. DF-RISE's convergence in the number of masks on one run (step 12): the Spearman correlation between two mask
#     seeds' maps, and the AUC spread over 3 seeds, at 50 .. 800 masks.
# Usage: scripts/shapes/numbers_study.sh [OUT=runs/numbers] [THREADS=2]   (about 25 minutes on 2 cores)
# Prints the markdown tables (scripts/shapes/numbers_tables.py) at the end.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-runs/numbers}"
threads="${2:-2}"
ds="${DIFFSCOPE:-$here/build/diffscope}"
py=/usr/bin/python3
mkdir -p "$out"
prompts="$out/prompts_20x3.txt"
grep -v '^#' "$here/tests/data/shapes_prompts.txt" | grep -v '^$' |
  awk -F'\t' '{ for (k = 0; k < 3; k++) printf "%d\t%s\n", $1 + 1000 * k, $2 }' > "$prompts"
if [ ! -f "$out/analyze/summary.json" ]; then
  "$ds" analyze --prompts "$prompts" --out "$out/analyze" --model "$here/models/shapes-v1" --steps 25 --guidance 5 \
    --scheduler ddim --keep-layers 0,6,12,18,24 --keep-heads 12 --threads "$threads" -q --overwrite
fi
if [ ! -f "$out/saliency/summary.json" ]; then
  "$ds" saliency --prompts "$here/tests/data/saliency_prompts.txt" -o "$out/saliency" --gen-model "$here/models/shapes-v1" \
    --steps 0:25:4 --mask-seeds 3 --samples 100 --k 32 --threads "$threads" -q --overwrite
fi
run="$out/analyze/030"  # "a red circle and a blue square" (prompt 11, its first seed)
for n in 50 100 200 400 800; do
  if [ ! -f "$out/masks_$n/summary.json" ]; then
    rm -rf "$out/masks_$n.tmp"
    mkdir -p "$out/masks_$n.tmp"
    cp -r "$run/." "$out/masks_$n.tmp/"
    rm -rf "$out/masks_$n.tmp/saliency"
    "$ds" saliency --run "$out/masks_$n.tmp" --step 12 --methods df-rise --mask-seeds 3 --samples "$n" --k 32 \
      --threads "$threads" -q
    mv "$out/masks_$n.tmp" "$out/masks_$n"
  fi
done
"$py" "$here/scripts/shapes/numbers_tables.py" "$out"
