#!/usr/bin/env bash
# The test command (README): go vet, the race-enabled unit and integration
# tests against a Caddy built by ./xcaddy.sh (Go and Node.js upstreams, a
# headless Chromium, a Jaeger built from tests/jaeger), then bounded fuzzing
# of every parser.
#
# Installs what it needs when missing: Chromium, php-fpm, Django (for
# tests/django) and python3-doc (real Sphinx pages for the injector's
# tests) from Debian (as root) and the Node.js test app's pinned packages
# (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null || missing+=(chromium fonts-liberation)
compgen -G '/usr/sbin/php-fpm*' >/dev/null || missing+=(php-fpm)
/usr/bin/python3 -c 'import django' 2>/dev/null || missing+=(python3-django)
[ -e /usr/share/doc/python3-doc/html/library/stdtypes.html ] || missing+=(python3-doc)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "--- installing ${missing[*]}" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "missing Debian packages: apt-get install ${missing[*]}" >&2
		exit 1
	fi
fi
echo "--- npm ci (tests/node)" >&2
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

echo "--- go vet" >&2
go vet ./...
node --test --test-reporter=spec assets/test/*.test.js # the toolbar's model (assets/model) on traces captured from the test apps

echo "--- xcaddy build" >&2
./xcaddy.sh >/dev/null

# Jaeger v2 for the forwarding test, from its own module (tests/jaeger:
# its OpenTelemetry versions are not ours); a cold build takes minutes.
echo "--- jaeger build (tests/jaeger)" >&2
mkdir -p tests/out
(cd tests/jaeger && go build -trimpath -o ../out/jaeger github.com/jaegertracing/jaeger/cmd/jaeger)

echo "--- go test -race" >&2
TRACEBAR_CADDY="$PWD/caddy" TRACEBAR_JAEGER="$PWD/tests/out/jaeger" go test -race -count=1 -timeout 20m ./...

echo "--- fuzzing (bounded)" >&2
fuzztime="${FUZZTIME:-15s}"
# Minimising each new interesting input would take the whole budget (the
# default is up to 60 s each); spend it on new inputs instead.
fuzz() { go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" -fuzzminimizetime 200x; }
fuzz ./inject FuzzWriter
fuzz ./otelbridge FuzzSinkProtobuf
fuzz ./otelbridge FuzzSinkJSON
fuzz ./otelbridge FuzzZipkinJSON
fuzz ./otelbridge FuzzZipkinProto
fuzz ./otelbridge FuzzMetricsFromProto
fuzz ./caddymodule FuzzWebSocketFrames
