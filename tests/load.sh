#!/usr/bin/env bash
# Load and soak, loopback only, bounded: N requests (default 10,000, HTML
# and JSON alternating) at C concurrent (default 100) through Tracebar to the
# Node test app, which exports its spans to the sink meanwhile. Fails on any
# error, any lost span, or goroutine growth after the load; then soaks for
# SOAK (default 5m; 0 to skip) and prints Caddy's RSS every 10 s.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-10000}" C="${C:-100}" SOAK="${SOAK:-5m}"
[ -x ./caddy ] || ./xcaddy.sh >/dev/null
(cd tests/node && [ -d node_modules ] || npm ci --silent)
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
go build -o "$dir/loadgen" ./tests/cmd/loadgen

# Caps above what the load needs: no span may be evicted.
cat > "$dir/Caddyfile" <<CF
{
	admin 127.0.0.1:22090
	tracebar {
		otlp_http 127.0.0.1:24390
		otlp_grpc off
		max_traces 50000
		max_requests 50000
		max_spans 500000
	}
}
http://127.0.0.1:28090 {
	tracebar
	reverse_proxy 127.0.0.1:28091
}
CF
HOME="$dir" ./caddy run --config "$dir/Caddyfile" >"$dir/caddy.log" 2>&1 &
caddy_pid=$!
# The SDK's own queue must not drop spans at this rate either.
PORT=28091 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:24390 OTEL_SERVICE_NAME=node-app \
	OTEL_BSP_MAX_QUEUE_SIZE=200000 OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512 \
	node tests/node/server.js >"$dir/node.log" 2>&1 &
for port in 28090 28091; do
	for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/api/data" && break; sleep 0.1; done
done
"$dir/loadgen" -base http://127.0.0.1:28090 -admin http://127.0.0.1:22090 -pid "$caddy_pid" -n "$N" -c "$C" -soak "$SOAK"
