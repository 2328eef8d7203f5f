#!/usr/bin/env bash
# Runs the webhook on loopback with a throwaway self-signed certificate,
# sends it review.json (the Pod a ReplicaSet creates for Deployment
# "checkout") over TLS, prints the answer with its JSON patch decoded, and
# stops the webhook. Run from the top of the repository after `make build`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${WEBHOOK:-bin/inject-mesher-webhook}
port=${PORT:-18443}
probes=${PROBE_PORT:-18080}
tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null
"$bin" --listen "127.0.0.1:$port" --probe-listen "127.0.0.1:$probes" \
	--tls-cert-file "$tmp/tls.crt" --tls-key-file "$tmp/tls.key" \
	--config "$here/mesher-injection.yaml" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$probes/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf --cacert "$tmp/tls.crt" -H 'Content-Type: application/json' \
	--data @"$here/review.json" "https://127.0.0.1:$port/inject" > "$tmp/response.json" || {
	echo "no answer from the webhook:" >&2; cat "$tmp/log" >&2; exit 1; }
# The answer, then its patch (base64 in the AdmissionReview) decoded, one operation a line.
sed 's/"patch":"[^"]*"/"patch":"..."/' "$tmp/response.json"; echo
sed -n 's/.*"patch":"\([^"]*\)".*/\1/p' "$tmp/response.json" | base64 -d | sed 's/},{"op"/},\n{"op"/g'; echo
