#!/usr/bin/env bash
# Benchmark: prompts per minute of a prompt set denoised --batch-size N prompts at a time (one denoiser call per step
# for all of them) against one at a time, on the shipped model, interleaved rounds (order rotated so drift favours
# no size), and how far the batched run folders are from the one-at-a-time ones (max |difference| of latents.npy and
# attention/maps.npy over every run). Generation with capture and the heatmaps analysis; no x0 images.
# Usage: bench/bench_prompt_batching.sh [ROUNDS=3] [SIZES="1 4 8"] [THREADS=2] [MODEL] [STEPS=25] [PROMPTS=all]
#        (about 10 minutes on 2 cores on the shipped model; needs build/diffscope and numpy). PROMPTS takes the first
#        N of tests/data/shapes_prompts.txt (an SD-size package: e.g. 4 prompts, SIZES="1 4", 10 steps).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
read -r -a SIZES <<<"${2:-1 4 8}"
THREADS=${3:-2}
MODEL=${4:-models/shapes-v1}
STEPS=${5:-25}
NPROMPTS=${6:-0}
BIN=build/diffscope
OUT=$(mktemp -d /tmp/diffscope-bench-batching.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
grep -v '^#' tests/data/shapes_prompts.txt | grep -v '^$' >"$OUT/all_prompts.txt"
if [ "$NPROMPTS" -gt 0 ]; then head -n "$NPROMPTS" "$OUT/all_prompts.txt" >"$OUT/prompts.txt"; else cp "$OUT/all_prompts.txt" "$OUT/prompts.txt"; fi
n=$(wc -l <"$OUT/prompts.txt")
for r in $(seq 1 "$ROUNDS"); do
  k=${#SIZES[@]}
  for j in $(seq 0 $((k - 1))); do
    b=${SIZES[$(((j + r) % k))]}
    t0=$(date +%s.%N)
    "$BIN" analyze --prompts "$OUT/prompts.txt" -m "$MODEL" --steps "$STEPS" --guidance 5 --scheduler ddim \
      --x0-every 0 --analyses heatmaps --batch-size "$b" --threads "$THREADS" -q --overwrite -o "$OUT/b$b" >/dev/null
    t1=$(date +%s.%N)
    echo "$b $(awk "BEGIN{print $t1 - $t0}")" >>"$OUT/times"
  done
done
/usr/bin/python3 - "$OUT" "$n" "${SIZES[@]}" <<'PY'
import os, statistics, sys
import numpy as np
out, n, sizes = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
times = {}
for line in open(os.path.join(out, "times")):
    b, t = line.split()
    times.setdefault(int(b), []).append(float(t))
base = statistics.median(times[sizes[0]])
print(f"{n} prompts, {len(times[sizes[0]])} rounds; wall seconds min/median/max; prompts per minute at the median")
print("| --batch-size | wall s (min / median / max) | prompts per minute | vs one at a time | max abs diff latents | max abs diff attention |")
print("|---|---|---|---|---|---|")
for b in sizes:
    t = sorted(times[b])
    med = statistics.median(t)
    dl = da = 0.0
    if b != sizes[0]:
        for run in sorted(os.listdir(os.path.join(out, f"b{b}"))):
            p, q = os.path.join(out, f"b{b}", run), os.path.join(out, f"b{sizes[0]}", run)
            if not os.path.isfile(os.path.join(p, "latents.npy")):
                continue
            dl = max(dl, float(np.abs(np.load(os.path.join(p, "latents.npy")) - np.load(os.path.join(q, "latents.npy"))).max()))
            da = max(da, float(np.abs(np.load(os.path.join(p, "attention/maps.npy")) -
                                      np.load(os.path.join(q, "attention/maps.npy"))).max()))
    print(f"| {b} | {t[0]:.1f} / {med:.1f} / {t[-1]:.1f} | {60 * n / med:.1f} | {base / med:.2f}x | {dl:.2g} | {da:.2g} |")
PY
