package toolbar

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// TestStatementShapeMatchesTheSQLPanel: the Go and JavaScript shapes
// agree on the cases both test, assets/testdata/sql-shapes.json
// (assets/test/sql.test.js reads it too).
func TestStatementShapeMatchesTheSQLPanel(t *testing.T) {
	b, err := os.ReadFile("../assets/testdata/sql-shapes.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ Statement, Shape string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 8 {
		t.Fatalf("%d cases in sql-shapes.json, want the 8 at least", len(cases))
	}
	for _, tt := range cases {
		if tt.Statement == "" || tt.Shape == "" {
			t.Fatalf("case %+v: want a statement and a shape", tt)
		}
		if got := StatementShape(tt.Statement); got != tt.Shape {
			t.Errorf("StatementShape(%q) = %q, want %q", tt.Statement, got, tt.Shape)
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

func TestSpanAttrInt(t *testing.T) {
	sp := &Span{Attributes: []KeyValue{
		{"int", ValueOf(int64(443))}, {"double", ValueOf(200.0)}, {"fraction", ValueOf(1.5)}, {"text", ValueOf("8080")},
		{"word", ValueOf("http")}, {"flag", ValueOf(true)},
	}}
	tests := []struct {
		name string
		keys []string
		want int
		ok   bool
	}{
		{"an int", []string{"int"}, 443, true},
		{"a whole double", []string{"double"}, 200, true},
		{"a decimal string", []string{"text"}, 8080, true},
		{"a fraction is none", []string{"fraction"}, 0, false},
		{"a word is none", []string{"word"}, 0, false},
		{"a bool is none", []string{"flag"}, 0, false},
		{"missing", []string{"nope"}, 0, false},
		{"the first key that reads", []string{"nope", "word", "text", "int"}, 8080, true},
	}
	for _, tt := range tests {
		if got, ok := sp.AttrInt(tt.keys...); got != tt.want || ok != tt.ok {
			t.Errorf("%s: AttrInt(%v) = %d, %v; want %d, %v", tt.name, tt.keys, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSpanServiceLeavesTheUnknownToTheCaller(t *testing.T) {
	tests := []struct {
		name string
		res  *Resource
		want string
	}{
		{"service.name", &Resource{Attributes: []KeyValue{{"host.name", ValueOf("a")}, {"service.name", ValueOf("shop")}}}, "shop"},
		{"no resource", nil, ""},
		{"no service.name", &Resource{Attributes: []KeyValue{{"host.name", ValueOf("a")}}}, ""},
		{"a service.name that is no string", &Resource{Attributes: []KeyValue{{"service.name", ValueOf(int64(1))}}}, ""},
	}
	for _, tt := range tests {
		if got := (&Span{Resource: tt.res}).Service(); got != tt.want {
			t.Errorf("%s: Service() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestGroupQueriesKeepsRunsInSpanOrder: one group per system and shape, in
// order of first appearance; its runs per parent, in order; the N+1 is the
// run that reached three first.
func TestGroupQueriesKeepsRunsInSpanOrder(t *testing.T) {
	query := func(id, parent int, statement string) Span {
		return Span{SpanID: sid(id), ParentSpanID: sid(parent), Name: "query",
			Attributes: []KeyValue{{"db.system.name", ValueOf("postgresql")}, {"db.query.text", ValueOf(statement)}}}
	}
	spans := []Span{
		{SpanID: sid(1), Name: "handler"},
		query(2, 1, "SELECT * FROM items WHERE id = 1"),
		query(3, 9, "SELECT * FROM items WHERE id = 2"), // parent 9: a second run
		query(4, 1, "SELECT * FROM users"),
		query(5, 9, "SELECT * FROM items WHERE id = 3"),
		query(6, 9, "SELECT * FROM items WHERE id = 4"), // run 9 reaches three here
		query(7, 1, "SELECT * FROM items WHERE id = 5"),
		query(8, 1, "SELECT * FROM items WHERE id = 6"), // run 1 only here
	}
	groups := groupQueries(spans)
	var got []string
	for _, g := range groups {
		got = append(got, fmt.Sprint(g.key.shape, " ", g.count))
		for _, run := range g.runs {
			got = append(got, fmt.Sprint(run.spans))
		}
	}
	want := []string{"SELECT * FROM items WHERE id = ? 6", "[1 6 7]", "[2 4 5]", "SELECT * FROM users 1", "[3]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("groups %q, want %q", got, want)
	}
	if n := groups[0].nPlusOne(); n == nil || fmt.Sprint(n.spans) != "[2 4 5]" {
		t.Fatalf("the N+1 run is %v, want the one under span 9, which reached three first", n)
	}
	if n := groups[1].nPlusOne(); n != nil {
		t.Fatalf("one query has an N+1 run %v", n)
	}
}
