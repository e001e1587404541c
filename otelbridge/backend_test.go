package otelbridge

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tracebar/tracebar/toolbar"
)

const (
	bkTrace  = "5b8efff798038103d269b633813fc60c"
	bkRoot   = "eee19b7ec3c1b174" // the proxy's server span, local
	bkClient = "eee19b7ec3c1b175" // the proxy's client span, local
	bkApp    = "eee19b7ec3c1b176" // the app's server span, only in the backend
	bkQuery  = "eee19b7ec3c1b177" // its child, only in the backend
)

func mustTrace(t testing.TB, s string) toolbar.TraceID {
	t.Helper()
	id, err := toolbar.ParseTraceID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustSpan(t testing.TB, s string) toolbar.SpanID {
	t.Helper()
	id, err := toolbar.ParseSpanID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// localStore holds the proxy's two spans of bkTrace, as the edge has them.
func localStore(t testing.TB) *toolbar.Store {
	t.Helper()
	s := toolbar.NewStore(toolbar.Limits{})
	res := &toolbar.Resource{Attributes: []toolbar.KeyValue{{Key: "service.name", Value: toolbar.ValueOf("caddy")}}}
	now := time.Now()
	tid := mustTrace(t, bkTrace)
	s.AddSpans([]toolbar.Span{
		{TraceID: tid, SpanID: mustSpan(t, bkRoot), Name: "GET /", Kind: toolbar.KindServer, Start: now, End: now.Add(time.Millisecond), Resource: res},
		{TraceID: tid, SpanID: mustSpan(t, bkClient), ParentSpanID: mustSpan(t, bkRoot), Name: "GET upstream", Kind: toolbar.KindClient, Start: now, End: now.Add(time.Millisecond), Resource: res},
	})
	return s
}

// The query APIs' answers for bkTrace: the proxy's client span (which the
// store has too) and the app's two spans.

// jaegerAnswer is Jaeger's /api/v3/traces/{id}: api_v3's
// GRPCGatewayWrapper, {"result": TracesData} through gogo's jsonpb, ids in
// hex, enums as numbers, 64-bit times as strings (see Jaeger's
// cmd/query/app/apiv3/snapshots/GetTrace.json).
const jaegerAnswer = `{"result":{"resourceSpans":[
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"caddy"}}]},
  "scopeSpans":[{"scope":{"name":"github.com/tracebar/tracebar"},"spans":[
   {"traceId":"` + bkTrace + `","spanId":"` + bkClient + `","parentSpanId":"` + bkRoot + `","name":"GET upstream","kind":3,
    "startTimeUnixNano":"1765090000000000000","endTimeUnixNano":"1765090000010000000","status":{}}]}]},
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop-web"}}]},
  "scopeSpans":[{"scope":{"name":"net/http"},"spans":[
   {"traceId":"` + bkTrace + `","spanId":"` + bkApp + `","parentSpanId":"` + bkClient + `","name":"GET /","kind":2,
    "startTimeUnixNano":"1765090000001000000","endTimeUnixNano":"1765090000009000000",
    "attributes":[{"key":"http.response.status_code","value":{"intValue":"200"}},{"key":"http.request.header.authorization","value":{"stringValue":"Bearer s3cret"}}],"status":{}},
   {"traceId":"` + bkTrace + `","spanId":"` + bkQuery + `","parentSpanId":"` + bkApp + `","name":"SELECT products","kind":3,
    "startTimeUnixNano":"1765090000002000000","endTimeUnixNano":"1765090000003000000","status":{"code":2,"message":"deadlock"}}]}]}]}}`

func b64(t testing.TB, hexID string) string {
	t.Helper()
	if len(hexID) == 32 {
		id := mustTrace(t, hexID)
		return base64.StdEncoding.EncodeToString(id[:])
	}
	id := mustSpan(t, hexID)
	return base64.StdEncoding.EncodeToString(id[:])
}

// tempoAnswer is Tempo's /api/traces/{id} with Accept: application/json:
// {"batches": [ResourceSpans]} from its protobuf's JSON, ids in base64,
// enums by name; older Tempos say instrumentationLibrarySpans.
func tempoAnswer(t testing.TB) string {
	return `{"batches":[
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"caddy"}}]},
  "scopeSpans":[{"scope":{"name":"github.com/tracebar/tracebar"},"spans":[
   {"traceId":"` + b64(t, bkTrace) + `","spanId":"` + b64(t, bkClient) + `","parentSpanId":"` + b64(t, bkRoot) + `","name":"GET upstream","kind":"SPAN_KIND_CLIENT",
    "startTimeUnixNano":"1765090000000000000","endTimeUnixNano":"1765090000010000000","status":{}}]}]},
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop-web"}}]},
  "instrumentationLibrarySpans":[{"instrumentationLibrary":{"name":"net/http"},"spans":[
   {"traceId":"` + b64(t, bkTrace) + `","spanId":"` + b64(t, bkApp) + `","parentSpanId":"` + b64(t, bkClient) + `","name":"GET /","kind":"SPAN_KIND_SERVER",
    "startTimeUnixNano":"1765090000001000000","endTimeUnixNano":"1765090000009000000","status":{}},
   {"traceId":"` + b64(t, bkTrace) + `","spanId":"` + b64(t, bkQuery) + `","parentSpanId":"` + b64(t, bkApp) + `","name":"SELECT products","kind":"SPAN_KIND_CLIENT",
    "startTimeUnixNano":"1765090000002000000","endTimeUnixNano":"1765090000003000000","status":{"code":"STATUS_CODE_ERROR","message":"deadlock"}}]}]}]}`
}

// zipkinAnswer is Zipkin's /api/v2/trace/{id}: a JSON list of v2 spans,
// timestamps and durations in microseconds.
const zipkinAnswer = `[
 {"traceId":"` + bkTrace + `","id":"` + bkClient + `","parentId":"` + bkRoot + `","kind":"CLIENT","name":"get upstream",
  "timestamp":1765090000000000,"duration":10000,"localEndpoint":{"serviceName":"caddy"}},
 {"traceId":"` + bkTrace + `","id":"` + bkApp + `","parentId":"` + bkClient + `","kind":"SERVER","name":"get /",
  "timestamp":1765090000001000,"duration":8000,"localEndpoint":{"serviceName":"shop-web","ipv4":"127.0.0.1"},"tags":{"http.status_code":"200"}},
 {"traceId":"` + bkTrace + `","id":"` + bkQuery + `","parentId":"` + bkApp + `","kind":"CLIENT","name":"select products",
  "timestamp":1765090000002000,"duration":1000,"localEndpoint":{"serviceName":"shop-web"},"tags":{"error":"deadlock"}}
]`

func source(sp toolbar.Span) string {
	for _, kv := range sp.Attributes {
		if kv.Key == "tracebar.source" {
			s, _ := kv.Value.Any().(string)
			return s
		}
	}
	return ""
}

func service(sp toolbar.Span) string {
	if sp.Resource != nil {
		for _, kv := range sp.Resource.Attributes {
			if kv.Key == "service.name" {
				s, _ := kv.Value.Any().(string)
				return s
			}
		}
	}
	return ""
}

// TestBackendFetch: each query API's answer joins the store: the spans the
// store lacked, marked as from the backend, parents intact; the span it had
// stays as it was, unmarked.
func TestBackendFetch(t *testing.T) {
	tests := []struct {
		api, path string
		answer    func(t *testing.T) string
	}{
		{BackendJaeger, "/api/v3/traces/" + bkTrace, func(*testing.T) string { return jaegerAnswer }},
		{BackendTempo, "/api/traces/" + bkTrace, func(t *testing.T) string { return tempoAnswer(t) }},
		{BackendZipkin, "/api/v2/trace/" + bkTrace, func(*testing.T) string { return zipkinAnswer }},
	}
	for _, tt := range tests {
		t.Run(tt.api, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != tt.path {
					http.NotFound(w, r)
					return
				}
				if tt.api == BackendTempo && r.Header.Get("Accept") != "application/json" {
					w.Header().Set("Content-Type", "application/protobuf") // what Tempo does
					w.Write([]byte{0x0a, 0x00})
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, tt.answer(t))
			}))
			defer srv.Close()
			store := localStore(t)
			b, err := NewBackend(srv.URL+"/", tt.api, store)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			st := b.Fetch(context.Background(), mustTrace(t, bkTrace))
			if !st.OK || st.Error != "" || st.Spans != 3 {
				t.Fatalf("status %+v, want ok with 3 spans", st)
			}
			spans, _ := store.Spans(mustTrace(t, bkTrace), 0)
			if len(spans) != 4 {
				t.Fatalf("%d spans in the store, want the proxy's 2 and the app's 2", len(spans))
			}
			byID := map[string]toolbar.Span{}
			for _, sp := range spans {
				byID[sp.SpanID.String()] = sp
			}
			for id, want := range map[string]struct{ source, service, parent string }{
				bkRoot:   {"", "caddy", ""},
				bkClient: {"", "caddy", bkRoot},
				bkApp:    {"backend", "shop-web", bkClient},
				bkQuery:  {"backend", "shop-web", bkApp},
			} {
				sp, ok := byID[id]
				parent := ""
				if sp.ParentSpanID.IsValid() {
					parent = sp.ParentSpanID.String()
				}
				if !ok || source(sp) != want.source || service(sp) != want.service || parent != want.parent {
					t.Errorf("span %s: source %q service %q parent %q, want %+v", id, source(sp), service(sp), parent, want)
				}
			}
			if q := byID[bkQuery]; q.Status.Code != toolbar.StatusError || q.Kind != toolbar.KindClient {
				t.Errorf("query span: status %+v kind %d", q.Status, q.Kind)
			}
			if a := byID[bkApp]; a.Kind != toolbar.KindServer || a.End.Sub(a.Start) != 8*time.Millisecond {
				t.Errorf("app span: kind %d, %v long", a.Kind, a.End.Sub(a.Start))
			}
			for _, kv := range byID[bkApp].Attributes {
				if s, _ := kv.Value.Any().(string); strings.Contains(s, "s3cret") {
					t.Errorf("attribute %s = %q from the backend is not redacted", kv.Key, s)
				}
			}

			// Again: nothing new, nothing doubled.
			if st := b.Fetch(context.Background(), mustTrace(t, bkTrace)); !st.OK {
				t.Fatalf("second fetch: %+v", st)
			}
			if spans, _ := store.Spans(mustTrace(t, bkTrace), 0); len(spans) != 4 {
				t.Fatalf("%d spans after a second fetch, want 4", len(spans))
			}
		})
	}
}

// TestBackendErrors: a backend that is down, slow, refuses or answers
// garbage leaves the store as it was, with an error to show; a trace it
// does not know (404) is no error.
func TestBackendErrors(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch c {
		case "404":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"httpCode":404,"message":"trace not found"}}`)
		case "500":
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
		case "403":
			http.Error(w, "forbidden", http.StatusForbidden)
		case "slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "garbage":
			fmt.Fprint(w, `<html>login</html>`)
		}
	}))
	defer srv.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	tests := []struct {
		name, base, err string
		ok              bool
	}{
		{"unknown trace", srv.URL + "/404", "", true},
		{"5xx", srv.URL + "/500", "503 Service Unavailable: storage unavailable", false},
		{"4xx", srv.URL + "/403", "403 Forbidden", false},
		{"slow", srv.URL + "/slow", "did not answer in time", false},
		{"garbage", srv.URL + "/garbage", "not JSON", false},
		{"down", down.URL, "connection refused", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := localStore(t)
			b, err := NewBackend(tt.base, BackendJaeger, store)
			if err != nil {
				t.Fatal(err)
			}
			b.Timeout = 100 * time.Millisecond
			defer b.Close()
			start := time.Now()
			st := b.Fetch(context.Background(), mustTrace(t, bkTrace))
			if st.OK != tt.ok || !strings.Contains(st.Error, tt.err) || (tt.ok && st.Error != "") {
				t.Fatalf("status %+v, want ok %v and error %q", st, tt.ok, tt.err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Fetch took %v with a 100ms timeout", d)
			}
			if spans, _ := store.Spans(mustTrace(t, bkTrace), 0); len(spans) != 2 {
				t.Fatalf("%d spans, want the local 2", len(spans))
			}
		})
	}
}

// fakeJaeger serves a trace whose spans can be added while it runs, and
// counts requests, and those in flight at once.
type fakeJaeger struct {
	t        *testing.T
	mu       sync.Mutex
	spans    []toolbar.Span
	fail     string
	requests atomic.Int64
	inflight atomic.Int64
	maxIn    atomic.Int64
	hold     chan struct{} // if set, each request waits until it is closed
	held     chan string   // with hold: each request's path as it starts waiting
	srv      *httptest.Server
}

func newFakeJaeger(t *testing.T) *fakeJaeger {
	f := &fakeJaeger{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeJaeger) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxIn.Load()
		if n <= m || f.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	if f.hold != nil {
		select {
		case f.held <- r.URL.Path:
		default:
		}
		select {
		case <-f.hold:
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	spans, fail := append([]toolbar.Span(nil), f.spans...), f.fail
	f.mu.Unlock()
	if fail != "" {
		http.Error(w, fail, http.StatusBadGateway)
		return
	}
	if len(spans) == 0 {
		http.Error(w, `{"error":{"httpCode":404,"message":"trace not found"}}`, http.StatusNotFound)
		return
	}
	b, err := toolbar.MarshalOTLPJSON(spans) // OTLP/JSON, hex ids: what Jaeger writes
	if err != nil {
		f.t.Error(err)
	}
	fmt.Fprintf(w, `{"result":%s}`, b)
}

func (f *fakeJaeger) add(sp ...toolbar.Span) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spans = append(f.spans, sp...)
}

func (f *fakeJaeger) setFail(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = msg
}

func appSpan(t testing.TB, id, parent string) toolbar.Span {
	res := &toolbar.Resource{Attributes: []toolbar.KeyValue{{Key: "service.name", Value: toolbar.ValueOf("shop-web")}}}
	now := time.Now()
	return toolbar.Span{TraceID: mustTrace(t, bkTrace), SpanID: mustSpan(t, id), ParentSpanID: mustSpan(t, parent), Name: "span " + id,
		Kind: toolbar.KindServer, Start: now, End: now.Add(time.Millisecond), Resource: res}
}

// waitSpans waits, on the store's subscription, until trace bkTrace has n
// spans.
func waitStoreSpans(t *testing.T, store *toolbar.Store, n int) []toolbar.Span {
	t.Helper()
	wake, cancel, ok := store.Subscribe(mustTrace(t, bkTrace))
	if !ok {
		t.Fatal("trace unknown")
	}
	defer cancel()
	timeout := time.After(10 * time.Second)
	for {
		spans, _ := store.Spans(mustTrace(t, bkTrace), 0)
		if len(spans) >= n {
			return spans
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("%d spans after 10s, want %d", len(spans), n)
		}
	}
}

// drain reads statuses until the channel closes: following ended.
func drain(t *testing.T, ch <-chan toolbar.BackendStatus) (last toolbar.BackendStatus) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case st, open := <-ch:
			if !open {
				return last
			}
			last = st
		case <-timeout:
			t.Fatal("still following after 10s")
		}
	}
}

// TestBackendFollow: while followed, spans that reach the backend late
// join the store; following ends when the trace goes quiet, or when the
// last watcher stops, and then no request goes out any more.
func TestBackendFollow(t *testing.T) {
	fj := newFakeJaeger(t)
	store := localStore(t)
	b, err := NewBackend(fj.srv.URL, BackendJaeger, store)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.First, b.Max, b.Quiet = 5*time.Millisecond, 20*time.Millisecond, 300*time.Millisecond

	id := mustTrace(t, bkTrace)
	changes, stop := b.Follow(id)
	changes2, stop2 := b.Follow(id) // a second tab: the same poller
	defer stop2()
	fj.add(appSpan(t, bkApp, bkClient))
	waitStoreSpans(t, store, 3)
	fj.add(appSpan(t, bkQuery, bkApp)) // a late span
	spans := waitStoreSpans(t, store, 4)
	if src := source(spans[3]); src != "backend" {
		t.Fatalf("late span's source %q", src)
	}
	stop()
	stop() // twice is harmless

	// Quiet: the poller ends by itself, closing both channels.
	drain(t, changes)
	if st := drain(t, changes2); !st.OK {
		t.Fatalf("last status %+v", st)
	}
	n := fj.requests.Load()
	if max := fj.maxIn.Load(); max != 1 {
		t.Fatalf("%d requests in flight at once for one trace", max)
	}

	// The last watcher leaving ends following at once.
	changes, stop = b.Follow(id)
	if st := <-changes; !st.OK {
		t.Fatalf("status %+v", st)
	}
	stop()
	drain(t, changes)
	after := fj.requests.Load()
	if after <= n {
		t.Fatalf("no request after following again (%d)", after)
	}
	b.mu.Lock()
	followed := len(b.followed)
	b.mu.Unlock()
	if followed != 0 {
		t.Fatalf("%d traces still followed", followed)
	}
	// The poller has returned (its channels closed after its last
	// request): nothing more goes out.
	if got := fj.requests.Load(); got != after {
		t.Fatalf("%d requests after following ended", got-after)
	}
}

// TestBackendFollowBounds: a slow backend gets one request per trace at a
// time, however many ask; past MaxFollowed traces, Follow declines.
func TestBackendFollowBounds(t *testing.T) {
	fj := newFakeJaeger(t)
	fj.hold, fj.held = make(chan struct{}), make(chan string, 64)
	fj.add(appSpan(t, bkApp, bkClient))
	store := localStore(t)
	b, err := NewBackend(fj.srv.URL, BackendJaeger, store)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.MaxFollowed = 2
	b.First, b.Max, b.Quiet = time.Millisecond, time.Millisecond, time.Minute

	id := mustTrace(t, bkTrace)
	ch, stop := b.Follow(id)
	defer stop()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); b.Fetch(context.Background(), id) }()
	}
	other := mustTrace(t, "5b8efff798038103d269b633813fc60d")
	_, stopOther := b.Follow(other)
	defer stopOther()
	third, stopThird := b.Follow(mustTrace(t, "5b8efff798038103d269b633813fc60e"))
	defer stopThird()
	if st, open := <-third; open && (st.OK || !strings.Contains(st.Error, "2 traces followed")) {
		t.Fatalf("third trace: %+v", st)
	}
	if _, open := <-third; open {
		t.Fatal("a declined Follow's channel stays open")
	}
	// Both followed traces' first requests wait at the backend, and the
	// Fetch callers with them; then the backend answers everything.
	// (Releasing a count of requests instead raced: the other trace's
	// poller, answered, could take every release.)
	paths := map[string]bool{<-fj.held: true, <-fj.held: true}
	if len(paths) != 2 {
		t.Fatalf("held requests %v: want one per trace", paths)
	}
	close(fj.hold)
	wg.Wait()
	if st := <-ch; !st.OK {
		t.Fatalf("status %+v", st)
	}
	if max := fj.maxIn.Load(); max > 2 { // one per trace, two traces
		t.Fatalf("%d requests in flight at once", max)
	}
}

// TestBackendAPI: the toolbar's API with a backend. A trace the store does
// not know is fetched before answering; the live stream delivers the
// backend's spans as they arrive, marked, and a "backend" event when the
// backend fails, then when it recovers.
func TestBackendAPI(t *testing.T) {
	fj := newFakeJaeger(t)
	store := toolbar.NewStore(toolbar.Limits{})
	b, err := NewBackend(fj.srv.URL, BackendJaeger, store)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.First, b.Max, b.Quiet = 5*time.Millisecond, 20*time.Millisecond, time.Minute
	store.SetBackend(&toolbar.BackendSlot{Backend: b})
	api := httptest.NewServer(toolbar.NewAPI(store))
	defer api.Close()

	// Unknown here, unknown there: 404.
	if resp, err := http.Get(api.URL + "/api/traces/" + bkTrace); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET unknown trace: %v %v", resp.Status, err)
	}
	// Unknown here, known there: fetched, then answered.
	fj.add(appSpan(t, bkApp, bkClient))
	resp, err := http.Get(api.URL + "/api/traces/" + bkTrace)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET trace: %v %v", resp.Status, err)
	}
	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					SpanID     string          `json:"spanId"`
					Attributes json.RawMessage `json:"attributes"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || len(doc.ResourceSpans) != 1 || len(doc.ResourceSpans[0].ScopeSpans[0].Spans) != 1 {
		t.Fatalf("trace %+v %v", doc, err)
	}
	if b := doc.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes; !strings.Contains(string(b), `{"key":"tracebar.source","value":{"stringValue":"backend"}}`) {
		t.Fatalf("span attributes %s lack the backend mark", b)
	}

	// The stream: the span at hand, then a late one, then the backend's
	// failure and recovery.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/api/traces/"+bkTrace+"/stream", nil)
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	events := make(chan [2]string)
	go func() {
		sc := bufio.NewScanner(sresp.Body)
		sc.Buffer(nil, 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
			} else if d, ok := strings.CutPrefix(line, "data: "); ok {
				select {
				case events <- [2]string{event, d}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	next := func(want string) string {
		t.Helper()
		for {
			select {
			case ev := <-events:
				if ev[0] == want {
					return ev[1]
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no %q event after 10s", want)
			}
		}
	}
	if d := next("spans"); !strings.Contains(d, bkApp) {
		t.Fatalf("first spans event %s", d)
	}
	fj.add(appSpan(t, bkQuery, bkApp))
	if d := next("spans"); !strings.Contains(d, bkQuery) || !strings.Contains(d, `"tracebar.source"`) {
		t.Fatalf("late spans event %s", d)
	}
	fj.setFail("collector overloaded")
	d := next("backend")
	var st toolbar.BackendStatus
	if err := json.Unmarshal([]byte(d), &st); err != nil || st.OK || !strings.Contains(st.Error, "502 Bad Gateway: collector overloaded") {
		t.Fatalf("backend event %s (%v)", d, err)
	}
	fj.setFail("")
	if d := next("backend"); !strings.HasPrefix(d, `{"ok":true`) {
		t.Fatalf("recovery event %s", d)
	}
	// The spans stay: the local view with what came before.
	if spans, _ := store.Spans(mustTrace(t, bkTrace), 0); len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	cancel()
	// The stream's end stops following.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		n := len(b.followed)
		b.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still following after the stream ended")
		}
		time.Sleep(10 * time.Millisecond) // the server notices the client left on its own
	}
}

// TestBackendAnswersAndPasswords: a Zipkin answer holding a null span is
// read without it; a password in the backend's URL is sent as basic auth
// and masked in every message (they reach the toolbar and the logs).
func TestBackendAnswersAndPasswords(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v2/trace/") {
			fmt.Fprint(w, `[null]`)
			return
		}
		if u, p, ok := r.BasicAuth(); ok {
			auth = u + ":" + p
		}
		http.Error(w, "storage down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	store := localStore(t)
	z, err := NewBackend(srv.URL, BackendZipkin, store)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if st := z.Fetch(context.Background(), mustTrace(t, bkTrace)); !st.OK || st.Spans != 0 {
		t.Fatalf("a null span: status %+v, want ok with none", st)
	}

	withPassword := strings.Replace(srv.URL, "http://", "http://admin:s3cret@", 1)
	j, err := NewBackend(withPassword, BackendJaeger, store)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	st := j.Fetch(context.Background(), mustTrace(t, bkTrace))
	if auth != "admin:s3cret" {
		t.Fatalf("the backend got basic auth %q", auth)
	}
	if st.OK || strings.Contains(st.Error, "s3cret") || !strings.Contains(st.Error, "503") || strings.Contains(j.URL(), "s3cret") {
		t.Fatalf("status %+v, URL %s: want the 503, and no password", st, j.URL())
	}
}

// TestBackendCallerGivingUpFailsNoOther: the one request in flight for a
// trace runs on the Backend's own context: a waiter that gives up does not
// end it for the others.
func TestBackendCallerGivingUpFailsNoOther(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	b, err := NewBackend(srv.URL, BackendJaeger, localStore(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	id := mustTrace(t, bkTrace)
	first, giveUp := context.WithCancel(context.Background())
	firstDone := make(chan toolbar.BackendStatus)
	go func() { firstDone <- b.Fetch(first, id) }()
	<-arrived
	second := make(chan toolbar.BackendStatus)
	go func() { second <- b.Fetch(context.Background(), id) }()
	giveUp()
	if st := <-firstDone; st.OK {
		t.Fatalf("the caller that gave up got %+v", st)
	}
	close(release)
	if st := <-second; !st.OK {
		t.Fatalf("the other caller got %+v, want the backend's answer", st)
	}
}
