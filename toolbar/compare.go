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

// spanKey is what matches a span across two loads of a route: its
// service (unknownService without one), its name with ids folded (the
// proxy names its span "GET /orders/42"), and the shape of its statement
// (StatementShape) or else its http.route.
func spanKey(sp *Span) (key, name string) {
	name = foldName(sp.Name)
	key = spanService(sp) + " " + name
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

// Compare sets rec and its spans, recSpans, against the baseline base and
// its spans, baseSpans. With a nil base there is no baseline: every span
// of rec is added. Spans are as RecordSpans returns them; none is left
// out, whatever its source.
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
		baseGroup, ok := before[key]
		if !ok {
			c.Spans.Added = append(c.Spans.Added, *g)
			continue
		}
		c.Spans.Changed = append(c.Spans.Changed, SpanChange{
			Service: g.Service, Name: g.Name, Key: key,
			Count:   CountPair{g.Count, baseGroup.Count},
			TotalMs: MsPair{roundMs(g.TotalMs), roundMs(baseGroup.TotalMs)},
			DeltaMs: roundMs(g.TotalMs - baseGroup.TotalMs),
		})
	}
	for key, baseGroup := range before {
		if _, ok := now[key]; !ok {
			c.Spans.Removed = append(c.Spans.Removed, *baseGroup)
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
			g = &SpanGroup{Service: spanService(sp), Name: name, Key: key}
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

// spanService is sp's service.name, or unknownService.
func spanService(sp *Span) string { return cmp.Or(sp.Service(), unknownService) }

// diffQueries pairs the query groups (groupQueries) of two records, the
// largest change in count first, then in time.
func diffQueries(now, before []*queryGroup) []QueryDiff {
	out := make([]QueryDiff, 0, len(now)+len(before))
	beforeByKey := make(map[queryKey]*queryGroup, len(before))
	for _, g := range before {
		beforeByKey[g.key] = g
	}
	for _, g := range now {
		d := QueryDiff{Shape: g.key.shape, System: g.key.system}
		d.Request = QueryTotal{g.count, roundMs(g.totalMs)}
		d.NPlusOne.Request = g.nPlusOne() != nil
		if baseGroup := beforeByKey[g.key]; baseGroup != nil {
			d.Baseline = QueryTotal{baseGroup.count, roundMs(baseGroup.totalMs)}
			d.NPlusOne.Baseline = baseGroup.nPlusOne() != nil
			delete(beforeByKey, g.key)
		}
		out = append(out, d)
	}
	for _, g := range before {
		if beforeByKey[g.key] == nil {
			continue // paired above
		}
		out = append(out, QueryDiff{Shape: g.key.shape, System: g.key.system,
			Baseline: QueryTotal{g.count, roundMs(g.totalMs)}, NPlusOne: FlagPair{Baseline: g.nPlusOne() != nil}})
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
	for _, candidate := range a.Store.Requests(0) {
		if candidate.ID == rec.ID || !candidate.Done || candidate.Method != rec.Method || !candidate.StartTime.Before(rec.StartTime) ||
			(best != nil && !candidate.StartTime.After(best.StartTime)) {
			continue
		}
		if !known {
			facts, known = a.Store.recordFacts(rec), true
		}
		if sameRoute(facts, a.Store.recordFacts(candidate)) {
			best = candidate
		}
	}
	return best
}
