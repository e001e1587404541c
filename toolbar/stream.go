package toolbar

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// A trace's live stream, GET /api/traces/{id}/stream, sends as Server-Sent
// Events what the trace holds, then every change:
//
//	request   a record of the trace (recordView), whenever it is published anew
//	spans     the trace's spans not sent before, as OTLP/JSON
//	logs      its log records not sent before
//	backend   {"ok":false,"error":...} when the team's backend cannot be read,
//	          {"ok":true,...} when it can again
//	related   the trace's links (Related, links.go) whenever they change;
//	          none while there are none
//	linked    {"traceId", "trace": OTLP/JSON}: spans of a linked trace not
//	          sent before, for up to maxFollowed linked traces
//	evicted   the trace left the store; the stream ends
//	idle      the trace's records are done and nothing was sent for API.Idle;
//	          the stream ends
//
// One stream carries the trace and the traces linked to it: a browser has
// six HTTP/1.1 connections per host for all its tabs, so a toolbar page
// holds one. A job linked to the trace after the stream ended idle shows
// when a client opens the stream again (the toolbar does when its page is
// looked at again): a new stream sends everything from the start.

// streamEvery is the least time between two passes of a live stream (a
// trace's, the history's). Spans come one batch per ended span of the
// proxy's, and every record published anywhere wakes the trace streams
// (a linked job's trace gets one when its root span arrives): one pass
// in this time sends a burst of them together
// (BenchmarkHistoryStreamSpanBatches). A change after a quiet spell is
// sent at once.
const streamEvery = 150 * time.Millisecond

// pace waits until every has passed since last, and reports false if ctx
// ends first.
func pace(ctx context.Context, last time.Time, every time.Duration) bool {
	wait := every - time.Since(last)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// stream serves GET /api/traces/{id}/stream (see the note at the top of
// this file).
func (a *API) stream(w http.ResponseWriter, r *http.Request) {
	id, ok := traceID(w, r)
	if !ok {
		return
	}
	wake, cancel, ok := a.subscribe(r.Context(), id)
	if !ok {
		noTrace(w)
		return
	}
	defer cancel()
	// Before the first pass, so that no link is missed.
	published, unsubscribe := a.Store.SubscribeRequests()
	defer unsubscribe()
	ctx, stop := context.WithCancel(r.Context())
	defer stop() // ends the linked traces' followers
	st := &traceStream{api: a, id: id, w: w, records: map[string]*Record{}, linked: map[TraceID]*linkedTrace{},
		poke: make(chan struct{}, 1), changed: time.Now(), lastBackend: BackendStatus{OK: true}}
	defer st.unfollow()
	if be := a.backend(); be != nil {
		var stopBackend func()
		st.backend, stopBackend = be.Follow(id)
		defer stopBackend()
	}
	rc := startEvents(w)
	ticker := time.NewTicker(min(a.KeepAlive, a.Idle))
	defer ticker.Stop()
	for {
		if err := st.pass(ctx); err != nil || rc.Flush() != nil {
			return
		}
		passed := time.Now()
		if !st.wait(ctx, wake, published, ticker.C) {
			rc.Flush()
			return
		}
		if !pace(ctx, passed, streamEvery) {
			return
		}
	}
}

// subscribe subscribes to trace id's changes (Store.Subscribe). A trace
// the store does not hold is read from the backend first, if there is one.
func (a *API) subscribe(ctx context.Context, id TraceID) (wake <-chan struct{}, cancel func(), ok bool) {
	wake, cancel, ok = a.Store.Subscribe(id)
	if be := a.backend(); !ok && be != nil && a.fetch(ctx, be, id) {
		wake, cancel, ok = a.Store.Subscribe(id)
	}
	return wake, cancel, ok
}

// traceStream is what one trace stream has sent, each pass sending what
// changed since.
type traceStream struct {
	api     *API
	id      TraceID
	w       http.ResponseWriter
	records map[string]*Record       // the trace's records as last sent
	spans   int                      // the trace's spans sent
	logs    int                      // its log records sent
	links   []byte                   // the Related last sent, as JSON; nil: none yet
	linked  map[TraceID]*linkedTrace // the linked traces whose spans are sent
	poke    chan struct{}            // a linked trace changed
	changed time.Time                // when an event of the trace or a linked one was last sent
	done    bool                     // every record of the trace is done

	backend     <-chan BackendStatus // the backend's status of the trace; nil: none, or no longer followed
	lastBackend BackendStatus        // as last sent
}

// linkedTrace is a linked trace a stream follows.
type linkedTrace struct {
	changes <-chan struct{} // the store's subscription, closed when the trace is evicted
	cancel  func()
	sent    int // its spans sent
}

// pass sends what changed since the last pass.
func (st *traceStream) pass(ctx context.Context) error {
	if err := st.sendRecords(); err != nil {
		return err
	}
	if err := st.sendSpans(); err != nil {
		return err
	}
	if err := st.sendLogs(); err != nil {
		return err
	}
	return st.sendLinks(ctx)
}

// wait waits for news: a change of the trace (wake) or of a linked one,
// a record published (the root of a job linked to the trace), or the
// backend's status, sent at once when it changed. A tick of the ticker
// sends a keep-alive, or ends a stream idle for API.Idle. It reports
// false when the stream ends.
func (st *traceStream) wait(ctx context.Context, wake, published <-chan struct{}, tick <-chan time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case status, open := <-st.backend:
		if !open {
			st.backend = nil
			return true
		}
		// Only news: an error, or the recovery from one.
		if status.OK == st.lastBackend.OK && status.Error == st.lastBackend.Error {
			return true
		}
		st.lastBackend = status
		return sendEvent(st.w, "backend", status) == nil
	case _, open := <-wake:
		if !open {
			fmt.Fprint(st.w, "event: evicted\ndata: {}\n\n")
		}
		return open
	case <-published:
	case <-st.poke:
	case <-tick:
		if st.done && time.Since(st.changed) >= st.api.Idle {
			fmt.Fprint(st.w, "event: idle\ndata: {}\n\n")
			return false
		}
		_, err := fmt.Fprint(st.w, ": keep-alive\n\n")
		return err == nil
	}
	return true
}

// event sends one event whose data is JSON.
func (st *traceStream) event(name string, data []byte) error {
	st.changed = time.Now()
	_, err := fmt.Fprintf(st.w, "event: %s\ndata: %s\n\n", name, data)
	return err
}

// sendRecords sends the trace's records published anew.
func (st *traceStream) sendRecords() error {
	st.done = true
	for _, rec := range st.api.Store.TraceRequests(st.id) {
		st.done = st.done && rec.Done
		if st.records[rec.ID] == rec {
			continue
		}
		st.records[rec.ID] = rec
		b, err := json.Marshal(st.api.view(rec))
		if err != nil {
			return fmt.Errorf("record %s: %w", rec.ID, err)
		}
		if err := st.event("request", b); err != nil {
			return err
		}
	}
	return nil
}

// sendSpans sends the trace's new spans.
func (st *traceStream) sendSpans() error {
	spans, _ := st.api.Store.Spans(st.id, st.spans)
	if len(spans) == 0 {
		return nil
	}
	st.spans += len(spans)
	b, err := MarshalOTLPJSON(spans)
	if err != nil {
		return fmt.Errorf("spans of %s: %w", st.id, err)
	}
	return st.event("spans", b)
}

// sendLogs sends the trace's new log records.
func (st *traceStream) sendLogs() error {
	logs, _ := st.api.Store.Logs(st.id, st.logs)
	if len(logs) == 0 {
		return nil
	}
	st.logs += len(logs)
	b, err := json.Marshal(logs)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", st.id, err)
	}
	return st.event("logs", b)
}

// sendLinks sends the trace's links when they changed, then the new spans
// of the traces they name.
func (st *traceStream) sendLinks(ctx context.Context) error {
	rel, ok := st.api.links.related(st.api.Store, st.id)
	if !ok {
		return nil // evicted: its subscription ends the stream
	}
	b, err := json.Marshal(rel)
	if err != nil {
		return fmt.Errorf("links of %s: %w", st.id, err)
	}
	if (st.links != nil || len(rel.Traces) > 0) && !bytes.Equal(b, st.links) {
		st.links = b
		if err := st.event("related", b); err != nil {
			return err
		}
	}
	st.forgetEvicted()
	for _, other := range rel.Traces {
		if err := st.sendLinked(ctx, other); err != nil {
			return err
		}
	}
	return nil
}

// sendLinked sends the new spans of linked trace id, following it first
// unless the stream follows maxFollowed traces already.
func (st *traceStream) sendLinked(ctx context.Context, id TraceID) error {
	lt := st.linked[id]
	if lt == nil {
		if len(st.linked) == maxFollowed {
			return nil
		}
		if lt = st.follow(ctx, id); lt == nil {
			return nil
		}
	}
	spans, _ := st.api.Store.Spans(id, lt.sent)
	if len(spans) == 0 {
		return nil
	}
	lt.sent += len(spans)
	b, err := MarshalOTLPJSON(spans)
	if err != nil {
		return fmt.Errorf("spans of %s: %w", id, err)
	}
	return st.event("linked", fmt.Appendf(nil, `{"traceId":"%s","trace":%s}`, id, b))
}

// follow subscribes to linked trace id: each change pokes the stream,
// until ctx ends or the trace is evicted. It returns nil when the store
// does not hold the trace.
func (st *traceStream) follow(ctx context.Context, id TraceID) *linkedTrace {
	changes, cancel, ok := st.api.Store.Subscribe(id)
	if !ok {
		return nil
	}
	lt := &linkedTrace{changes: changes, cancel: cancel}
	st.linked[id] = lt
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case _, open := <-changes:
				select {
				case st.poke <- struct{}{}:
				default:
				}
				if !open {
					return
				}
			}
		}
	}()
	return lt
}

// forgetEvicted stops following the linked traces evicted from the store:
// a trace stored anew under the same id is followed from its first span.
// A change taken here from a follower is not lost: the pass reads the
// linked traces' spans next.
func (st *traceStream) forgetEvicted() {
	for id, lt := range st.linked {
		select {
		case _, open := <-lt.changes:
			if !open {
				lt.cancel()
				delete(st.linked, id)
			}
		default:
		}
	}
}

// unfollow ends the stream's subscriptions to the linked traces.
func (st *traceStream) unfollow() {
	for _, lt := range st.linked {
		lt.cancel()
	}
}
