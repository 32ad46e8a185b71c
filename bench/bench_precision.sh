#!/usr/bin/env bash
# Benchmark: --precision bf16 (the denoiser under autocast) against fp32 on the same prompts and seeds, interleaved:
# the denoising loop's time per step (run.json timings.loop_s / steps, --no-attention --x0-every 0 so only the
# denoiser counts), and what bf16 costs in accuracy: the final latent's and image's difference from the fp32 run,
# and the attention ROC-AUC against the exact masks (analyze's auc.mean_roc_auc), per prompt and on average.
# Usage: bench/bench_precision.sh [model] [prompts file] [steps] [threads]     (needs build/diffscope, numpy)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/shapes-v1}
PROMPTS=${2:-tests/data/shapes_prompts.txt}
STEPS=${3:-25}
THREADS=${4:-2}
BIN=build/diffscope
OUT=$(mktemp -d /tmp/diffscope-bench-precision.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
COMMON=(-m "$MODEL" --steps "$STEPS" --scheduler ddim --guidance 5 --threads "$THREADS" -q)
i=0
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  seed=1; prompt=$line
  if [[ "$line" == *$'\t'* ]]; then seed=${line%%$'\t'*}; prompt=${line#*$'\t'}; fi
  # alternate the order so drift favours neither
  if (( i % 2 )); then order=(bf16 fp32); else order=(fp32 bf16); fi
  for p in "${order[@]}"; do
    "$BIN" generate "${COMMON[@]}" -p "$prompt" --seed "$seed" --precision "$p" --no-attention --x0-every 0 \
      -o "$OUT/speed-$p-$i" >/dev/null
    "$BIN" analyze "${COMMON[@]}" -p "$prompt" --seed "$seed" --precision "$p" --analyses auc \
      -o "$OUT/acc-$p-$i" >/dev/null
  done
  i=$((i + 1))
done <"$PROMPTS"
/usr/bin/python3 - "$OUT" "$i" "$MODEL" "$STEPS" "$THREADS" <<'PY'
import json, os, statistics, sys
import numpy as np
import cv2
out, n, model, steps, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
def per_step(d):
    r = json.load(open(os.path.join(d, "run.json")))
    return r["timings"]["loop_s"] / len(r["timesteps"])
rows = []
for k in range(n):
    f, b = (os.path.join(out, f"acc-{p}-{k}") for p in ("fp32", "bf16"))
    lf, lb = np.load(os.path.join(f, "latents.npy"))[-1], np.load(os.path.join(b, "latents.npy"))[-1]
    imf = cv2.imread(os.path.join(f, "final.png")).astype(int)
    imb = cv2.imread(os.path.join(b, "final.png")).astype(int)
    af = json.load(open(os.path.join(f, "summary.json"))).get("auc.mean_roc_auc")
    ab = json.load(open(os.path.join(b, "summary.json"))).get("auc.mean_roc_auc")
    rows.append({"t32": per_step(os.path.join(out, f"speed-fp32-{k}")), "t16": per_step(os.path.join(out, f"speed-bf16-{k}")),
                 "lat_rel": float(np.abs(lb - lf).max() / np.abs(lf).max()), "pix_max": int(np.abs(imb - imf).max()),
                 "pix_mean": float(np.abs(imb - imf).mean()), "auc32": af, "auc16": ab})
med = lambda key: statistics.median(r[key] for r in rows)
ratio = statistics.median(r["t16"] / r["t32"] for r in rows)
aucs = [(r["auc32"], r["auc16"]) for r in rows if r["auc32"] is not None and r["auc16"] is not None]
print(f"diffscope bench_precision: {model}, {n} prompts, {steps} DDIM steps, CFG 5, {threads} threads, fp32/bf16 interleaved")
print("| | fp32 | bf16 | bf16 / fp32 |\n|---|---|---|---|")
print(f"| denoiser loop per step, median | {med('t32')*1000:.1f} ms | {med('t16')*1000:.1f} ms | {ratio:.2f} |")
if aucs:
    m32, m16 = statistics.mean(a for a, _ in aucs), statistics.mean(b for _, b in aucs)
    d = [b - a for a, b in aucs]
    print(f"| attention ROC-AUC, mean over prompts | {m32:.4f} | {m16:.4f} | change {m16-m32:+.4f} (per prompt {min(d):+.4f} .. {max(d):+.4f}) |")
print(f"| final latent, max abs difference / latent scale, median (max) | | {med('lat_rel'):.4f} ({max(r['lat_rel'] for r in rows):.4f}) | |")
print(f"| final image, 8-bit difference: mean, max (median over prompts) | | {med('pix_mean'):.2f}, {med('pix_max')} | |")
PY
