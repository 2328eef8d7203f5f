#!/bin/sh
# Helm 4 post-renderer plugin command on Linux: runs inject-mesher (from PATH)
# with Helm's --post-renderer-args, manifests on stdin, injected manifests on
# stdout, exit status passed on.
#
# Why not inject-mesher itself: Helm 4 (checked: v4.3.1, v4.3.2) reads a
# post-renderer plugin's stderr into a buffer it never shows, so a failed run
# says only `plugin "inject-mesher" exited with error`. This script also writes
# the report of a failed run to Helm's own stderr (its parent's, through
# /proc, in append mode), where the user sees it just before Helm's error.
# It changes nothing else: on success Helm gets inject-mesher's stdout as is.
report=$(mktemp) || exit 1
trap 'rm -f "$report"' EXIT
inject-mesher "$@" 2>"$report"
status=$?
if [ "$status" -ne 0 ]; then
	cat "$report" >&2
	if [ -n "$HELM_PLUGIN_NAME" ]; then
		{ cat "$report" >>"/proc/$PPID/fd/2"; } 2>/dev/null
	fi
fi
exit "$status"
