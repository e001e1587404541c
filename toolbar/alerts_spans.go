package toolbar

// The alerts read off a record's spans.

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// spanTree indexes a record's spans by id, for walks to the root.
type spanTree struct {
	spans []Span
	at    map[SpanID]int
}

func newSpanTree(spans []Span) spanTree {
	at := make(map[SpanID]int, len(spans))
	for i := range spans {
		at[spans[i].SpanID] = i
	}
	return spanTree{spans, at}
}

// ancestors calls f with i and each ancestor of span i, nearest first,
// until f returns false. The walk is bounded: input may hold a cycle.
func (t spanTree) ancestors(i int, f func(int) bool) {
	for n := 0; n <= len(t.spans) && f(i); n++ {
		p, ok := t.at[t.spans[i].ParentSpanID]
		if !ok || !t.spans[i].ParentSpanID.IsValid() {
			return
		}
		i = p
	}
}

// code is the source line of span i: its own code.* or its nearest
// ancestor's.
func (t spanTree) code(i int) *CodeRef {
	var ref *CodeRef
	t.ancestors(i, func(j int) bool {
		sp := &t.spans[j]
		file := sp.AttrString("code.file.path", "code.filepath")
		if file == "" {
			return true
		}
		line, _ := sp.AttrInt("code.line.number", "code.lineno")
		ref = &CodeRef{File: file, Line: line}
		return false
	})
	return ref
}

// nPlusOne finds statement shapes run nPlusOneRepeats or more times under
// one parent span (groupQueries): one alert per shape, on the first span
// of its run that reached the count first.
func (t spanTree) nPlusOne() []Alert {
	var out []Alert
	for _, g := range groupQueries(t.spans) {
		run := g.nPlusOne()
		if run == nil {
			continue
		}
		first := run.spans[0]
		out = append(out, Alert{
			Kind: AlertNPlusOne, Severity: SeverityWarning,
			Message: fmt.Sprintf("N+1: the same query ran %d times under one span (%s in all): %s", len(run.spans), formatMs(run.ms), clipText(g.key.shape)),
			SpanID:  t.spans[first].SpanID.String(), Code: t.code(first),
		})
	}
	return out
}

// slowQueries finds database spans at least slow long.
func (t spanTree) slowQueries(slow time.Duration) []Alert {
	var out []Alert
	for i := range t.spans {
		sp := &t.spans[i]
		if !isDBSpan(sp) || sp.End.Sub(sp.Start) < slow {
			continue
		}
		_, shape := dbShape(sp)
		out = append(out, Alert{
			Kind: AlertSlowQuery, Severity: SeverityWarning,
			Message: fmt.Sprintf("Slow query: %s (slow from %s): %s", formatMs(spanMs(sp)), formatMs(Millis(slow)), clipText(shape)),
			SpanID:  sp.SpanID.String(), Code: t.code(i),
		})
	}
	return out
}

// callPeer names the server a CLIENT span called: server.address[:port], the
// older net.peer.name[:port], or the host of its URL.
func callPeer(sp *Span) string {
	for _, keys := range [][2]string{{"server.address", "server.port"}, {"net.peer.name", "net.peer.port"}} {
		host := sp.AttrString(keys[0])
		if host == "" {
			continue
		}
		if port, ok := sp.AttrInt(keys[1]); ok && port > 0 {
			return net.JoinHostPort(host, strconv.Itoa(port))
		}
		return host
	}
	if u, err := url.Parse(sp.AttrString("url.full", "http.url")); err == nil && u.Host != "" {
		return u.Host
	}
	return ""
}

// sequentialCalls finds sibling CLIENT spans (not database spans) to one
// peer that ran one after another: sequentialRun or more of them in a
// row, each starting after the previous one ended. One alert per parent
// and peer, on its longest such row.
func (t spanTree) sequentialCalls() []Alert {
	type key struct {
		parent SpanID
		peer   string
	}
	groups := map[key][]int{}
	var order []key
	for i := range t.spans {
		sp := &t.spans[i]
		if sp.Kind != KindClient || isDBSpan(sp) {
			continue
		}
		p := callPeer(sp)
		if p == "" {
			continue
		}
		k := key{sp.ParentSpanID, p}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var out []Alert
	for _, k := range order {
		calls := groups[k]
		slices.SortStableFunc(calls, func(a, b int) int { return t.spans[a].Start.Compare(t.spans[b].Start) })
		best, start := []int{}, 0
		for i := 1; i <= len(calls); i++ {
			if i == len(calls) || t.spans[calls[i]].Start.Before(t.spans[calls[i-1]].End) {
				if i-start > len(best) {
					best = calls[start:i]
				}
				start = i
			}
		}
		if len(best) < sequentialRun {
			continue
		}
		first, last := &t.spans[best[0]], &t.spans[best[len(best)-1]]
		out = append(out, Alert{
			Kind: AlertSequentialCalls, Severity: SeverityInfo,
			Message: fmt.Sprintf("%d calls to %s ran one after another (%s in all): could they run in parallel?", len(best), k.peer, formatMs(Millis(last.End.Sub(first.Start)))),
			SpanID:  first.SpanID.String(), Code: t.code(best[0]),
		})
	}
	return out
}

// errorSpans finds spans with error status or an exception event. Only
// the deepest failing span of a chain is reported (an error passed up to
// each caller is one error), and not the spans that carry this very
// response when their error is only its HTTP status, which the record
// shows already.
func (t spanTree) errorSpans(rec *Record) []Alert {
	failed := make([]bool, len(t.spans))
	explained := make([]bool, len(t.spans)) // an ancestor of a failed span
	for i := range t.spans {
		if t.failure(i) == "" || t.onlyTheStatus(rec, i) {
			continue
		}
		failed[i] = true
		first := true
		t.ancestors(i, func(j int) bool {
			if !first {
				explained[j] = true
			}
			first = false
			return true
		})
	}
	var out []Alert
	for i := range t.spans {
		if !failed[i] || explained[i] {
			continue
		}
		sp := &t.spans[i]
		out = append(out, Alert{
			Kind: AlertErrorSpan, Severity: SeverityError,
			Message: fmt.Sprintf("%s %q failed: %s", spanService(sp), sp.Name, clipText(t.failure(i))),
			SpanID:  sp.SpanID.String(), Code: t.code(i),
		})
	}
	return out
}

// failure says why span i failed: its first exception event's type and
// message, else its status message; "" when it did not fail.
func (t spanTree) failure(i int) string {
	sp := &t.spans[i]
	for _, e := range sp.Events {
		if e.Name != "exception" {
			continue
		}
		typ, msg := stringAttr(e.Attributes, "exception.type"), stringAttr(e.Attributes, "exception.message")
		switch {
		case typ != "" && msg != "":
			return typ + ": " + msg
		case typ+msg != "":
			return typ + msg
		}
		return "exception"
	}
	if sp.Status.Code != StatusError {
		return ""
	}
	if sp.Status.Message != "" {
		return sp.Status.Message
	}
	return "error status"
}

// onlyTheStatus reports whether span i carries rec's own response (the
// proxy's spans, the app's SERVER span under them) and failed only for
// its HTTP status: no exception event, and the status code rec has.
func (t spanTree) onlyTheStatus(rec *Record, i int) bool {
	sp := &t.spans[i]
	depth, found := 0, false
	t.ancestors(i, func(j int) bool {
		if found = t.spans[j].SpanID.String() == rec.ID; found {
			return false
		}
		depth++
		return true
	})
	if !found || depth > 2 || (depth == 2 && sp.Kind != KindServer) {
		return false
	}
	for _, e := range sp.Events {
		if e.Name == "exception" {
			return false
		}
	}
	status, ok := sp.AttrInt("http.response.status_code", "http.status_code")
	return ok && status == rec.Status
}
