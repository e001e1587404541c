#!/usr/bin/env bash
# Builds ./caddy with Tracebar from this checkout, using xcaddy.
#
#   ./xcaddy.sh                      build ./caddy
#   ./xcaddy.sh --with <module>...   extra arguments go to `xcaddy build` (other plugins)
#   ./xcaddy.sh demo                 build, then run the demo: Caddyfile.example in
#                                    front of the demo app (tests/demoapp)
set -euo pipefail
cd "$(dirname "$0")"

CADDY_VERSION=v2.11.9
XCADDY_VERSION=v0.4.5
# The module path is not published: pin a pseudo-version so the Go command
# uses this checkout instead of asking the module proxy for it.
SELF="github.com/tracebar/tracebar@v0.0.0-00010101000000-000000000000=."

xcaddy="$(go env GOPATH)/bin/xcaddy"
if ! "$xcaddy" version 2>/dev/null | grep -q "$XCADDY_VERSION"; then
	echo "installing xcaddy $XCADDY_VERSION" >&2
	go install "github.com/caddyserver/xcaddy/cmd/xcaddy@$XCADDY_VERSION"
fi

build() {
	"$xcaddy" build "$CADDY_VERSION" --output ./caddy --with "$SELF" "$@"
}

if [ "${1:-}" != demo ]; then
	build "$@"
	exit 0
fi

build
mkdir -p tests/out
go build -o tests/out/demoapp ./tests/demoapp
# The demo app exports to the sink at the OTel SDKs' default endpoint.
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 tests/out/demoapp -addr 127.0.0.1:3000 -inventory 127.0.0.1:3001 &
app=$!
trap 'kill $app 2>/dev/null' EXIT
echo
echo "  Tracebar demo: open http://localhost:8080/ (Ctrl-C stops)"
echo
./caddy run --config Caddyfile.example --adapter caddyfile
