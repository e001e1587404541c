#!/usr/bin/env bash
# Measures, side by side on loopback with wrk, the same upstream responses
# through plain reverse_proxy and through Tracebar + reverse_proxy:
# a small JSON response and a 100 KB HTML page. Prints requests/s, latency
# and the ratio. Bounded: DURATION per run (default 10s), loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; }
DURATION="${DURATION:-10s}"
CONNS="${CONNS:-32}"
[ -x ./caddy ] || ./xcaddy.sh >/dev/null

dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
row = '<div class="row"><a href="/item?id=42">Item &amp; more</a> <span>text text text</span></div>\n'
body = '<!doctype html><html><head><title>bench</title></head><body>\n' + row * (100*1024 // len(row)) + '</body></html>\n'
open(d + '/page.html', 'w').write(body)
open(d + '/small.json', 'w').write('{"ok":true,"items":[1,2,3]}')
PY
cat > "$dir/Caddyfile" <<CF
{
	admin off
	tracebar {
		otlp_http 127.0.0.1:24318
		otlp_grpc off
		max_requests 1000
	}
}
http://127.0.0.1:28081 {
	root * $dir
	file_server
}
http://127.0.0.1:28082 {
	reverse_proxy 127.0.0.1:28081
}
http://127.0.0.1:28083 {
	tracebar
	reverse_proxy 127.0.0.1:28081
}
CF
HOME="$dir" ./caddy run --config "$dir/Caddyfile" >"$dir/caddy.log" 2>&1 &
for port in 28082 28083; do for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/small.json" && break; sleep 0.1; done; done

run() { # port path -> "rps p50 p99"
	wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H 'Accept: text/html' "http://127.0.0.1:$1$2" |
		awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print rps, p50, p99}'
}
printf '%-22s %-10s %10s %10s %10s\n' case via req/s p50 p99
for path in /small.json /page.html; do
	read -r prps p50 p99 < <(run 28082 "$path")
	printf '%-22s %-10s %10s %10s %10s\n' "$path" plain "$prps" "$p50" "$p99"
	read -r trps t50 t99 < <(run 28083 "$path")
	printf '%-22s %-10s %10s %10s %10s\n' "$path" tracebar "$trps" "$t50" "$t99"
	awk -v a="$trps" -v b="$prps" -v p="$path" 'BEGIN {printf "%-22s ratio      %10.2f\n", p, a/b}'
done
