#!/usr/bin/env bash
# Regenerates docs/img/report-KIND.png: the folders of the ctest report_kinds_in_browser (built by
# tests/report/make_studies.sh under build/eval/report-kinds), a screenshot of each page while kinds_test.js drives it,
# at half size and 96 colours (Pillow) so that the seven stay under 200 KB together.
# Usage: tests/report/docs_screenshots.sh [build dir]   (run the ctest first)
set -euo pipefail
build=${1:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
node "$src/tests/report/kinds_test.js" "$build/eval/report-kinds/reports.json" "$raw" >/dev/null
/usr/bin/python3 - "$raw" "$src/docs/img" <<'PY'
import os, sys
from PIL import Image
raw, out = sys.argv[1:3]
for f in sorted(os.listdir(raw)):
    im = Image.open(os.path.join(raw, f)).convert("RGB")
    im.quantize(colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(os.path.join(out, f), optimize=True)
    print(f, os.path.getsize(os.path.join(out, f)) // 1024, "KB")
PY
