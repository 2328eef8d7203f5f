#!/usr/bin/env bash
# Stages what examples/argocd/plugin/Dockerfile copies besides bin/inject-mesher
# (make build) into bin/argocd-plugin/ (git-ignored):
#   busybox    Debian's busybox-static (statically linked: it runs in a FROM
#              scratch image), fetched with apt-get download and unpacked with
#              dpkg-deb into .cache/busybox once; nothing is installed
#   kustomize  kustomize KUSTOMIZE_VERSION built with CGO_ENABLED=0 (static)
#              into .cache/static once (the one in .cache/bin is the host's,
#              dynamically linked)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kustomize_version=${KUSTOMIZE_VERSION:-v5.5.0}
out=$root/bin/argocd-plugin
mkdir -p "$out" "$root/.cache/busybox" "$root/.cache/static"

busybox=$root/.cache/busybox/bin/busybox
if [ ! -x "$busybox" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download needs the package lists; fetch them once if missing.
	(cd "$tmp" && apt-get download busybox-static >/dev/null 2>&1) ||
		{ apt-get update -qq >/dev/null && (cd "$tmp" && apt-get download busybox-static >/dev/null); } ||
		{ echo "stage-argocd-plugin.sh: apt-get download busybox-static failed" >&2; exit 1; }
	dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/x"
	file "$tmp/x/bin/busybox" | grep -q 'statically linked' ||
		{ echo "stage-argocd-plugin.sh: Debian's busybox-static is not statically linked: $(file "$tmp/x/bin/busybox")" >&2; exit 1; }
	mkdir -p "$root/.cache/busybox/bin"
	cp "$tmp/x/bin/busybox" "$busybox.tmp" && mv "$busybox.tmp" "$busybox"
fi

kustomize=$root/.cache/static/kustomize
if [ ! -x "$kustomize" ] || ! go version -m "$kustomize" | grep -q "mod.*sigs.k8s.io/kustomize/kustomize/v5.*$kustomize_version"; then
	CGO_ENABLED=0 GOBIN=$root/.cache/static go install -trimpath -ldflags '-s -w' "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version"
fi
cp "$busybox" "$kustomize" "$out/"
echo "$out"
