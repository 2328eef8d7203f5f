#!/usr/bin/env bash
# The no-restart-on-upgrade check: every output a release wrote (a folder
# hack/snapshot.sh made with that release's binary), run through a new
# binary with the same config, must come back byte for byte; a byte that
# moved would restart the workload when the new release renders it.
#   hack/upgrade-check.sh OLD_SNAPSHOT_DIR NEW_BIN
set -euo pipefail
old=$(realpath "$1"); bin=$(realpath "$2")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
checked=0; moved=0
while read -r out; do
  [ "$(cat "${out%.stdout}.rc")" = 0 ] && [ -s "$out" ] || continue
  cfg=()
  case $out in */golden/*/cli.stdout)
    c="$root/testdata/golden/$(basename "$(dirname "$out")")/config.yaml"
    [ -f "$c" ] && cfg=(--config "$c");;
  esac
  cp "$out" "$work/in.yaml"
  "$bin" "${cfg[@]}" "$work/in.yaml" >"$work/out.yaml" 2>/dev/null || true
  checked=$((checked + 1))
  if ! cmp -s "$work/in.yaml" "$work/out.yaml"; then
    moved=$((moved + 1)); echo "changed on upgrade: ${out#"$old"/}"
  fi
done < <(find "$old" \( -path '*/golden/*/cli.stdout' -o -path '*/corpus/*.stdout' \) | sort)
echo "$checked outputs of the old release, $moved changed by the new binary"
[ "$moved" = 0 ]
