package otelbridge

// Reading traces back from the team's backend: Jaeger's API v3, Tempo's
// trace API or Zipkin's v2 API. The spans other instances (or apps that
// export to the backend directly) sent there join the store, marked, so
// the toolbar shows the whole trace.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/tracebar/tracebar/toolbar"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Backend query APIs.
const (
	BackendJaeger = "jaeger" // GET /api/v3/traces/{id}: {"result": OTLP/JSON}
	BackendTempo  = "tempo"  // GET /api/traces/{id}: {"batches": [...]} or OTLP/JSON
	BackendZipkin = "zipkin" // GET /api/v2/trace/{id}: a JSON list of Zipkin v2 spans
)

// Backend reads traces from a team's tracing backend into a store. It
// implements toolbar.Backend. Spans from the backend are added to the
// store directly, never through the sink, so they are not forwarded again.
type Backend struct {
	// Timeout bounds one request to the backend (default 3 s).
	Timeout time.Duration
	// First is the wait between polls while the backend has news, Max the
	// wait it backs off to while it has none (defaults 1 s and 5 s).
	First, Max time.Duration
	// Quiet ends following a trace the backend had nothing new for in
	// this long (default 30 s).
	Quiet time.Duration
	// MaxFollowed bounds the traces followed at once (default 8).
	MaxFollowed int
	// Redactor redacts the backend's spans before they are stored, as the
	// sink does (apps may export to the backend without Tracebar between);
	// nil: the built-in rules.
	Redactor *toolbar.Redactor

	base   string // without the trailing slash
	shown  string // base with any password masked, for messages and logs
	api    string
	store  *toolbar.Store
	client *http.Client

	mu       sync.Mutex
	followed map[toolbar.TraceID]*follow
	inflight map[toolbar.TraceID]*fetchCall
	last     map[toolbar.TraceID]toolbar.BackendStatus // of followed traces
	closed   bool
	requests chan struct{} // one token per request to the backend
	ctx      context.Context
	cancel   context.CancelFunc
}

var _ toolbar.Backend = (*Backend)(nil)

// follow is one followed trace: its watchers' channels and the poller's
// stop.
type follow struct {
	watchers map[chan toolbar.BackendStatus]struct{}
	ctx      context.Context // done once the last watcher left
	cancel   context.CancelFunc
}

// fetchCall is a request in flight: later callers for the same trace wait
// for it rather than sending another.
type fetchCall struct {
	done  chan struct{}
	st    toolbar.BackendStatus
	added int
}

// NewBackend returns a Backend that reads from the query API api (jaeger,
// tempo or zipkin) at base, an http(s) URL, into store.
func NewBackend(base, api string, store *toolbar.Store) (*Backend, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("backend: %q is not an http(s) URL like http://localhost:16686", base)
	}
	switch api {
	case BackendJaeger, BackendTempo, BackendZipkin:
	default:
		return nil, fmt.Errorf("backend_api %q: want jaeger, tempo or zipkin", api)
	}
	ctx, cancel := context.WithCancel(context.Background())
	client := forwardHTTPClient()
	client.Timeout = 0 // each request has its own
	return &Backend{
		base: strings.TrimSuffix(base, "/"), shown: strings.TrimSuffix(u.Redacted(), "/"), api: api, store: store, client: client,
		followed: map[toolbar.TraceID]*follow{}, inflight: map[toolbar.TraceID]*fetchCall{},
		last: map[toolbar.TraceID]toolbar.BackendStatus{}, requests: make(chan struct{}, maxRequests), ctx: ctx, cancel: cancel,
	}, nil
}

// URL is the backend's base URL (a password in it masked), API its query API.
func (b *Backend) URL() string { return b.shown }
func (b *Backend) API() string { return b.api }

// Close stops following every trace and ends the requests in flight.
func (b *Backend) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.client.CloseIdleConnections()
}

func orDefault[T int | time.Duration](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

// Fetch reads trace id from the backend and adds the spans the store does
// not have; one request per trace is in flight at a time (a second caller
// waits for the first one's answer).
func (b *Backend) Fetch(ctx context.Context, id toolbar.TraceID) toolbar.BackendStatus {
	st, _ := b.fetch(ctx, id)
	return st
}

// fetch is Fetch, also reporting how many spans were new to the store.
// The request runs on the Backend's own context, not a caller's: a caller
// that gives up (a poller whose viewer left) does not fail the others
// waiting for the same answer.
func (b *Backend) fetch(ctx context.Context, id toolbar.TraceID) (toolbar.BackendStatus, int) {
	b.mu.Lock()
	c, ok := b.inflight[id]
	if !ok {
		c = &fetchCall{done: make(chan struct{})}
		b.inflight[id] = c
		go b.run(id, c)
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.st, c.added
	case <-ctx.Done():
		return toolbar.BackendStatus{Error: "backend: " + ctx.Err().Error()}, 0
	}
}

// maxRequests bounds the requests to the backend at once, and so the
// memory their answers take.
const maxRequests = 4

// run makes the request of c and hands its outcome to every waiter.
func (b *Backend) run(id toolbar.TraceID, c *fetchCall) {
	defer func() {
		b.mu.Lock()
		delete(b.inflight, id)
		b.mu.Unlock()
		close(c.done)
	}()
	select {
	case b.requests <- struct{}{}:
		defer func() { <-b.requests }()
	case <-b.ctx.Done():
		c.st = toolbar.BackendStatus{Error: "backend: " + b.ctx.Err().Error()}
		return
	}
	spans, err := b.get(b.ctx, id)
	if err != nil {
		c.st = toolbar.BackendStatus{Error: err.Error()}
		return
	}
	c.st = toolbar.BackendStatus{OK: true, Spans: len(spans)}
	c.added, _, _ = b.store.AddSpans(spans)
}

// get asks the backend for trace id and converts its answer. A trace the
// backend does not know (404) is no error: none of its spans got there yet.
func (b *Backend) get(ctx context.Context, id toolbar.TraceID) ([]toolbar.Span, error) {
	ctx, cancel := context.WithTimeout(ctx, orDefault(b.Timeout, 3*time.Second))
	defer cancel()
	var path string
	switch b.api {
	case BackendJaeger:
		path = "/api/v3/traces/"
	case BackendTempo:
		path = "/api/traces/"
	default:
		path = "/api/v2/trace/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path+id.String(), nil)
	u := b.shown + path + id.String() // for messages: they reach the toolbar and logs
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	req.Header.Set("Accept", "application/json") // Tempo answers protobuf otherwise
	resp, err := b.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("backend %s did not answer in time", b.shown)
		}
		return nil, fmt.Errorf("backend: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxBodyBytes+1))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("backend GET %s: %s%s", u, resp.Status, backendSays(body))
	case err != nil:
		return nil, fmt.Errorf("backend GET %s: %w", u, err)
	case len(body) > DefaultMaxBodyBytes:
		return nil, fmt.Errorf("backend GET %s: answer over %d bytes", u, DefaultMaxBodyBytes)
	}
	rss, err := decodeBackendTrace(b.api, body)
	if err != nil {
		return nil, fmt.Errorf("backend GET %s: %w", u, err)
	}
	redactSpans(rss, b.Redactor)
	spans, _ := fromProto(rss)
	out := spans[:0]
	for _, sp := range spans {
		if sp.TraceID != id {
			continue // not what was asked for
		}
		sp.Attributes = append(sp.Attributes[:len(sp.Attributes):len(sp.Attributes)],
			toolbar.KeyValue{Key: "tracebar.source", Value: toolbar.StringValue(toolbar.BackendSource)})
		out = append(out, sp)
	}
	return out, nil
}

// decodeBackendTrace reads a query API's answer as OTLP resource spans.
func decodeBackendTrace(api string, body []byte) ([]*tracepb.ResourceSpans, error) {
	if api == BackendZipkin {
		var spans []*model.SpanModel
		if err := json.Unmarshal(body, &spans); err != nil {
			return nil, fmt.Errorf("not a Zipkin v2 JSON list of spans: %w", err)
		}
		return zipkinToOTLP(spans), nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	// Jaeger: {"result": {"resourceSpans": ...}}; Tempo: {"batches": [...]}
	// (OTLP's older field names inside), or {"trace": {...}} (API v2), or
	// plain OTLP/JSON.
	for _, k := range []string{"result", "trace"} {
		if inner, ok := doc[k].(map[string]any); ok {
			doc = inner
		}
	}
	if batches, ok := doc["batches"]; ok {
		doc = map[string]any{"resourceSpans": batches}
	}
	if err := idsToBase64(doc, 0, backendID, tempoNames); err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var td tracepb.TracesData
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &td); err != nil {
		return nil, fmt.Errorf("not OTLP/JSON: %w", err)
	}
	return td.GetResourceSpans(), nil
}

// backendID is a backend's id as protojson reads it: OTLP/JSON (Jaeger)
// spells ids in hex, Tempo in base64 (its protobuf's JSON), so hex of an
// id's length becomes base64 and anything else is left for protojson.
func backendID(s string) string {
	if (len(s) == 32 || len(s) == 16) && isHex(s) {
		raw, _ := hex.DecodeString(s)
		return base64.StdEncoding.EncodeToString(raw)
	}
	return s
}

// tempoNames are OTLP's older field names, in Tempo's answers, and OTLP's.
var tempoNames = [][2]string{{"instrumentationLibrarySpans", "scopeSpans"}, {"instrumentationLibrary", "scope"}}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Follow polls the backend for trace id: at once, then every First while
// it has news, backing off to Max while it has none, until every watcher
// stopped or the backend had nothing new for Quiet. At most MaxFollowed
// traces are followed at once; past that, the status says so.
func (b *Backend) Follow(id toolbar.TraceID) (<-chan toolbar.BackendStatus, func()) {
	ch := make(chan toolbar.BackendStatus, 1)
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.followed[id]
	if ok && f.ctx.Err() != nil {
		ok = false // its poller is on its way out
	}
	if !ok {
		if b.closed || len(b.followed) >= orDefault(b.MaxFollowed, 8) {
			msg := fmt.Sprintf("backend: %d traces followed already; showing the spans at hand", len(b.followed))
			if b.closed {
				msg = "backend: this configuration was replaced; reload the page"
			}
			ch <- toolbar.BackendStatus{Error: msg}
			close(ch)
			return ch, func() {}
		}
		ctx, cancel := context.WithCancel(b.ctx)
		f = &follow{watchers: map[chan toolbar.BackendStatus]struct{}{}, ctx: ctx, cancel: cancel}
		b.followed[id] = f
		go b.poll(ctx, id, f)
	} else if st, ok := b.last[id]; ok {
		ch <- st
	}
	f.watchers[ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if _, ok := f.watchers[ch]; !ok {
				return // following ended already
			}
			if len(f.watchers) == 1 {
				f.cancel() // the poller closes ch as it leaves
				return
			}
			delete(f.watchers, ch)
			close(ch)
		})
	}
}

// poll is the loop of one followed trace. It closes the watchers'
// channels when it ends, after its last request.
func (b *Backend) poll(ctx context.Context, id toolbar.TraceID, f *follow) {
	first, most, quiet := orDefault(b.First, time.Second), orDefault(b.Max, 5*time.Second), orDefault(b.Quiet, 30*time.Second)
	defer func() {
		f.cancel()
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.followed[id] == f {
			delete(b.followed, id)
			delete(b.last, id)
		}
		for ch := range f.watchers {
			close(ch)
		}
		f.watchers = nil
	}()
	wait, news := first, time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		st, added := b.fetch(ctx, id)
		if ctx.Err() != nil {
			return
		}
		b.mu.Lock()
		b.last[id] = st
		for ch := range f.watchers {
			select { // the latest status replaces one not read yet
			case <-ch:
			default:
			}
			ch <- st
		}
		b.mu.Unlock()
		if added > 0 {
			wait, news = first, time.Now()
		} else {
			wait = min(2*wait, most)
		}
		if time.Since(news) >= quiet {
			return
		}
		timer.Reset(wait)
	}
}
