package toolbar

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strings"
)

// Comparison sets a record against a baseline, an earlier load of the
// same route: how long each took, which spans appeared, vanished or
// changed length, and how each query shape's count and time moved. It is
// GET /api/requests/{id}/compare's answer.
type Comparison struct {
	Request  string  `json:"request"`
	Baseline *string `json:"baseline"` // nil: no earlier record of the route
	Route    string  `json:"route"`    // the request's RouteOf
	// DurationMs are the records' lengths; the baseline's 0 when nil.
	DurationMs MsPair      `json:"durationMs"`
	Spans      SpanDiff    `json:"spans"`
	Queries    []QueryDiff `json:"queries"`
}

// MsPair is a length in milliseconds on both sides of a Comparison.
type MsPair struct {
	Request  float64 `json:"request"`
	Baseline float64 `json:"baseline"`
}

// CountPair is a count on both sides of a Comparison.
type CountPair struct {
	Request  int `json:"request"`
	Baseline int `json:"baseline"`
}

// FlagPair is a flag on both sides of a Comparison.
type FlagPair struct {
	Request  bool `json:"request"`
	Baseline bool `json:"baseline"`
}

// SpanDiff matches the spans of two records by key: service, name with
// ids folded, and statement shape or http.route. It lists the keys of
// only one side, and those of both, most changed in length first.
type SpanDiff struct {
	Added   []SpanGroup  `json:"added"`   // only in the request; longest first
	Removed []SpanGroup  `json:"removed"` // only in the baseline; longest first
	Changed []SpanChange `json:"changed"` // in both, by |DeltaMs|, largest first
}

// SpanGroup is the spans of one record that share a key.
type SpanGroup struct {
	Service string  `json:"service"`
	Name    string  `json:"name"` // with its ids folded, as in the key
	Key     string  `json:"key"`
	Count   int     `json:"count"`
	TotalMs float64 `json:"totalMs"`
}

// SpanChange is a key both records have spans of.
type SpanChange struct {
	Service string    `json:"service"`
	Name    string    `json:"name"`
	Key     string    `json:"key"`
	Count   CountPair `json:"count"`
	TotalMs MsPair    `json:"totalMs"`
	DeltaMs float64   `json:"deltaMs"` // request minus baseline
}

// QueryDiff is one query shape of one database system in both records;
// the count is 0 on a side without it.
type QueryDiff struct {
	Shape    string     `json:"shape"`
	System   string     `json:"system"`
	Request  QueryTotal `json:"request"`
	Baseline QueryTotal `json:"baseline"`
	// NPlusOne tells on which side the shape ran 3 or more times under
	// one parent span, as the SQL panel flags an N+1.
	NPlusOne FlagPair `json:"nPlusOne"`
}

// QueryTotal is how often a query shape ran in one record, and how long.
type QueryTotal struct {
	Count   int     `json:"count"`
	TotalMs float64 `json:"totalMs"`
}

// nPlusOneRepeats is how many runs of one shape under one parent make an
// N+1, as assets/model/sql.js counts them.
const nPlusOneRepeats = 3

// spanKey is what matches a span across two loads of a route: its
// service, its name with ids folded (the proxy names its span
// "GET /orders/42"), and the shape of its statement (StatementShape) or
// else its http.route.
func spanKey(sp *Span) (key, name string) {
	name = foldName(sp.Name)
	key = sp.Service() + " " + name
	if statement, _, ok := sp.DBStatement(); ok {
		return key + " " + StatementShape(statement), name
	}
	if route := sp.AttrString("http.route"); route != "" {
		return key + " " + route, name
	}
	return key, name
}

// foldName folds the ids of the paths and URLs in a span name (FoldPath):
// "GET /orders/42" gives "GET /orders/{id}".
func foldName(name string) string {
	if !strings.Contains(name, "/") {
		return name
	}
	words := strings.Split(name, " ")
	for i, w := range words {
		if strings.HasPrefix(w, "/") {
			words[i] = FoldPath(w)
		} else if scheme, rest, ok := strings.Cut(w, "://"); ok && scheme != "" {
			host, path, _ := strings.Cut(rest, "/")
			words[i] = scheme + "://" + host + FoldPath("/"+path)
		}
	}
	return strings.Join(words, " ")
}

// Compare sets rec and its spans against base and its (nil base: no
// baseline, every span is added). Spans are as RecordSpans returns them;
// none is left out, whatever its source.
func Compare(rec, base *Record, recSpans, baseSpans []Span) Comparison {
	c := Comparison{
		Request: rec.ID,
		Route:   RouteOf(rec, recSpans),
		Spans:   SpanDiff{Added: []SpanGroup{}, Removed: []SpanGroup{}, Changed: []SpanChange{}},
		Queries: []QueryDiff{},
	}
	c.DurationMs.Request = rec.DurationMs
	if base != nil {
		id := base.ID
		c.Baseline = &id
		c.DurationMs.Baseline = base.DurationMs
	} else {
		baseSpans = nil
	}

	now, before := groupSpans(recSpans), groupSpans(baseSpans)
	for key, g := range now {
		b, ok := before[key]
		if !ok {
			c.Spans.Added = append(c.Spans.Added, *g)
			continue
		}
		c.Spans.Changed = append(c.Spans.Changed, SpanChange{
			Service: g.Service, Name: g.Name, Key: key,
			Count:   CountPair{g.Count, b.Count},
			TotalMs: MsPair{roundMs(g.TotalMs), roundMs(b.TotalMs)},
			DeltaMs: roundMs(g.TotalMs - b.TotalMs),
		})
	}
	for key, b := range before {
		if _, ok := now[key]; !ok {
			c.Spans.Removed = append(c.Spans.Removed, *b)
		}
	}
	longestFirst := func(x, y SpanGroup) int {
		return cmp.Or(cmp.Compare(y.TotalMs, x.TotalMs), strings.Compare(x.Key, y.Key))
	}
	slices.SortFunc(c.Spans.Added, longestFirst)
	slices.SortFunc(c.Spans.Removed, longestFirst)
	slices.SortFunc(c.Spans.Changed, func(x, y SpanChange) int {
		return cmp.Or(cmp.Compare(math.Abs(y.DeltaMs), math.Abs(x.DeltaMs)), strings.Compare(x.Key, y.Key))
	})

	c.Queries = diffQueries(groupQueries(recSpans), groupQueries(baseSpans))
	return c
}

// groupSpans aggregates spans by spanKey.
func groupSpans(spans []Span) map[string]*SpanGroup {
	groups := make(map[string]*SpanGroup, len(spans))
	for i := range spans {
		sp := &spans[i]
		key, name := spanKey(sp)
		g := groups[key]
		if g == nil {
			g = &SpanGroup{Service: sp.Service(), Name: name, Key: key}
			groups[key] = g
		}
		g.Count++
		g.TotalMs += spanMs(sp)
	}
	for _, g := range groups {
		g.TotalMs = roundMs(g.TotalMs)
	}
	return groups
}

// queryKey is a query shape of one database system.
type queryKey struct{ system, shape string }

// queryGroup is the runs of one query shape in one record.
type queryGroup struct {
	QueryTotal
	perParent map[SpanID]int
	nPlusOne  bool
}

// groupQueries groups the database spans (a db.* attribute) by system and
// shape (dbShape), as the SQL panel does.
func groupQueries(spans []Span) map[queryKey]*queryGroup {
	groups := map[queryKey]*queryGroup{}
	for i := range spans {
		sp := &spans[i]
		if !isDBSpan(sp) {
			continue
		}
		system, shape := dbShape(sp)
		k := queryKey{system, shape}
		g := groups[k]
		if g == nil {
			g = &queryGroup{perParent: map[SpanID]int{}}
			groups[k] = g
		}
		g.Count++
		g.TotalMs += spanMs(sp)
		g.perParent[sp.ParentSpanID]++
		g.nPlusOne = g.nPlusOne || g.perParent[sp.ParentSpanID] >= nPlusOneRepeats
	}
	return groups
}

// diffQueries pairs the query groups of two records, the largest change
// in count first, then in time.
func diffQueries(now, before map[queryKey]*queryGroup) []QueryDiff {
	out := make([]QueryDiff, 0, len(now)+len(before))
	add := func(k queryKey) {
		d := QueryDiff{Shape: k.shape, System: k.system}
		if g := now[k]; g != nil {
			d.Request = QueryTotal{g.Count, roundMs(g.TotalMs)}
			d.NPlusOne.Request = g.nPlusOne
		}
		if g := before[k]; g != nil {
			d.Baseline = QueryTotal{g.Count, roundMs(g.TotalMs)}
			d.NPlusOne.Baseline = g.nPlusOne
		}
		out = append(out, d)
	}
	for k := range now {
		add(k)
	}
	for k := range before {
		if now[k] == nil {
			add(k)
		}
	}
	slices.SortFunc(out, func(x, y QueryDiff) int {
		return cmp.Or(
			cmp.Compare(absInt(y.Request.Count-y.Baseline.Count), absInt(x.Request.Count-x.Baseline.Count)),
			cmp.Compare(math.Abs(y.Request.TotalMs-y.Baseline.TotalMs), math.Abs(x.Request.TotalMs-x.Baseline.TotalMs)),
			strings.Compare(x.System, y.System), strings.Compare(x.Shape, y.Shape))
	})
	return out
}

func absInt(n int) int { return max(n, -n) }

// compare answers GET /api/requests/{id}/compare[?with=<id>]: the record
// against the record ?with names, or else its baseline (see baseline).
func (a *API) compare(w http.ResponseWriter, r *http.Request) {
	rec := a.Store.Request(r.PathValue("id"))
	if rec == nil {
		http.Error(w, "toolbar: no such request", http.StatusNotFound)
		return
	}
	var base *Record
	if with := r.URL.Query().Get("with"); with != "" {
		if base = a.Store.Request(with); base == nil {
			http.Error(w, "toolbar: no such request to compare with", http.StatusNotFound)
			return
		}
	} else {
		base = a.baseline(rec)
	}
	var baseSpans []Span
	if base != nil {
		baseSpans = a.Store.RecordSpans(base)
	}
	writeJSON(w, Compare(rec, base, a.Store.RecordSpans(rec), baseSpans))
}

// baseline is the last load of rec's route before it: of the finished
// records that started before rec with its method and route (sameRoute),
// the one that started last; nil when there is none.
func (a *API) baseline(rec *Record) *Record {
	var best *Record
	var facts recordFacts
	known := false
	for _, c := range a.Store.Requests(0) {
		if c.ID == rec.ID || !c.Done || c.Method != rec.Method || !c.StartTime.Before(rec.StartTime) ||
			(best != nil && !c.StartTime.After(best.StartTime)) {
			continue
		}
		if !known {
			facts, known = a.Store.recordFacts(rec), true
		}
		if sameRoute(facts, a.Store.recordFacts(c)) {
			best = c
		}
	}
	return best
}
