#!/usr/bin/env bash
# Benchmark: `diffscope features` batched (one UNet call per 16 images) against a plain loop of single-image UNet
# calls (--batch 1), interleaved because this VM's speed drifts; and peak memory (max RSS) for a dataset 4x larger,
# which must not grow with the dataset (rows are streamed to disk).
# Usage: bench/bench_features.sh [model] [images] [repeats] [threads]     (needs build/diffscope)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/shapes-v1}
N=${2:-200}
REPS=${3:-3}
THREADS=${4:-2}
BIN=build/diffscope
OUT=$(mktemp -d /tmp/diffscope-bench-features.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
/usr/bin/python3 scripts/shapes/shapes_dataset.py --out "$OUT/small" --count "$N" --split all --seed 11 >/dev/null
/usr/bin/python3 scripts/shapes/shapes_dataset.py --out "$OUT/large" --count $((4 * N)) --split all --seed 11 >/dev/null
run() {  # name dataset batch
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$OUT/rss" "$BIN" features -m "$MODEL" --dataset "$2" --t 25,200 --spatial 4 --batch "$3" \
    --threads "$THREADS" -q --overwrite -o "$OUT/feat-$1" >/dev/null
  end=$(date +%s.%N)
  echo "$1 $(awk "BEGIN{print $end - $start}") $(cat "$OUT/rss")" >>"$OUT/times.txt"
}
for ((r = 0; r < REPS; r++)); do
  run single "$OUT/small" 1
  run batched "$OUT/small" 16
  run batched-4x "$OUT/large" 16
done
cmp -s "$OUT/feat-single/features/mid_block_t25.npy" "$OUT/feat-batched/features/mid_block_t25.npy" &&
  same="bit-identical" || same="NOT bit-identical"
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "diffscope bench: features on $MODEL, $N images (t = 25, 200; all layers; spatial 4), $REPS interleaved repeats, $THREADS threads"
base=$(grep '^single ' "$OUT/times.txt" | cut -d' ' -f2 | median)
for cfg in single batched batched-4x; do
  w=$(grep "^$cfg " "$OUT/times.txt" | cut -d' ' -f2 | median)
  rss=$(grep "^$cfg " "$OUT/times.txt" | cut -d' ' -f3 | median)
  n=$N; [ "$cfg" = batched-4x ] && n=$((4 * N))
  printf "  %-11s %4d images  wall %7.2f s  %6.1f images/s  ratio to single %.3f  max RSS %6.0f MB\n" "$cfg" "$n" "$w" \
    "$(awk "BEGIN{print $n / $w}")" "$(awk "BEGIN{print ($w / $n) / ($base / $N)}")" "$(awk "BEGIN{print $rss / 1024}")"
done
echo "  single-image and batched feature files: $same"
