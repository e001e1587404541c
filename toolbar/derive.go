package toolbar

import (
	"math"
	"regexp"
	"strings"
)

// What the derived views (compare, alerts, the history's summaries) read
// off a record's spans.

// Attr returns the value of the span attribute key.
func (sp *Span) Attr(key string) (Value, bool) {
	for _, kv := range sp.Attributes {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return Value{}, false
}

// AttrString returns the first of keys the span has as a string attribute
// (keys in order of preference: a current semantic convention before the
// older one it replaced), or "".
func (sp *Span) AttrString(keys ...string) string {
	for _, key := range keys {
		if v, ok := sp.Attr(key); ok {
			if s, ok := v.V.(string); ok {
				return s
			}
		}
	}
	return ""
}

// Service is the service.name of the span's resource, or "unknown" as the
// toolbar shows it.
func (sp *Span) Service() string {
	if sp.Resource != nil {
		for _, kv := range sp.Resource.Attributes {
			if s, ok := kv.Value.V.(string); ok && kv.Key == "service.name" && s != "" {
				return s
			}
		}
	}
	return "unknown"
}

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

// spanMs is sp's length in milliseconds; 0 when its end is not after its start.
func spanMs(sp *Span) float64 {
	if !sp.End.After(sp.Start) {
		return 0
	}
	return Millis(sp.End.Sub(sp.Start))
}

// roundMs drops the float noise of sums below a microsecond.
func roundMs(ms float64) float64 { return math.Round(ms*1000) / 1000 }
