#!/usr/bin/env bash
# Captures the real traces the model's tests (assets/test/) run on: Caddy
# with Tracebar in front of the Go demo app (tests/demoapp) and the Node
# test app (tests/node, needs `npm ci` there), each exporting its spans to
# Tracebar's sink; a headless Chromium loads the pages, so the browser's
# documentLoad and fetch/XHR spans join the traces. Writes
# assets/testdata/{go,node}-*.json. Run from anywhere; needs go, node,
# curl, jq and chromium.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=assets/testdata
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing on :$1" >&2; exit 1; }

go build -o "$tmp/caddy" ./tests/cmd/caddy
go build -o "$tmp/demoapp" ./tests/demoapp

# caddy <upstream>: a Caddy like tests/harness_test.go's basicCaddyfile.
caddy() {
	site=$(port) sink=$(port) grpc=$(port) admin=$(port)
	cat >"$tmp/Caddyfile" <<CF
{
	admin 127.0.0.1:$admin
	tracebar {
		otlp_http 127.0.0.1:$sink
		otlp_grpc 127.0.0.1:$grpc
	}
}
http://127.0.0.1:$site {
	tracebar
	reverse_proxy $1
}
CF
	HOME=$tmp XDG_DATA_HOME=$tmp XDG_CONFIG_HOME=$tmp "$tmp/caddy" run --config "$tmp/Caddyfile" >"$tmp/caddy.log" 2>&1 &
	pids+=($!)
	wait_port "$site"
	wait_port "$sink"
	base=http://127.0.0.1:$site
}
stop() { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; pids=(); }

# browse <path>: the page in Chromium, its scripts run, the toolbar reports
# the browser's spans.
browse() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/chrome" \
		--virtual-time-budget=8000 --dump-dom "$base$1" >/dev/null 2>"$tmp/chrome.log" || true
}
# save <name> <method> <path>: the newest record of that request, its trace and its logs.
save() {
	local rec trace
	rec=$(curl -fsS "$base/__tracebar/api/requests?limit=50" | jq -c --arg m "$2" --arg u "$3" '[.[] | select(.method == $m and .url == $u)][0]')
	trace=$(jq -r .traceId <<<"$rec")
	curl -fsS "$base/__tracebar/api/requests/$(jq -r .id <<<"$rec")" | jq . >"$out/$1.request.json"
	curl -fsS "$base/__tracebar/api/traces/$trace" | jq . >"$out/$1.trace.json"
	curl -fsS "$base/__tracebar/api/traces/$trace/logs" | jq . >"$out/$1.logs.json"
}

# The Go demo app: / (a query, a call to the inventory service, a render),
# /orders (N+1, an exception, a warning log record, a fetch and an XHR after
# load) reached through /old-orders (a 302).
app=$(port) inv=$(port)
caddy "127.0.0.1:$app"
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink "$tmp/demoapp" -addr "127.0.0.1:$app" -inventory "127.0.0.1:$inv" >"$tmp/demoapp.log" 2>&1 &
pids+=($!)
wait_port "$app"
browse /
browse /old-orders
sleep 3 # the app's batch span processors export every second or so
save go-index GET /
save go-orders GET /orders
curl -fsS "$base/__tracebar/api/requests?limit=50" | jq . >"$out/go-requests.json"
stop

# The Node app: / (a query and a render with an event).
app=$(port)
caddy "127.0.0.1:$app"
(cd tests/node && PORT=$app OTEL_SERVICE_NAME=node-app OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf exec node server.js) >"$tmp/node.log" 2>&1 &
pids+=($!)
wait_port "$app"
browse /
sleep 3
save node-index GET /
stop
ls -l "$out"
