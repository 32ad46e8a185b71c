#!/usr/bin/env bash
# Benchmark: diffscope keeps freed memory in the heap (glibc mmap/trim thresholds raised, engine/runtime.h) against
# glibc's defaults (DIFFSCOPE_DEFAULT_MALLOC=1). Interleaved A/B runs of `analyze` (the demo) and of step saliency
# on that run (64 DF-RISE masks, K = 16), because this VM's speed drifts; medians of wall time and their ratio.
# Outputs are identical either way (checked here with cmp on the saliency AUC table).
# Usage: bench/bench_allocator.sh [repeats]      (needs build/diffscope)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
BIN=build/diffscope
OUT=$(mktemp -d /tmp/diffscope-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
wall() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); awk "BEGIN{print $e - $s}"; }
for ((r = 0; r < REPS; r++)); do
  for mode in kept default; do
    env=(); [ $mode = default ] && env=(DIFFSCOPE_DEFAULT_MALLOC=1)
    d="$OUT/$mode-$r"
    echo "analyze-$mode $(wall env "${env[@]}" "$BIN" analyze -m models/shapes-v1 -p "a red circle and a blue square" \
      --seed 1 --steps 25 --guidance 5 --scheduler ddim --threads 2 -q -o "$d")" >>"$OUT/times.txt"
    echo "saliency-$mode $(wall env "${env[@]}" "$BIN" saliency --run "$d" --step 12 --samples 64 --k 16 --threads 2 \
      -q)" >>"$OUT/times.txt"
  done
  cmp -s "$OUT/kept-$r/saliency/step_012/auc.csv" "$OUT/default-$r/saliency/step_012/auc.csv" ||
    { echo "bench_allocator: outputs differ between allocator settings" >&2; exit 1; }
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "diffscope allocator bench: $REPS interleaved repeats, $(nproc) cores, 2 threads"
for what in analyze saliency; do
  k=$(grep "^$what-kept " "$OUT/times.txt" | cut -d' ' -f2 | median)
  d=$(grep "^$what-default " "$OUT/times.txt" | cut -d' ' -f2 | median)
  printf "  %-9s glibc defaults %7.2f s   freed memory kept %7.2f s   ratio %.3f\n" "$what" "$d" "$k" \
    "$(awk "BEGIN{print $k / $d}")"
done
