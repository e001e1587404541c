#!/usr/bin/env bash
# Proxy CPU per request, side by side, in one run (issue 12; DESIGN.md "How
# speed is measured"). Three processes on loopback:
#   - the upstream: Caddy file_server (tests/bench/upstream.Caddyfile);
#   - every Caddy variant in ONE other Caddy, a site each
#     (tests/bench/proxies.Caddyfile): plain reverse_proxy; tracing (spans
#     made, OTEL_TRACES_EXPORTER=none); Tracebar; Tracebar for a client
#     outside `allow` (passed through);
#   - nginx (tests/bench/nginx.conf, worker_processes 1, under a temp -p):
#     plain proxy_pass, and proxy_pass + sub_filter '</body>'.
# wrk -t1 -c8 runs each variant x page for SECONDS_PER_RUN (default 3);
# the figure is the proxy process's utime+stime (/proc/<pid>/stat; nginx:
# master + worker) over the requests wrk completed. ROUNDS (default 5)
# interleaved rounds, each running every variant x page once in a fixed
# order; medians are printed, with req/s and wrk's average latency, then
# issue 12's targets, MET or NOT MET. Before the rounds: the proxy's peak RSS
# around a 10 MB and a 100 MB page through Tracebar, and the 100 MB page's
# time to first byte, plain vs Tracebar. After: the injector's speed on the
# real pages (go test -bench BenchmarkRealPages) and sink ingest: the Go
# benchmarks, then over loopback (tests/cmd/ingest) into a Caddy without and
# with `storage`, that Caddy's start-up on the full storage file, and the
# file's size per 1,000 spans.
#
# Pages (tests/bench/pages.py): ~200 B JSON, the 100 KB synthetic table,
# and real pages: the Go spec, three Sphinx pages of python3-doc, and
# inject/testdata/pages/marketing.html.
#
# Runs as root from a fresh checkout (installs wrk, nginx-light, python3-doc
# with apt-get). CADDY=path uses that binary; else ./caddy, rebuilt with
# ./xcaddy.sh when a non-test .go file, go.mod or go.sum is newer. Bounded:
# about 2 + ROUNDS x 42 x (SECONDS_PER_RUN + 0.2) s plus the go benchmarks
# (~13 min with the defaults); everything started is killed on exit.
# BENCH_OUT=dir keeps the raw figures (one line per wrk run) there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-3}"
PORT_BASE="${PORT_BASE:-28170}"
bench=tests/bench

dir=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- what it needs -----------------------------------------------------------
pydoc=""
find_pydoc() {
	local d
	for d in /usr/share/doc/python3-doc/html /usr/share/doc/python3*/html; do
		if [ -f "$d/library/stdtypes.html" ] && [ -f "$d/reference/datamodel.html" ] && [ -f "$d/library/os.path.html" ]; then
			pydoc=$d
			return 0
		fi
	done
	return 1
}
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
has_sub() { local v; v=$(nginx -V 2>&1) && grep -q -- --with-http_sub_module <<<"$v"; }
{ command -v nginx >/dev/null && has_sub; } || need+=(nginx-light)
find_pydoc || need+=(python3-doc)
if [ "${#need[@]}" -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "bench: needs ${need[*]}: run as root to install them" >&2; exit 1; }
	echo "installing ${need[*]}" >&2
	ok=""
	# Bounded retries: another apt-get or dpkg may hold the lock for a while.
	for attempt in $(seq 20); do
		if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 install -y -qq "${need[@]}" >"$dir/apt.log" 2>&1; then
			ok=1
			break
		fi
		apt-get -o DPkg::Lock::Timeout=60 update -qq >>"$dir/apt.log" 2>&1 || true
		[ "$attempt" -lt 20 ] && sleep 5
	done
	[ -n "$ok" ] || { cat "$dir/apt.log" >&2; echo "bench: apt-get install ${need[*]} failed" >&2; exit 1; }
	find_pydoc || { echo "bench: python3-doc pages not found" >&2; exit 1; }
fi
has_sub || { echo "bench: this nginx has no sub_filter" >&2; exit 1; }

if [ -n "${CADDY:-}" ]; then
	caddy=$CADDY
else
	caddy=./caddy
	if [ ! -x ./caddy ] || [ -n "$(find . \( -path ./tests -o -path ./.git \) -prune -o \
		\( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum \) -newer ./caddy -print | head -1)" ]; then
		echo "building ./caddy (xcaddy.sh)" >&2
		./xcaddy.sh >"$dir/build.log" 2>&1 || { cat "$dir/build.log" >&2; exit 1; }
	fi
fi
[ -x "$caddy" ] || { echo "bench: no Caddy at $caddy" >&2; exit 1; }

# --- pages and servers -------------------------------------------------------
export BENCH_WWW="$dir/www"
python3 $bench/pages.py "$BENCH_WWW" "$(go env GOROOT)" "$pydoc" inject/testdata/pages/marketing.html
mapfile -t pages < <(cut -f1 "$BENCH_WWW/pages.tsv")

export BENCH_UPSTREAM=$PORT_BASE BENCH_PLAIN=$((PORT_BASE + 1)) BENCH_TRACING=$((PORT_BASE + 2)) \
	BENCH_TRACEBAR=$((PORT_BASE + 3)) BENCH_OUTSIDE=$((PORT_BASE + 4)) BENCH_SINK=$((PORT_BASE + 7))
nginx_plain=$((PORT_BASE + 5)) nginx_sub=$((PORT_BASE + 6))
ingest_port=$((PORT_BASE + 8)) ingest_admin=$((PORT_BASE + 9))
for port in $(seq "$PORT_BASE" $((PORT_BASE + 9))); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "bench: 127.0.0.1:$port is in use (set PORT_BASE)" >&2
		exit 1
	fi
done
variants=(plain tracing tracebar outside nginx nginx_sub)
declare -A port=([plain]=$BENCH_PLAIN [tracing]=$BENCH_TRACING [tracebar]=$BENCH_TRACEBAR
	[outside]=$BENCH_OUTSIDE [nginx]=$nginx_plain [nginx_sub]=$nginx_sub)

mkdir -p "$dir/home" "$dir/nginx"
env HOME="$dir/home" XDG_DATA_HOME="$dir/home" XDG_CONFIG_HOME="$dir/home" \
	"$caddy" run --config $bench/upstream.Caddyfile --adapter caddyfile >"$dir/upstream.log" 2>&1 &
pids+=($!)
env HOME="$dir/home" XDG_DATA_HOME="$dir/home" XDG_CONFIG_HOME="$dir/home" OTEL_TRACES_EXPORTER=none \
	"$caddy" run --config $bench/proxies.Caddyfile --adapter caddyfile >"$dir/proxies.log" 2>&1 &
proxy_pid=$!
pids+=($proxy_pid)
sed -e "s|@PREFIX@|$dir/nginx|g" -e "s|@UPSTREAM@|$BENCH_UPSTREAM|g" \
	-e "s|@PLAIN@|$nginx_plain|g" -e "s|@SUB@|$nginx_sub|g" $bench/nginx.conf >"$dir/nginx/nginx.conf"
nginx_v=$(nginx -V 2>&1)
for m in fastcgi uwsgi scgi; do # a temp path only for the modules built in
	if grep -q -- "--without-http_${m}_module" <<<"$nginx_v"; then
		sed -i "/^\s*${m}_temp_path/d" "$dir/nginx/nginx.conf"
	fi
done
nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" >"$dir/nginx/stdout.log" 2>&1 &
nginx_pid=$!
pids+=($nginx_pid)

up() { # port: answers within 10 s
	local i
	for i in $(seq 100); do
		curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$1/small.json" && return 0
		sleep 0.1
	done
	echo "bench: nothing answers on 127.0.0.1:$1" >&2
	tail -n 20 "$dir"/*.log "$dir/nginx/error.log" >&2 2>/dev/null || true
	exit 1
}
up "$BENCH_UPSTREAM"
for v in "${variants[@]}"; do up "${port[$v]}"; done

# nginx's CPU is its master's plus its worker's.
nginx_pids=("$nginx_pid")
for f in /proc/[0-9]*/stat; do
	read -r s <"$f" 2>/dev/null || continue
	read -ra a <<<"${s##*) }"
	[ "${a[1]}" = "$nginx_pid" ] && nginx_pids+=("$(basename "$(dirname "$f")")")
done
[ "${#nginx_pids[@]}" -ge 2 ] || { echo "bench: no nginx worker found" >&2; exit 1; }
declare -A cpu_pids=([plain]=$proxy_pid [tracing]=$proxy_pid [tracebar]=$proxy_pid [outside]=$proxy_pid
	[nginx]="${nginx_pids[*]}" [nginx_sub]="${nginx_pids[*]}")
ticks() { # pid... -> utime+stime, clock ticks (fields 14 and 15 of /proc/<pid>/stat)
	local t=0 p s a
	for p; do
		read -r s <"/proc/$p/stat"
		read -ra a <<<"${s##*) }" # a[0] is field 3
		t=$((t + a[11] + a[12]))
	done
	echo "$t"
}
facts="$dir/facts"
{ echo "clk_tck=$(getconf CLK_TCK)"; echo "rounds=$ROUNDS"; echo "seconds=$SECONDS_PER_RUN"; } >"$facts"

echo "Tracebar proxy CPU benchmark: Caddy $("$caddy" version | cut -d' ' -f1), $(nginx -v 2>&1 | sed 's/.*: //'), $(nproc) CPUs"
echo "pages:"
while IFS=$'\t' read -r name kind bytes source; do
	printf '  %-22s %-9s %8s B  %s\n' "$name" "$kind" "$bytes" "$source"
done <"$BENCH_WWW/pages.tsv"

# --- memory and first byte on huge pages (before the rounds raise the peak) ---
hwm() { awk '/VmHWM/ {print $2}' "/proc/$proxy_pid/status"; }
echo
echo "Huge pages through Tracebar (proxy process peak RSS, VmHWM):"
h0=$(hwm)
prev=$h0
for page in big10.html big100.html; do
	got=$(curl -s --max-time 120 -H 'Accept: text/html' -o /dev/null -w '%{size_download}' "http://127.0.0.1:$BENCH_TRACEBAR/$page")
	h=$(hwm)
	echo "  $page: $got bytes received ($(stat -c %s "$BENCH_WWW/$page") sent upstream); peak RSS ${prev} kB -> ${h} kB (+$(( (h - prev) / 1024 )) MB)"
	prev=$h
done
echo "rss_growth_kb=$((prev - h0))" >>"$facts"
: >"$dir/ttfb"
for _ in 1 2 3 4 5; do
	for v in plain tracebar; do
		curl -s --max-time 120 -H 'Accept: text/html' -o /dev/null -w "$v %{time_starttransfer} %{time_total}\n" \
			"http://127.0.0.1:${port[$v]}/big100.html" >>"$dir/ttfb"
	done
done
for v in plain tracebar; do
	read -r t total < <(awk -v v=$v '$1 == v {print $2 * 1000, $3 * 1000}' "$dir/ttfb" | sort -g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
	printf '  big100.html through %-8s first byte %.2f ms, whole body %.0f ms (median of 5)\n' "$v" "$t" "$total"
	printf 'ttfb_%s_ms=%.2f\n' "$v" "$t" >>"$facts"
done

# --- every variant answers as it should --------------------------------------
bad=0
for page in "${pages[@]}"; do
	accept=text/html
	[[ $page == *.json ]] && accept=application/json
	for v in "${variants[@]}"; do
		curl -s --max-time 10 -H "Accept: $accept" -o "$dir/check.$v" "http://127.0.0.1:${port[$v]}/$page"
	done
	want_inject=1
	[[ $page == *.json ]] && want_inject=0
	for v in tracebar nginx_sub; do
		n=$(grep -c '__tracebar' "$dir/check.$v" || true)
		if { [ $want_inject = 1 ] && [ "$n" = 0 ]; } || { [ $want_inject = 0 ] && [ "$n" != 0 ]; }; then
			echo "CHECK FAILED: $page through $v: toolbar $( [ "$n" = 0 ] && echo missing || echo present)"
			bad=1
		fi
	done
	for v in tracing outside nginx; do
		cmp -s "$dir/check.plain" "$dir/check.$v" || { echo "CHECK FAILED: $page through $v differs from plain"; bad=1; }
	done
	cmp -s "$dir/check.plain" "$BENCH_WWW/$page" || { echo "CHECK FAILED: $page through plain differs from the file"; bad=1; }
done
[ $bad = 0 ] && echo "Checked: Tracebar and sub_filter insert into every page, not JSON; other variants pass bytes unchanged."

# --- the rounds ----------------------------------------------------------------
run() { # round page variant -> a line of $dir/results
	local accept=text/html t0 t1 out
	[[ $2 == *.json ]] && accept=application/json
	t0=$(ticks ${cpu_pids[$3]})
	out=$(timeout $((SECONDS_PER_RUN + 30)) wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" -H "Accept: $accept" \
		"http://127.0.0.1:${port[$3]}/$2" 2>&1) || true
	t1=$(ticks ${cpu_pids[$3]})
	awk -v r="$1" -v p="$2" -v v="$3" -v t=$((t1 - t0)) '
		function us(x) { if (x ~ /us$/) return x + 0; if (x ~ /ms$/) return x * 1000; if (x ~ /s$/) return x * 1000000; return x }
		/requests in/ {n = $1} /Requests\/sec/ {rps = $2} /^ *Latency/ {lat = us($2)} /Non-2xx/ {bad += $NF}
		/Socket errors/ {gsub(/,/, ""); bad += $4 + $6 + $8 + $10}
		END {print r, p, v, n + 0, t, rps + 0, lat + 0, bad + 0}' <<<"$out" >>"$dir/results"
	grep -E 'Non-2xx|Socket errors' <<<"$out" | sed "s|^ *|round $1 $2 $3: |" >>"$dir/errors" || true
}
: >"$dir/results"
: >"$dir/errors"
total=$((ROUNDS * ${#pages[@]} * ${#variants[@]}))
echo
echo "Rounds: $ROUNDS x ${#pages[@]} pages x ${#variants[@]} variants x ${SECONDS_PER_RUN}s (about $(( (total * (SECONDS_PER_RUN * 10 + 2) + 599) / 600 )) min)"
# Warm-up, not counted: every variant, a JSON and a page, 1 s each.
for page in small.json marketing.html; do
	for v in "${variants[@]}"; do
		timeout 30 wrk -t1 -c8 -d1s -H "Accept: text/html" "http://127.0.0.1:${port[$v]}/$page" >/dev/null 2>&1 || true
	done
done
for r in $(seq "$ROUNDS"); do
	for page in "${pages[@]}"; do
		for v in "${variants[@]}"; do
			sleep 0.1 # what the last run left running is not counted to the next
			run "$r" "$page" "$v"
		done
	done
	echo "  round $r/$ROUNDS done" >&2
done
python3 $bench/report.py "$dir/results" "$BENCH_WWW/pages.tsv" "$facts"
if [ -s "$dir/errors" ]; then
	echo "wrk reported errors (first 20):"
	head -n 20 "$dir/errors"
fi
if [ -n "${BENCH_OUT:-}" ]; then # keep the raw figures
	mkdir -p "$BENCH_OUT"
	cp "$dir/results" "$dir/errors" "$BENCH_WWW/pages.tsv" "$facts" "$BENCH_OUT/"
fi
[ $bad = 0 ] || echo "WARNING: a check above failed; the figures may not measure what they claim"

# --- the processes are stopped; Go benchmarks --------------------------------
cleanup
pids=()
echo
if grep -qs 'func BenchmarkRealPages' inject/*_test.go; then
	echo "Injector on the real pages (MB/s; x-walk: time of a bytes.IndexByte('<') walk / the injector's):"
	timeout 600 go test ./inject -run '^$' -bench 'BenchmarkRealPages' -benchtime 2s 2>&1 | grep -E 'Benchmark|^(ok|FAIL|---)' || echo "  (go test failed)"
else
	echo "(no BenchmarkRealPages in ./inject yet)"
fi
echo "Sink ingest, batches of 512 spans:"
timeout 600 go test ./otelbridge -run '^$' -bench 'BenchmarkSink' -benchtime 3s 2>&1 | grep -E 'Benchmark|FAIL' || echo "  (go test failed)"
timeout 300 go test ./otelbridge -run '^$' -bench 'BenchmarkStoreBytesPerSpan' -benchtime 1x 2>&1 | grep -E 'Benchmark|FAIL' || echo "  (go test failed)"

# Ingest with and without storage (issue 15): a Caddy with only the tracebar
# app, OTLP/HTTP protobuf from INGEST_CLIENTS clients for INGEST_DURATION,
# exports of 400 spans in 2 traces, so the store fills to its default bounds
# (1,000 traces of 200 spans) and evicts; with storage every export is
# acknowledged once committed. Then a Caddy starts on the full file.
dir=$(mktemp -d) # the EXIT trap's cleanup removes it
go build -o "$dir/ingest" ./tests/cmd/ingest
ingest_caddy() { # storage file or "": starts the Caddy, waits for its sink
	local st=""
	[ -z "$1" ] || st=", \"storage\": \"$1\""
	cat >"$dir/ingest.json" <<JSON
{"admin": {"listen": "127.0.0.1:$ingest_admin"},
 "apps": {"tracebar": {"otlp_http": "127.0.0.1:$ingest_port", "otlp_grpc": "off", "zipkin": "off", "forward": "off"$st}}}
JSON
	env HOME="$dir" XDG_DATA_HOME="$dir" XDG_CONFIG_HOME="$dir" "$caddy" run --config "$dir/ingest.json" >"$dir/ingest-caddy.log" 2>&1 &
	ingest_pid=$!
	pids+=("$ingest_pid")
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$ingest_port") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "  (Caddy did not start: $(tail -c 300 "$dir/ingest-caddy.log"))"
	return 1
}
ingest_stop() { kill -INT "$ingest_pid" 2>/dev/null || true; wait "$ingest_pid" 2>/dev/null || true; }
echo "Sink ingest over loopback (${INGEST_CLIENTS:-4} clients, ${INGEST_DURATION:-10s}, exports of 400 spans in 2 traces, store at its default bounds):"
for label in memory storage; do
	file=""
	[ "$label" = memory ] || file="$dir/store.db"
	ingest_caddy "$file" || continue
	line=$(timeout 300 "$dir/ingest" -label "$label" -proto http -endpoint "127.0.0.1:$ingest_port" \
		-c "${INGEST_CLIENTS:-4}" -d "${INGEST_DURATION:-10s}" -spans 400 -traces 2 2>&1) || echo "  (ingest failed: $line)"
	awk -v l="$line" 'BEGIN { n = split(l, f, " "); for (i = 1; i <= n; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
		printf "  %-8s %10s spans/s  %s errors\n", v["label"], v["spans/s"], v["errors"] }'
	ingest_stop
done
if [ -f "$dir/store.db" ] && ingest_caddy "$dir/store.db"; then
	loaded=$(grep -m1 '"storage loaded"' "$dir/ingest-caddy.log" || true)
	num() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p" <<<"$loaded"; }
	awk -v t="$(num traces)" -v s="$(num spans)" -v took="$(num took)" -v size="$(stat -c %s "$dir/store.db")" 'BEGIN {
		if (s == "" || s == 0) { print "  (no storage loaded line)"; exit }
		printf "  start-up on the full file: %d traces, %d spans loaded in %.0f ms; file %.1f MB, %.0f KB per 1,000 spans\n", t, s, took*1000, size/1048576, size/1024/s*1000 }'
	ingest_stop
fi
