#!/usr/bin/env bash
# Installs what diffscope needs (Debian 12) and configures + builds it in Release under build/.
# Usage: scripts/setup.sh [cmake targets...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake ninja-build libtorch-dev python3-torch python3-numpy python3-pil python3-opencv
      python3-sklearn python3-matplotlib libopencv-dev libcli11-dev nlohmann-json3-dev libspdlog-dev
      catch2 libopenblas0-openmp zlib1g-dev libssl-dev
      libcairo2-dev fonts-dejavu-core  # figures: cairo draws PNG + PDF + SVG, text in DejaVu Sans
      chromium)  # headless browser for tests/report/browser_test.js (~123 MB download, ~410 MB installed)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "diffscope: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release
fi
JOBS=${DIFFSCOPE_JOBS:-2}
if [ $# -gt 0 ]; then
  for t in "$@"; do cmake --build build -j"$JOBS" --target "$t"; done
else
  cmake --build build -j"$JOBS"
fi

# Browser test of `diffscope report` pages (tests/report/browser_test.js): puppeteer-core, pinned by
# tests/report/package-lock.json, installed under tests/report/node_modules (git-ignored).
# Skipped quietly without node/npm; the test then exits 2 and says how to install.
if command -v node >/dev/null && command -v npm >/dev/null && [ ! -d tests/report/node_modules/puppeteer-core ]; then
  echo "diffscope: installing puppeteer-core for tests/report"
  npm ci --prefix tests/report --no-audit --no-fund
fi
