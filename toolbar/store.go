package toolbar

import (
	"container/list"
	"sync"
)

// Limits bound the Store; the oldest trace is evicted whole when a limit
// would be exceeded.
type Limits struct {
	Traces   int `json:"traces"`   // traces kept (default 1000)
	Spans    int `json:"spans"`    // spans and log records kept over all traces (default 200,000)
	Requests int `json:"requests"` // request records kept (default 1000)
	Bytes    int `json:"bytes"`    // estimated bytes of spans and log records kept (default 256 MiB)
}

func (l Limits) withDefaults() Limits {
	if l.Traces <= 0 {
		l.Traces = 1000
	}
	if l.Spans <= 0 {
		l.Spans = 200_000
	}
	if l.Requests <= 0 {
		l.Requests = 1000
	}
	if l.Bytes <= 0 {
		l.Bytes = 256 << 20
	}
	return l
}

// Store keeps recent request records and spans in memory, indexed by trace
// id, and wakes subscribers when a trace changes. It is safe for concurrent use.
type Store struct {
	limits Limits

	mu        sync.Mutex
	traces    map[TraceID]*list.Element // of *trace, oldest at Front
	order     *list.List
	spanCount int // spans and log records: the Spans limit counts both
	logCount  int
	bytes     int    // estimated size of all spans and log records
	evicted   uint64 // traces evicted whole
	dropped   uint64 // spans refused because their trace was full

	records  map[string]*list.Element // of *Record, oldest at Front
	recOrder *list.List
	reqSubs  map[chan struct{}]struct{}

	backend *BackendSlot // the config whose backend the API reads traces from
	disk    *journal     // writes what the store accepts to its storage file; nil: memory only
}

// BackendSlot is one config's hold on the store's backend: its Backend, or
// nil for a config without one. Each config has its own slot, so a config
// that stops gives the store back only if its slot is still in force.
type BackendSlot struct{ Backend Backend }

// SetBackend puts slot in force and returns the one it replaces. The
// store outlives configs: a new config sets its slot before the old one's
// is restored away (RestoreBackend).
func (s *Store) SetBackend(slot *BackendSlot) (prev *BackendSlot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, s.backend = s.backend, slot
	return prev
}

// RestoreBackend puts prev back if slot is still in force.
func (s *Store) RestoreBackend(slot, prev *BackendSlot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backend == slot {
		s.backend = prev
	}
}

// Backend returns the backend in force, or nil.
func (s *Store) Backend() Backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backend == nil {
		return nil
	}
	return s.backend.Backend
}

type trace struct {
	id    TraceID
	spans []Span
	logs  []LogRecord
	bytes int
	seen  map[SpanID]struct{} // built once the trace has seenAfter spans
	recs  []string            // ids of the records of this trace
	subs  map[chan struct{}]struct{}
	facts map[string]factsMemo // by record id
}

// factsMemo keeps a record's facts while the record and its trace's span
// count are unchanged: spans are only ever appended, so the count says
// whether the record's spans may have changed.
type factsMemo struct {
	rec   *Record
	spans int
	facts recordFacts
}

// seenAfter is the span count up to which a trace finds duplicates by
// looking through its spans, so the proxy's small traces need no map.
const seenAfter = 32

// has reports whether t holds a span with id.
func (t *trace) has(id SpanID) bool {
	if t.seen != nil {
		_, ok := t.seen[id]
		return ok
	}
	for i := range t.spans {
		if t.spans[i].SpanID == id {
			return true
		}
	}
	return false
}

func (t *trace) add(sp Span) {
	t.spans = append(t.spans, sp)
	switch {
	case t.seen != nil:
		t.seen[sp.SpanID] = struct{}{}
	case len(t.spans) > seenAfter:
		t.seen = make(map[SpanID]struct{}, 2*len(t.spans))
		for i := range t.spans {
			t.seen[t.spans[i].SpanID] = struct{}{}
		}
	}
}

// NewStore returns an empty Store bounded by l (zero fields take defaults).
func NewStore(l Limits) *Store {
	return &Store{
		limits:   l.withDefaults(),
		traces:   map[TraceID]*list.Element{},
		order:    list.New(),
		records:  map[string]*list.Element{},
		recOrder: list.New(),
		reqSubs:  map[chan struct{}]struct{}{},
	}
}

// AddSpans stores spans under their traces. A span already stored (same
// trace and span id) is ignored, so a retried export does not duplicate.
// It returns how many spans were stored and how many were duplicates.
//
// With a storage file (OpenStorage), it returns once these spans and all
// that the store accepted before are committed to the file. It returns an
// error when they are not: the commit failed, or the file is too far
// behind to take them (StorageOptions.MaxPending). The spans stay in
// memory either way, and the sender told of the error (the sink answers
// it as a transient failure) writes them by sending them again: a failed
// commit's spans go first into the next commit, which that call waits
// for, and a span the file dropped is written when it is added again
// while its trace is in memory.
func (s *Store) AddSpans(spans []Span) (stored, duplicates int, err error) {
	s.mu.Lock()
	refused := s.disk.refusals()
	stored, duplicates = s.addSpansLocked(spans)
	return stored, duplicates, s.unlockDurable(refused)
}

func (s *Store) addSpansLocked(spans []Span) (stored, duplicates int) {
	recorded := false // some span joined a trace with records
	for i := range spans {
		switch t, added, dup := s.addSpanLocked(spans[i]); {
		case added:
			recorded = recorded || len(t.recs) > 0
			stored++
		case dup:
			duplicates++
		}
	}
	if recorded {
		// The records' summaries (route, services, queries) may have
		// changed: one wake-up for the batch.
		notify(s.reqSubs)
	}
	return stored, duplicates
}

// addSpanLocked stores sp unless invalid, a duplicate or its trace full.
func (s *Store) addSpanLocked(sp Span) (t *trace, added, duplicate bool) {
	if !sp.TraceID.IsValid() || !sp.SpanID.IsValid() {
		return nil, false, false
	}
	t = s.traceLocked(sp.TraceID)
	if t.has(sp.SpanID) {
		s.disk.spanAgain(sp)
		return t, false, true
	}
	size := sp.size()
	if !s.fitsLocked(t, size) {
		s.dropped++ // one trace may not take the whole store
		return t, false, false
	}
	t.add(sp)
	s.disk.span(&t.spans[len(t.spans)-1]) // before the evictions it may cause
	s.addedLocked(t, size)
	return t, true, false
}

// AddLogs stores log records under their traces; records without a trace
// id are skipped. Records count against the span limits. It returns how
// many were stored, once committed, or an error, as AddSpans does; log
// records have no id, so one sent again is stored (and written) again.
func (s *Store) AddLogs(logs []LogRecord) (stored int, err error) {
	s.mu.Lock()
	refused := s.disk.refusals()
	for _, l := range logs {
		if s.addLogLocked(l) {
			stored++
		}
	}
	return stored, s.unlockDurable(refused)
}

func (s *Store) addLogLocked(l LogRecord) bool {
	if !l.TraceID.IsValid() {
		return false
	}
	t := s.traceLocked(l.TraceID)
	size := l.size()
	if !s.fitsLocked(t, size) {
		s.dropped++
		return false
	}
	t.logs = append(t.logs, l)
	s.logCount++
	s.disk.log(&t.logs[len(t.logs)-1])
	s.addedLocked(t, size)
	return true
}

// Logs returns a copy of the log records of trace id from index from on,
// in arrival order, and whether the trace is known.
func (s *Store) Logs(id TraceID, from int) ([]LogRecord, bool) {
	return tail(s, id, from, func(t *trace) []LogRecord { return t.logs })
}

// tail copies the items of trace id that field selects, from index from on.
func tail[T any](s *Store, id TraceID, from int, field func(*trace) []T) ([]T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.traces[id]
	if !ok {
		return nil, false
	}
	items := field(e.Value.(*trace))
	if from >= len(items) {
		return nil, true
	}
	return append([]T(nil), items[from:]...), true
}

// fitsLocked reports whether an item of size may join trace t: one trace
// may take at most half of the store, by count and by bytes.
func (s *Store) fitsLocked(t *trace, size int) bool {
	return len(t.spans)+len(t.logs) < s.limits.Spans/2 && t.bytes+size <= s.limits.Bytes/2
}

// addedLocked accounts for an item added to t, wakes its subscribers and
// evicts the oldest traces while the store is over a limit.
func (s *Store) addedLocked(t *trace, size int) {
	s.spanCount++
	s.bytes += size
	t.bytes += size
	notify(t.subs)
	for (s.spanCount > s.limits.Spans || s.bytes > s.limits.Bytes) && s.order.Len() > 1 {
		s.evictOldestLocked()
	}
}

// traceLocked returns the trace with id, creating it (and evicting the
// oldest) when needed.
func (s *Store) traceLocked(id TraceID) *trace {
	if e, ok := s.traces[id]; ok {
		return e.Value.(*trace)
	}
	for s.order.Len() >= s.limits.Traces {
		s.evictOldestLocked()
	}
	t := &trace{id: id, spans: make([]Span, 0, 2)} // the proxy's server and client spans
	s.traces[id] = s.order.PushBack(t)
	s.disk.trace(id)
	return t
}

func (s *Store) evictOldestLocked() {
	e := s.order.Front()
	if e == nil {
		return
	}
	t := s.order.Remove(e).(*trace)
	delete(s.traces, t.id)
	s.spanCount -= len(t.spans) + len(t.logs)
	s.logCount -= len(t.logs)
	s.bytes -= t.bytes
	s.evicted++
	s.disk.evict(t.id)
	for ch := range t.subs {
		close(ch)
	}
}

// Spans returns a copy of the spans of trace id from index from on, in
// arrival order, and whether the trace is known.
func (s *Store) Spans(id TraceID, from int) ([]Span, bool) {
	return tail(s, id, from, func(t *trace) []Span { return t.spans })
}

// Subscribe returns a channel that receives a value whenever trace id
// gains spans or records, and is closed when the trace is evicted. Call
// cancel when done. Wake-ups coalesce: read state with Spans after each.
// It reports false for an unknown trace.
func (s *Store) Subscribe(id TraceID) (ch <-chan struct{}, cancel func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.traces[id]
	if !ok {
		return nil, nil, false
	}
	t := e.Value.(*trace)
	c := make(chan struct{}, 1)
	if t.subs == nil {
		t.subs = map[chan struct{}]struct{}{}
	}
	t.subs[c] = struct{}{}
	return c, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(t.subs, c)
		if e, ok := s.traces[id]; ok { // OpenStorage may have made it anew
			delete(e.Value.(*trace).subs, c)
		}
	}, true
}

// SubscribeRequests is like Subscribe for the list of request records.
func (s *Store) SubscribeRequests() (ch <-chan struct{}, cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(chan struct{}, 1)
	s.reqSubs[c] = struct{}{}
	return c, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.reqSubs, c)
	}
}

func notify(subs map[chan struct{}]struct{}) {
	for ch := range subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// PutRequest publishes r, replacing an earlier record with the same ID.
// The caller must not modify r afterwards. With a storage file, r goes
// into the next commit without waiting for it, as AddProxySpans' spans do.
func (s *Store) PutRequest(r *Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putRequestLocked(r, true)
}

// putRequestLocked publishes r; a new record joins its trace, which is
// created if missing and create is set.
func (s *Store) putRequestLocked(r *Record, create bool) {
	s.disk.record(r)
	if e, ok := s.records[r.ID]; ok {
		e.Value = r
	} else {
		for s.recOrder.Len() >= s.limits.Requests {
			old := s.recOrder.Remove(s.recOrder.Front()).(*Record)
			delete(s.records, old.ID)
			s.disk.dropRecord(old.ID)
		}
		s.records[r.ID] = s.recOrder.PushBack(r)
		if _, known := s.traces[r.TraceID]; r.TraceID.IsValid() && (create || known) {
			t := s.traceLocked(r.TraceID)
			if len(t.recs) >= s.limits.Requests {
				delete(t.facts, t.recs[0])
				t.recs = t.recs[1:]
			}
			t.recs = append(t.recs, r.ID)
		}
	}
	if r.TraceID.IsValid() {
		if e, ok := s.traces[r.TraceID]; ok {
			notify(e.Value.(*trace).subs)
		}
	}
	notify(s.reqSubs)
}

// Request returns the record with id, or nil.
func (s *Store) Request(id string) *Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.records[id]; ok {
		return e.Value.(*Record)
	}
	return nil
}

// Requests returns up to n records, newest first (all when n <= 0).
func (s *Store) Requests(n int) []*Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 || n > s.recOrder.Len() {
		n = s.recOrder.Len()
	}
	out := make([]*Record, 0, n)
	for e := s.recOrder.Back(); e != nil && len(out) < n; e = e.Prev() {
		out = append(out, e.Value.(*Record))
	}
	return out
}

// TraceRequests returns the records of trace id, oldest first.
func (s *Store) TraceRequests(id TraceID) []*Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.traces[id]
	if !ok {
		return nil
	}
	var out []*Record
	for _, rid := range e.Value.(*trace).recs {
		if re, ok := s.records[rid]; ok {
			out = append(out, re.Value.(*Record))
		}
	}
	return out
}

// Stats describes the Store's fill level.
type Stats struct {
	Traces        int    `json:"traces"`
	Spans         int    `json:"spans"`
	Logs          int    `json:"logs"`  // log records; with the spans, held to Limits.Spans
	Bytes         int    `json:"bytes"` // their estimated size
	Records       int    `json:"requests"`
	Evicted       uint64 `json:"evictedTraces"`
	Dropped       uint64 `json:"droppedSpans"`
	Limits        Limits `json:"limits"`
	StorageErrors uint64 `json:"storageErrors,omitempty"` // failed commits to the storage file
	// StorageDropped counts the spans, logs and records never written to
	// the storage file (kept in memory): beyond StorageOptions.MaxPending,
	// after failed commits, or not writable.
	StorageDropped uint64 `json:"storageDropped,omitempty"`
}

// Stats returns current counts.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Traces: s.order.Len(), Spans: s.spanCount - s.logCount, Logs: s.logCount, Bytes: s.bytes, Records: s.recOrder.Len(),
		Evicted: s.evicted, Dropped: s.dropped, Limits: s.limits}
	st.StorageErrors, st.StorageDropped = s.disk.counts()
	return st
}
