#!/usr/bin/env bash
# Writes docs/commands.md, the command reference, from the binary's own --help: `diffscope --help`, then every
# subcommand its "Subcommands:" list names, and theirs (sae train, sae inspect), one section each.
# Usage: scripts/gen_commands_doc.sh [path/to/diffscope] [output.md]   (defaults: build/diffscope, docs/commands.md)
# The ctest docs_commands_current runs it into a temporary file and fails when docs/commands.md differs.
set -euo pipefail
BIN=${1:-build/diffscope}
OUT=${2:-docs/commands.md}
[ -x "$BIN" ] || { echo "gen_commands_doc.sh: $BIN is not an executable diffscope" >&2; exit 2; }

# Output that depends on nothing but the binary: C locale, a fixed width, no inherited option defaults, and
# argv[0] spelt "diffscope" (CLI11 prints it in every Usage line).
export LC_ALL=C COLUMNS=120 OMP_WAIT_POLICY=PASSIVE  # the last one spares each call a re-exec
unset DIFFSCOPE_THREADS DIFFSCOPE_CACHE_DIR
help_of() {  # help_of [subcommand words...]
  (exec -a diffscope "$BIN" "$@" --help) | sed -e 's/[[:space:]]*$//'
}
# The names listed under "Subcommands:" (two-space indent, up to the first blank line).
subcommands_in() {
  awk '/^Subcommands:/ { on = 1; next } on && /^$/ { exit } on && /^  [^ ]/ { print $1 }'
}

TMP=$(mktemp)
trap 'rm -f "$TMP" "$TMP.sections" "$TMP.toc"' EXIT
: >"$TMP.sections"
: >"$TMP.toc"

section() {  # section [subcommand words...]
  local title="diffscope${*:+ $*}"
  local heading=${*:-diffscope}
  local anchor
  anchor=$(printf '%s' "$heading" | tr 'A-Z ' 'a-z-')
  local text
  text=$(help_of "$@")
  printf -- '- [`%s`](#%s)\n' "$title" "$anchor" >>"$TMP.toc"
  {
    printf '\n## %s\n\n```text\n' "$heading"
    printf '%s\n' "$text" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
    printf '```\n'
  } >>"$TMP.sections"
  local sub
  for sub in $(printf '%s\n' "$text" | subcommands_in); do
    section "$@" "$sub"
  done
}
section

{
  printf '# Command reference\n\n'
  printf 'Generated from the binary'"'"'s own `--help` by `scripts/gen_commands_doc.sh build/diffscope`; do not edit by\n'
  printf 'hand (the ctest `docs_commands_current` fails when this file and the binary disagree). What the commands do\n'
  printf 'and how they fit together: [the README](../README.md#commands) and [the commands in detail](usage.md).\n\n'
  cat "$TMP.toc"
  cat "$TMP.sections"
} >"$TMP"

mkdir -p "$(dirname "$OUT")"
mv "$TMP" "$OUT"
chmod 644 "$OUT"
trap - EXIT
rm -f "$TMP.sections" "$TMP.toc"
