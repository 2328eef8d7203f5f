#!/usr/bin/env bash
# Hydrates every app under apps/ into deploy/<app>.yaml, the plain manifests
# Flux applies: `kustomize build apps/<app>` piped through inject-mesher, with
# apps/<app>/mesher-injection.yaml as the function config when there is one.
# Flux's kustomize-controller runs no plugins, so the sidecar goes in here, in
# CI, and the result is committed (ci/render.yaml runs this on GitHub Actions).
#
#   ci/render.sh            render into deploy/
#   ci/render.sh --check    fail when deploy/ is not what apps/ renders to (pull requests)
#   ci/render.sh --commit   render and commit deploy/ when it changed (the main branch)
#
# deploy/ belongs to this script: it is replaced as a whole, so a removed app
# disappears from it too. Every app is rendered into a temporary folder first:
# on any failure (a broken manifest, a bad annotation, a missing tool) the
# script exits non-zero and deploy/ is left exactly as it was.
#
# Environment: APPS_DIR (default apps), OUT_DIR (default deploy), and
# INJECT_MESHER and KUSTOMIZE, the tools (default: found on PATH).
set -euo pipefail

usage() {
	echo "usage: ci/render.sh [--check|--commit]" >&2
	exit 2
}
mode=render
case $# in
0) ;;
1) case $1 in --check | --commit) mode=${1#--} ;; *) usage ;; esac ;;
*) usage ;;
esac

cd "$(dirname "$0")/.."
apps_dir=${APPS_DIR:-apps}
out_dir=${OUT_DIR:-deploy}
out_dir=${out_dir%/}
inject_mesher=${INJECT_MESHER:-inject-mesher}
kustomize=${KUSTOMIZE:-kustomize}

fail() {
	echo "render: $*" >&2
	exit 1
}
for tool in "$inject_mesher" "$kustomize"; do
	command -v "$tool" >/dev/null || fail "$tool not found (put it on PATH, or set INJECT_MESHER / KUSTOMIZE)"
done

if [[ $mode == commit ]]; then
	git rev-parse --is-inside-work-tree >/dev/null || fail "--commit needs a git work tree"
	# deploy/ must be the render of a commit, not of local edits.
	if [[ -n $(git status --porcelain -- "$apps_dir") ]]; then
		git status --short -- "$apps_dir" >&2
		fail "$apps_dir/ has uncommitted changes: commit them first, --commit renders what HEAD holds"
	fi
fi

work=$(mktemp -d)
new=
trap 'rm -rf "$work" ${new:+"$new"}' EXIT
mkdir "$work/out"

apps=0
for kustomization in "$apps_dir"/*/kustomization.yaml; do
	[[ -f $kustomization ]] || continue
	app_dir=${kustomization%/kustomization.yaml}
	app=${app_dir##*/}
	echo "render: $app_dir -> $out_dir/$app.yaml" >&2
	config=()
	if [[ -f $app_dir/mesher-injection.yaml ]]; then
		config=(--config "$app_dir/mesher-injection.yaml")
	fi
	"$kustomize" build "$app_dir" >"$work/$app.built.yaml" || fail "$app_dir: kustomize build failed"
	{
		echo "# Rendered by ci/render.sh from $app_dir: edit the sources there, not this file."
		"$inject_mesher" "${config[@]}" <"$work/$app.built.yaml"
	} >"$work/out/$app.yaml" || fail "$app_dir: inject-mesher failed"
	apps=$((apps + 1))
done
((apps > 0)) || fail "no apps: no $apps_dir/*/kustomization.yaml"

if [[ $mode == check ]]; then
	if ! diff -ru "$out_dir" "$work/out" >&2; then
		fail "$out_dir/ is not what $apps_dir/ renders to: run ci/render.sh and commit $out_dir/"
	fi
	echo "render: $out_dir/ is up to date" >&2
	exit 0
fi

# Swap the new folder in: renamed within the parent, never half written.
parent=$(dirname "$out_dir")
new=$(mktemp -d "$parent/.render-new.XXXXXX")
old=$parent/.render-old.$$
cp -R "$work/out/." "$new/"
chmod 755 "$new"
if [[ -e $out_dir ]]; then mv "$out_dir" "$old"; fi
mv "$new" "$out_dir"
rm -rf "$old"

if [[ $mode == commit ]]; then
	git add -A -- "$out_dir"
	if git diff --cached --quiet -- "$out_dir"; then
		echo "render: $out_dir/ is up to date, nothing to commit" >&2
		exit 0
	fi
	git commit -q -m "render: hydrate $out_dir/ from $(git rev-parse --short HEAD)" -- "$out_dir"
	echo "render: committed $(git rev-parse --short HEAD)" >&2
fi
