#!/usr/bin/env bash
# Benchmark: diffscope against diffusers' StableDiffusionPipeline on the same package, interleaved in one run.
# Builds (once, under scripts/.cache/bench-vs-diffusers) an SD 1.x or 2.x pipeline with random weights at the real
# widths (scripts/export/check_diffusers_export.py's builder; 4.3 GB for SD 1.5) and its diffscope export, then per
# round runs five configurations with the same prompt, seed, DDIM steps, guidance, size and threads (set explicitly
# on both sides), in order on even rounds and reversed on odd ones (this VM's speed drifts over minutes):
#   diffusers             StableDiffusionPipeline (torch eager)
#   diffusers+capture     the same with a processor keeping every attn2's probabilities
#   diffscope-plain       generate --x0-every 0 --no-attention
#   diffscope-capture     generate --x0-every 0
#   diffscope-defaults    generate (all defaults)
# and reports medians of: per denoising step, measured alike on both sides (the time from the first step's end to
# the last's over steps - 1: the first call's one-off set-up is left to load and whole run; diffusers: its step-end
# callback, diffscope: run.json timings.steps_s), the GFLOP/s that makes (one CFG step's matrix arithmetic, counted
# once by scripts/export/unet_flops.py) against the FP32 peak of the threads used, model load (diffscope: wall time minus
# loop, text encoder and decode), whole process wall time, peak RSS and minor page faults (diffscope:
# /usr/bin/time), with same-round ratios to diffusers without capture.
# Usage: bench/bench_vs_diffusers.sh [sd1|sd2|sdxl] [rounds] [steps] [size] [threads] [--tiny]
#   sdxl: StableDiffusionXLPipeline at SDXL base 1.0's widths (2.57 B-parameter UNet, both CLIP encoders; 14 GB)
#   needs build/diffscope and diffusers 0.31 + transformers importable with DIFFUSERS_PYTHONPATH (default /work/pyenv;
#   README, "Checked against diffusers"). --tiny uses the small test widths (a quick check of the script itself).
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANT=${1:-sd1}
ROUNDS=${2:-3}
STEPS=${3:-10}
SIZE=${4:-256}
THREADS=${5:-2}
FULL=1
[ "${6:-}" = "--tiny" ] && FULL=0
PY=/usr/bin/python3
PP=${DIFFUSERS_PYTHONPATH:-/work/pyenv}
BIN=build/diffscope
[ -x "$BIN" ] || { echo "bench_vs_diffusers: build diffscope first (scripts/setup.sh)" >&2; exit 2; }
PYTHONPATH=$PP $PY -c "import diffusers, transformers" 2>/dev/null ||
  { echo "bench_vs_diffusers: diffusers/transformers not importable with PYTHONPATH=$PP" >&2; exit 2; }
WORK=scripts/.cache/bench-vs-diffusers
TAG=$([ $FULL = 1 ] && echo full || echo tiny)-$VARIANT
SRC=$WORK/$TAG
PKG=$WORK/$TAG-package
mkdir -p "$WORK"
if [ ! -f "$PKG/model_index.json" ]; then
  echo "bench_vs_diffusers: building $SRC and its export (once)"
  if [ "$VARIANT" = sdxl ]; then  # scripts/fixtures/make_sdxl_fixture.py's builders (SDXL base 1.0's widths: 14 GB)
    PYTHONPATH=$PP:scripts/export:scripts/fixtures $PY -c "
import sys; sys.argv=['x']
from make_sdxl_fixture import build_full_sdxl, build_tiny_sdxl
build_full_sdxl('$SRC', 'tests/data/reference/clip-tokenizer', seed=11) if $FULL else build_tiny_sdxl('$SRC', seed=11)"
  else
    PYTHONPATH=$PP:scripts/export $PY -c "
import sys; sys.argv=['x']
from check_diffusers_export import build_tiny
build_tiny('$VARIANT', '$SRC', 'tests/data/reference/clip-tokenizer', seed=11, full=bool($FULL))"
  fi
  PYTHONPATH=$PP $PY scripts/export/export_diffusers.py --model "$SRC" --out "$PKG" --height "$SIZE" --width "$SIZE" >/dev/null
fi
FLOPS=$WORK/$TAG-$SIZE.gflop.json  # one CFG step's matrix arithmetic, counted once (scripts/export/unet_flops.py)
if [ ! -s "$FLOPS" ]; then
  PYTHONPATH=$PP $PY scripts/export/unet_flops.py --model "$SRC" --size "$SIZE" --threads "$THREADS" >"$FLOPS.tmp" 2>/dev/null
  mv "$FLOPS.tmp" "$FLOPS"
fi
# FP32 peak = threads x clock x FLOP per cycle per core (32: two 256-bit FMA pipes, as Zen 4 and most AVX2 cores;
# set PEAK_FLOP_PER_CYCLE=64 for a core with two 512-bit FMA units)
MHZ=$(awk -F: '/^cpu MHz/ {print $2; exit}' /proc/cpuinfo | tr -d ' ')
PEAK=$(awk "BEGIN{printf \"%.0f\", $THREADS * ${MHZ:-0} * ${PEAK_FLOP_PER_CYCLE:-32} / 1000}")
OUT=$(mktemp -d /tmp/diffscope-vs-diffusers.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
PROMPT="a photo of a red circle and a blue square"
CONFIGS=(diffusers diffusers+capture diffscope-plain diffscope-capture diffscope-defaults)
# BENCH_CONFIGS="diffusers diffscope-capture diffscope-bf16" runs a subset (diffscope-bf16: capture on, --precision bf16)
[ -n "${BENCH_CONFIGS:-}" ] && read -r -a CONFIGS <<<"$BENCH_CONFIGS"
run_one() {  # config round -> one line "config round per_step load wall rss_gib faults" in $OUT/rows.txt
  local cfg=$1 r=$2
  case $cfg in
    diffusers*)
      local cap=(); [ "$cfg" = diffusers+capture ] && cap=(--capture)
      local start; start=$(date +%s.%N)
      PYTHONPATH=$PP OMP_NUM_THREADS=$THREADS $PY scripts/export/diffusers_timed_run.py --model "$SRC" --prompt "$PROMPT" \
        --steps "$STEPS" --guidance 7.5 --seed 3 --threads "$THREADS" --size "$SIZE" "${cap[@]}" >"$OUT/$cfg-$r.json" 2>/dev/null
      local end; end=$(date +%s.%N)
      $PY -c "import json,sys; j=json.load(open('$OUT/$cfg-$r.json'))
print('$cfg', $r, j['per_step_s'], j['load_s'], $end - $start, j['peak_rss_gib'], j['minor_faults'])" >>"$OUT/rows.txt"
      ;;
    diffscope*)
      local extra=()
      [ "$cfg" = diffscope-plain ] && extra=(--x0-every 0 --no-attention)
      [ "$cfg" = diffscope-capture ] && extra=(--x0-every 0)
      [ "$cfg" = diffscope-bf16 ] && extra=(--x0-every 0 --precision bf16)
      /usr/bin/time -f "%M %R %e" -o "$OUT/$cfg-$r.time" "$BIN" generate -m "$PKG" -p "$PROMPT" --steps "$STEPS" --height "$SIZE" --width "$SIZE" \
        --guidance 7.5 --seed 3 --scheduler ddim --threads "$THREADS" -q --overwrite "${extra[@]}" -o "$OUT/$cfg-$r"
      $PY -c "import json; t=json.load(open('$OUT/$cfg-$r/run.json'))['timings']; m, f, e = open('$OUT/$cfg-$r.time').read().split()
s = t['steps_s']
print('$cfg', $r, sum(s[1:]) / max(1, len(s) - 1), float(e) - t['loop_s'] - t['text_encoder_s'] - t['decode_s'], float(e), int(m) / 2**20, int(f))" >>"$OUT/rows.txt"
      if [ "$cfg" = diffscope-bf16 ] || [ "$cfg" = diffscope-capture ]; then  # kept for the bf16 accuracy line
        mkdir -p "$OUT/keep"; cp "$OUT/$cfg-$r/latents.npy" "$OUT/keep/$cfg-$r.npy"
      fi
      rm -rf "${OUT:?}/$cfg-$r"
      ;;
  esac
}
for ((r = 0; r < ROUNDS; r++)); do
  order=("${CONFIGS[@]}")
  if ((r % 2)); then order=(); for ((i = ${#CONFIGS[@]} - 1; i >= 0; i--)); do order+=("${CONFIGS[i]}"); done; fi
  for cfg in "${order[@]}"; do run_one "$cfg" "$r"; echo "round $r $cfg done" >&2; done
done
echo "diffscope vs diffusers: $TAG, ${SIZE} px, DDIM $STEPS steps, guidance 7.5, $THREADS threads, $ROUNDS interleaved rounds, $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "one CFG step: $($PY -c "import json; print(round(json.load(open('$FLOPS'))['gflop_per_step'], 1))" ) GFLOP (matrix products and convolutions); FP32 peak $PEAK GFLOP/s ($THREADS cores x $MHZ MHz x ${PEAK_FLOP_PER_CYCLE:-32} FLOP/cycle)"
$PY - "$OUT/rows.txt" "$FLOPS" "$PEAK" <<'EOF'
import collections, json, statistics, sys
gflop, peak = json.load(open(sys.argv[2]))["gflop_per_step"], float(sys.argv[3])
rows = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    cfg, r, step, load, wall, rss, faults = line.split()
    rows[cfg][int(r)] = dict(step=float(step), load=float(load), wall=float(wall), rss=float(rss), faults=int(faults))
base = rows["diffusers"]
def med(cfg, key):
    return statistics.median(v[key] for v in rows[cfg].values())
def span(cfg, key, fmt):  # median, then min-max over the rounds
    vals = [v[key] for v in rows[cfg].values()]
    return f"{statistics.median(vals):{fmt}} ({min(vals):{fmt}}-{max(vals):{fmt}})" if len(vals) > 1 else f"{vals[0]:{fmt}}"
def ratio(cfg, key):  # same-round ratios, then their median
    return statistics.median(rows[cfg][r][key] / base[r][key] for r in rows[cfg] if r in base and base[r][key])
print("medians over the rounds, (min-max) beside them; ratios: same-round ratios to diffusers, then their median\n")
print("| configuration | per step (s) | ratio | GFLOP/s (of peak) | load (s) | whole run (s) | ratio | peak RSS (GiB) | ratio | minor page faults |")
print("|---|---|---|---|---|---|---|---|---|---|")
for cfg in ["diffusers", "diffusers+capture", "diffscope-plain", "diffscope-capture", "diffscope-defaults",
            "diffscope-bf16"]:
    if cfg not in rows:
        continue
    rate = gflop / med(cfg, "step")
    share = f" ({rate / peak:.0%})" if peak > 0 else ""
    print(f"| {cfg} | {span(cfg, 'step', '.3f')} | {ratio(cfg, 'step'):.2f}x | {rate:.0f}{share} | {span(cfg, 'load', '.1f')} | "
          f"{span(cfg, 'wall', '.1f')} | {ratio(cfg, 'wall'):.2f}x | {span(cfg, 'rss', '.2f')} | {ratio(cfg, 'rss'):.2f}x | "
          f"{int(med(cfg, 'faults')):,} |")
if "diffscope-capture" in rows and "diffscope-plain" in rows:
    cap = statistics.median(rows["diffscope-capture"][r]["step"] / rows["diffscope-plain"][r]["step"] for r in rows["diffscope-plain"])
    print(f"\ndiffscope capture on vs off, per step: {cap:.3f}x")
print("\nevery run, by round (per step s, load s, whole run s, peak RSS GiB, minor page faults):")
for r in sorted({r for v in rows.values() for r in v}):
    print(f"round {r}: " + "; ".join(f"{cfg} {v[r]['step']:.3f} {v[r]['load']:.1f} {v[r]['wall']:.1f} {v[r]['rss']:.2f} {v[r]['faults']:,}"
                                      for cfg, v in rows.items() if r in v))
EOF
if ls "$OUT/keep"/diffscope-bf16-*.npy >/dev/null 2>&1; then
  $PY -c "
import glob, numpy as np
for f in sorted(glob.glob('$OUT/keep/diffscope-bf16-*.npy')):
    b = np.load(f); c = np.load(f.replace('diffscope-bf16', 'diffscope-capture'))
    d = np.abs(b[-1] - c[-1]).max() / np.abs(c[-1]).max()
    print(f'bf16 vs fp32 final latent, {f[-5]}: max abs difference / latent scale {d:.4f}')"
fi
