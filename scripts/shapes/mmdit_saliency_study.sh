#!/usr/bin/env bash
# Saliency on the shipped transformer (docs/results.md, "Saliency on the transformer"): the 20 prompts of
# tests/data/shapes_prompts.txt over 3 seeds (each line's seed, +1000, +2000) on shapes-mmdit-v1 (flow_euler, 25
# steps, guidance 5), steps 8 and 16 explained with attention, DF-RISE (100 masks) and DF-CAM against the random
# order, K = 32, DF-RISE and random over 3 mask seeds; prints the deletion/insertion tables with 95% bootstrap
# intervals over the 60 runs and the mask-seed spread (scripts/shapes/numbers_tables.py).
# Usage: scripts/shapes/mmdit_saliency_study.sh [OUT=runs/mmdit-saliency] [THREADS=2] [MODEL=models/shapes-mmdit-v1]
#   (about 27 minutes on 1 thread)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-runs/mmdit-saliency}"
threads="${2:-2}"
model="${3:-$here/models/shapes-mmdit-v1}"
ds="${DIFFSCOPE:-$here/build/diffscope}"
py=/usr/bin/python3
mkdir -p "$out"
out="$(cd "$out" && pwd)"
prompts="$out/prompts_20x3.txt"
grep -v '^#' "$here/tests/data/shapes_prompts.txt" | grep -v '^$' |
  awk -F'\t' '{ for (k = 0; k < 3; k++) printf "%d\t%s\n", $1 + 1000 * k, $2 }' > "$prompts"
if [ ! -f "$out/saliency/summary.json" ]; then
  "$ds" saliency --prompts "$prompts" -o "$out/saliency" --gen-model "$model" --gen-scheduler flow_euler \
    --steps 8,16 --mask-seeds 3 --samples 100 --k 32 --threads "$threads" -q --overwrite
fi
cd "$here/scripts/shapes" && "$py" -c "import sys, numbers_tables; numbers_tables.saliency_tables(sys.argv[1])" "$out"
