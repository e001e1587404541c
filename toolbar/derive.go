package toolbar

import (
	"cmp"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// What the derived views (compare, alerts, the history's summaries) read
// off a record's spans.

// Attr returns the value of the span attribute key.
func (sp *Span) Attr(key string) (Value, bool) { return attrValue(sp.Attributes, key) }

// AttrString returns the first of keys the span has as a string attribute
// (keys in order of preference: a current semantic convention before the
// older one it replaced), or "".
func (sp *Span) AttrString(keys ...string) string { return stringAttr(sp.Attributes, keys...) }

// AttrInt returns the first of keys the span has as an integer attribute:
// an int, a whole double, or a decimal string (some SDKs write ports and
// status codes so). Keys are in order of preference, as for AttrString.
func (sp *Span) AttrInt(keys ...string) (int, bool) {
	for _, key := range keys {
		v, ok := sp.Attr(key)
		if !ok {
			continue
		}
		switch v.Kind() {
		case KindInt:
			return int(v.AsInt64()), true
		case KindDouble:
			if x := v.AsFloat64(); x == math.Trunc(x) && math.Abs(x) <= math.MaxInt32 {
				return int(x), true
			}
		case KindString:
			if n, err := strconv.Atoi(v.AsString()); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

// attrValue returns the value of key among attrs (a span's, an event's,
// a resource's).
func attrValue(attrs []KeyValue, key string) (Value, bool) {
	for _, kv := range attrs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return Value{}, false
}

// stringAttr returns the first of keys that attrs have as a string, or "".
func stringAttr(attrs []KeyValue, keys ...string) string {
	for _, key := range keys {
		if v, ok := attrValue(attrs, key); ok && v.Kind() == KindString {
			return v.AsString()
		}
	}
	return ""
}

// Service is the service.name of the span's resource, or "" when it has
// none: the caller decides how to show that (the toolbar's panels say
// unknownService).
func (sp *Span) Service() string {
	if sp.Resource == nil {
		return ""
	}
	return stringAttr(sp.Resource.Attributes, "service.name")
}

// unknownService names the service of a span without service.name, as
// the toolbar's panels do (assets/model/otlp.js).
const unknownService = "unknown"

// DBStatement returns a database span's statement and system, by the
// current conventions (db.query.text, db.system.name) or the older ones
// (db.statement, db.system); ok is false for a span with no statement.
func (sp *Span) DBStatement() (statement, system string, ok bool) {
	statement = sp.AttrString("db.query.text", "db.statement")
	system = sp.AttrString("db.system.name", "db.system")
	return statement, system, statement != ""
}

// RecordSpans returns the spans of rec's trace under the proxy's SERVER
// span of rec (rec.ID), that span first; spans whose parent has not
// arrived are left out. nil when the trace is not stored.
func (s *Store) RecordSpans(rec *Record) []Span {
	spans, ok := s.Spans(rec.TraceID, 0)
	if !ok {
		return nil
	}
	root, err := ParseSpanID(rec.ID)
	if err != nil {
		return nil
	}
	children := make(map[SpanID][]int, len(spans))
	rootAt := -1
	for i := range spans {
		if spans[i].SpanID == root {
			rootAt = i
		} else {
			children[spans[i].ParentSpanID] = append(children[spans[i].ParentSpanID], i)
		}
	}
	if rootAt < 0 {
		return nil
	}
	out := make([]Span, 1, len(spans))
	out[0] = spans[rootAt]
	for next := 0; next < len(out); next++ {
		for _, i := range children[out[next].SpanID] {
			out = append(out, spans[i])
		}
	}
	return out
}

// RootRule says which spans of a batch AddSpansWithRoots makes records of,
// so that a trace no proxied request started opens in the same panels.
type RootRule uint8

const (
	// BackgroundRoots makes a record of Kind RecordBackground of each span
	// without a parent in a trace that has no record: the sink's rule. A
	// proxied request publishes its record before its upstream can export
	// a span, and the browser's spans of a page always have a parent (the
	// page's span), so only work no proxied request started gets one.
	BackgroundRoots RootRule = iota + 1
	// ImportedRoots makes an Imported record of each span whose parent is
	// not in the batch, unless the store has a record with its id: the
	// roots of a trace, or of a part of one, that POST /api/import read.
	ImportedRoots
)

// Added is what AddSpansWithRoots did.
type Added struct {
	Stored, Duplicates int // as AddSpans returns them
	// Records are the ids of the records of the batch's roots that the
	// store holds, published now or before (ImportedRoots), or of the
	// records published now (BackgroundRoots).
	Records []string
}

// AddSpansWithRoots stores spans as AddSpans does and, under the same
// lock, publishes a record of each root span that rule names and the
// store holds (none for a root it dropped, its trace full). The records
// go into the storage file's commit that AddSpans waits for: an export
// acknowledged has its records in the file too.
func (s *Store) AddSpansWithRoots(spans []Span, rule RootRule) (Added, error) {
	return s.addWithRecords(spans, rule, nil)
}

// addWithRecords stores spans, then publishes each of recs whose id the
// store has no record of, then the records of the roots rule names (none
// for 0), under one lock, and waits for the file as AddSpans does.
func (s *Store) addWithRecords(spans []Span, rule RootRule, recs []*Record) (Added, error) {
	s.mu.Lock()
	refused := s.disk.refusals()
	var a Added
	a.Stored, a.Duplicates = s.addSpansLocked(spans)
	for _, rec := range recs {
		if !s.recordAgainLocked(rec.ID) {
			s.putRequestLocked(rec, true)
		}
		a.Records = append(a.Records, rec.ID)
	}
	a.Records = append(a.Records, s.putRootsLocked(spans, rule)...)
	return a, s.unlockDurable(refused)
}

// PutBackground publishes the records that BackgroundRoots makes of
// spans, which the store holds already, and returns how many.
//
// Deprecated: AddSpansWithRoots stores spans and their records together,
// in one commit.
func (s *Store) PutBackground(spans []Span) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.putRootsLocked(spans, BackgroundRoots))
}

// recordAgainLocked reports whether the store holds the record with id,
// and has the storage file write it if it dropped it.
func (s *Store) recordAgainLocked(id string) bool {
	e, ok := s.records[id]
	if ok {
		s.disk.recordAgain(e.Value.(*Record))
	}
	return ok
}

// putRootsLocked publishes the records that rule makes of spans' roots
// and returns the ids that Added.Records lists.
func (s *Store) putRootsLocked(spans []Span, rule RootRule) []string {
	var inBatch map[SpanID]bool
	if rule == ImportedRoots {
		inBatch = make(map[SpanID]bool, len(spans))
		for i := range spans {
			inBatch[spans[i].SpanID] = true
		}
	}
	var ids []string
	for i := range spans {
		sp := &spans[i]
		e, ok := s.traces[sp.TraceID]
		if !ok || !e.Value.(*trace).has(sp.SpanID) {
			continue // not stored: invalid, or its trace full
		}
		t := e.Value.(*trace)
		var rec *Record
		switch {
		case rule == BackgroundRoots && !sp.ParentSpanID.IsValid():
			if len(t.recs) > 0 { // a proxied request's trace, or a root sent again
				s.recordAgainLocked(sp.SpanID.String())
				continue
			}
			rec = rootRecord(sp)
			rec.Kind = RecordBackground
		case rule == ImportedRoots && (!sp.ParentSpanID.IsValid() || !inBatch[sp.ParentSpanID]):
			if s.recordAgainLocked(sp.SpanID.String()) {
				ids = append(ids, sp.SpanID.String())
				continue
			}
			rec = rootRecord(sp)
			rec.Imported = true
		default:
			continue
		}
		s.putRequestLocked(rec, true)
		ids = append(ids, rec.ID)
	}
	return ids
}

// rootRecord is the record, Done, that stands for sp, the root of a trace
// or of an import. Its method and URL are the span's HTTP attributes;
// failing those, a span name of the form "GET /orders/7" gives them (the
// proxy names its spans so); else the method stays empty and the URL is
// the span's name ("process jobs", "cleanup sessions").
func rootRecord(sp *Span) *Record {
	method := sp.AttrString("http.request.method", "http.method")
	uri := sp.AttrString("url.full", "http.url")
	if uri == "" {
		if uri = sp.AttrString("url.path", "http.target"); uri != "" {
			if q := sp.AttrString("url.query"); q != "" {
				uri += "?" + q
			}
		}
	}
	if nameMethod, namePath, ok := methodAndPath(sp.Name); ok {
		method, uri = cmp.Or(method, nameMethod), cmp.Or(uri, namePath)
	}
	rec := &Record{
		ID: sp.SpanID.String(), TraceID: sp.TraceID, Done: true,
		Method: method, URL: cmp.Or(uri, sp.Name),
		Host:      sp.AttrString("server.address", "http.host"),
		StartTime: sp.Start, DurationMs: spanMs(sp),
	}
	rec.Status, _ = sp.AttrInt("http.response.status_code", "http.status_code")
	if sp.Status.Code == StatusError {
		rec.Error = cmp.Or(sp.Status.Message, "error")
	}
	return rec
}

// methodAndPath splits a span name of the form "GET /orders/7".
func methodAndPath(name string) (method, path string, ok bool) {
	method, path, ok = strings.Cut(name, " ")
	if !ok || !isUpperWord(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t") {
		return "", "", false
	}
	return method, path, true
}

// statementRewrites reduce a SQL statement to its shape, as the SQL
// panel's normaliseSQL (assets/model/sql.js) does: comments dropped;
// string, number and placeholder ($1) literals become ?; IN lists (?, ?)
// become (?); whitespace collapses.
var statementRewrites = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`--[^\n]*|/\*(?s:.*?)\*/`), " "},
	{regexp.MustCompile(`'(?:[^']|'')*'`), "?"},
	{regexp.MustCompile(`\$\d+\b`), "?"},
	// JavaScript's (?<![\w.$]) lookbehind, which RE2 lacks, is the
	// captured prefix here.
	{regexp.MustCompile(`(?i)(^|[^\w.$])(?:0x[0-9a-f]+|\d+(?:\.\d+)?(?:e[+-]?\d+)?)\b`), "${1}?"},
	{regexp.MustCompile(`\(\s*\?(?:\s*,\s*\?)*\s*\)`), "(?)"},
	{regexp.MustCompile(`\s+`), " "},
}

// StatementShape is what the repeats of a statement share, the key that
// groups queries (N+1) and matches them across two loads (compare).
// "SELECT * FROM t WHERE id = 3 -- x" gives "SELECT * FROM t WHERE id = ?".
func StatementShape(statement string) string {
	for _, rw := range statementRewrites {
		statement = rw.re.ReplaceAllString(statement, rw.with)
	}
	return strings.TrimSpace(statement)
}

// isDBSpan reports whether sp has a db.* attribute, as the SQL panel
// (assets/model/otlp.js) decides which spans are queries.
func isDBSpan(sp *Span) bool {
	for _, kv := range sp.Attributes {
		if strings.HasPrefix(kv.Key, "db.") {
			return true
		}
	}
	return false
}

// dbShape is the SQL panel's group of a database span: the system and the
// statement's shape, or the span name when it has no statement.
func dbShape(sp *Span) (system, shape string) {
	statement, system, ok := sp.DBStatement()
	if !ok {
		return system, sp.Name
	}
	return system, StatementShape(statement)
}

// nPlusOneRepeats is how many runs of one shape under one parent make an
// N+1, as assets/model/sql.js counts them.
const nPlusOneRepeats = 3

// queryKey is a query shape of one database system.
type queryKey struct{ system, shape string }

// queryGroup is the database spans of one record that share a queryKey,
// as the SQL panel groups them, and their runs: the group's spans under
// each parent span.
type queryGroup struct {
	key      queryKey
	count    int
	totalMs  float64
	runs     []*queryRun // one per parent span, in the order of its first span
	byParent map[SpanID]*queryRun
}

// queryRun is the spans of one query group under one parent span.
type queryRun struct {
	spans []int // indexes of the spans grouped, in their order
	ms    float64
}

// groupQueries groups the database spans (isDBSpan) by system and shape
// (dbShape), in the order of each group's first span.
func groupQueries(spans []Span) []*queryGroup {
	var groups []*queryGroup
	byKey := map[queryKey]*queryGroup{}
	for i := range spans {
		sp := &spans[i]
		if !isDBSpan(sp) {
			continue
		}
		system, shape := dbShape(sp)
		key := queryKey{system, shape}
		g := byKey[key]
		if g == nil {
			g = &queryGroup{key: key, byParent: map[SpanID]*queryRun{}}
			byKey[key] = g
			groups = append(groups, g)
		}
		run := g.byParent[sp.ParentSpanID]
		if run == nil {
			run = &queryRun{}
			g.byParent[sp.ParentSpanID] = run
			g.runs = append(g.runs, run)
		}
		ms := spanMs(sp)
		run.spans = append(run.spans, i)
		run.ms += ms
		g.count++
		g.totalMs += ms
	}
	return groups
}

// nPlusOne returns the run of g that reached nPlusOneRepeats spans first,
// in span order: the N+1 the SQL panel flags. nil when no run did.
func (g *queryGroup) nPlusOne() *queryRun {
	var first *queryRun
	const at = nPlusOneRepeats - 1
	for _, run := range g.runs {
		if len(run.spans) > at && (first == nil || run.spans[at] < first.spans[at]) {
			first = run
		}
	}
	return first
}

// spanMs is sp's length in milliseconds; 0 when its end is not after its start.
func spanMs(sp *Span) float64 {
	if !sp.End.After(sp.Start) {
		return 0
	}
	return Millis(sp.End.Sub(sp.Start))
}

// roundMs drops the float noise of sums below a microsecond.
func roundMs(ms float64) float64 { return math.Round(ms*1000) / 1000 }

// traceLen returns how many spans trace id holds (0 when unknown), which
// tells whether the spans of its records may have changed.
func (s *Store) traceLen(id TraceID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.traces[id]; ok {
		return len(e.Value.(*trace).spans)
	}
	return 0
}

// recordFacts returns what rec's summary reads off its spans, read again
// only when rec is replaced or its trace gains spans: the history lists up
// to a thousand records, each with its trace, on every change.
func (s *Store) recordFacts(rec *Record) recordFacts {
	s.mu.Lock()
	var t *trace
	n := 0
	if e, ok := s.traces[rec.TraceID]; ok {
		t = e.Value.(*trace)
		n = len(t.spans)
		if m, ok := t.facts[rec.ID]; ok && m.rec == rec && m.spans == n {
			s.mu.Unlock()
			return m.facts
		}
	}
	s.mu.Unlock()
	// Spans added meanwhile are read too; the memo keeps the count from
	// before, so the next call reads them again: never a stale answer.
	f := readFacts(rec, s.RecordSpans(rec))
	if t == nil {
		return f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Only for a record still published: the memos stay as few as the
	// trace's records.
	e, ok := s.traces[rec.TraceID]
	if re, published := s.records[rec.ID]; ok && published && e.Value.(*trace) == t && re.Value.(*Record) == rec {
		if t.facts == nil {
			t.facts = map[string]factsMemo{}
		}
		t.facts[rec.ID] = factsMemo{rec, n, f}
	}
	return f
}
