#!/usr/bin/env bash
# ctest docs_commands_current: docs/commands.md is what the binary's --help prints today.
# Usage: tests/docs/check_commands_doc.sh path/to/diffscope [repository root]
set -euo pipefail
BIN=$1
ROOT=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$ROOT/scripts/gen_commands_doc.sh" "$BIN" "$tmp/commands.md"
if ! diff -u "$ROOT/docs/commands.md" "$tmp/commands.md" >"$tmp/diff"; then
  head -60 "$tmp/diff"
  echo
  echo "docs_commands_current: docs/commands.md differs from the binary's --help ($(grep -c '^[-+][^-+]' "$tmp/diff") lines)."
  echo "Regenerate it from the repository root with: scripts/gen_commands_doc.sh build/diffscope"
  exit 1
fi
echo "docs_commands_current: docs/commands.md matches every command's --help"
