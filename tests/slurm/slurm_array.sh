#!/usr/bin/env bash
# A real one-node Slurm on loopback (scripts/slurm/local_cluster.sh: Debian's slurmctld, slurmd and munged, run
# from a temporary folder, no system configuration touched): submits scripts/slurm/submit.sh over a small manifest on the tiny test package, waits for
# the array and its dependent merge, and checks the merged table equals a single-process batch + merge of the same
# manifest. Exit 77 (ctest: skipped) when Slurm or munge is not installed or their daemons cannot start here.
# Usage: tests/slurm/slurm_array.sh DIFFSCOPE PACKAGE SOURCE_DIR WORK
set -euo pipefail
ds=$(realpath "$1")
pkg=$(realpath "$2")
src=$(realpath "$3")
work=$(realpath -m "$4")
export PATH="/usr/sbin:$PATH"
rm -rf "$work"
mkdir -p "$work"
trap '"$src/scripts/slurm/local_cluster.sh" stop "$work/cluster"' EXIT
status=0
"$src/scripts/slurm/local_cluster.sh" start "$work/cluster" || status=$?
if [ "$status" = 77 ]; then
  echo "slurm_array: Slurm or munge is not installed (apt install slurm-wlm munge); skipped"
  exit 77
fi
if [ "$status" != 0 ]; then  # the daemons themselves (not diffscope) could not start here: say why, skip
  echo "slurm_array: a one-node Slurm cannot start on this machine (logs above); skipped"
  exit 77
fi
export SLURM_CONF="$work/cluster/slurm.conf"

# the manifest: 5 lines on the tiny package, one of them bad (recorded, not fatal)
m="$work/m.jsonl"
for i in 0 1 2 3; do
  echo "{\"id\": \"r$i\", \"prompt\": \"a red circle and a blue square\", \"seed\": $i, \"meta\": {\"g\": \"$((i % 2))\"}}"
done > "$m"
echo '{"prompt": "x", "seeds": 1}' >> "$m"
opts=(-m "$pkg" --steps 3 --scheduler ddim -g 3 --x0-every 0 -q --analyses heatmaps,correlate)

# the reference: one process
"$ds" batch "$m" -o "$work/single" "${opts[@]}" --threads 1 && exit 1 || true   # exit 1: the bad line
"$ds" merge "$work/single" -o "$work/single-results" -q

# the array: 2 tasks and the dependent merge, through the shipped scripts
cd "$work"
ids=$(DIFFSCOPE="$ds" SBATCH_ARGS="--cpus-per-task=1 --chdir=$work" \
  "$src/scripts/slurm/submit.sh" "$m" "$work/array" "$work/array-results" 2 "${opts[@]}")
echo "$ids"
merge_id=$(echo "$ids" | awk '/^merge/ {print $2}')
for _ in $(seq 600); do
  if [ -z "$(squeue -h -o %i 2>/dev/null)" ]; then break; fi
  sleep 0.5
done
state=$(scontrol show job "$merge_id" 2>/dev/null | grep -o 'JobState=[A-Z]*' || true)
echo "merge job: $state"
if [ ! -f "$work/array-results/runs.csv" ]; then
  echo "slurm_array: the merge job wrote no runs.csv; job outputs:"
  tail -n 20 "$work"/diffscope-*.out || true
  exit 1
fi
ls "$work/array"
test -f "$work/array/failures.shard-0-of-2.jsonl" -o -f "$work/array/failures.shard-1-of-2.jsonl"
cmp "$work/single-results/runs.csv" "$work/array-results/runs.csv"
cmp "$work/single-results/aggregate.csv" "$work/array-results/aggregate.csv"
echo "slurm_array: the 2-task array's merged table equals the single process's ($(($(wc -l < "$work/array-results/runs.csv") - 1)) runs)"
