package toolbar

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The history: records as its list shows them (summary), the list, its
// live stream, and one record in full.

// summary is a record as the history list shows it.
type summary struct {
	ID          string    `json:"id"`
	TraceID     TraceID   `json:"traceId"`
	Method      string    `json:"method"`
	URL         string    `json:"url"`
	Status      int       `json:"status"`
	Done        bool      `json:"done"`
	StartTime   time.Time `json:"startTime"`
	DurationMs  float64   `json:"durationMs"`
	ContentType string    `json:"contentType,omitempty"`
	Injected    bool      `json:"injected"`
	Location    string    `json:"location,omitempty"` // a redirect's target
	Route       string    `json:"route"`              // RouteOf
	Operation   string    `json:"operation"`          // OperationOf
	Services    []string  `json:"services"`           // of its spans, in order of appearance
	Queries     int       `json:"queries"`            // its database spans
	Error       bool      `json:"error"`              // a 5xx, or a span with an error status or exception
	Imported    bool      `json:"imported,omitempty"` // Record.Imported: no replay
	Kind        string    `json:"kind,omitempty"`     // Record.Kind: "websocket", "sse", "background"
}

func (a *API) summarize(rec *Record) summary {
	f := a.Store.recordFacts(rec)
	return summary{
		ID: rec.ID, TraceID: rec.TraceID, Method: rec.Method, URL: rec.URL,
		Status: rec.Status, Done: rec.Done, StartTime: rec.StartTime, DurationMs: rec.DurationMs,
		ContentType: rec.ContentType, Injected: rec.Injected, Location: rec.ClientResponse.Get("Location"),
		Route: f.route, Operation: f.operation, Services: f.services, Queries: f.queries, Error: f.failed,
		Imported: rec.Imported, Kind: rec.Kind,
	}
}

func (a *API) requests(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	recs := a.Store.Requests(limit)
	out := make([]summary, len(recs))
	for i, rec := range recs {
		out[i] = a.summarize(rec)
	}
	writeJSON(w, out)
}

// requestStream sends a summary of the newest records, then of every record
// published or changed, for the live history list. The first burst makes
// the stream complete on its own: nothing published while a client was
// connecting is missed. A change after a quiet spell is sent at once;
// changes that come faster are sent together, a pass at most every
// API.historyEvery (streamEvery).
func (a *API) requestStream(w http.ResponseWriter, r *http.Request) {
	wake, cancel := a.Store.SubscribeRequests()
	defer cancel()
	rc := startEvents(w)
	// Records are replaced, never modified, and spans only appended: a new
	// pointer or a longer trace is news. Only the newest records are
	// compared, so the map stays small.
	const window = 100
	type version struct {
		rec   *Record
		spans int
	}
	sent := map[string]version{}
	ticker := time.NewTicker(a.KeepAlive)
	defer ticker.Stop()
	for {
		recent := a.Store.Requests(window)
		next := make(map[string]version, len(recent))
		for i := len(recent) - 1; i >= 0; i-- { // oldest first
			rec := recent[i]
			v := version{rec, a.Store.traceLen(rec.TraceID)}
			next[rec.ID] = v
			if sent[rec.ID] == v {
				continue
			}
			if err := sendEvent(w, "request", a.summarize(rec)); err != nil {
				return
			}
		}
		sent = next
		if err := rc.Flush(); err != nil {
			return
		}
		passed := time.Now()
		select {
		case <-r.Context().Done():
			return
		case <-wake:
			if !pace(r.Context(), passed, a.historyEvery) {
				return
			}
		case <-ticker.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
	}
}

func (a *API) request(w http.ResponseWriter, r *http.Request) {
	rec := a.Store.Request(r.PathValue("id"))
	if rec == nil {
		http.Error(w, "toolbar: no such request", http.StatusNotFound)
		return
	}
	writeJSON(w, a.view(rec))
}

// recordView is a record in full as the API serves it, with the names the
// history gives it: the toolbar's head shows the operation of a GraphQL or
// RPC request rather than a wall of POST /graphql.
type recordView struct {
	*Record
	Route     string `json:"route"`
	Operation string `json:"operation,omitempty"`
}

func (a *API) view(rec *Record) recordView {
	f := a.Store.recordFacts(rec)
	return recordView{rec, f.route, f.operation}
}
