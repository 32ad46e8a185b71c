#!/usr/bin/env bash
# Issue 41's cases re-run one by one against the built binary, each in its own temporary folder.
#
#   tests/cli/issue41_cases.sh DIFFSCOPE TINY_PACKAGE TINY_MMDIT SOURCE_DIR [WORK]
#
# Each case prints PASS or FAIL with the command, its exit code and the first line of its stderr. Expected of every
# refusal: exit 2 (exit 1 only where a skipped bad line is the documented result), one line on stderr naming the thing,
# nothing written outside the output folder (a checksum listing of the case folder before and after), no file
# overwritten without --overwrite, and no library text (JSON, LibTorch, OpenCV, libpng) in stdout or stderr.
# Exits 1 when a case fails. Reads only the checkout (SOURCE_DIR), the build's packages and the binary.
set -u
DS=${1:?diffscope binary}
PKG=${2:?tiny package}
MMDIT=${3:?tiny transformer package}
SRC=${4:?source dir}
WORK=${5:-$(mktemp -d -t issue41.XXXXXX)}
PY=${DS_PYTHON:-/usr/bin/python3}
T5PKG=$SRC/tests/data/reference/sd3-t5-tiny/package
export DIFFSCOPE_THREADS=${DIFFSCOPE_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
rm -rf "$WORK" && mkdir -p "$WORK" || exit 2
WORK=$(cd "$WORK" && pwd)
DS=$(realpath "$DS") PKG=$(realpath "$PKG") MMDIT=$(realpath "$MMDIT") SRC=$(realpath "$SRC")
T5PKG=$SRC/tests/data/reference/sd3-t5-tiny/package

# Library signatures that must never reach a user.
LIBTEXT='json\.exception|index out of range in self|libpng|OpenCV|cv::|Assertion|assertion failed|c10::|what\(\)|terminate called|std::|Exception raised from|at::|torch::|Invalid learning rate|basic_string|stoi|stod|Segmentation|core dumped'

CASE=""
CASE_OK=1
TOTAL=0
FAILED=()

# A checksum listing of the case folder (files and folders), leaving out the allowed output path.
snap() {
  local allow=$1
  (cd "$CASE_DIR" && find . -mindepth 1 \( -path "./$allow" -o -path "./$allow/*" \) -prune -o -print | LC_ALL=C sort |
     while IFS= read -r p; do
       if [[ -f $p ]]; then printf '%s %s\n' "$(md5sum <"$p" | cut -c1-32)" "$p"; else printf 'dir %s\n' "$p"; fi
     done)
}

begin() {
  CASE=$1
  CASE_OK=1
  CASE_DIR=$WORK/$CASE
  mkdir -p "$CASE_DIR" && cd "$CASE_DIR" || exit 2
}

# expect EXIT PATTERN ALLOWED_OUT cmd...: run cmd in the case folder and check exit code, one stderr line holding
# PATTERN (a fixed string; "" = any), no library text, nothing changed outside ALLOWED_OUT ("-": nothing at all).
# For EXIT 0 stderr may be empty or hold warnings; PATTERN then is looked for in stderr only when given.
expect() {
  local want=$1 pat=$2 allow=$3
  shift 3
  local before after rc first why=""
  before=$(snap "$allow")
  "$@" >"$CASE_DIR/.stdout" 2>"$CASE_DIR/.stderr"
  rc=$?
  mv "$CASE_DIR/.stdout" "$WORK/.stdout" && mv "$CASE_DIR/.stderr" "$WORK/.stderr"
  after=$(snap "$allow")
  first=$(grep -m1 -v '^\s*$' "$WORK/.stderr")
  local lines
  lines=$(grep -cv '^\s*$' "$WORK/.stderr")
  [[ $rc == "$want" ]] || why+=" exit $rc, expected $want;"
  if [[ $want != 0 ]]; then
    [[ $lines == 1 || ($want == 1 && $lines -ge 1) ]] || why+=" $lines stderr lines;"
  fi
  if [[ -n $pat ]] && ! grep -qF -- "$pat" "$WORK/.stderr"; then why+=" stderr lacks '$pat';"; fi
  if grep -qE "$LIBTEXT" "$WORK/.stdout" "$WORK/.stderr"; then
    why+=" library text: $(grep -hoE "$LIBTEXT" "$WORK/.stdout" "$WORK/.stderr" | head -1);"
  fi
  if [[ $before != "$after" ]]; then
    why+=" changed outside ${allow}: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -2 | tr '\n' ' ');"
  fi
  local shown="$*"
  shown=${shown//$DS/diffscope}
  shown=${shown//$WORK\//}
  shown=${shown//$SRC\//}
  if [[ -z $why ]]; then
    printf '  ok   [%s] exit %s: %s\n       stderr: %s\n' "$CASE" "$rc" "$shown" "${first:0:220}"
  else
    CASE_OK=0
    printf '  BAD  [%s] exit %s: %s\n       stderr: %s\n       why:%s\n' "$CASE" "$rc" "$shown" "${first:0:300}" "$why"
    [[ $lines -gt 1 ]] && sed -n '2,4s/^/       stderr+: /p' "$WORK/.stderr" | cut -c1-300
  fi
  return 0
}

# check DESCRIPTION COMMAND...: an extra condition of the case (a file absent, a file unchanged).
check() {
  local what=$1
  shift
  if "$@"; then printf '  ok   [%s] %s\n' "$CASE" "$what"; else
    CASE_OK=0
    printf '  BAD  [%s] %s\n' "$CASE" "$what"
  fi
}

end() {
  TOTAL=$((TOTAL + 1))
  if [[ $CASE_OK == 1 ]]; then echo "PASS $CASE"; else
    echo "FAIL $CASE"
    FAILED+=("$CASE")
  fi
  cd "$WORK" || exit 2
}

# ---- shared inputs (built once, copied into cases that edit them) ----
SHARED=$WORK/shared
mkdir -p "$SHARED"
"$PY" "$SRC/scripts/shapes/shapes_dataset.py" --out "$SHARED/data" --count 24 --split all --seed 4 >/dev/null || exit 2
"$DS" features -q -m "$PKG" --dataset "$SHARED/data" --t 25 --layers mid_block --spatial 2 -o "$SHARED/feat" || exit 2
"$DS" features -q -m "$PKG" --dataset "$SHARED/data" --t 25 --layers mid_block --limit 20 -o "$SHARED/feat20" || exit 2
"$DS" generate -q -m "$PKG" -p "a red circle and a blue square" --steps 5 --scheduler ddim --keep-layers 0,3 \
  --concepts circle,square -o "$SHARED/run" >/dev/null || exit 2
"$DS" sae train -q --features "$SHARED/feat" --layer mid_block --t 25 --expansion 2 --k 4 --batch 8 --epochs 1 \
  --warmup 0 -o "$SHARED/sae" || exit 2
printf '{"a": 1.0, "b": 2.0}\n' >"$SHARED/summary.json"
printf '{"a": 1.0, "b": 2.0}\n' >"$SHARED/baseline.json"

# A PNG written byte by byte: its header says WxH, its one IDAT row is what a 1x1 grey image holds.
png() {
  "$PY" - "$1" "$2" "$3" <<'EOF'
import struct, sys, zlib
out, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = zlib.compress(b"\x00\x80")
open(out, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
                      chunk(b"IDAT", raw) + chunk(b"IEND", b""))
EOF
}

# A dataset folder of one or two shapes items, the first edited by a Python expression on `it`.
dataset_with() {
  local dir=$1 edit=$2
  mkdir -p "$dir"
  cp -r "$SHARED/data/images" "$SHARED/data/masks" "$dir/"
  "$PY" - "$SHARED/data/index.json" "$dir/index.json" "$edit" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["items"] = d["items"][:2]
it = d["items"][0]
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
EOF
}

# ---------------- Data escaped, lost or mixed ----------------

case_attribute_id_escape() {
  begin attribute_id_escape
  dataset_with d1/d2/set 'it["id"] = "../../x_att"'
  expect 2 '"../../x_att"' out "$DS" attribute -m "$PKG" --dataset d1/d2/set -o out
  check "no x_att folder beside the dataset" test ! -e d1/x_att -a ! -e x_att -a ! -e d1/d2/x_att
  dataset_with abs/set 'it["id"] = "/tmp/diffscope-issue41-abs-id"'
  expect 2 'diffscope-issue41-abs-id' out "$DS" attribute -m "$PKG" --dataset abs/set -o out
  check "nothing at the absolute id" test ! -e /tmp/diffscope-issue41-abs-id
  end
}

case_report_over_run_json() {
  begin report_over_run_json
  cp -r "$SHARED/run" run
  expect 2 'run.json' - "$DS" report run -o run/run.json
  expect 2 'run.json' - "$DS" report run -o run/run.json --overwrite
  expect 2 'final.png' - "$DS" report run -o run/final.png --overwrite
  check "run.json unchanged" cmp -s run/run.json "$SHARED/run/run.json"
  end
}

case_batch_into_run_folder() {
  begin batch_into_run_folder
  cp -r "$SHARED/run" run
  printf '{"id": "s1", "prompt": "a red circle", "steps": 2, "analyses": ["none"]}\n' >m.jsonl
  expect 2 'run.json' - "$DS" batch m.jsonl -m "$PKG" -o run
  check "no s1/ in the run folder" test ! -e run/s1
  end
}

case_merge_mixed_models() {
  begin merge_mixed_models
  printf '{"id": "a", "prompt": "a red circle", "steps": 2, "analyses": ["none"]}\n' >m1.jsonl
  printf '{"id": "b", "prompt": "a red circle", "steps": 2, "analyses": ["none"]}\n' >m2.jsonl
  "$DS" batch -q m1.jsonl -m "$PKG" -o b1 >/dev/null && "$DS" batch -q m2.jsonl -m "$MMDIT" -o b2 >/dev/null
  expect 2 'model' mg "$DS" merge b1 b2 -o mg
  check "no runs.csv written" test ! -e mg/runs.csv
  end
}

case_merge_edited_run_json() {
  begin merge_edited_run_json
  printf '{"id": "a", "prompt": "a red circle", "steps": 2, "analyses": ["none"]}\n' >m.jsonl
  "$DS" batch -q m.jsonl -m "$PKG" -o b1 >/dev/null
  "$PY" -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); j["inputs"]["prompt"]="a green dragon"; json.dump(j,open(p,"w"),indent=2)' b1/a/run.json
  expect 2 'run.json' mg "$DS" merge b1 -o mg
  check "the edited prompt is not in a table" bash -c '! grep -rqs "green dragon" mg'
  end
}

case_dataset_absolute_image() {
  begin dataset_absolute_image
  dataset_with set 'it["image"] = "/etc/hostname"'
  expect 2 '"/etc/hostname"' out "$DS" attribute -m "$PKG" --dataset set -o out
  expect 2 '"/etc/hostname"' out "$DS" features -m "$PKG" --dataset set -o out
  dataset_with set2 'it["masks"] = "/etc"'
  expect 2 '"/etc"' out "$DS" attribute -m "$PKG" --dataset set2 -o out
  end
}

# ---------------- Crash-like ----------------

case_tokenize_max_length() {
  begin tokenize_max_length
  expect 2 '--max-length' - "$DS" tokenize --tokenizer "$SRC/tests/data/reference/clip-tokenizer" -p "a red circle" \
    --max-length 1000000000
  expect 2 '--max-length' - "$DS" tokenize -m "$T5PKG" -p "a red circle" --max-length 1000000000
  end
}

case_attribute_missing_caption() {
  begin attribute_missing_caption
  dataset_with set 'del it["caption"]'
  expect 2 'caption' out "$DS" attribute -m "$PKG" --dataset set -o out
  dataset_with set2 'it["caption"] = 7'
  expect 2 'caption' out "$DS" attribute -m "$PKG" --dataset set2 -o out
  end
}

case_probe_rows_20_vs_24() {
  begin probe_rows_20_vs_24
  cp -r "$SHARED/feat20" feat && cp "$SHARED/feat/labels.csv" feat/labels.csv
  expect 2 'labels.csv' feat/probe "$DS" probe --features feat
  end
}

case_probe_conv_lr_nan() {
  begin probe_conv_lr_nan
  expect 2 '--conv-lr' - "$DS" probe --features "$SHARED/feat" -o out --conv-lr nan
  expect 2 '--conv-lr' - "$DS" probe --features "$SHARED/feat" -o out --conv-lr inf
  end
}

case_concepts_masks_0x0() {
  begin concepts_masks_0x0
  cp -r "$SHARED/run" run
  mkdir masks && png masks/circle.png 0 0 && png masks/square.png 0 0
  expect 2 'circle.png' run "$DS" concepts -r run --masks masks
  end
}

case_features_huge_png_header() {
  begin features_huge_png_header
  dataset_with set 'pass'
  png set/images/000000.png 100000 100000
  expect 2 '000000.png' out "$DS" features -m "$PKG" --dataset set -o out
  png set/images/000000.png 0 0
  expect 2 '000000.png' out "$DS" features -m "$PKG" --dataset set -o out --overwrite
  end
}

# ---------------- NaN, negative or absurd values ----------------

case_probe_c() {
  begin probe_c
  for v in nan -1 0 inf; do expect 2 '--c' - "$DS" probe --features "$SHARED/feat" -o out --c $v; done
  end
}

case_attribute_guidance_nan() {
  begin attribute_guidance_nan
  expect 2 '--guidance' - "$DS" attribute -m "$PKG" --dataset "$SHARED/data" -o out -g nan
  end
}

case_threshold_nan() {
  begin threshold_nan
  expect 2 '--threshold' - "$DS" attribute -m "$PKG" --dataset "$SHARED/data" -o out --threshold nan
  expect 2 '--threshold' - "$DS" concepts -r "$SHARED/run" --threshold nan
  expect 2 '--threshold' - "$DS" analyze -m "$PKG" -p "a red circle" -o out --threshold nan
  expect 2 '--threshold' - "$DS" layers -r "$SHARED/run" --threshold nan
  end
}

case_check_bad_bars() {
  begin check_bad_bars
  local s=$SHARED/summary.json b=$SHARED/baseline.json
  expect 2 'a=inf' - "$DS" check -s "$s" -b "$b" --rel a=inf
  expect 2 'a=nan' - "$DS" check -s "$s" -b "$b" --min a=nan
  expect 2 'a<<b' - "$DS" check -s "$s" -b "$b" --less 'a<<b'
  expect 2 'a=nan' - "$DS" check -s "$s" -b "$b" -t a=nan
  expect 2 'a=-1' - "$DS" check -s "$s" -b "$b" --rel a=-1
  end
}

case_limit_negative() {
  begin limit_negative
  expect 2 '--limit' - "$DS" features -m "$PKG" --dataset "$SHARED/data" -o out --limit -1
  expect 2 '--limit' - "$DS" attribute -m "$PKG" --dataset "$SHARED/data" -o out --limit -1
  expect 2 '--limit' - "$DS" attribute -m "$PKG" --dataset "$SHARED/data" -o out --limit 0
  end
}

case_max_table_rows() {
  begin max_table_rows
  expect 2 '--max-table-rows' - "$DS" report "$SHARED/run" -o r.html --max-table-rows -5
  end
}

case_sae_warmup_huge() {
  begin sae_warmup_huge
  expect 2 '--warmup' - "$DS" sae train --features "$SHARED/feat" -o out --warmup 99999999999
  end
}

case_sae_min_images() {
  begin sae_min_images
  cp -r "$SHARED/sae" sae
  expect 2 '--min-images' sae/inspect "$DS" sae inspect --sae sae --min-images 1000
  end
}

case_merge_group_by_nosuch() {
  begin merge_group_by_nosuch
  printf '{"id": "a", "prompt": "a red circle", "steps": 2, "analyses": ["none"], "meta": {"cat": "x"}}\n' >m.jsonl
  "$DS" batch -q m.jsonl -m "$PKG" -o b1 >/dev/null
  expect 2 'meta.nosuch' mg "$DS" merge b1 -o mg --group-by meta.nosuch
  expect 2 'group-by' mg "$DS" merge b1 -o mg --group-by nosuch
  end
}

case_compare_height_0() {
  begin compare_height_0
  expect 2 '--height' - "$DS" compare -m "$PKG" -p "a red circle" -p "a blue square" -o out --height 0
  expect 2 '--width' - "$DS" compare -m "$PKG" -p "a red circle" -p "a blue square" -o out --width -8
  end
}

case_features_spatial_too_big() {
  begin features_spatial_too_big
  expect 2 '--spatial' out "$DS" features -m "$PKG" --dataset "$SHARED/data" -o out --layers mid_block --spatial 64
  end
}

case_layers_names() {
  begin layers_names
  expect 2 '--colormap' - "$DS" layers -r "$SHARED/run" --colormap nosuch
  expect 2 '--select-layers' - "$DS" layers -r "$SHARED/run" --select-layers ""
  expect 2 '--select-heads' - "$DS" layers -r "$SHARED/run" --select-heads ""
  end
}

case_sae_config_k0() {
  begin sae_config_k0
  cp -r "$SHARED/sae" sae
  "$PY" -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); j["k"]=0; json.dump(j,open(p,"w"),indent=2)' sae/config.json
  expect 2 'config.json' sae/inspect "$DS" sae inspect --sae sae
  check "no inspect/summary.json" test ! -e sae/inspect/summary.json
  end
}

case_probe_rows_9_vs_24() {
  begin probe_rows_9_vs_24
  cp -r "$SHARED/feat" feat && head -10 "$SHARED/feat/labels.csv" >feat/labels.csv
  expect 2 'labels.csv' feat/probe "$DS" probe --features feat
  end
}

case_report_steps_vs_latents() {
  begin report_steps_vs_latents
  cp -r "$SHARED/run" run
  "$PY" -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); j["inputs"]["steps"]=40; json.dump(j,open(p,"w"),indent=2)' run/run.json
  expect 2 'run.json' r.html "$DS" report run -o r.html
  check "no report written" test ! -e r.html
  end
}

case_probe_nothing_produced() {
  begin probe_nothing_produced
  cp -r "$SHARED/feat" feat
  "$PY" - feat/labels.csv <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    r["size"] = "small"
w = csv.DictWriter(open(sys.argv[1], "w", newline=""), fieldnames=list(rows[0].keys()))
w.writeheader(); w.writerows(rows)
EOF
  expect 2 'size' feat/probe "$DS" probe --features feat --labels size
  cp -r "$SHARED/feat" feat2
  sed -i 's/,train,/,test,/' feat2/labels.csv
  expect 2 'train' feat2/probe "$DS" probe --features feat2 --labels shape
  end
}

case_tokenize_t5_text() {
  begin tokenize_t5_text
  expect 2 'UTF-8' - "$DS" tokenize -m "$T5PKG" -p $'a red \xff\xfe circle'
  expect 0 '' - "$DS" tokenize -m "$T5PKG" -p '赤い円 🔴'
  check "no false '77 tokens' reason for CJK/emoji" bash -c '! grep -q "77 tokens" "$0"' "$WORK/.stderr"
  expect 0 '' - "$DS" tokenize -m "$T5PKG" -p $'a red\tcircle\x01'
  check "no false '77 tokens' reason for control characters" bash -c '! grep -q "77 tokens" "$0"' "$WORK/.stderr"
  end
}

case_batch_unknown_analysis() {
  begin batch_unknown_analysis
  {
    printf '{"id": "good", "prompt": "a red circle", "steps": 2, "analyses": ["none"]}\n'
    printf '{"id": "bad", "prompt": "a red circle", "steps": 2, "analyses": ["nosuch"]}\n'
  } >m.jsonl
  expect 1 'm.jsonl:2' out "$DS" batch -q m.jsonl -m "$PKG" -o out
  check "the good line ran (out/good/run.json)" test -f out/good/run.json
  check "the bad line did not run" test ! -e out/bad/run.json
  end
}

case_report_existing_dir() {
  begin report_existing_dir
  mkdir somedir
  expect 2 'somedir' - "$DS" report "$SHARED/run" -o somedir
  end
}

case_k0_range() {
  begin k0_range
  expect 2 '--k' - "$DS" sae train --features "$SHARED/feat" -o out --k 0
  check "the message is short (< 160 chars)" test "$(head -1 "$WORK/.stderr" | wc -c)" -lt 160
  end
}

case_guidance_list_nan() {
  begin guidance_list_nan
  expect 2 '--guidance' - "$DS" compare -m "$PKG" -p "a red circle" -o out -g 1,nan
  check "not 'the same value is given twice'" bash -c '! grep -q "twice" "$0"' "$WORK/.stderr"
  end
}

ALL=(attribute_id_escape report_over_run_json batch_into_run_folder merge_mixed_models merge_edited_run_json
  dataset_absolute_image tokenize_max_length attribute_missing_caption probe_rows_20_vs_24 probe_conv_lr_nan
  concepts_masks_0x0 features_huge_png_header probe_c attribute_guidance_nan threshold_nan check_bad_bars
  limit_negative max_table_rows sae_warmup_huge sae_min_images merge_group_by_nosuch compare_height_0
  features_spatial_too_big layers_names sae_config_k0 probe_rows_9_vs_24 report_steps_vs_latents
  probe_nothing_produced tokenize_t5_text batch_unknown_analysis report_existing_dir k0_range guidance_list_nan)

if [[ -n ${ISSUE41_ONLY:-} ]]; then read -r -a ALL <<<"$ISSUE41_ONLY"; fi
for c in "${ALL[@]}"; do "case_$c"; done

echo "issue 41 cases: $((TOTAL - ${#FAILED[@]})) of $TOTAL pass${FAILED:+; failing: ${FAILED[*]}}"
[[ ${#FAILED[@]} == 0 ]]
