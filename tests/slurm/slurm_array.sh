#!/usr/bin/env bash
# A real one-node Slurm on loopback (Debian's slurmctld, slurmd and munged, run from a temporary folder, no system
# configuration touched): submits scripts/slurm/submit.sh over a small manifest on the tiny test package, waits for
# the array and its dependent merge, and checks the merged table equals a single-process batch + merge of the same
# manifest. Exit 77 (ctest: skipped) when Slurm or munge is not installed.
# Usage: tests/slurm/slurm_array.sh DIFFSCOPE PACKAGE SOURCE_DIR WORK
set -euo pipefail
ds=$(realpath "$1")
pkg=$(realpath "$2")
src=$(realpath "$3")
work=$(realpath -m "$4")
for b in slurmctld slurmd munged sbatch squeue sinfo scontrol; do
  if ! command -v "$b" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$b" ]; then
    echo "slurm_array: $b is not installed (apt install slurm-wlm munge); skipped"
    exit 77
  fi
done
export PATH="/usr/sbin:$PATH"
rm -rf "$work"
mkdir -p "$work"/{state,spool,log}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# munge with its own key and socket
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge.key"
munged --foreground --force --key-file="$work/munge.key" --socket="$work/munge.sock" \
  --pid-file="$work/munged.pid" --log-file="$work/log/munged.log" --seed-file="$work/munge.seed" \
  >"$work/log/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/munge.sock" ] && break; sleep 0.1; done

port=$((20000 + RANDOM % 20000))
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > "$work/slurm.conf" <<CONF
ClusterName=diffscope-test
SlurmctldHost=localhost
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$work/munge.sock
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$work/log/slurmd.out" 2>&1 &
pids+=($!)
up=0
for _ in $(seq 100); do
  if sinfo -h -o '%T' 2>/dev/null | grep -Eq 'idle|mixed'; then up=1; break; fi
  sleep 0.2
done
if [ "$up" != 1 ]; then
  echo "slurm_array: the one-node Slurm did not come up; logs:"
  tail -n 20 "$work"/log/* || true
  exit 1
fi

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
