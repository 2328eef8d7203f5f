#!/usr/bin/env bash
# Builds Argo CD (default v3.5.7) from the Go module proxy into
# .cache/argocd/VERSION/ (git-ignored), once: a later call finds it cached.
# Prints the folder; in it:
#   argocd              the one binary, which acts by its name:
#   argocd-repo-server  and argocd-cmp-server, symlinks to it
#   generate-manifest   hack/argocd/generate-manifest: asks a repo-server's
#                       GenerateManifest gRPC for an app (Argo CD's own client)
#   redis               hack/argocd/redis: miniredis on loopback, the cache
#                       the repo-server needs
#   git-verify-wrapper.sh  from Argo CD's source, which the repo-server runs
# All three programs come from one throwaway module, so what they share
# compiles once (docs/performance.md has how long). Argo CD's go.mod has replace
# directives, which only the main module's count: they are copied, and
# gitops-engine (sent to a folder the module download leaves out) points at
# the one version the module proxy serves.
#
#   ARGOCD_VERSION (default v3.5.7)
set -euo pipefail
version=${ARGOCD_VERSION:-v3.5.7}
gitops_engine=github.com/argoproj/argo-cd/gitops-engine@v0.0.0-20260914071520-c9c369efcc5b
miniredis=github.com/alicebob/miniredis/v2@v2.40.0
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.cache/argocd/$version
programs=(argocd generate-manifest redis)

fail() {
	echo "build-argocd.sh $version: $*" >&2
	exit 1
}

cached=1
for p in "${programs[@]}" git-verify-wrapper.sh; do
	[ -x "$out/$p" ] || cached=0
done
# The sources of the two small programs are part of what is cached.
for p in generate-manifest redis; do
	cmp -s "$root/hack/argocd/$p/main.go" "$out/src/$p/main.go" 2>/dev/null || cached=0
done
if [ "$cached" = 1 ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$out/src"
cd "$out/src"
for p in generate-manifest redis; do
	mkdir -p "$p"
	cp "$root/hack/argocd/$p/main.go" "$p/main.go"
done
info=$(cd / && go mod download -json "github.com/argoproj/argo-cd/v3@$version") ||
	fail "cannot download github.com/argoproj/argo-cd/v3@$version from the module proxy"
gomod=$(sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p' <<<"$info")
srcdir=$(sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p' <<<"$info")
[ -n "$gomod" ] && [ -n "$srcdir" ] || fail "no go.mod or source for github.com/argoproj/argo-cd/v3@$version"
cat > go.mod <<MOD
module argocd-build

go 1.26
MOD
rm -f go.sum
cat > tools.go <<'GO'
package main

import _ "github.com/argoproj/argo-cd/v3/cmd"
GO
# Argo CD's replace directives: single-line ones and those inside a block,
# comments dropped.
awk '
	{ sub(/[ \t]*\/\/.*$/, "") }
	/^replace[ \t]*\(/ { block = 1; next }
	block && /^\)/ { block = 0; next }
	block && NF { print; next }
	/^replace[ \t]/ { sub(/^replace[ \t]+/, ""); print }
' "$gomod" | while read -r line; do
	from=${line%%=>*}; to=${line#*=>}
	from=$(echo $from); to=$(echo $to)
	case "$to" in
	./* | ../*) continue ;; # local folders: gitops-engine, handled below
	esac
	go mod edit -replace "${from// /@}=${to// /@}"
done
go mod edit -replace "github.com/argoproj/argo-cd/gitops-engine=$gitops_engine"
go mod edit -require "github.com/argoproj/argo-cd/v3@$version" -require "$miniredis"
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || GOFLAGS=-mod=mod go mod tidy ||
	fail "resolving the modules of Argo CD $version failed"
for p in "${programs[@]}"; do
	start=$SECONDS
	case $p in
	argocd) pkg=github.com/argoproj/argo-cd/v3/cmd ;;
	*) pkg=./$p ;;
	esac
	# Written beside and renamed, so an interrupted build never looks cached.
	CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w -X github.com/argoproj/argo-cd/v3/common.version=${version#v}" -o "$out/$p.tmp" "$pkg" ||
		{ rm -f "$out/$p.tmp"; fail "building $p failed (see the go build output above)"; }
	mv "$out/$p.tmp" "$out/$p"
	echo "build-argocd.sh: built $p in $((SECONDS - start)) s" >&2
done
ln -sf argocd "$out/argocd-repo-server"
ln -sf argocd "$out/argocd-cmp-server"
install -m 0755 "$srcdir/hack/git-verify-wrapper.sh" "$out/git-verify-wrapper.sh"
echo "$out"
