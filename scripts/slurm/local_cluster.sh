#!/usr/bin/env bash
# A one-node Slurm for trying the array scripts on one machine (and for the slurm_array test and bench): munged,
# slurmctld and slurmd from Debian's packages (apt install slurm-wlm munge), configured and run entirely from DIR on
# loopback (a private munge key and socket, random ports, no system file touched).
#   scripts/slurm/local_cluster.sh start DIR   # then: export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm/local_cluster.sh stop DIR
# Exit 77 when Slurm or munge is not installed.
set -euo pipefail
cmd=${1:-}
dir=$(realpath -m "${2:-}")
export PATH="/usr/sbin:$PATH"
case "$cmd" in
  stop)
    for f in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munged.pid; do
      [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
for b in slurmctld slurmd munged sbatch sinfo; do
  command -v "$b" >/dev/null 2>&1 || { echo "local_cluster: $b is not installed (apt install slurm-wlm munge)"; exit 77; }
done
mkdir -p "$dir"/{state,spool,log}
dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge.key"
munged --force --key-file="$dir/munge.key" --socket="$dir/munge.sock" --pid-file="$dir/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge.seed" >"$dir/log/munged.out" 2>&1
for _ in $(seq 50); do [ -S "$dir/munge.sock" ] && break; sleep 0.1; done
port=$((20000 + RANDOM % 20000))
cat > "$dir/slurm.conf" <<CONF
ClusterName=diffscope-local
SlurmctldHost=localhost
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 2048 )) State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -i -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1
slurmd -N localhost -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1
for _ in $(seq 150); do
  if sinfo -h -o '%T' 2>/dev/null | grep -Eq 'idle|mixed|allocated'; then
    echo "local_cluster: up ($(nproc) CPUs); export SLURM_CONF=$dir/slurm.conf"
    exit 0
  fi
  sleep 0.2
done
echo "local_cluster: the one-node Slurm did not come up; logs:" >&2
tail -n 20 "$dir"/log/* >&2 || true
"$0" stop "$dir"
exit 1
