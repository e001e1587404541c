#!/usr/bin/env bash
# Regenerates the screenshots in tests/screenshots/ (the README shows
# trace.png) by running the browser test against a Caddy built by xcaddy.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
./xcaddy.sh >/dev/null
TRACEBAR_CADDY="$PWD/caddy" TRACEBAR_SCREENSHOTS="$PWD/tests/screenshots" \
	go test ./tests -run '^TestBrowser' -count=1
