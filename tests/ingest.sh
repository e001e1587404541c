#!/usr/bin/env bash
# Measures OTLP ingest, spans/s, in exports of 512 spans (tests/cmd/ingest:
# pre-marshalled, fresh ids every export, CLIENTS parallel clients with a
# connection each, DURATION per run), over OTLP/HTTP protobuf and OTLP/gRPC,
# against (1) Caddy running only the tracebar app (sink and store, forward
# off, the store's default caps unless MAX_SPANS/MAX_TRACES are set: the
# store fills up and evicts whole traces, as a long-running dev proxy does)
# and (2) an OpenTelemetry Collector with only the otlp receiver and the nop
# exporter (tests/collector, built into tests/out/). One target runs at a
# time; the load generator shares the machine's cores with it. Prints a
# table, then each process's RSS before, right after and at peak of its load,
# and Caddy's bytes per stored span: live heap (after a GC forced through
# the admin API on loopback, the one listener besides the sink) and RSS
# growth, right after the load and SETTLE seconds after that GC. Loopback
# only; bounded (4 runs of DURATION, each cut off at DURATION + 60s).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
CLIENTS="${CLIENTS:-4}"
MAX_SPANS="${MAX_SPANS:-200000}"
MAX_TRACES="${MAX_TRACES:-1000}"
CADDY_HTTP="${CADDY_HTTP:-127.0.0.1:25318}"
CADDY_GRPC="${CADDY_GRPC:-127.0.0.1:25317}"
CADDY_ADMIN="${CADDY_ADMIN:-127.0.0.1:25019}"
SETTLE="${SETTLE:-10}"
COL_HTTP="${COL_HTTP:-127.0.0.1:26318}"
COL_GRPC="${COL_GRPC:-127.0.0.1:26317}"
secs=$(( ${DURATION%s} + 60 ))

[ -x ./caddy ] || ./xcaddy.sh >/dev/null
mkdir -p tests/out
start=$(date +%s.%N)
(cd tests/collector && go build -trimpath -o ../out/otelcol .)
echo "collector built in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b-a}')s (tests/out/otelcol)"
go build -o tests/out/ingest ./tests/cmd/ingest

dir=$(mktemp -d)
pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi; pid=; }
trap 'stop; rm -rf "$dir"' EXIT

for addr in "$CADDY_HTTP" "$CADDY_GRPC" "$CADDY_ADMIN" "$COL_HTTP" "$COL_GRPC"; do
	if ss -Hltn "sport = :${addr##*:}" | grep -q .; then echo "port ${addr##*:} is in use" >&2; exit 1; fi
done
# Neither process may export its own telemetry anywhere.
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT OTEL_EXPORTER_OTLP_PROTOCOL OTEL_TRACES_EXPORTER

cat > "$dir/caddy.json" <<JSON
{
	"admin": {"listen": "$CADDY_ADMIN"},
	"apps": {"tracebar": {
		"otlp_http": "$CADDY_HTTP", "otlp_grpc": "$CADDY_GRPC", "forward": "off",
		"max_spans": $MAX_SPANS, "max_traces": $MAX_TRACES
	}}
}
JSON
sed -e "s/{otlp_http}/$COL_HTTP/" -e "s/{otlp_grpc}/$COL_GRPC/" tests/collector/config.yaml > "$dir/otelcol.yaml"

ready() { # host:port...
	for addr in "$@"; do
		for _ in $(seq 100); do
			(exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null && continue 2
			kill -0 "$pid" 2>/dev/null || { echo "server exited; log:" >&2; cat "$dir"/*.log >&2; exit 1; }
			sleep 0.1
		done
		echo "nothing listens on $addr" >&2; exit 1
	done
}
rss() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$pid/status"; } # kB
# Caddy's live heap in bytes, after a forced GC (admin API, pprof).
heap() { curl -sf "http://$CADDY_ADMIN/debug/pprof/heap?gc=1&debug=1" | awk '/^# HeapAlloc = / {print $4}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.0f", k/1024}'; }
busy() { awk '$1 == "cpu" {print $2+$3+$4+$7+$8+$9}' /proc/stat; } # jiffies, all cores
own() { awk '{print $14+$15}' "/proc/$pid/stat"; }                    # the target's jiffies
hz=$(getconf CLK_TCK)
load() { # label proto endpoint: one run, one row of the table
	local line b0 o0 b1 o1
	b0=$(busy) o0=$(own)
	line=$(timeout "$secs" tests/out/ingest -label "$1" -proto "$2" -endpoint "$3" -c "$CLIENTS" -d "$DURATION") || { echo "ingest $1 $2 failed: $line" >&2; exit 1; }
	b1=$(busy) o1=$(own)
	echo "$line" >> "$dir/runs"
	# CPU in cores over the run: the target, the load generator, everything else.
	awk -v l="$line" -v t="$1" -v p="$2" -v b="$((b1 - b0))" -v o="$((o1 - o0))" -v hz="$hz" 'BEGIN {
		n = split(l, f, " "); for (i = 1; i <= n; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
		s = v["seconds"]; tgt = o/hz/s; gen = v["cpu"]/s; oth = b/hz/s - tgt - gen; if (oth < 0) oth = 0
		printf "%-10s %-6s %10s %7s %8.2f %8.2f %8.2f\n", t, p, v["spans/s"], v["errors"], tgt, gen, oth
	}'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $CLIENTS clients, $DURATION per run, 512 spans per export"
echo "CPU columns: cores busy during the run (of $(nproc)) in the target, in the load generator, in other processes"
printf '%-10s %-6s %10s %7s %8s %8s %8s\n' target proto spans/s errors cpu:tgt cpu:gen cpu:other

HOME="$dir" ./caddy run --config "$dir/caddy.json" >"$dir/caddy.log" 2>&1 &
pid=$!
ready "$CADDY_HTTP" "$CADDY_GRPC" "$CADDY_ADMIN"
caddy_idle_heap=$(heap)
caddy_idle=$(rss VmRSS)
load tracebar http "$CADDY_HTTP"
load tracebar grpc "$CADDY_GRPC"
caddy_rss=$(rss VmRSS) caddy_hwm=$(rss VmHWM)
caddy_heap=$(heap)
sleep "$SETTLE" # the runtime hands freed pages back to the OS
caddy_settled=$(rss VmRSS)
if ss -Hltnp | grep "pid=$pid," | grep -v ' 127\.0\.0\.1:' | grep -q .; then echo "caddy listens beyond loopback:" >&2; ss -Hltnp | grep "pid=$pid," >&2; exit 1; fi
stop

tests/out/otelcol --config "$dir/otelcol.yaml" >"$dir/otelcol.log" 2>&1 &
pid=$!
ready "$COL_HTTP" "$COL_GRPC"
col_idle=$(rss VmRSS)
load collector http "$COL_HTTP"
load collector grpc "$COL_GRPC"
col_rss=$(rss VmRSS) col_hwm=$(rss VmHWM)
if ss -Hltnp | grep "pid=$pid," | grep -v ' 127\.0\.0\.1:' | grep -q .; then echo "collector listens beyond loopback:" >&2; ss -Hltnp | grep "pid=$pid," >&2; exit 1; fi
stop

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RSS (idle before the load -> right after it, peak): caddy $(mb "$caddy_idle") -> $(mb "$caddy_rss") MB, peak $(mb "$caddy_hwm") MB, $(mb "$caddy_settled") MB ${SETTLE}s after a GC; collector $(mb "$col_idle") -> $(mb "$col_rss") MB, peak $(mb "$col_hwm") MB"
# The store keeps whole traces (one per export here) up to its caps.
total=$(awk '/^label=tracebar/ {for (i = 1; i <= NF; i++) if ($i ~ /^spans=/) {split($i, a, "="); s += a[2]}} END {print s+0}' "$dir/runs")
cap=$(( MAX_SPANS < MAX_TRACES * 512 ? MAX_SPANS / 512 * 512 : MAX_TRACES * 512 ))
stored=$(( total < cap ? total : cap ))
awk -v n="$stored" -v ri="$caddy_idle" -v r="$caddy_rss" -v rs="$caddy_settled" -v hi="$caddy_idle_heap" -v h="$caddy_heap" 'BEGIN {
	if (n == 0) exit
	printf "caddy per stored span (about %d in the store): live heap %.0f bytes; RSS growth %.0f bytes after a GC, %.0f bytes right after the load (GC headroom)\n", n, (h-hi)/n, (rs-ri)*1024/n, (r-ri)*1024/n
}'
