#!/usr/bin/env bash
# The regression gate fails on real changes: another seed, another scheduler, and the shipped UNet with one
# weight tensor (conv_in) scaled by 1%, each analysed exactly as shapes_regression_gate does and held to the
# committed baseline and measured tolerances. `check` must exit 1 (moved), not 0 (passed) nor 2 (broken input).
# Usage: gate_catches_changes.sh DIFFSCOPE PYTHON SOURCE_DIR WORK_DIR
set -uo pipefail
DS=$1 PY=$2 SRC=$3 WORK=$4
THREADS=${DIFFSCOPE_TEST_THREADS:-2}
SHAPES=$SRC/models/shapes-v1
GATE=(-b "$SRC/tests/baselines/shapes-v1-summary.json" --tolerances "$SRC/tests/baselines/shapes-v1-tolerances.json" -q)
rm -rf "$WORK" && mkdir -p "$WORK"
"$PY" "$SRC/scripts/fixtures/perturb_unet.py" --package "$SHAPES" --out "$WORK/unet-1pct" --by 0.01 || exit 2

failures=0
expect_moved() {  # NAME MODEL EXTRA_ARGS...
  local name=$1 model=$2
  shift 2
  "$DS" analyze -m "$model" -p 'a red circle and a blue square' --steps 25 --guidance 5 --threads "$THREADS" -q \
    "$@" -o "$WORK/$name" || { echo "FAIL $name: analyze failed"; failures=$((failures + 1)); return; }
  "$DS" check -s "$WORK/$name/summary.json" "${GATE[@]}" > "$WORK/$name.check.txt"
  local rc=$?
  local n
  n=$(grep -c '^MOVED' "$WORK/$name.check.txt")
  if [ $rc -eq 1 ]; then
    echo "ok   $name: the gate fails ($n metrics moved beyond tolerance)"
  else
    echo "FAIL $name: check exited $rc, expected 1"; cat "$WORK/$name.check.txt"; failures=$((failures + 1))
  fi
}
expect_moved seed-2 "$SHAPES" --seed 2 --scheduler ddim
expect_moved euler "$SHAPES" --seed 1 --scheduler euler
expect_moved unet-conv_in-1pct "$WORK/unet-1pct" --seed 1 --scheduler ddim
exit $((failures > 0))
