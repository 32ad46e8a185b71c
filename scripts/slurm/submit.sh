#!/usr/bin/env bash
# Submits a diffscope batch as a Slurm job array of N tasks and its merge as a dependent job; prints both job ids.
# Usage: scripts/slurm/submit.sh MANIFEST OUT RESULTS N [diffscope batch options...]
# Extra sbatch options (partition, account, time) go in SBATCH_ARGS, e.g. SBATCH_ARGS="-p gpu -t 2:00:00".
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 MANIFEST OUT RESULTS N [diffscope batch options...]" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
manifest=$(realpath "$1")
out=$(realpath -m "$2")
results=$(realpath -m "$3")
n=$4
shift 4
# shellcheck disable=SC2086
array=$(sbatch --parsable ${SBATCH_ARGS:-} --array="0-$((n - 1))" "$here/diffscope-array.sbatch" "$manifest" "$out" "$@")
# afterany: the merge runs even when a task failed, so failures are merged and reported too
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency="afterany:${array}" "$here/diffscope-merge.sbatch" "$out" "$results")
echo "array $array"
echo "merge $merge"
