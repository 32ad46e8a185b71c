#!/usr/bin/env bash
# The GPU path in one call (issue 40; docs/performance.md, "GPU and other LibTorch builds"): on the lent accelerator
# machine, builds diffscope against the PyTorch wheel's LibTorch with the carried C++ dependencies
# (scripts/gpu/bundle_deps.sh: build-gpu-deps/, or its .tar.xz), then runs scripts/gpu/check.py: fixtures, the
# LibTorch ctests, CPU-vs-CUDA equality of latents, maps, x0 and saliency, and SD 1.5-width timings at 512 px with and
# without capture, fp32 and fp16, against diffusers (carried on DIFFUSERS_PYTHONPATH). Writes $OUT/gpu-check.json and
# $OUT/gpu-check.md.
#   device:    OUT=/out scripts/gpu/check.sh [check.py options]
#   rehearsal: scripts/gpu/check.sh --device cpu --bin build/diffscope --size 64 --steps 4 --rounds 1 --skip tests
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-build-gpu/out}
mkdir -p "$OUT"
DEPS=${DIFFSCOPE_GPU_DEPS:-$PWD/build-gpu-deps}
if [ ! -d "$DEPS/usr" ] && [ -f "$DEPS.tar.xz" ]; then mkdir -p "$DEPS" && tar -C "$DEPS" -xJf "$DEPS.tar.xz"; fi
if [ -d "$DEPS/usr" ]; then
  export DIFFSCOPE_GPU_DEPS=$DEPS/usr
  export LD_LIBRARY_PATH=$DEPS/usr/lib/x86_64-linux-gnu:$DEPS/usr/lib/closure${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
PY=$(command -v python3)
[ -x /opt/torch/.venv/bin/python3 ] && PY=/opt/torch/.venv/bin/python3
[ -x /usr/bin/python3 ] && ! "$PY" -c 'import torch' 2>/dev/null && PY=/usr/bin/python3
"$PY" scripts/gpu/check.py --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu-check.log"
