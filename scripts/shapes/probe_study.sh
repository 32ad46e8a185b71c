#!/usr/bin/env bash
# Revelio's linear probes on both shipped models, side by side (docs/results.md, "Linear probes: UNet against
# MMDiT"): one 800-image shapes dataset (shapes_dataset.py --split all --seed 11, 25% held out), block outputs of
# shapes-v1's UNet and of shapes-mmdit-v1's transformer at t = 25, 200, 500, 800 (flow models: sigma = t/1000), a
# linear probe per layer x timestep x label with the pixel and latent baselines and 95% bootstrap intervals; prints
# the layer x timestep accuracy tables.
# Usage: scripts/shapes/probe_study.sh [OUT=runs/probe-study] [THREADS=2]   (about 3 minutes on 2 cores)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-runs/probe-study}"
threads="${2:-2}"
ds="${DIFFSCOPE:-$here/build/diffscope}"
py=/usr/bin/python3
mkdir -p "$out"
[ -f "$out/data/index.json" ] || "$py" "$here/scripts/shapes/shapes_dataset.py" --out "$out/data" --count 800 --split all --seed 11 >/dev/null
for m in shapes-v1 shapes-mmdit-v1; do
  if [ ! -f "$out/$m/probe/summary.json" ]; then
    "$ds" features -m "$here/models/$m" --dataset "$out/data" --t 25,200,500,800 --threads "$threads" -q --overwrite \
      -o "$out/$m"
    "$ds" probe --features "$out/$m" --heads linear --threads "$threads" -q --overwrite
  fi
done
"$py" "$here/scripts/shapes/probe_tables.py" "$out/shapes-v1/probe" "$out/shapes-mmdit-v1/probe"
