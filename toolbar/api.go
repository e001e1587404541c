package toolbar

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// API serves the toolbar UI's JSON and Server-Sent Events endpoints. Mount
// it with the toolbar prefix stripped:
//
//	GET /api/requests                 records, newest first (?limit=N)
//	GET /api/requests/stream          SSE: a "request" summary for each new or updated record
//	GET /api/requests/{id}            one record in full, with its route and operation
//	GET /api/traces/{id}              the trace as OTLP/JSON
//	GET /api/traces/{id}/logs         the trace's log records
//	GET /api/traces/{id}/stream       SSE: "request", "spans" and "logs" events as the trace grows,
//	                                  "related" and "linked" for the traces linked to it and their
//	                                  spans, and "backend" ({"ok":false,"error":...}) when the team's
//	                                  backend (Store.Backend) cannot be read (stream.go)
//	GET /api/requests/{id}/compare    the record against a baseline (?with=<id>, default: the
//	                                  previous record of the same method and route)
//	GET /api/requests/{id}/alerts     what looks wrong in the record and its spans
//	GET /api/requests/{id}/har        HAR 1.2 of the page session, with the trace as _spans
//	GET /api/traces/{id}/related      the traces its spans link to and that link to it (links.go)
//	POST /api/import                  an OTLP/JSON trace or such a HAR, added to the store
//	GET /api/metrics                  the app's metrics in a time window (?service=&from=&to=)
//	GET /api/config                   the UI's settings: editor links, slow query threshold
//	GET /api/stats                    store fill level
//
// With a Backend, a trace read through the API also gets the spans the
// team's backend holds for it (added to the Store, marked with the span
// attribute tracebar.source = "backend"): the API answers with what the
// Store has at once (waiting for the backend only for a trace the Store
// does not know), and a stream follows the backend for late spans.
type API struct {
	Store *Store
	// Backend, when set, overrides the Store's Backend.
	Backend Backend
	// KeepAlive is the interval of SSE comments that keep idle streams open.
	KeepAlive time.Duration
	// Idle ends a trace's stream whose requests are done and which has
	// sent nothing (of the trace or the traces linked to it) for this
	// long, with an "idle" event: browsers allow only six HTTP/1.1
	// connections per host, so open tabs must not hold theirs.
	Idle time.Duration
	// ForwardDropped, when set, counts the received batches lost to the
	// team's backend: dropped because it fell behind, or refused after
	// retries. /api/stats shows it.
	ForwardDropped func() uint64
	// Editor is the URL template of a source link, with {file} and {line}
	// (see EditorPresets); "" for no links.
	Editor string
	// EditorPaths map the file paths the app reports (in a container) to
	// the developer's: the first matching From prefix is replaced by To.
	EditorPaths []PathMap
	// SlowQuery is the database span length from which a query is slow
	// (alerts, the SQL panel). Zero means DefaultSlowQuery.
	SlowQuery time.Duration
	// DecodeTraces reads an OTLP/JSON ExportTraceServiceRequest (hex or
	// base64 ids) into redacted spans, for POST /api/import; nil refuses
	// imports of OTLP/JSON (the toolbar package has no OTLP decoder).
	DecodeTraces func(otlpJSON []byte) ([]Span, error)
	Metrics      *MetricStore // the app's metrics, for GET /api/metrics (metrics.go); nil: none kept

	// historyEvery is the least time between two passes of a history
	// stream over the records (requestStream): streamEvery, which tests
	// change; zero: a pass per change.
	historyEvery time.Duration

	links linkIndex // the store's cross-trace links (links.go)
	mux   *http.ServeMux
}

// Backend is the team's tracing backend (Jaeger, Tempo, Zipkin), which
// holds the spans of a trace that reached other instances or went to it
// directly. It adds its copy of a trace to the Store, marking each span
// with the attribute tracebar.source = "backend"; spans the Store already
// has stay as they are.
type Backend interface {
	// Fetch adds the backend's copy of trace id to the Store, waiting at
	// most until ctx ends.
	Fetch(ctx context.Context, id TraceID) BackendStatus
	// Follow polls the backend for trace id's late spans, at a bounded
	// rate, until stop is called or the trace goes quiet. changes holds
	// the latest status after each poll and is closed when following ends.
	Follow(id TraceID) (changes <-chan BackendStatus, stop func())
}

// PathMap maps a file path prefix of the app's to the developer's.
type PathMap struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// DefaultSlowQuery is API.SlowQuery's default.
const DefaultSlowQuery = 100 * time.Millisecond

// EditorPresets are the editors the "editor" option names, as URL templates.
var EditorPresets = map[string]string{
	"vscode":   "vscode://file/{file}:{line}",
	"cursor":   "cursor://file/{file}:{line}",
	"idea":     "idea://open?file={file}&line={line}",
	"phpstorm": "phpstorm://open?file={file}&line={line}",
	"sublime":  "subl://open?url=file://{file}&line={line}",
}

// BackendStatus is the outcome of reading a trace from the Backend.
type BackendStatus struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"` // why not OK: the local spans are all there is
	Spans int    `json:"spans"`           // spans the backend returned
}

// BackendSource is the value of the span attribute "tracebar.source" on
// spans that came from the Backend rather than to this Tracebar's sink.
const BackendSource = "backend"

// fetchTimeout bounds the wait for the backend of a request for a trace
// the store does not know.
const fetchTimeout = 4 * time.Second

func (a *API) backend() Backend {
	if a.Backend != nil {
		return a.Backend
	}
	return a.Store.Backend()
}

// NewAPI returns an API over store.
func NewAPI(store *Store) *API {
	a := &API{Store: store, KeepAlive: 15 * time.Second, Idle: time.Minute, historyEvery: streamEvery, mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /api/requests", a.requests)
	a.mux.HandleFunc("GET /api/requests/stream", a.requestStream)
	a.mux.HandleFunc("GET /api/requests/{id}", a.request)
	a.mux.HandleFunc("GET /api/traces/{id}", a.trace)
	a.mux.HandleFunc("GET /api/traces/{id}/logs", a.logs)
	a.mux.HandleFunc("GET /api/traces/{id}/stream", a.stream)
	a.mux.HandleFunc("GET /api/requests/{id}/compare", a.compare)
	a.mux.HandleFunc("GET /api/requests/{id}/alerts", a.alerts)
	a.mux.HandleFunc("GET /api/requests/{id}/har", a.har)
	a.mux.HandleFunc("POST /api/import", a.importTrace)
	a.mux.HandleFunc("GET /api/config", a.config)
	a.mux.HandleFunc("GET /api/stats", a.stats)
	a.mux.HandleFunc("GET /api/traces/{id}/related", a.related)
	a.mux.HandleFunc("GET /api/metrics", a.metrics)
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// The API is for same-origin pages only; refuse cross-site reads.
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		http.Error(w, "toolbar: cross-site request refused", http.StatusForbidden)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// traceID reads the {id} of the path, answering 400 when it is not one.
func traceID(w http.ResponseWriter, r *http.Request) (TraceID, bool) {
	id, err := ParseTraceID(r.PathValue("id"))
	if err != nil {
		http.Error(w, "toolbar: "+err.Error(), http.StatusBadRequest)
		return id, false
	}
	return id, true
}

func noTrace(w http.ResponseWriter) { http.Error(w, "toolbar: no such trace", http.StatusNotFound) }

func (a *API) trace(w http.ResponseWriter, r *http.Request) {
	id, ok := traceID(w, r)
	if !ok {
		return
	}
	spans, ok := a.Store.Spans(id, 0)
	if be := a.backend(); be != nil {
		if ok { // answer now; the backend's spans come with the next read
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
				defer cancel()
				be.Fetch(ctx, id)
			}()
		} else if a.fetch(r.Context(), be, id) {
			spans, ok = a.Store.Spans(id, 0)
		}
	}
	if !ok {
		noTrace(w)
		return
	}
	b, err := MarshalOTLPJSON(spans)
	if err != nil {
		http.Error(w, "toolbar: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// fetch waits for the backend's copy of a trace the store does not know,
// and reports whether it found one.
func (a *API) fetch(ctx context.Context, be Backend, id TraceID) bool {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	return be.Fetch(ctx, id).Spans > 0
}

func (a *API) logs(w http.ResponseWriter, r *http.Request) {
	id, ok := traceID(w, r)
	if !ok {
		return
	}
	logs, ok := a.Store.Logs(id, 0)
	if !ok {
		noTrace(w)
		return
	}
	if logs == nil {
		logs = []LogRecord{}
	}
	writeJSON(w, logs)
}

func (a *API) slowQuery() time.Duration {
	if a.SlowQuery > 0 {
		return a.SlowQuery
	}
	return DefaultSlowQuery
}

func (a *API) config(w http.ResponseWriter, r *http.Request) {
	paths := a.EditorPaths
	if paths == nil {
		paths = []PathMap{}
	}
	writeJSON(w, struct {
		Editor      string    `json:"editor"`
		EditorPaths []PathMap `json:"editorPaths"`
		SlowQueryMs float64   `json:"slowQueryMs"`
	}{a.Editor, paths, Millis(a.slowQuery())})
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) {
	st := struct {
		Stats
		ForwardDropped *uint64 `json:"forwardDroppedBatches,omitempty"`
	}{Stats: a.Store.Stats()}
	if a.ForwardDropped != nil {
		n := a.ForwardDropped()
		st.ForwardDropped = &n
	}
	writeJSON(w, st)
}

// startEvents writes the head of a Server-Sent Events response.
func startEvents(w http.ResponseWriter) *http.ResponseController {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return http.NewResponseController(w)
}

func sendEvent(w http.ResponseWriter, event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	return err
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "toolbar: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
