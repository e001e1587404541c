#!/usr/bin/env bash
# Regenerates the screenshots in tests/screenshots/ (the README shows
# trace.png) by running the browser tests against a Caddy built by
# xcaddy.sh: one per panel (timing, headers, trace, sql, logs, requests),
# the standalone pages (page: one request; history: <prefix>/), the dark
# theme (dark) and a 5,000-span trace (large).
set -euo pipefail
cd "$(dirname "$0")/.."
./xcaddy.sh >/dev/null
mkdir -p tests/screenshots
TRACEBAR_CADDY="$PWD/caddy" TRACEBAR_SCREENSHOTS="$PWD/tests/screenshots" \
	go test ./tests -run '^TestBrowser(ShowsToolbarWithLiveWaterfall|Panels|LargeTrace)$' -count=1
