#!/usr/bin/env bash
# Installs Helm 3 and Helm 4 from the Go module proxy into .cache/bin/helm3 and
# .cache/bin/helm4 (git-ignored), for the post-renderer tests (fn/test/e2e/helm_test.go)
# and examples/helm. Each is built with `go install` into a throwaway GOBIN and
# moved into place, so a failed or interrupted build never leaves a half-written
# binary. A binary already there that was built from the right module version
# (as `go version -m` reads it) is kept: a second call builds nothing.
# Prints two lines: the helm3 path, then the helm4 path.
#
#   HELM3_VERSION (default v3.22.0), HELM4_VERSION (default v4.3.1)
#
# The link flags are those of Helm's own release builds (its Makefile), so
# `helm version` says v3.22.0 / v4.3.1 and Helm 3's default
# .Capabilities.KubeVersion follows its client-go (Helm 4 reads that itself)
# instead of the v1.20 a bare `go install` gives.
#
# Each build takes several minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.cache/bin
go=${GO:-go}
declare -A want=(
	[helm3]="helm.sh/helm/v3 ${HELM3_VERSION:-v3.22.0}"
	[helm4]="helm.sh/helm/v4 ${HELM4_VERSION:-v4.3.1}"
)

# built prints "MODULE VERSION" of the main module a Go binary was built from.
built() {
	"$go" version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $2, $3; exit }'
}

mkdir -p "$bin"
for name in helm3 helm4; do
	read -r mod version <<<"${want[$name]}"
	target=$bin/$name
	if [ -x "$target" ] && [ "$(built "$target")" = "$mod $version" ]; then
		echo "$target"
		continue
	fi
	tmp=$(mktemp -d "$bin/.$name.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	start=$SECONDS
	echo "install-helm.sh: building $mod/cmd/helm@$version (takes minutes)" >&2
	ldflags="-s -w -X $mod/internal/version.version=$version"
	if [ "$name" = helm3 ]; then
		# Helm's Makefile: K8S_MODULES_MAJOR_VER = 1 + client-go's major, minor = client-go's minor.
		gomod=$(cd / && "$go" mod download -json "$mod@$version" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')
		cg=$(awk '$1 == "k8s.io/client-go" { sub(/^v/, "", $2); print $2; exit }' "$gomod")
		IFS=. read -r cgmajor cgminor _ <<<"$cg"
		[ -n "$cgminor" ] || { echo "install-helm.sh: no k8s.io/client-go in $gomod" >&2; exit 1; }
		for pkg in pkg/lint/rules pkg/chartutil; do
			ldflags+=" -X $mod/$pkg.k8sVersionMajor=$((cgmajor + 1)) -X $mod/$pkg.k8sVersionMinor=$cgminor"
		done
	fi
	if ! GOBIN=$tmp CGO_ENABLED=0 "$go" install -trimpath -ldflags "$ldflags" "$mod/cmd/helm@$version" >&2; then
		echo "install-helm.sh: go install $mod/cmd/helm@$version failed" >&2
		exit 1
	fi
	got=$(built "$tmp/helm")
	if [ "$got" != "$mod $version" ]; then
		echo "install-helm.sh: $tmp/helm was built from \"$got\", want \"$mod $version\"" >&2
		exit 1
	fi
	mv -f "$tmp/helm" "$target"
	rm -rf "$tmp"
	trap - EXIT
	echo "install-helm.sh: $target built in $((SECONDS - start))s" >&2
	echo "$target"
done
