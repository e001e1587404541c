package tests

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// jaegerBin is a Jaeger v2 all-in-one built from tests/jaeger, a module of
// its own (Jaeger's OpenTelemetry versions are not Tracebar's).
var jaegerBin string

// buildJaeger builds the Jaeger pinned in tests/jaeger/go.mod. run.sh builds
// it with the same flags before `go test`, so the build cache is shared.
func buildJaeger(out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "github.com/jaegertracing/jaeger/cmd/jaeger")
	cmd.Dir = "jaeger"
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build jaeger (tests/jaeger): %w", err)
	}
	return nil
}

// jaegerTests are the tests that run a Jaeger.
var jaegerTests = []string{"TestJaegerForward", "TestZipkinForwardToJaeger", "TestJaegerBackendTwoCaddies"}

// runsJaegerTest tells whether -test.run may select one of jaegerTests, so
// that a run of other tests does not wait for Jaeger's build.
func runsJaegerTest() bool {
	flag.Parse()
	pattern := flag.Lookup("test.run").Value.String()
	if pattern == "" {
		return true
	}
	match := func(p string) bool {
		re, err := regexp.Compile(p)
		return err != nil || slices.ContainsFunc(jaegerTests, re.MatchString)
	}
	// Top-level tests match the part before a '/' outside brackets and
	// parentheses, as testing splits the pattern.
	depth := 0
	for i, c := range pattern {
		switch c {
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case '/':
			if depth == 0 {
				return match(pattern[:i])
			}
		}
	}
	return match(pattern)
}

// jaeger is one running Jaeger, every listener on its own loopback port.
type jaeger struct {
	cmd                                  *exec.Cmd
	otlpHTTP, otlpGRPC, zipkin           string // receivers
	queryHTTP, queryGRPC                 string // API and UI; gRPC query
	health, zpages, metrics, metricsPort string
}

// startJaeger runs Jaeger with tests/jaeger/config.yaml, in-memory storage,
// and waits until its health check reports it ready. Its log goes to the
// test log only if the test fails.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	if jaegerBin == "" {
		t.Fatal("no Jaeger binary: TestMain built none for this -run pattern")
	}
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }
	j := &jaeger{otlpHTTP: addr(), otlpGRPC: addr(), zipkin: addr(), queryHTTP: addr(), queryGRPC: addr(),
		health: addr(), zpages: addr(), metrics: addr()}
	_, j.metricsPort, _ = net.SplitHostPort(j.metrics)

	tmpl, err := os.ReadFile(filepath.Join("jaeger", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("{otlp_http}", j.otlpHTTP, "{otlp_grpc}", j.otlpGRPC, "{zipkin}", j.zipkin,
		"{query_http}", j.queryHTTP, "{query_grpc}", j.queryGRPC, "{health}", j.health,
		"{zpages}", j.zpages, "{metrics_port}", j.metricsPort).Replace(string(tmpl))
	if left := regexp.MustCompile(`\{[a-z_]+\}`).FindString(cfg); left != "" {
		t.Fatalf("jaeger/config.yaml: placeholder %s not filled in", left)
	}
	cf := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(cf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	log := &lockedBuffer{}
	t.Cleanup(func() { // runs after the process is stopped (cleanups are LIFO)
		if t.Failed() {
			(&logWriter{t: t, prefix: "jaeger"}).Write(log.Bytes())
		}
	})
	j.cmd = exec.Command(jaegerBin, "--config", cf)
	// Jaeger must not trace itself to whatever OTLP endpoint the
	// environment names (its query service is configured not to).
	j.cmd.Env = append(os.Environ(), "OTEL_SDK_DISABLED=true", "OTEL_TRACES_EXPORTER=none")
	j.cmd.Stdout, j.cmd.Stderr = log, log
	done := run(t, j.cmd)

	// Ready: the health check says so once every pipeline has started.
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("jaeger exited before it was ready: %v", j.cmd.ProcessState)
		default:
		}
		if r, err := http.Get("http://" + j.health + "/status"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger not healthy on %s after 60s", j.health)
		}
		time.Sleep(50 * time.Millisecond) // polling a port: there is no other signal
	}
	for _, a := range []string{j.otlpHTTP, j.otlpGRPC, j.zipkin, j.queryHTTP, j.queryGRPC} {
		waitListening(t, a, nil) // nil: cmd.ProcessState belongs to the goroutine in Wait
	}
	return j
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// jaegerSpan is a span as Jaeger's query API (/api/traces/<id>) shows it.
type jaegerSpan struct {
	Service    string
	TraceID    string `json:"traceID"`
	SpanID     string `json:"spanID"`
	Operation  string `json:"operationName"`
	ProcessID  string `json:"processID"`
	References []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	Logs []struct {
		Fields []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"fields"`
	} `json:"logs"`
}

// tag returns a tag's value as text, or "".
func (s jaegerSpan) tag(key string) string {
	for _, tag := range s.Tags {
		if tag.Key == key {
			return fmt.Sprint(tag.Value)
		}
	}
	return ""
}

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s jaegerSpan) kind() string {
	for _, tag := range s.Tags {
		if tag.Key == "span.kind" {
			return fmt.Sprint(tag.Value)
		}
	}
	return ""
}

// jaegerTrace fetches the trace from Jaeger's query API: its spans, or nil
// while Jaeger does not know it (404).
func (j *jaeger) trace(t *testing.T, traceID string) ([]jaegerSpan, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + j.queryHTTP + "/api/traces/" + traceID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, body
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("jaeger /api/traces/%s: %s: %s", traceID, resp.Status, body)
	}
	var doc struct {
		Data []struct {
			TraceID   string       `json:"traceID"`
			Spans     []jaegerSpan `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("jaeger /api/traces/%s: %v: %.300s", traceID, err, body)
	}
	var spans []jaegerSpan
	for _, tr := range doc.Data {
		for _, s := range tr.Spans {
			s.Service = tr.Processes[s.ProcessID].ServiceName
			spans = append(spans, s)
		}
	}
	return spans, body
}

func findJaeger(spans []jaegerSpan, service, operation, kind string) (jaegerSpan, bool) {
	for _, s := range spans {
		if s.Service == service && s.Operation == operation && (kind == "" || s.kind() == kind) {
			return s, true
		}
	}
	return jaegerSpan{}, false
}

func describeJaeger(spans []jaegerSpan) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s %q (%s) %s<-%s", s.Service, s.Operation, s.kind(), s.SpanID, s.parent())
	}
	return b.String()
}

// sameID compares hex ids; Jaeger's model may drop a trace id's leading
// zeros.
func sameID(a, b string) bool {
	pad := func(s string) string {
		s = strings.ToLower(s)
		if n := 32 - len(s); len(s) > 16 && n > 0 {
			s = strings.Repeat("0", n) + s
		}
		return s
	}
	return pad(a) == pad(b)
}

// TestJaegerForward: with `forward` pointing at a real Jaeger, the proxy's
// spans (exported by Caddy) and the app's spans (which reach Jaeger only
// through Tracebar's sink) form one trace there, every parent link intact,
// and the toolbar's trace_link opens it in Jaeger. Jaeger listens only on
// the loopback ports it was given.
func TestJaegerForward(t *testing.T) {
	j := startJaeger(t)
	checkJaegerListeners(t, j)

	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	cf := strings.Replace(basicCaddyfile, "\t\totlp_grpc {otlp_grpc}\n", "\t\totlp_grpc {otlp_grpc}\n\t\tforward http://"+j.otlpHTTP+"\n", 1)
	cf = strings.Replace(cf, "\ttracebar\n", "\ttracebar {\n\t\ttrace_link http://"+j.queryHTTP+"/trace/{trace_id}\n\t}\n", 1)
	// The proxy's spans go through the SDK's batch processor: flush soon.
	e.startCaddy(t, cf, app, "OTEL_BSP_SCHEDULE_DELAY=100")

	resp, _ := get(t, e.base+"/", "Accept", "text/html")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", resp.Status)
	}
	traceID, serverID := traceOf(t, resp)

	// Poll Jaeger until the trace holds the proxy's spans and the app's.
	var spans []jaegerSpan
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		spans, body = j.trace(t, traceID)
		_, proxy := findJaeger(spans, "caddy", "GET /", "server")
		_, upstream := findJaeger(spans, "caddy", "GET upstream", "client")
		_, web := findJaeger(spans, "shop-web", "GET /", "server")
		_, query := findJaeger(spans, "shop-web", "SELECT products", "")
		_, stock := findJaeger(spans, "inventory", "GET /stock", "server")
		if proxy && upstream && web && query && stock {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s Jaeger's trace %s lacks the proxy's or the app's spans:%s\n%.2000s", traceID, describeJaeger(spans), body)
		}
		time.Sleep(100 * time.Millisecond) // polling Jaeger's API: there is no push
	}

	for _, s := range spans {
		if !sameID(s.TraceID, traceID) {
			t.Errorf("span %s %q has trace %s, want %s", s.Service, s.Operation, s.TraceID, traceID)
		}
	}
	proxy, _ := findJaeger(spans, "caddy", "GET /", "server")
	upstream, _ := findJaeger(spans, "caddy", "GET upstream", "client")
	web, _ := findJaeger(spans, "shop-web", "GET /", "server")
	stock, _ := findJaeger(spans, "inventory", "GET /stock", "server")
	byID := map[string]jaegerSpan{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	switch {
	case proxy.SpanID != serverID || proxy.parent() != "":
		t.Fatalf("the proxy's server span is not the root %s of traceresponse:%s", serverID, describeJaeger(spans))
	case upstream.parent() != proxy.SpanID:
		t.Fatalf("the proxy's CLIENT span is not the server span's child:%s", describeJaeger(spans))
	case web.parent() != upstream.SpanID:
		t.Fatalf("the app's server span is not the child of the proxy's CLIENT span:%s", describeJaeger(spans))
	case byID[stock.parent()].Service != "shop-web":
		t.Fatalf("the inventory's server span is not the child of a shop-web span:%s", describeJaeger(spans))
	}
	// One tree: every span leads up to the proxy's server span.
	for _, s := range spans {
		x, hops := s, 0
		for x.parent() != "" && hops < len(spans) {
			p, ok := byID[x.parent()]
			if !ok {
				t.Fatalf("span %s %q: parent %s not in Jaeger's trace:%s", s.Service, s.Operation, x.parent(), describeJaeger(spans))
			}
			x, hops = p, hops+1
		}
		if x.SpanID != proxy.SpanID {
			t.Fatalf("span %s %q is not under the proxy's server span:%s", s.Service, s.Operation, describeJaeger(spans))
		}
	}

	// The toolbar's link is Jaeger's page for this trace.
	recResp, rec := get(t, e.base+resp.Header.Get("X-Tracebar-Request"))
	if recResp.StatusCode != http.StatusOK {
		t.Fatalf("request record %s: %s", resp.Header.Get("X-Tracebar-Request"), recResp.Status)
	}
	var r struct {
		TraceLink string `json:"traceLink"`
	}
	if err := json.Unmarshal(rec, &r); err != nil {
		t.Fatalf("request record: %v: %.300s", err, rec)
	}
	if want := "http://" + j.queryHTTP + "/trace/" + traceID; r.TraceLink != want {
		t.Fatalf("traceLink %q, want %q", r.TraceLink, want)
	}
	page, _ := get(t, r.TraceLink)
	if page.StatusCode != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %s %s", r.TraceLink, page.Status, page.Header.Get("Content-Type"))
	}
}

// checkJaegerListeners: the config took. Jaeger's query service (by default
// on :16686 and :16685, every interface) and every other listener are on
// the loopback ports the test gave, and on nothing else.
func checkJaegerListeners(t *testing.T, j *jaeger) {
	t.Helper()
	want := map[string]bool{}
	for _, a := range []string{j.otlpHTTP, j.otlpGRPC, j.zipkin, j.queryHTTP, j.queryGRPC, j.health, j.zpages, j.metrics} {
		want[a] = false
	}

	// Nothing answers on the query port at the machine's other addresses.
	_, port, _ := net.SplitHostPort(j.queryHTTP)
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			ip, _, _ := net.ParseCIDR(a.String())
			if ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
				continue
			}
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), port), time.Second); err == nil {
				c.Close()
				t.Errorf("jaeger's query port %s answers on %s", port, ip)
			}
		}
	}

	// Every socket Jaeger listens on (Linux: its fds against /proc/net).
	listening, err := listenersOf(j.cmd.Process.Pid)
	if err != nil {
		t.Logf("listeners not checked via /proc: %v", err)
		return
	}
	for _, a := range listening {
		if _, ok := want[a]; !ok {
			t.Errorf("jaeger listens on %s, which the test did not configure", a)
			continue
		}
		want[a] = true
	}
	for a, seen := range want {
		if !seen {
			t.Errorf("jaeger does not listen on %s as configured; it listens on %v", a, listening)
		}
	}
}

// listenersOf returns the local addresses of pid's listening TCP sockets
// and its unconnected UDP sockets, from /proc.
func listenersOf(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, f := range []struct {
		name  string
		state string // TCP_LISTEN, or UDP's TCP_CLOSE (unconnected)
	}{{"tcp", "0A"}, {"tcp6", "0A"}, {"udp", "07"}, {"udp6", "07"}} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f.name))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != f.state || !inodes[fs[9]] {
				continue
			}
			a, err := procAddr(fs[1])
			if err != nil {
				return nil, fmt.Errorf("/proc/net/%s: %w", f.name, err)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// procAddr decodes /proc/net's "0100007F:1F90": the address as 32-bit words
// in host byte order, the port in hex.
func procAddr(s string) (string, error) {
	h, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || (len(h) != 8 && len(h) != 32) {
		return "", fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("bad address %q", s)
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), nil
}
