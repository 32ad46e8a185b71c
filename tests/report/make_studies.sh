#!/usr/bin/env bash
# Builds one small folder of every kind `diffscope report` opens, on the tiny test package, reports each, and writes
# WORK/reports.json ({kind: {html, folder, ...}}) for tests/report/kinds_test.js. About 25 s on 2 idle cores.
#
# Usage: tests/report/make_studies.sh DIFFSCOPE PACKAGE SOURCE_DIR WORK [PYTHON]
set -euo pipefail
ds=$(realpath "$1") pkg=$(realpath "$2") src=$(realpath "$3") work=$(realpath -m "$4") py=${5:-/usr/bin/python3}
export DIFFSCOPE_THREADS=1 OMP_NUM_THREADS=1
rm -rf "$work"
mkdir -p "$work/html"
cd "$work"
common=(--threads 1 -q)
# a run with every default analysis and saliency over two steps (what appears when, where words attend, which steps)
"$ds" analyze -m "$pkg" -p 'a red circle and a blue square' --steps 3 --scheduler ddim --guidance 3 "${common[@]}" -o run
"$ds" saliency --run run --steps 1,2 --samples 4 --batch 4 --k 2 "${common[@]}" >/dev/null
# a guidance sweep over two prompts (one holding markup, which the page must show as text)
"$ds" compare -m "$pkg" -p 'a red circle' -p 'a <b>blue</b> square' --guidance 0,3,7 --steps 2 --scheduler ddim \
  "${common[@]}" -o compare
# a batch of three lines in two categories, merged; one run gets its own report (drill-down link)
printf '%s\n' '{"id":"r1","prompt":"a red circle","seed":1,"meta":{"category":"colour"}}' \
  '{"id":"r2","prompt":"a <b>blue</b> square","seed":2,"meta":{"category":"shape"}}' \
  '{"id":"r3","prompt":"a green triangle","seed":3,"meta":{"category":"colour"}}' > manifest.jsonl
"$ds" batch manifest.jsonl -m "$pkg" --steps 2 --scheduler ddim --analyses heatmaps,settle,emergence "${common[@]}" -o batch
"$ds" report batch/r1 -q -o batch/r1/report.html
"$ds" merge batch -o merged --group-by meta.category -q
# saliency over a prompt set, two steps each
printf '0\ta red circle\n1\ta blue square\n' > prompts.txt
"$ds" saliency --gen-model "$pkg" --prompts prompts.txt --gen-steps 3 --steps 0,2 --samples 4 --batch 4 --k 2 \
  "${common[@]}" -o saliency >/dev/null
# features of 48 shapes images at two timesteps, their probes, and an SAE on one layer, inspected
"$py" "$src/scripts/shapes/shapes_dataset.py" --out data --count 48 --split all --seed 4 >/dev/null
"$ds" features -m "$pkg" --dataset data --t 25,500 --spatial 2 "${common[@]}" -o features
"$ds" probe --features features --heads linear "${common[@]}"
"$ds" sae train --features features --layer mid_block --t 25 --spatial --expansion 2 --k 4 --batch 32 --epochs 3 \
  --warmup 4 --lr 2e-3 --seed 3 "${common[@]}" -o sae
"$ds" sae inspect --sae sae --top 5 --min-images 5 --sheets 3 --seed 2 "${common[@]}"
# the reports
"$ds" report run -q -o html/run.html
"$ds" report compare -q -o html/compare.html
"$ds" report batch -q -o html/batch.html
"$ds" report merged batch -q -o html/merge.html
"$ds" report saliency -q -o html/saliency.html
"$ds" report features -q -o html/probe.html
"$ds" report sae -q -o html/sae.html
cat > reports.json <<JSON
{
  "run": {"html": "$work/html/run.html", "folder": "$work/run"},
  "compare": {"html": "$work/html/compare.html", "folder": "$work/compare"},
  "batch": {"html": "$work/html/batch.html", "folder": "$work/batch"},
  "merge": {"html": "$work/html/merge.html", "folder": "$work/merged", "batch": "$work/batch"},
  "saliency": {"html": "$work/html/saliency.html", "folder": "$work/saliency"},
  "probe": {"html": "$work/html/probe.html", "folder": "$work/features"},
  "sae": {"html": "$work/html/sae.html", "folder": "$work/sae"}
}
JSON
