#!/usr/bin/env bash
# Records what an inject-mesher binary writes (stdout, stderr, exit code) for
# every golden input, as a command line and as a KRM function, and for every
# file of ../shared/corpus with its pod templates annotated. Run it with the
# binary before and after a change that should not alter output, then diff
# the two folders: a byte that moved is a restart in a user's cluster.
#   hack/snapshot.sh BIN OUT_DIR
set -euo pipefail
bin=$(realpath "$1"); out=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out/golden" "$out/corpus"
record() { # name, then the command
  local name=$1; shift
  mkdir -p "$(dirname "$out/$name")"
  set +e; "$@" >"$out/$name.stdout" 2>"$out/$name.stderr"; echo $? >"$out/$name.rc"; set -e
}
for dir in "$root"/testdata/golden/*/; do
  case=$(basename "$dir")
  cfg=(); [ -f "$dir/config.yaml" ] && cfg=(--config "$dir/config.yaml")
  record "golden/$case/cli" "$bin" "${cfg[@]}" "$dir/input.yaml"
  # The ResourceList as kpt hands it over, the config as functionConfig.
  list=$(mktemp); pkg=$(mktemp -d)
  cp "$dir/input.yaml" "$pkg/"
  kpt fn source "$pkg" ${cfg[1]:+--fn-config "${cfg[1]}"} >"$list" 2>/dev/null || true
  record "golden/$case/krm" "$bin" <"$list"
  rm -rf "$list" "$pkg"
done
annotated=$(mktemp -d)
(cd "$root" && go run ./fn/test/cmd/annotate-corpus "$root" "$annotated")
cd "$annotated"
# Relative names, so the report lines are the same whatever the temp folder.
find . -type f | sort | while read -r f; do
  record "corpus/${f#./}" "$bin" "${f#./}"
done
cd "$root"
rm -rf "$annotated"
