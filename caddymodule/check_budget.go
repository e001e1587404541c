package caddymodule

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tracebar/tracebar/toolbar"
)

// budget is what the routes one pattern names may cost: the --route flags
// with the limit flags, or one entry of a --budgets file. A nil limit is
// no limit.
type budget struct {
	Route      string // a route pattern (matchRoute)
	MaxQueries *int   // database spans in any one request
	NoNPlusOne bool   // no request with an N+1 alert
	MaxP95     *time.Duration
	MaxErrors  *int // requests that failed (a 5xx, or a span with an error)
}

func (b budget) hasLimit() bool {
	return b.MaxQueries != nil || b.NoNPlusOne || b.MaxP95 != nil || b.MaxErrors != nil
}

// tighten returns the strictest of b's and o's limits: a route that
// several budgets name must keep all of them.
func (b budget) tighten(o budget) budget {
	b.MaxQueries = minLimit(b.MaxQueries, o.MaxQueries)
	b.NoNPlusOne = b.NoNPlusOne || o.NoNPlusOne
	b.MaxP95 = minLimit(b.MaxP95, o.MaxP95)
	b.MaxErrors = minLimit(b.MaxErrors, o.MaxErrors)
	return b
}

func minLimit[T cmp.Ordered](a, b *T) *T {
	if a == nil || b != nil && *b < *a {
		return b
	}
	return a
}

// budgetEntry is one budget of a --budgets file as written.
type budgetEntry struct {
	Route      string          `json:"route"`
	MaxQueries *int            `json:"maxQueries"`
	NoNPlusOne bool            `json:"noNPlusOne"`
	MaxP95     json.RawMessage `json:"maxP95"` // a duration string, "250ms"
	MaxErrors  *int            `json:"maxErrors"`
}

// parseBudgets reads a --budgets file: a JSON array of budgets such as
//
//	[{"route": "GET /orders", "maxQueries": 10, "noNPlusOne": true, "maxP95": "250ms", "maxErrors": 0}]
//
// Unknown fields are errors, so a misspelt limit cannot pass unnoticed.
func parseBudgets(data []byte) ([]budget, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var entries []budgetEntry
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("want a JSON array of budgets: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more after the array of budgets")
	}
	if len(entries) == 0 {
		return nil, errors.New("the list of budgets is empty")
	}
	out := make([]budget, 0, len(entries))
	for i, e := range entries {
		b := budget{Route: strings.TrimSpace(e.Route), MaxQueries: e.MaxQueries, NoNPlusOne: e.NoNPlusOne, MaxErrors: e.MaxErrors}
		where := "budget " + strconv.Itoa(i+1)
		if b.Route != "" {
			where += " (" + b.Route + ")"
		}
		if len(e.MaxP95) > 0 && string(e.MaxP95) != "null" {
			var s string
			if err := json.Unmarshal(e.MaxP95, &s); err != nil {
				return nil, fmt.Errorf(`%s: maxP95: want a duration such as "250ms", not %s`, where, e.MaxP95)
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("%s: maxP95: %w", where, err)
			}
			b.MaxP95 = &d
		}
		if err := b.validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// validate reports what makes a budget of a file unusable.
func (b budget) validate() error {
	switch {
	case b.Route == "":
		return errors.New(`no route (write "*" for every route)`)
	case b.MaxQueries != nil && *b.MaxQueries < 0:
		return errors.New("maxQueries is negative")
	case b.MaxP95 != nil && *b.MaxP95 <= 0:
		return errors.New("maxP95 must be above zero")
	case b.MaxErrors != nil && *b.MaxErrors < 0:
		return errors.New("maxErrors is negative")
	case !b.hasLimit():
		return errors.New("no limit (maxQueries, noNPlusOne, maxP95 or maxErrors)")
	}
	return nil
}

// matchRoute reports whether pattern names route, a route as the API's
// summaries name it ("GET /orders/{id}"). In a pattern, * stands for any
// run of characters, slashes and spaces included, and a pattern that
// starts with "/" names that path for every method.
func matchRoute(pattern, route string) bool {
	if strings.HasPrefix(pattern, "/") {
		pattern = "* " + pattern
	}
	// A glob with one backtracking point: the last star takes one more
	// character each time the rest fails to match.
	p, r := 0, 0
	star, mark := -1, 0
	for r < len(route) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, r
			p++
		case p < len(pattern) && pattern[p] == route[r]:
			p++
			r++
		case star >= 0:
			mark++
			p, r = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// checkRecord is a summary of GET <prefix>/api/requests: the fields the
// budgets read.
type checkRecord struct {
	ID         string    `json:"id"`
	Method     string    `json:"method"`
	URL        string    `json:"url"`
	Route      string    `json:"route"`
	Status     int       `json:"status"`
	Done       bool      `json:"done"`
	StartTime  time.Time `json:"startTime"`
	DurationMs float64   `json:"durationMs"` // the proxy's SERVER span
	Queries    int       `json:"queries"`
	Error      bool      `json:"error"`
	Kind       string    `json:"kind"` // "websocket", "sse", "background": not a request; "" for one
}

// routeCheck is one route's records and the limits of every budget that
// names it.
type routeCheck struct {
	route    string
	limits   budget
	records  []checkRecord              // finished, in the window, newest first
	nPlusOne map[string][]toolbar.Alert // a record's n_plus_one alerts; nil when no budget asks
}

// planChecks groups records by route and gives each route the budgets
// that name it, sorted by route; missing are the patterns that named no
// route, in the order given.
func planChecks(budgets []budget, records []checkRecord) (checks []*routeCheck, missing []string) {
	byRoute := map[string]*routeCheck{} // nil: a route no budget names
	named := make([]bool, len(budgets))
	for _, rec := range records {
		rc, seen := byRoute[rec.Route]
		if !seen {
			for i, b := range budgets {
				if !matchRoute(b.Route, rec.Route) {
					continue
				}
				named[i] = true
				if rc == nil {
					rc = &routeCheck{route: rec.Route}
					checks = append(checks, rc)
				}
				rc.limits = rc.limits.tighten(b)
			}
			byRoute[rec.Route] = rc
		}
		if rc != nil {
			rc.records = append(rc.records, rec)
		}
	}
	slices.SortFunc(checks, func(a, b *routeCheck) int { return strings.Compare(a.route, b.route) })
	for i, b := range budgets {
		if !named[i] && !slices.Contains(missing, b.Route) {
			missing = append(missing, b.Route)
		}
	}
	return checks, missing
}

// p95 is the nearest-rank 95th percentile of ms: the smallest value that
// at least 95 % of them do not exceed, always one of them.
func p95(ms []float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(ms))
	return sorted[(95*len(sorted)+99)/100-1]
}

// routeFigures is what the report says of a route.
type routeFigures struct {
	p95         float64
	slowest     checkRecord
	maxQueries  int
	mostQueries checkRecord
	errors      int
	lastError   checkRecord // the newest failed request
	nPlusOne    int         // requests with an N+1
	worstNPlus1 checkRecord // the one with the most N+1 alerts
	nPlusOneAt  []string    // the lines that issued them, file:line
}

func (rc *routeCheck) figures() routeFigures {
	var f routeFigures
	ms := make([]float64, len(rc.records))
	for i, rec := range rc.records { // newest first: ties go to the newest
		ms[i] = rec.DurationMs
		if i == 0 || rec.DurationMs > f.slowest.DurationMs {
			f.slowest = rec
		}
		if i == 0 || rec.Queries > f.maxQueries {
			f.maxQueries, f.mostQueries = rec.Queries, rec
		}
		if rec.Error {
			if f.errors == 0 {
				f.lastError = rec
			}
			f.errors++
		}
		alerts := rc.nPlusOne[rec.ID]
		if len(alerts) == 0 {
			continue
		}
		if f.nPlusOne == 0 || len(alerts) > len(rc.nPlusOne[f.worstNPlus1.ID]) {
			f.worstNPlus1 = rec
		}
		f.nPlusOne++
		for _, a := range alerts {
			if a.Code == nil || a.Code.File == "" {
				continue
			}
			at := a.Code.File
			if a.Code.Line > 0 {
				at += ":" + strconv.Itoa(a.Code.Line)
			}
			if !slices.Contains(f.nPlusOneAt, at) {
				f.nPlusOneAt = append(f.nPlusOneAt, at)
			}
		}
	}
	f.p95 = p95(ms)
	return f
}

// breach is one limit a route went over.
type breach struct {
	text  string      // what went over which limit
	worst checkRecord // the request to open first
	why   string      // what that request did
}

// breaches lists the limits rc went over, in the report's column order.
func (rc *routeCheck) breaches(f routeFigures) []breach {
	var out []breach
	l := rc.limits
	if l.MaxP95 != nil && f.p95 > durationMs(*l.MaxP95) {
		out = append(out, breach{
			text:  fmt.Sprintf("p95 %s over the %s budget", checkMs(f.p95), checkMs(durationMs(*l.MaxP95))),
			worst: f.slowest, why: "the slowest, " + checkMs(f.slowest.DurationMs),
		})
	}
	if l.MaxQueries != nil && f.maxQueries > *l.MaxQueries {
		out = append(out, breach{
			text:  fmt.Sprintf("%d queries in one request, over the budget of %d", f.maxQueries, *l.MaxQueries),
			worst: f.mostQueries, why: plural(f.maxQueries, "query", "queries"),
		})
	}
	if l.NoNPlusOne && f.nPlusOne > 0 {
		text := fmt.Sprintf("N+1 queries in %d of %d requests, none allowed", f.nPlusOne, len(rc.records))
		if len(f.nPlusOneAt) > 0 {
			text += ", issued at " + strings.Join(f.nPlusOneAt, ", ")
		}
		out = append(out, breach{text: text, worst: f.worstNPlus1, why: rc.nPlusOne[f.worstNPlus1.ID][0].Message})
	}
	if l.MaxErrors != nil && f.errors > *l.MaxErrors {
		why := "status " + strconv.Itoa(f.lastError.Status)
		if f.lastError.Status < 500 {
			why += ", a span with an error"
		}
		out = append(out, breach{
			text:  fmt.Sprintf("%s failed, over the budget of %d", plural(f.errors, "request", "requests"), *l.MaxErrors),
			worst: f.lastError, why: "the newest failure: " + why,
		})
	}
	return out
}

// checkReport is the outcome of a check, as the command prints it.
type checkReport struct {
	api          string
	window       string         // which records were read: "finished requests since ..."
	counted      int            // finished records in the window
	inFlight     int            // records in the window still in flight, not counted
	notRequests  map[string]int // records in the window by kind (sessions, background jobs), not counted
	checks       []*routeCheck
	missing      []string // patterns that named no route
	allowMissing bool
	verbose      bool // the table even when every budget held
}

// write prints the report and returns how many limits were exceeded. A
// failed check prints a table, one line per route (breaching figures in
// brackets), and then each breach with its worst request; a passed one
// a line, unless verbose.
func (r checkReport) write(w io.Writer) (exceeded int, err error) {
	type row struct {
		rc       *routeCheck
		figures  routeFigures
		breaches []breach
	}
	rows := make([]row, len(r.checks))
	failed := 0
	for i, rc := range r.checks {
		f := rc.figures()
		rows[i] = row{rc, f, rc.breaches(f)}
		exceeded += len(rows[i].breaches)
		if len(rows[i].breaches) > 0 {
			failed++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Tracebar budgets at %s: %d %s", r.api, r.counted, r.window)
	if left := r.leftOut(); len(left) > 0 {
		fmt.Fprintf(&b, " (%s, not counted)", strings.Join(left, ", "))
	}
	b.WriteString("\n")
	missingFails := len(r.missing) > 0 && !r.allowMissing
	if exceeded > 0 || missingFails || r.verbose {
		b.WriteString("p95: nearest rank of the proxy's durations; [figure > budget]: over budget.\n\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\tROUTE\tREQUESTS\tP95\tMAX QUERIES\tN+1\tERRORS")
		for _, row := range rows {
			fmt.Fprintln(tw, row.rc.cells(row.figures, len(row.breaches) > 0))
		}
		for _, pattern := range r.missing {
			state := "MISSING"
			if r.allowMissing {
				state = "skip"
			}
			fmt.Fprintf(tw, "%s\t%s\t0\t-\t-\t-\t-\n", state, pattern)
		}
		tw.Flush()
		for _, row := range rows {
			if len(row.breaches) == 0 {
				continue
			}
			fmt.Fprintf(&b, "\n%s\n", row.rc.route)
			for _, br := range row.breaches {
				fmt.Fprintf(&b, "  %s\n    worst: %s %s (%s)\n", br.text, br.worst.ID, r.api+"/requests/"+br.worst.ID, br.why)
			}
		}
		if len(r.missing) > 0 {
			b.WriteString("\n")
		}
		for _, pattern := range r.missing {
			fmt.Fprintf(&b, "%s: no request matched", pattern)
			if !r.allowMissing {
				b.WriteString("; did the tests run through this Caddy? (--allow-missing lets a budget go without traffic)")
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	switch {
	case exceeded > 0:
		fmt.Fprintf(&b, "FAIL: %s exceeded on %d of %s.\n", plural(exceeded, "budget", "budgets"), failed, plural(len(rows), "route", "routes"))
	case missingFails:
		fmt.Fprintf(&b, "FAIL: no traffic for %s.\n", strings.Join(r.missing, ", "))
	default:
		fmt.Fprintf(&b, "ok: %s within budget", plural(len(rows), "route", "routes"))
		if len(r.missing) > 0 {
			fmt.Fprintf(&b, "; no traffic for %s (allowed)", strings.Join(r.missing, ", "))
		}
		b.WriteString(".\n")
	}
	_, err = io.WriteString(w, b.String())
	return exceeded, err
}

// leftOut names the records of the window that were not counted: those in
// flight, then the sessions and background jobs, by kind.
func (r checkReport) leftOut() []string {
	var out []string
	if r.inFlight > 0 {
		out = append(out, strconv.Itoa(r.inFlight)+" in flight")
	}
	for _, kind := range slices.Sorted(maps.Keys(r.notRequests)) {
		n := r.notRequests[kind]
		switch kind {
		case toolbar.RecordWebSocket:
			out = append(out, plural(n, "WebSocket session", "WebSocket sessions"))
		case toolbar.RecordSSE:
			out = append(out, plural(n, "event stream", "event streams"))
		case toolbar.RecordBackground:
			out = append(out, plural(n, "background job", "background jobs"))
		default:
			out = append(out, plural(n, kind+" record", kind+" records"))
		}
	}
	return out
}

// cells is rc's line of the report's table.
func (rc *routeCheck) cells(f routeFigures, failed bool) string {
	l := rc.limits
	state := "ok"
	if failed {
		state = "FAIL"
	}
	p95 := checkMs(f.p95)
	if l.MaxP95 != nil && f.p95 > durationMs(*l.MaxP95) {
		p95 = "[" + p95 + " > " + checkMs(durationMs(*l.MaxP95)) + "]"
	}
	queries := strconv.Itoa(f.maxQueries)
	if l.MaxQueries != nil && f.maxQueries > *l.MaxQueries {
		queries = "[" + queries + " > " + strconv.Itoa(*l.MaxQueries) + "]"
	}
	nPlusOne := "-" // not read: no budget asks
	switch {
	case rc.nPlusOne == nil:
	case f.nPlusOne == 0:
		nPlusOne = "0"
	default:
		nPlusOne = fmt.Sprintf("%d of %d", f.nPlusOne, len(rc.records))
		if len(f.nPlusOneAt) > 0 {
			nPlusOne += " at " + filepath.Base(f.nPlusOneAt[0])
			if len(f.nPlusOneAt) > 1 {
				nPlusOne += " +" + strconv.Itoa(len(f.nPlusOneAt)-1)
			}
		}
		nPlusOne = "[" + nPlusOne + "]"
	}
	errs := strconv.Itoa(f.errors)
	if l.MaxErrors != nil && f.errors > *l.MaxErrors {
		errs = "[" + errs + " > " + strconv.Itoa(*l.MaxErrors) + "]"
	}
	return strings.Join([]string{state, rc.route, strconv.Itoa(len(rc.records)), p95, queries, nPlusOne, errs}, "\t")
}

func durationMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// checkMs writes a length in milliseconds as the toolbar does.
func checkMs(ms float64) string {
	if ms >= 1000 {
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + " s"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
