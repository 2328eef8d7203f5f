#!/usr/bin/env bash
# Kept for old callers: builds (or finds cached) kube-apiserver and
# kube-controller-manager VERSION with hack/build-kube.sh and prints only the
# kube-apiserver path. New callers use build-kube.sh, which prints both.
set -euo pipefail
paths=$("$(dirname "$0")/build-kube.sh" "${1:?usage: build-kube-apiserver.sh 1.33.4}")
echo "$paths" | head -n1
