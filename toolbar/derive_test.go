package toolbar

import "testing"

// The cases of assets/test/sql.test.js: the Go and JavaScript shapes agree.
func TestStatementShapeMatchesTheSQLPanel(t *testing.T) {
	cases := []struct{ statement, shape string }{
		{"SELECT name FROM products WHERE id = 3", "SELECT name FROM products WHERE id = ?"},
		{"SELECT * FROM t WHERE s = 'it''s' AND n = -1.5e3", "SELECT * FROM t WHERE s = ? AND n = -?"},
		{"SELECT * FROM t WHERE id IN (1, 2,3)", "SELECT * FROM t WHERE id IN (?)"},
		{"SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)", "SELECT * FROM t WHERE a = ? AND b IN (?)"},
		{"SELECT t1.c2, x3 FROM t1 -- note\n WHERE v = 0xFF /* c */ LIMIT 10", "SELECT t1.c2, x3 FROM t1 WHERE v = ? LIMIT ?"},
		{"SELECT /* hint */ x\n  FROM t2 -- trailing\n WHERE t2.c1 = 0x1F", "SELECT x FROM t2 WHERE t2.c1 = ?"},
		{"INSERT INTO t (a, b) VALUES (?, ?)", "INSERT INTO t (a, b) VALUES (?)"},
		{"  SELECT   1  ", "SELECT ?"},
	}
	for _, tt := range cases {
		if got := StatementShape(tt.statement); got != tt.shape {
			t.Errorf("StatementShape(%q) = %q, want %q", tt.statement, got, tt.shape)
		}
	}
}

func TestRecordSpansAreTheSubtreeOfTheProxySpan(t *testing.T) {
	s := NewStore(Limits{})
	trace := TraceID{1}
	span := func(id, parent byte, name string) Span {
		return Span{TraceID: trace, SpanID: SpanID{id}, ParentSpanID: SpanID{parent}, Name: name}
	}
	// 1 is the page's proxy span, 2 its app span, 3 a query; 4 is a later
	// fetch's proxy span in the same trace, 5 its app span; 7's parent 6
	// never arrived.
	s.AddSpans([]Span{span(3, 2, "query"), span(1, 0, "page"), span(2, 1, "app"), span(4, 0, "fetch"), span(5, 4, "api"), span(7, 6, "orphan")})
	for _, tt := range []struct {
		id   string
		want []string
	}{
		{SpanID{1}.String(), []string{"page", "app", "query"}},
		{SpanID{4}.String(), []string{"fetch", "api"}},
		{SpanID{9}.String(), nil},
		{"zz", nil},
	} {
		var got []string
		for _, sp := range s.RecordSpans(&Record{ID: tt.id, TraceID: trace}) {
			got = append(got, sp.Name)
		}
		if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) || !sameSet(got, tt.want) {
			t.Errorf("RecordSpans(%s) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func sameSet(a, b []string) bool {
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
