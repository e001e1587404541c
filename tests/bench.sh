#!/usr/bin/env bash
# Measures, side by side on loopback with wrk, in one Caddy, the same
# upstream responses through plain reverse_proxy, Caddy's own tracing +
# reverse_proxy (spans made, exporter "none": the lower bound of its cost),
# and Tracebar + reverse_proxy: (a) a small JSON response and (b) a 100 KB
# HTML page (requests/s, p50/p99 latency, ratios); (c) Caddy's peak RSS
# around one 10 MB and one 100 MB HTML page through Tracebar; (d) sink
# ingest in spans/s (go test -bench, batches of 512, loopback sockets); and
# the injector and the handler alone. Bounded: ROUNDS (default 6) of
# DURATION (default 5s) per variant and case, loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; }
DURATION="${DURATION:-5s}"
ROUNDS="${ROUNDS:-6}"
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
for name, mb in (('big10.html', 10), ('big.html', 100)):
    with open(d + '/' + name, 'w') as f:
        f.write('<!doctype html><html><body>\n')
        chunk = row * 10000
        for _ in range(mb * 1024 * 1024 // len(chunk)):
            f.write(chunk)
        f.write('</body></html>\n')
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
http://127.0.0.1:28084 {
	tracing
	reverse_proxy 127.0.0.1:28081
}
CF
HOME="$dir" OTEL_TRACES_EXPORTER=none ./caddy run --config "$dir/Caddyfile" >"$dir/caddy.log" 2>&1 &
caddy_pid=$!
for port in 28082 28083 28084; do for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/small.json" && break; sleep 0.1; done; done

hwm() { awk '/VmHWM/ {print $2}' "/proc/$caddy_pid/status"; }
for page in big10.html big.html; do
	before=$(hwm)
	size=$(curl -s -H 'Accept: text/html' -o /dev/null -w '%{size_download}' "http://127.0.0.1:28083/$page")
	after=$(hwm)
	echo "(c) $page through tracebar: $size bytes received; Caddy peak RSS ${before} kB -> ${after} kB (growth $(( (after - before) / 1024 )) MB)"
done

run() { # port path -> "rps p50 p99"
	wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H 'Accept: text/html' "http://127.0.0.1:$1$2" |
		awk 'function ms(x) { if (x ~ /us$/) return x / 1000; if (x ~ /ms$/) return x + 0; if (x ~ /s$/) return x * 1000; return x }
			/Requests\/sec/ {rps=$2} /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)} END {print rps, p50, p99}'
}
# This machine's speed drifts between runs: the three variants take turns,
# ROUNDS short times, and the median of each is reported.
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-12s %-9s %10s %10s %10s   (median of %s rounds of %s)\n' case via req/s p50 p99 "$ROUNDS" "$DURATION"
for path in /small.json /page.html; do
	: >"$dir/r"
	for _ in $(seq "$ROUNDS"); do
		for v in plain:28082 tracing:28084 tracebar:28083; do
			echo "${v%%:*} $(run "${v##*:}" "$path")" >>"$dir/r"
		done
	done
	for v in plain tracing tracebar; do
		rps=$(awk -v v=$v '$1 == v {print $2}' "$dir/r" | median)
		p50=$(awk -v v=$v '$1 == v {print $3}' "$dir/r" | median)
		p99=$(awk -v v=$v '$1 == v {print $4}' "$dir/r" | median)
		printf '%-12s %-9s %10s %8sms %8sms\n' "$path" "$v" "$rps" "$p50" "$p99"
		eval "rps_$v=$rps"
	done
	awk -v a="$rps_tracebar" -v b="$rps_plain" -v c="$rps_tracing" -v p="$path" \
		'BEGIN {printf "%-12s ratios    tracebar/plain %.2f, tracing/plain %.2f, tracebar/tracing %.2f\n", p, a/b, c/b, a/c}'
done

echo "(d) sink ingest, batches of 512 spans:"
go test ./otelbridge -run '^$' -bench 'BenchmarkSink' -benchtime 3s | grep Benchmark
go test ./otelbridge -run '^$' -bench 'BenchmarkStoreBytesPerSpan' -benchtime 1x | grep Benchmark
go test ./inject -run '^$' -bench BenchmarkWriter100KB -benchtime 2s | grep Benchmark
echo "Tracebar's own work per small JSON exchange (upstream played in process):"
go test ./caddymodule -run '^$' -bench BenchmarkHandlerJSON -benchtime 2s | grep Benchmark
