#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build, and analyze one prompt on the shipped model.
# Usage: scripts/demo.sh ["prompt"] [out-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh diffscope
PROMPT=${1:-"a red circle and a blue square"}
OUT=${2:-runs/demo}
build/diffscope analyze --model models/shapes-v1 --prompt "$PROMPT" --seed 1 --steps 25 --guidance 5 \
  --scheduler ddim --overwrite --out "$OUT"
echo
echo "diffscope: outputs in $OUT/"
echo "  final image          $OUT/final.png"
echo "  denoising filmstrip  $OUT/steps/filmstrip.png"
echo "  per-word heatmaps    $OUT/heatmaps/"
echo "  tables (CSV)         $OUT/tables/"
echo "  headline numbers     $OUT/summary.json"
