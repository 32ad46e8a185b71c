#!/usr/bin/env bash
# Benchmark: cost of capture (attention reduction, x0 decoding) and of analyze over plain generation.
# Runs the configurations interleaved (A/B/C/D, repeated) because this VM's speed drifts over minutes, and
# reports each configuration's median denoising-loop time (run.json timings.loop_s) as a ratio to plain.
# Usage: bench/bench_capture.sh [model] [repeats] [steps]      (needs build/diffscope)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/shapes-v1}
REPS=${2:-5}
STEPS=${3:-25}
BIN=build/diffscope
OUT=$(mktemp -d /tmp/diffscope-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
PROMPT="a red circle and a blue square"
COMMON=(-m "$MODEL" -p "$PROMPT" --steps "$STEPS" --scheduler ddim --guidance 5 --seed 1 -q)
declare -A ARGS=(
  [plain]="--no-attention --x0-every 0"
  [capture]="--x0-every 0"
  [capture+x0]="--x0-every 1"
)
loop_s() { sed -n 's/.*"loop_s": *\([0-9.e+-]*\).*/\1/p' "$1/run.json" | head -1; }
for ((r = 0; r < REPS; r++)); do
  for cfg in plain capture capture+x0; do
    # shellcheck disable=SC2086
    "$BIN" generate "${COMMON[@]}" ${ARGS[$cfg]} -o "$OUT/$cfg-$r" >/dev/null
    echo "$cfg $(loop_s "$OUT/$cfg-$r")" >>"$OUT/times.txt"
  done
  start=$(date +%s.%N)
  "$BIN" analyze "${COMMON[@]}" -o "$OUT/analyze-$r" >/dev/null
  end=$(date +%s.%N)
  echo "analyze-wall $(awk "BEGIN{print $end - $start}")" >>"$OUT/times.txt"
  start=$(date +%s.%N)
  "$BIN" generate "${COMMON[@]}" -o "$OUT/gen-wall-$r" >/dev/null
  end=$(date +%s.%N)
  echo "generate-wall $(awk "BEGIN{print $end - $start}")" >>"$OUT/times.txt"
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "diffscope bench: $MODEL, $STEPS DDIM steps, CFG 5, $REPS interleaved repeats, $(nproc) cores"
base=$(grep '^plain ' "$OUT/times.txt" | cut -d' ' -f2 | median)
for cfg in plain capture capture+x0; do
  m=$(grep "^$cfg " "$OUT/times.txt" | cut -d' ' -f2 | median)
  printf "  loop %-12s median %8.3f s   ratio to plain %.3f\n" "$cfg" "$m" "$(awk "BEGIN{print $m / $base}")"
done
g=$(grep '^generate-wall ' "$OUT/times.txt" | cut -d' ' -f2 | median)
a=$(grep '^analyze-wall ' "$OUT/times.txt" | cut -d' ' -f2 | median)
printf "  wall generate (capture+x0) %.3f s, analyze %.3f s, ratio %.3f\n" "$g" "$a" "$(awk "BEGIN{print $a / $g}")"
