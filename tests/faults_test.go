package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// sideBySideCaddyfile serves the same upstream on two ports: {site}
// through Tracebar, {plain} without, so a fault's client-visible result
// can be compared with the result without Tracebar.
const sideBySideCaddyfile = globalOptions + `http://{site} {
	tracebar
	reverse_proxy {upstream} {
		transport http {
			response_header_timeout 300ms
		}
	}
}
http://{plain} {
	reverse_proxy {upstream} {
		transport http {
			response_header_timeout 300ms
		}
	}
}
`

func (e *env) startSideBySide(t *testing.T, upstream string) (plain string) {
	t.Helper()
	plain = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.startCaddy(t, strings.ReplaceAll(sideBySideCaddyfile, "{plain}", plain), upstream)
	waitListening(t, plain, nil)
	return "http://" + plain
}

// TestFaultsLookAsWithoutTracebar: for each upstream fault the client
// gets the same status and body through Tracebar as without it (an HTML
// error page plus the toolbar's tags), and the exchange is recorded with
// its error.
func TestFaultsLookAsWithoutTracebar(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow": // headers never come in time
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		case "/teapot":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(418)
			io.WriteString(w, "<html><body>short and stout</body></html>")
		}
	}))
	defer up.Close()
	e := newEnv(t)
	plain := e.startSideBySide(t, strings.TrimPrefix(up.URL, "http://"))

	for _, path := range []string{"/slow", "/teapot"} {
		t.Run(path, func(t *testing.T) {
			want, wantBody := get(t, plain+path, "Accept", "text/html")
			got, gotBody := get(t, e.base+path, "Accept", "text/html")
			if got.StatusCode != want.StatusCode || !bytes.Equal(tagRE.ReplaceAll(gotBody, nil), wantBody) {
				t.Fatalf("through Tracebar %d %q, without %d %q", got.StatusCode, gotBody, want.StatusCode, wantBody)
			}
		})
	}
	_, list := get(t, e.base+"/__tracebar/api/requests")
	if !bytes.Contains(list, []byte(`"status":504`)) {
		t.Fatalf("timeout not recorded as 504: %s", list)
	}
}

// TestClientAbortMidBody: a client that goes away mid-body cancels the
// upstream request, as without Tracebar, and the record is finished.
func TestClientAbortMidBody(t *testing.T) {
	canceled := make(chan string, 2)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body><p>first part</p>")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			canceled <- r.Host
		case <-time.After(30 * time.Second):
		}
	}))
	defer up.Close()
	e := newEnv(t)
	plain := e.startSideBySide(t, strings.TrimPrefix(up.URL, "http://"))

	for _, base := range []string{plain, e.base} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /page HTTP/1.1\r\nHost: %s\r\nAccept: text/html\r\n\r\n", strings.TrimPrefix(base, "http://"))
		br := bufio.NewReader(conn)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v before the first part", base, err)
			}
			if strings.Contains(line, "first part") {
				break
			}
		}
		conn.Close()
		select {
		case <-canceled:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: upstream request not canceled after the client left", base)
		}
	}
	// The record is finished, with what was sent.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, list := get(t, e.base+"/__tracebar/api/requests")
		var recs []struct {
			URL  string `json:"url"`
			Done bool   `json:"done"`
		}
		json.Unmarshal(list, &recs)
		if len(recs) > 0 && recs[0].URL == "/page" && recs[0].Done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("record not finished after the client left: %s", list)
		}
		time.Sleep(50 * time.Millisecond) // polling the API: the record has no push for done
	}
}

// TestSinkPortInUse: when the sink's port is taken, Caddy says so clearly
// and the proxy, toolbar included, still serves.
func TestSinkPortInUse(t *testing.T) {
	e := newEnv(t)
	taken, err := net.Listen("tcp", e.otlpHTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	app := startDemoApp(t, e.otlpHTTP)
	cf := e.writeCaddyfile(t, basicCaddyfile, app)
	var mu sync.Mutex
	var logs bytes.Buffer
	cmd := exec.Command(caddyBin, "run", "--config", cf)
	cmd.Env = append(cmd.Environ(), "HOME="+e.dir, "XDG_DATA_HOME="+e.dir, "XDG_CONFIG_HOME="+e.dir)
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitListening(t, e.site, cmd)
	resp, body := get(t, e.base+"/", "Accept", "text/html")
	if resp.StatusCode != 200 || !toolbarTagRE.Match(body) {
		t.Fatalf("proxy not serving with the sink port taken: %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "OTLP sink not started") || !strings.Contains(logs.String(), "address already in use") {
		t.Fatalf("no clear error about the taken port:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestStoreFullEvictsOldest: past max_traces the oldest traces go whole,
// and the API counts them.
func TestStoreFullEvictsOldest(t *testing.T) {
	e := newEnv(t)
	e.startCaddy(t, strings.Replace(basicCaddyfile, "\t\totlp_grpc {otlp_grpc}\n", "\t\totlp_grpc {otlp_grpc}\n\t\tmax_traces 3\n", 1), "127.0.0.1:9")
	for i := 1; i <= 5; i++ {
		body := fmt.Sprintf(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%032x","spanId":"%016x","name":"s","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`, i, i)
		r, err := http.Post("http://"+e.otlpHTTP+"/v1/traces", "application/json", strings.NewReader(body))
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("export %d: %v %v", i, err, r)
		}
		r.Body.Close()
	}
	_, b := get(t, e.base+"/__tracebar/api/stats")
	var st struct {
		Traces  int `json:"traces"`
		Evicted int `json:"evictedTraces"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Traces != 3 || st.Evicted != 2 {
		t.Fatalf("stats %s: want 3 traces kept, 2 evicted", b)
	}
	for i, want := range map[int]int{1: 404, 5: 200} {
		if r, _ := get(t, e.base+fmt.Sprintf("/__tracebar/api/traces/%032x", i)); r.StatusCode != want {
			t.Fatalf("trace %d: status %d, want %d", i, r.StatusCode, want)
		}
	}
}

// TestReloadUnderTraffic: `caddy reload` while an app exports spans and
// pages are requested loses no span and fails no request.
func TestReloadUnderTraffic(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)

	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(e.otlpHTTP), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	// Blocking: the SDK must not drop spans itself when its queue is full.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(100), sdktrace.WithBatchTimeout(5*time.Millisecond), sdktrace.WithBlocking()),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("reload-load"))))
	tr := tp.Tracer("load")

	const maxTraces, perTrace = 300, 100
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ids []trace.TraceID
	wg.Add(2)
	go func() { // spans, until the reloads are over
		defer wg.Done()
		for i := 0; i < maxTraces; i++ {
			select {
			case <-stop:
				return
			default:
			}
			rctx, root := tr.Start(ctx, "root")
			for j := 1; j < perTrace; j++ {
				_, s := tr.Start(rctx, fmt.Sprint("child ", j))
				s.End()
			}
			root.End()
			ids = append(ids, root.SpanContext().TraceID())
		}
	}()
	var failed []string
	var mu sync.Mutex
	go func() { // pages, while the reloads happen
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get(e.base + "/api/products")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 {
				mu.Lock()
				failed = append(failed, fmt.Sprint(err, resp))
				mu.Unlock()
			}
		}
	}()
	for i := 0; i < 3; i++ {
		cf := e.writeCaddyfile(t, strings.Replace(basicCaddyfile, "\ttracebar\n", fmt.Sprintf("\ttracebar {\n\t\tservice_name edge-%d\n\t}\n", i), 1), app)
		if out, err := exec.Command(caddyBin, "reload", "--config", cf, "--address", e.admin).CombinedOutput(); err != nil {
			t.Fatalf("reload %d: %v\n%s", i, err, out)
		}
	}
	close(stop)
	wg.Wait()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("export: %v", err)
	}
	t.Logf("%d traces of %d spans exported across 3 reloads", len(ids), perTrace)
	if len(failed) > 0 {
		t.Fatalf("%d requests failed during reloads, first: %s", len(failed), failed[0])
	}
	for _, id := range ids {
		_, b := get(t, e.base+"/__tracebar/api/traces/"+id.String())
		if got := len(parseOTLP(t, b)); got != perTrace {
			t.Fatalf("trace %s has %d spans, want %d", id, got, perTrace)
		}
	}
}
