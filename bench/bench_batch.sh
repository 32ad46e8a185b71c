#!/usr/bin/env bash
# Benchmark: a LINES-line manifest on the shipped model (the 20 fixed prompts x LINES/20 seeds, every analysis, no x0
# images) run four ways, one after another:
#   single   one `diffscope batch` process, --threads 2
#   shards   two `batch --shard I/2` processes at once, --threads 1 each
#   slurm    a 2-task Slurm array through scripts/slurm/submit.sh on a one-node Slurm (scripts/slurm/local_cluster.sh),
#            skipped when Slurm is not installed
#   separate LINES separate `diffscope analyze` calls (a model load each), --threads 2
# and the peak RSS of `batch` at LINES/4 and LINES lines (it must not grow with the manifest).
# Usage: bench/bench_batch.sh [LINES=200]     (about 15 minutes for 200 lines on 2 cores; needs build/diffscope)
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
LINES=${1:-200}
BIN=$here/build/diffscope
OUT=$(mktemp -d /tmp/diffscope-bench-batch.XXXXXX)
trap '"$here/scripts/slurm/local_cluster.sh" stop "$OUT/cluster" >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT
MODEL=$here/models/shapes-v1
make_manifest() {  # lines file
  grep -v '^#' tests/data/shapes_prompts.txt | grep -v '^$' |
    awk -F'\t' -v n="$1" '{ p[NR - 1] = $2 } END { for (i = 0; i < n; i++) printf "{\"id\": \"r%04d\", \"prompt\": \"%s\", \"seed\": %d, \"meta\": {\"prompt\": %d}}\n", i, p[i % NR], 1000 + i, i % NR }' >"$2"
}
make_manifest "$LINES" "$OUT/m.jsonl"
make_manifest $((LINES / 4)) "$OUT/m4.jsonl"
opts=(-m "$MODEL" --steps 25 --guidance 5 --scheduler ddim --x0-every 0 -q)
secs() { awk "BEGIN{printf \"%.1f\", $2 - $1}"; }

t0=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$OUT/rss-full" "$BIN" batch "$OUT/m.jsonl" -o "$OUT/single" "${opts[@]}" --threads 2
t1=$(date +%s.%N)
"$BIN" batch "$OUT/m.jsonl" -o "$OUT/shards" "${opts[@]}" --threads 1 --shard 0/2 &
p0=$!
"$BIN" batch "$OUT/m.jsonl" -o "$OUT/shards" "${opts[@]}" --threads 1 --shard 1/2 &
p1=$!
wait $p0 $p1
t2=$(date +%s.%N)
slurm="skipped (no Slurm)"
if "$here/scripts/slurm/local_cluster.sh" start "$OUT/cluster" >/dev/null 2>&1; then
  export SLURM_CONF="$OUT/cluster/slurm.conf"
  ts=$(date +%s.%N)
  (cd "$OUT" && DIFFSCOPE="$BIN" SBATCH_ARGS="--cpus-per-task=1 --chdir=$OUT" \
    "$here/scripts/slurm/submit.sh" "$OUT/m.jsonl" "$OUT/slurm" "$OUT/slurm-results" 2 "${opts[@]}" >/dev/null)
  while [ -n "$(squeue -h -o %i 2>/dev/null)" ]; do sleep 0.5; done
  te=$(date +%s.%N)
  slurm="$(secs "$ts" "$te") s (incl. the merge job)"
fi
t3=$(date +%s.%N)
i=0
while read -r line; do
  prompt=$(echo "$line" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["prompt"])')
  "$BIN" analyze -p "$prompt" --seed $((1000 + i)) -o "$OUT/separate/$i" -m "$MODEL" --steps 25 --guidance 5 \
    --scheduler ddim --x0-every 0 -q --threads 2 >/dev/null
  i=$((i + 1))
done <"$OUT/m.jsonl"
t4=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$OUT/rss-quarter" "$BIN" batch "$OUT/m4.jsonl" -o "$OUT/quarter" "${opts[@]}" --threads 2
"$BIN" merge "$OUT/shards" -o "$OUT/r-shards" -q
same="(no Slurm to compare)"
if [ -f "$OUT/slurm-results/runs.csv" ]; then  # both at 1 thread per process: the same numbers
  same=$(cmp -s "$OUT/slurm-results/runs.csv" "$OUT/r-shards/runs.csv" && echo "identical" || echo "DIFFERENT")
fi
echo "diffscope batch, $LINES lines of shapes-v1 (25 DDIM steps, every analysis), $(date -u +%F), $(nproc) cores:"
echo "  single process (2 threads)        $(secs "$t0" "$t1") s"
echo "  2 shards at once (1 thread each)  $(secs "$t1" "$t2") s"
echo "  Slurm array of 2 tasks            $slurm   merged table vs the 2 shards': $same"
echo "  $LINES separate analyze calls     $(secs "$t3" "$t4") s   (each: the same analyses and a model load)"
echo "  per run: batch $(awk "BEGIN{printf \"%.2f\", ($t1 - $t0) / $LINES}") s, separate $(awk "BEGIN{printf \"%.2f\", ($t4 - $t3) / $LINES}") s"
echo "  peak RSS of batch: $(( $(cat "$OUT/rss-quarter") / 1024 )) MB at $((LINES / 4)) lines, $(( $(cat "$OUT/rss-full") / 1024 )) MB at $LINES lines"
