#!/usr/bin/env bash
# examples/ci/gate.sh as CI would run it: both gates pass against the committed baselines, their JUnit files parse
# with one case per gated key, and the same gates fail (exit 1, naming the key) when the baselines are shifted by
# more than the tolerance: the plain gate by 0.02 on one mean, the paired gate by a consistent 0.02 on every run.
# Usage: ci_example.sh DIFFSCOPE PYTHON SOURCE_DIR WORK_DIR
set -uo pipefail
DS=$1 PY=$2 SRC=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK"
DIFFSCOPE_THREADS=${DIFFSCOPE_TEST_THREADS:-2} "$SRC/examples/ci/gate.sh" "$DS" "$WORK/out" > "$WORK/gate.log" 2>&1
rc=$?
cat "$WORK/gate.log"
[ $rc -eq 0 ] || { echo "FAIL examples/ci/gate.sh exited $rc against the committed baselines"; exit 1; }
"$PY" - "$WORK/out" <<'PY' || exit 1
import sys, xml.etree.ElementTree as ET
out = sys.argv[1]
for name, suite_name in (("gate.xml", "diffscope-gate"), ("paired.xml", "diffscope-paired")):
    suite = ET.parse(f"{out}/{name}").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert suite.get("name") == suite_name and int(suite.get("failures")) == 0, (name, suite.attrib)
    gated = [c for c in cases if c.find("skipped") is None]
    assert len(gated) >= 3, (name, len(gated))
    assert any(c.get("name").startswith("auc.mean_roc_auc") for c in gated), name
for md in ("gate.md", "paired.md"):
    assert open(f"{out}/{md}").read().startswith("**diffscope check: passed**"), md
print("ok   JUnit and markdown of both gates")
PY
# shift the committed baselines beyond the tolerance: both gates must fail and name the key
"$PY" - "$SRC/examples/ci" "$WORK" <<'PY' || exit 1
import json, sys
src, work = sys.argv[1], sys.argv[2]
b = json.load(open(f"{src}/baseline.json"))
b["metrics"]["auc.mean_roc_auc.mean"] += 0.02
json.dump(b, open(f"{work}/shifted-baseline.json", "w"))
with open(f"{src}/baseline-runs.jsonl") as f, open(f"{work}/shifted-runs.jsonl", "w") as g:
    for line in f:
        r = json.loads(line)
        r["summary"]["auc.mean_roc_auc"] += 0.02
        g.write(json.dumps(r) + "\n")
PY
failures=0
"$DS" check -s "$WORK/out/merged/summary.json" -b "$WORK/shifted-baseline.json" -q > "$WORK/shifted.txt"
rc=$?
if [ $rc -eq 1 ] && grep -q '^MOVED .*auc.mean_roc_auc.mean' "$WORK/shifted.txt"; then echo "ok   plain gate fails on a 0.02 shift"
else echo "FAIL plain gate on a shifted baseline: exit $rc"; cat "$WORK/shifted.txt"; failures=1; fi
"$DS" check --paired -s "$WORK/out/merged" -b "$WORK/shifted-runs.jsonl" --keys 'auc.mean_roc_auc' -t 'auc.*=0.01' -q \
  > "$WORK/shifted-paired.txt"
rc=$?
if [ $rc -eq 1 ] && grep -q '^MOVED .*auc.mean_roc_auc: mean paired change -0.02' "$WORK/shifted-paired.txt"; then
  echo "ok   paired gate fails on a consistent 0.02 shift"
else echo "FAIL paired gate on shifted runs: exit $rc"; cat "$WORK/shifted-paired.txt"; failures=1; fi
exit $failures
