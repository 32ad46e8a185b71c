#!/usr/bin/env bash
# The full-size saliency claim (the README's table): on the 8 prompts of tests/data/saliency_prompts.txt, with 100
# DF-RISE masks and K = 32 insertion/deletion stages, every method's mean deletion AUC is below the random order's
# and its mean insertion AUC above it, at step 12 and at step 18 of 25. CI checks the same claim at step 12 with a
# smaller configuration (ctest shapes_saliency_vs_random: 64 masks, K = 16).
# Usage: bench/saliency_vs_random.sh [out-dir]      (needs build/diffscope; about 1 minute per step here)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-$(mktemp -d /tmp/diffscope-saliency.XXXXXX)}
LESS=()
for m in attention df-rise df-cam; do
  LESS+=(--less "saliency.$m.deletion_auc.mean<saliency.random.deletion_auc.mean"
         --less "saliency.random.insertion_auc.mean<saliency.$m.insertion_auc.mean")
done
status=0
for frac in 0.5 0.75; do
  d="$OUT/step-frac-$frac"
  build/diffscope saliency --prompts tests/data/saliency_prompts.txt --gen-model models/shapes-v1 --samples 100 \
    --k 32 --step-frac "$frac" --threads "${DIFFSCOPE_THREADS:-2}" -q -o "$d" >/dev/null
  echo "step-frac $frac: mean AUC over the prompts (deletion lower is better, insertion higher)"
  for m in attention df-rise df-cam random; do
    python3 - "$d/summary.json" "$m" <<'PY'
import json, sys
s, m = json.load(open(sys.argv[1])), sys.argv[2]
k = f"saliency.{m}."
print(f"  {m:10s} deletion {s[k + 'deletion_auc.mean']:.3f} (std {s[k + 'deletion_auc.std']:.3f})"
      f"   insertion {s[k + 'insertion_auc.mean']:.3f} (std {s[k + 'insertion_auc.std']:.3f})")
PY
  done
  build/diffscope check -s "$d/summary.json" "${LESS[@]}" -q || status=1
done
exit $status
