#!/usr/bin/env bash
# A model-change gate for CI: run a fixed prompt set on a model, then hold it to the committed baselines twice:
#   1. check against baseline.json: the set's mean metrics, each within its tolerance (the plain gate);
#   2. check --paired against baseline-runs.jsonl: per prompt and seed, the change from the baseline run; a key fails
#      only when the 95% bootstrap interval of the mean change lies wholly beyond its tolerance (the set gate).
# Both write JUnit XML (for the CI's test report) and markdown (for the job summary) into OUT.
#
# Usage: examples/ci/gate.sh [DIFFSCOPE] [OUT] [MODEL]            exit 0 passed, 1 a gate failed, 2 bad input
#        examples/ci/gate.sh --update [DIFFSCOPE] [OUT] [MODEL]   re-run and rewrite the two baselines (a deliberate,
#                                                                 reviewed change: commit them with the model change)
# Defaults: build/diffscope, runs/ci-gate, models/shapes-v1. DIFFSCOPE_THREADS sets the threads (default 2).
# The tolerance (0.01 on every AUC key) is a policy: the smallest change in localisation worth a failed pipeline.
# It is four orders of magnitude above the floating-point drift measured across machines and thread counts
# (tests/baselines/shapes-v1-tolerances.json: 1e-6 on the AUC keys of one run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
DS=${1:-build/diffscope}
OUT=${2:-runs/ci-gate}
MODEL=${3:-$here/../../models/shapes-v1}
THREADS=${DIFFSCOPE_THREADS:-2}
KEYS=(--keys 'auc.mean_roc_auc*' --keys 'auc.miou*' --keys 'auc.mean_ap*' --keys 'auc.baseline.*')
TOL=(-t 'auc.*=0.01')

mkdir -p "$OUT"
# every line: 25 DDIM steps at guidance 5, the analyses' defaults, no x0 images (the numbers do not need them)
"$DS" batch "$here/manifest.jsonl" -m "$MODEL" --steps 25 --guidance 5 --scheduler ddim --x0-every 0 \
  --threads "$THREADS" -q --overwrite -o "$OUT/runs"
"$DS" merge "$OUT/runs" -o "$OUT/merged" --overwrite

if [ $update = 1 ]; then
  "$DS" baseline -s "$OUT/merged/summary.json" "${KEYS[@]}" "${TOL[@]}" --overwrite -o "$here/baseline.json" \
    --about "examples/ci/gate.sh --update: $(basename "$MODEL"), examples/ci/manifest.jsonl, 25 DDIM steps, guidance 5"
  cp "$OUT/merged/runs.jsonl" "$here/baseline-runs.jsonl"
  echo "diffscope: baselines rewritten: $here/baseline.json, $here/baseline-runs.jsonl (review and commit them)"
  exit 0
fi

status=0
echo "== plain gate: the set's means against baseline.json"
"$DS" check -s "$OUT/merged/summary.json" -b "$here/baseline.json" --suite diffscope-gate \
  --junit "$OUT/gate.xml" --markdown "$OUT/gate.md" || status=$?
echo "== paired gate: per prompt and seed against baseline-runs.jsonl"
rc=0
"$DS" check --paired -s "$OUT/merged" -b "$here/baseline-runs.jsonl" "${KEYS[@]}" "${TOL[@]}" --suite diffscope-paired \
  --junit "$OUT/paired.xml" --markdown "$OUT/paired.md" || rc=$?
[ $rc -gt $status ] && status=$rc
exit $status
