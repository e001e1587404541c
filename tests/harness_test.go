// Package tests runs Tracebar the way users do: a Caddy binary built from
// this checkout in front of real apps (Go and Node.js, each with its real
// OpenTelemetry SDK), over real sockets, and a real browser.
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
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Binaries built once per test run.
var (
	caddyBin   string
	demoappBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tracebar-tests")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		// TRACEBAR_CADDY names a Caddy built by xcaddy.sh; else build the
		// equivalent program here.
		caddyBin = os.Getenv("TRACEBAR_CADDY")
		if caddyBin == "" {
			caddyBin = filepath.Join(dir, "caddy")
			if err := goBuild(caddyBin, "./cmd/caddy"); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		} else if abs, err := filepath.Abs(caddyBin); err == nil {
			caddyBin = abs
		}
		demoappBin = filepath.Join(dir, "demoapp")
		if err := goBuild(demoappBin, "./demoapp"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// TRACEBAR_JAEGER names a Jaeger built from tests/jaeger (run.sh
		// builds one); else build it here (minutes when the cache is cold)
		// unless -run leaves out the test that needs it.
		jaegerBin = os.Getenv("TRACEBAR_JAEGER")
		if jaegerBin == "" && runsJaegerTest() {
			jaegerBin = filepath.Join(dir, "jaeger")
			if err := buildJaeger(jaegerBin); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		} else if abs, err := filepath.Abs(jaegerBin); err == nil {
			jaegerBin = abs
		}
		return m.Run()
	}()
	os.Exit(code)
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln := listenLoopback(t)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// waitListening blocks until something accepts on addr.
func waitListening(t testing.TB, addr string, proc *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if proc != nil && proc.ProcessState != nil {
			t.Fatalf("%s exited before listening on %s", proc.Path, addr)
		}
		time.Sleep(20 * time.Millisecond) // polling a port: there is no other signal
	}
	t.Fatalf("nothing listening on %s after 30s", addr)
}

// start runs a command for the duration of the test, its output in the test log.
func start(t testing.TB, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &logWriter{t: t, prefix: filepath.Base(name)}
	cmd.Stdout, cmd.Stderr = out, out
	run(t, cmd)
	return cmd
}

// run starts cmd and, when the test ends, interrupts it, killing it if it
// has not exited 10 s later. exited is closed when cmd has exited.
func run(t testing.TB, cmd *exec.Cmd) (exited <-chan struct{}) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return done
}

type logWriter struct {
	t      testing.TB
	prefix string
}

func (l *logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.t.Log(l.prefix + ": " + line)
	}
	return len(p), nil
}

// env is one Caddy with Tracebar: the site, the sinks (OTLP and Zipkin)
// and the admin ports.
type env struct {
	site, otlpHTTP, otlpGRPC, zipkin, admin string // host:port
	base                                    string // http://<site>
	dir                                     string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }
	e := &env{site: addr(), otlpHTTP: addr(), otlpGRPC: addr(), zipkin: addr(), admin: addr(), dir: t.TempDir()}
	e.base = "http://" + e.site
	return e
}

// startCaddy writes a Caddyfile from tmpl (with {site}, {otlp_http},
// {otlp_grpc}, {zipkin}, {admin} and {upstream} filled in) and runs Caddy
// with it.
func (e *env) startCaddy(t testing.TB, tmpl, upstream string, extraEnv ...string) {
	t.Helper()
	cf := e.writeCaddyfile(t, tmpl, upstream)
	cmd := start(t, append([]string{"HOME=" + e.dir, "XDG_DATA_HOME=" + e.dir, "XDG_CONFIG_HOME=" + e.dir}, extraEnv...), caddyBin, "run", "--config", cf)
	waitListening(t, e.site, cmd)
	waitListening(t, e.otlpHTTP, cmd)
}

// startCaddyLogging runs Caddy as startCaddy does, for a config whose
// sink may not start, and waits until its site listens and it has logged a
// line holding every one of want.
func (e *env) startCaddyLogging(t testing.TB, tmpl, upstream string, want ...string) {
	t.Helper()
	cf := e.writeCaddyfile(t, tmpl, upstream)
	cmd := exec.Command(caddyBin, "run", "--config", cf)
	cmd.Env = append(os.Environ(), "HOME="+e.dir, "XDG_DATA_HOME="+e.dir, "XDG_CONFIG_HOME="+e.dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	logged := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			t.Log("caddy: " + line)
			if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(line, w) }) {
				select {
				case logged <- struct{}{}:
				default:
				}
			}
		}
	}()
	waitListening(t, e.site, cmd)
	select {
	case <-logged:
	case <-time.After(20 * time.Second):
		t.Fatalf("Caddy logged no line with %q", want)
	}
}

func (e *env) writeCaddyfile(t testing.TB, tmpl, upstream string) string {
	t.Helper()
	r := strings.NewReplacer("{site}", e.site, "{otlp_http}", e.otlpHTTP,
		"{otlp_grpc}", e.otlpGRPC, "{zipkin}", e.zipkin, "{admin}", e.admin, "{upstream}", upstream)
	cf := filepath.Join(e.dir, "Caddyfile")
	if err := os.WriteFile(cf, []byte(r.Replace(tmpl)), 0o644); err != nil {
		t.Fatal(err)
	}
	return cf
}

// globalOptions are every test Caddyfile's: the admin and sink addresses
// (each Caddy its own Zipkin port too, so tests in parallel do not meet on
// Zipkin's default 9411).
const globalOptions = `{
	admin {admin}
	tracebar {
		otlp_http {otlp_http}
		otlp_grpc {otlp_grpc}
		zipkin {zipkin}
	}
}
`

const basicCaddyfile = globalOptions + `http://{site} {
	tracebar
	reverse_proxy {upstream}
}
`

// startDemoApp runs the Go demo app exporting to the sink at otlp.
func startDemoApp(t testing.TB, otlp string) string {
	t.Helper()
	web := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	inv := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := start(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + otlp}, demoappBin, "-addr", web, "-inventory", inv)
	waitListening(t, web, cmd)
	return web
}

func get(t testing.TB, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return send(t, http.MethodGet, url, "", "", header...)
}

// send makes a request with body (none when ""), of contentType (none
// when ""), and the header name, value pairs, and returns the response and
// its body.
func send(t testing.TB, method, url, contentType, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, got
}

// span is the part of an OTLP/JSON span the tests look at.
type span struct {
	Service      string
	TraceID      string `json:"traceId"`
	SpanID       string `json:"spanId"`
	ParentSpanID string `json:"parentSpanId"`
	Name         string `json:"name"`
	Kind         int    `json:"kind"`
	Start        string `json:"startTimeUnixNano"`
	End          string `json:"endTimeUnixNano"`
	Attributes   []struct {
		Key   string                     `json:"key"`
		Value map[string]json.RawMessage `json:"value"`
	} `json:"attributes"`
	Events []event `json:"events"`
}

func (s span) attr(key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			for _, v := range a.Value {
				var str string
				if json.Unmarshal(v, &str) == nil {
					return str
				}
				return string(v)
			}
		}
	}
	return ""
}

func parseOTLP(t testing.TB, b []byte) []span {
	t.Helper()
	var doc struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []struct {
					Key   string `json:"key"`
					Value struct {
						S string `json:"stringValue"`
					} `json:"value"`
				} `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Spans []span `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not OTLP/JSON: %v: %.200s", err, b)
	}
	var out []span
	for _, rs := range doc.ResourceSpans {
		svc := ""
		for _, a := range rs.Resource.Attributes {
			if a.Key == "service.name" {
				svc = a.Value.S
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				s.Service = svc
				out = append(out, s)
			}
		}
	}
	return out
}

// followEvents reads the SSE stream at url until done accepts an event
// (its name and data), failing the test after 20 s or when the stream
// ends first, with what seen (if not nil) says was read.
func followEvents(t testing.TB, url string, done func(event, data string) bool, seen func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("%s: status %d, content type %q", url, resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		} else if v, ok := strings.CutPrefix(line, "data: "); ok && done(event, v) {
			return
		}
	}
	detail := ""
	if seen != nil {
		detail = ": " + seen()
	}
	t.Fatalf("%s ended (%v) before the event awaited%s", url, sc.Err(), detail)
}

// traceStream is the URL of a trace's live stream.
func traceStream(base, traceID string) string {
	return base + "/__tracebar/api/traces/" + traceID + "/stream"
}

// waitSpans follows the trace's live stream until done says the spans seen
// so far are complete, and returns them.
func waitSpans(t testing.TB, base, traceID string, done func([]span) bool) []span {
	t.Helper()
	var spans []span
	followEvents(t, traceStream(base, traceID), func(event, data string) bool {
		if event != "spans" {
			return false
		}
		spans = append(spans, parseOTLP(t, []byte(data))...)
		return done(spans)
	}, func() string { return "spans seen:" + describe(spans) })
	return spans
}

func describe(spans []span) string {
	var b bytes.Buffer
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s %q %s<-%s", s.Service, s.Name, s.SpanID, s.ParentSpanID)
	}
	return b.String()
}

func find(spans []span, service, name string) (span, bool) {
	for _, s := range spans {
		if s.Service == service && s.Name == name {
			return s, true
		}
	}
	return span{}, false
}

func has(service, name string) func([]span) bool {
	return func(spans []span) bool { _, ok := find(spans, service, name); return ok }
}

func all(fs ...func([]span) bool) func([]span) bool {
	return func(spans []span) bool {
		for _, f := range fs {
			if !f(spans) {
				return false
			}
		}
		return true
	}
}

// traceOf parses a traceresponse header into trace and span id.
func traceOf(t testing.TB, resp *http.Response) (traceID, spanID string) {
	t.Helper()
	tr := resp.Header.Get("Traceresponse")
	parts := strings.Split(tr, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || len(parts[2]) != 16 {
		t.Fatalf("traceresponse header %q is not 00-<trace>-<span>-<flags>", tr)
	}
	return parts[1], parts[2]
}

// doneRecord follows the trace's stream until the record id is done, and
// returns it, decoded into a T.
func doneRecord[T any](t testing.TB, e *env, traceID, id string) T {
	t.Helper()
	var rec T
	followEvents(t, traceStream(e.base, traceID), func(event, data string) bool {
		if event != "request" {
			return false
		}
		var head struct {
			ID   string `json:"id"`
			Done bool   `json:"done"`
		}
		if err := json.Unmarshal([]byte(data), &head); err != nil {
			t.Fatal(err)
		}
		if head.ID != id || !head.Done {
			return false
		}
		if err := json.Unmarshal([]byte(data), &rec); err != nil {
			t.Fatal(err)
		}
		return true
	}, func() string { return "record " + id + " not done" })
	return rec
}
