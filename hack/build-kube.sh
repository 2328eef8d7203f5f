#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager VERSION (e.g. 1.33.4) from
# the Go module proxy into .cache/kube/VERSION/, once: a later call finds them
# cached. Prints two lines, the kube-apiserver path then the
# kube-controller-manager path; exits non-zero, naming the binary, when either
# build fails.
#
# Both come from one throwaway module, so the packages they share are compiled
# once. k8s.io/kubernetes requires its staging modules at v0.0.0; each is
# replaced by its published twin v0.MINOR.PATCH, read from kubernetes' own go.mod.
set -euo pipefail
version=${1:?usage: build-kube.sh 1.33.4}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.cache/kube/$version
binaries=(kube-apiserver kube-controller-manager)

cached=1
for b in "${binaries[@]}"; do
	[ -x "$out/$b" ] || cached=0
done
if [ "$cached" = 1 ]; then
	for b in "${binaries[@]}"; do echo "$out/$b"; done
	exit 0
fi

fail() {
	echo "build-kube.sh $version: $*" >&2
	exit 1
}

mkdir -p "$out/src"
cd "$out/src"
staging=v0.${version#1.}
cat > go.mod <<MOD
module kube-build

go 1.26
MOD
rm -f go.sum
{
	echo 'package main'
	echo 'import ('
	for b in "${binaries[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b/app\""; done
	echo ')'
} > tools.go
info=$(go mod download -json "k8s.io/kubernetes@v$version") ||
	fail "cannot download k8s.io/kubernetes@v$version from the module proxy: $(sed -n 's/^\s*"Error": "\(.*\)",\?$/\1/p' <<<"$info")"
gomod=$(sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p' <<<"$info")
[ -n "$gomod" ] || fail "no go.mod for k8s.io/kubernetes@v$version"
for m in $(grep -E '^[[:space:]]*k8s.io/[a-z0-9-]+ v0\.0\.0([[:space:]]|$)' "$gomod" | awk '{print $1}'); do
	go mod edit -replace "$m=$m@$staging"
done
go mod edit -require "k8s.io/kubernetes@v$version"
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || GOFLAGS=-mod=mod go get "k8s.io/kubernetes@v$version" >/dev/null ||
	fail "resolving the modules of k8s.io/kubernetes@v$version failed"
minor=${version#1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
for b in "${binaries[@]}"; do
	[ -x "$out/$b" ] && continue
	start=$SECONDS
	# Written beside and renamed, so an interrupted build never looks cached.
	CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$out/$b.tmp" "k8s.io/kubernetes/cmd/$b" ||
		{ rm -f "$out/$b.tmp"; fail "building $b failed (see the go build output above)"; }
	mv "$out/$b.tmp" "$out/$b"
	echo "built $b $version in $((SECONDS - start)) s" >&2
done
for b in "${binaries[@]}"; do echo "$out/$b"; done
