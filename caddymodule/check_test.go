package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/tracebar/tracebar/toolbar"
)

func TestCheckRoutePattern(t *testing.T) {
	tests := []struct {
		pattern, route string
		want           bool
	}{
		{"GET /orders", "GET /orders", true},
		{"GET /orders", "GET /orders/{id}", false},
		{"GET /orders", "POST /orders", false},
		{"GET /orders*", "GET /orders/{id}", true},
		{"GET /api/*", "GET /api/products", true},
		{"GET /api/*", "GET /api/products/{id}/stock", true},
		{"GET /api/*", "GET /apis", false},
		{"*", "POST /graphql", true},
		{"* /orders", "DELETE /orders", true},
		{"/orders", "PUT /orders", true},
		{"/orders", "PUT /orders/{id}", false},
		{"GET /*/stock", "GET /products/{id}/stock", true},
		{"GET /*/stock", "GET /products/{id}/stock/x", false},
		{"GET /a*b*c", "GET /axxbyyc", true},
		{"GET /a*b*c", "GET /axxbyy", false},
		{"**", "", true},
		{"GET /orders/{id}", "GET /orders/{id}", true},
		{"get /orders", "GET /orders", false},
	}
	for _, tt := range tests {
		if got := matchRoute(tt.pattern, tt.route); got != tt.want {
			t.Errorf("matchRoute(%q, %q) = %v, want %v", tt.pattern, tt.route, got, tt.want)
		}
	}
}

func TestCheckP95NearestRank(t *testing.T) {
	tests := []struct {
		name string
		ms   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one is its own p95", []float64{7}, 7},
		{"three: the largest (rank 3)", []float64{40, 120, 35}, 120},
		{"twenty: the 19th", []float64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 19},
		{"twenty-one: the 20th", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}, 20},
		{"a hundred: the 95th", hundred(), 95},
	}
	for _, tt := range tests {
		if got := p95(tt.ms); got != tt.want {
			t.Errorf("%s: p95 %v, want %v", tt.name, got, tt.want)
		}
	}
}

func hundred() []float64 {
	out := make([]float64, 100)
	for i := range out {
		out[i] = float64(100 - i)
	}
	return out
}

func TestCheckParseBudgets(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    []budget
		wantErr string
	}{
		{"every field", `[{"route": "GET /orders", "maxQueries": 10, "noNPlusOne": true, "maxP95": "250ms", "maxErrors": 0}]`,
			[]budget{{Route: "GET /orders", MaxQueries: new(10), NoNPlusOne: true, MaxP95: new(250 * time.Millisecond), MaxErrors: new(0)}}, ""},
		{"one limit each", `[{"route": "*", "maxP95": "1s"}, {"route": "/api/*", "maxQueries": 0}]`,
			[]budget{{Route: "*", MaxP95: new(time.Second)}, {Route: "/api/*", MaxQueries: new(0)}}, ""},
		{"null is no limit", `[{"route": "*", "maxP95": null, "noNPlusOne": true}]`,
			[]budget{{Route: "*", NoNPlusOne: true}}, ""},
		{"misspelt limit", `[{"route": "*", "maxQuery": 3}]`, nil, `unknown field "maxQuery"`},
		{"p95 as a number", `[{"route": "*", "maxP95": 250}]`, nil, `budget 1 (*): maxP95: want a duration such as "250ms", not 250`},
		{"p95 without unit", `[{"route": "*", "maxP95": "250"}]`, nil, "missing unit"},
		{"p95 zero", `[{"route": "*", "maxP95": "0s"}]`, nil, "maxP95 must be above zero"},
		{"negative queries", `[{"route": "*", "noNPlusOne": true}, {"route": "GET /x", "maxQueries": -1}]`, nil, "budget 2 (GET /x): maxQueries is negative"},
		{"negative errors", `[{"route": "*", "maxErrors": -2}]`, nil, "maxErrors is negative"},
		{"no route", `[{"maxQueries": 3}]`, nil, `budget 1: no route (write "*" for every route)`},
		{"no limit", `[{"route": "GET /x"}]`, nil, "no limit"},
		{"empty list", `[]`, nil, "the list of budgets is empty"},
		{"an object", `{"route": "*", "maxQueries": 3}`, nil, "want a JSON array of budgets"},
		{"two arrays", `[{"route": "*", "maxQueries": 3}] []`, nil, "more after the array"},
		{"not JSON", `route: "*"`, nil, "want a JSON array of budgets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBudgets([]byte(tt.file))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("budgets %s, want %s", describeBudgets(got), describeBudgets(tt.want))
			}
		})
	}
}

func describeBudgets(bs []budget) string {
	var out []string
	for _, b := range bs {
		s := b.Route
		if b.MaxQueries != nil {
			s += fmt.Sprintf(" maxQueries=%d", *b.MaxQueries)
		}
		if b.NoNPlusOne {
			s += " noNPlusOne"
		}
		if b.MaxP95 != nil {
			s += " maxP95=" + b.MaxP95.String()
		}
		if b.MaxErrors != nil {
			s += fmt.Sprintf(" maxErrors=%d", *b.MaxErrors)
		}
		out = append(out, "{"+s+"}")
	}
	return "[" + strings.Join(out, " ") + "]"
}

func TestCheckFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "budgets.json")
	if err := os.WriteFile(file, []byte(`[{"route": "GET /report", "maxP95": "2s"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"route": "GET /report"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantAPI string
		want    []budget
		wantErr string
	}{
		{"routes with limits", []string{"--route", "GET /orders", "--route", "/api/*", "--no-n-plus-one", "--max-queries", "5"}, defaultCheckAPI,
			[]budget{{Route: "GET /orders", MaxQueries: new(5), NoNPlusOne: true}, {Route: "/api/*", MaxQueries: new(5), NoNPlusOne: true}}, ""},
		{"limits without a route apply to every route", []string{"--max-p95", "250ms", "--max-errors", "0"}, defaultCheckAPI,
			[]budget{{Route: "*", MaxP95: new(250 * time.Millisecond), MaxErrors: new(0)}}, ""},
		{"a zero query budget is a budget", []string{"--max-queries", "0"}, defaultCheckAPI,
			[]budget{{Route: "*", MaxQueries: new(0)}}, ""},
		{"the file and the flags together", []string{"--budgets", file, "--route", "GET /orders", "--no-n-plus-one", "--api", "http://127.0.0.1:9000/x/"}, "http://127.0.0.1:9000/x",
			[]budget{{Route: "GET /report", MaxP95: new(2 * time.Second)}, {Route: "GET /orders", NoNPlusOne: true}}, ""},
		{"no budget", nil, "", nil, "no budget: give --max-queries"},
		{"a route without a limit", []string{"--route", "GET /x"}, "", nil, "--route GET /x: give it a limit"},
		{"an empty route", []string{"--route", " ", "--no-n-plus-one"}, "", nil, "--route is empty"},
		{"negative queries", []string{"--max-queries", "-1"}, "", nil, "--max-queries is negative"},
		{"negative errors", []string{"--max-errors", "-1"}, "", nil, "--max-errors is negative"},
		{"p95 not a duration", []string{"--max-p95", "fast"}, "", nil, `invalid argument "fast" for "--max-p95"`},
		{"p95 zero", []string{"--max-p95", "0s"}, "", nil, "--max-p95 must be above zero"},
		{"negative since", []string{"--no-n-plus-one", "--since", "-5m"}, "", nil, "--since is negative"},
		{"negative settle", []string{"--no-n-plus-one", "--settle", "-1s"}, "", nil, "--settle is negative"},
		{"api without scheme", []string{"--no-n-plus-one", "--api", "localhost:8080/__tracebar"}, "", nil, `--api "localhost:8080/__tracebar": want the URL`},
		{"api of another scheme", []string{"--no-n-plus-one", "--api", "ftp://localhost/__tracebar"}, "", nil, "want the URL of the tracebar prefix"},
		{"unknown flag", []string{"--max-query", "3"}, "", nil, "unknown flag: --max-query"},
		{"budgets file missing", []string{"--budgets", filepath.Join(dir, "none.json")}, "", nil, "--budgets: open"},
		{"budgets file bad", []string{"--budgets", bad}, "", nil, "--budgets " + bad + ": budget 1 (GET /report): no limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newCheckCommand()
			err := cmd.ParseFlags(tt.args)
			var cfg checkConfig
			if err == nil {
				cfg, err = checkConfigFromFlags(caddycmd.Flags{FlagSet: cmd.Flags()})
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.API != tt.wantAPI || !reflect.DeepEqual(cfg.Budgets, tt.want) {
				t.Fatalf("api %q budgets %s, want %q %s", cfg.API, describeBudgets(cfg.Budgets), tt.wantAPI, describeBudgets(tt.want))
			}
		})
	}
}

// fakeAPI serves canned answers of a Tracebar API under /__tracebar.
type fakeAPI struct {
	records    []checkRecord
	alerts     map[string][]toolbar.Alert // a missing id answers 404
	alertReads atomic.Int32
}

func (f *fakeAPI) start(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__tracebar/api/requests", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(f.records)
	})
	mux.HandleFunc("GET /__tracebar/api/requests/{id}/alerts", func(w http.ResponseWriter, r *http.Request) {
		f.alertReads.Add(1)
		list, ok := f.alerts[r.PathValue("id")]
		if !ok {
			http.Error(w, "toolbar: no such request", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/__tracebar"
}

// shopAPI is a store after a test run of a shop: /orders with N+1s (one
// request with two), one slow load and 12 queries in one, every load with
// an exception; two clean loads of /api/products; a 500 at /boom; a
// /report two hours old; and an /orders load still in flight.
func shopAPI() *fakeAPI {
	now := time.Now()
	rec := func(id, route string, status int, ms float64, queries int, failed bool) checkRecord {
		method, path, _ := strings.Cut(route, " ")
		return checkRecord{ID: id, Method: method, URL: path, Route: route, Status: status, Done: true,
			StartTime: now.Add(-time.Minute), DurationMs: ms, Queries: queries, Error: failed}
	}
	old := rec("000000000000c001", "GET /report", 200, 900, 1, false)
	old.StartTime = now.Add(-2 * time.Hour)
	inFlight := rec("000000000000a004", "GET /orders", 0, 0, 0, false)
	inFlight.Done = false
	nPlusOne := func(line int) toolbar.Alert {
		return toolbar.Alert{Kind: toolbar.AlertNPlusOne, Severity: toolbar.SeverityWarning,
			Message: fmt.Sprintf("N+1: the same query ran 4 times under one span (2.0 ms in all): SELECT name FROM products WHERE id = ? (line %d)", line),
			SpanID:  "00000000000000f1", Code: &toolbar.CodeRef{File: "/src/shop/main.go", Line: line}}
	}
	errorSpan := toolbar.Alert{Kind: toolbar.AlertErrorSpan, Severity: toolbar.SeverityError, Message: "apply coupon: coupon expired"}
	slow := toolbar.Alert{Kind: toolbar.AlertSlowQuery, Severity: toolbar.SeverityWarning, Message: "slow query"}
	return &fakeAPI{
		records: []checkRecord{ // newest first, as the API lists them
			inFlight,
			rec("000000000000d001", "GET /boom", 500, 3, 0, true),
			rec("000000000000b002", "GET /api/products", 200, 6, 1, false),
			rec("000000000000a003", "GET /orders", 200, 120, 12, true),
			rec("000000000000a002", "GET /orders", 200, 35, 7, true),
			rec("000000000000b001", "GET /api/products", 200, 5.1, 1, false),
			rec("000000000000a001", "GET /orders", 200, 40, 7, true),
			old,
		},
		alerts: map[string][]toolbar.Alert{
			"000000000000a001": {errorSpan, nPlusOne(212)},
			"000000000000a002": {errorSpan, nPlusOne(212), nPlusOne(230)},
			"000000000000a003": {nPlusOne(212)},
			"000000000000b001": {slow},
			"000000000000b002": {},
			"000000000000d001": {errorSpan},
			"000000000000c001": {},
		},
	}
}

func TestCheckBudgets(t *testing.T) {
	tests := []struct {
		name         string
		budgets      []budget
		since        time.Duration
		allowMissing bool
		verbose      bool
		wantCode     int
		want         []string // in the report
		wantNot      []string
		wantReads    int32 // alert lists read
	}{
		{"N+1 fails and names its lines and worst request", []budget{{Route: "GET /orders", NoNPlusOne: true}}, 0, false, false, checkBreach,
			[]string{"FAIL  GET /orders", "[3 of 3 at main.go:212 +1]", "N+1 queries in 3 of 3 requests, none allowed, issued at /src/shop/main.go:212, /src/shop/main.go:230",
				"worst: 000000000000a002 {api}/requests/000000000000a002 (N+1: the same query ran 4 times", "FAIL: 1 budget exceeded on 1 of 1 route."},
			[]string{"GET /api/products"}, 3},
		{"a clean route passes in one line", []budget{{Route: "GET /api/products", NoNPlusOne: true, MaxQueries: new(5)}}, 0, false, false, checkOK,
			[]string{"7 finished requests (1 in flight, not counted)\nok: 1 route within budget.\n"}, []string{"ROUTE", "FAIL"}, 2},
		{"verbose: the table though every budget held", []budget{{Route: "GET /api/products", NoNPlusOne: true, MaxQueries: new(5)}}, 0, false, true, checkOK,
			[]string{"ok  GET /api/products  2         6.0 ms  1            0    0\n", "ok: 1 route within budget."}, []string{"FAIL"}, 2},
		{"in-flight requests are not counted", []budget{{Route: "GET /orders", MaxQueries: new(100)}}, 0, false, false, checkOK,
			[]string{"7 finished requests (1 in flight, not counted)"}, nil, 0},
		{"p95 over budget marks the figure and names the slowest", []budget{{Route: "GET /orders", MaxP95: new(100 * time.Millisecond)}}, 0, false, false, checkBreach,
			[]string{"[120.0 ms > 100.0 ms]", "p95 120.0 ms over the 100.0 ms budget", "worst: 000000000000a003 {api}/requests/000000000000a003 (the slowest, 120.0 ms)"}, nil, 0},
		{"p95 within budget", []budget{{Route: "GET /orders", MaxP95: new(150 * time.Millisecond)}}, 0, false, false, checkOK, []string{"ok: 1 route"}, nil, 0},
		{"queries over budget name the request with most", []budget{{Route: "GET /orders", MaxQueries: new(10)}}, 0, false, false, checkBreach,
			[]string{"[12 > 10]", "12 queries in one request, over the budget of 10", "worst: 000000000000a003"}, nil, 0},
		{"errors over budget on every route", []budget{{Route: "*", MaxErrors: new(0)}}, 0, false, false, checkBreach,
			[]string{"FAIL  GET /boom", "FAIL  GET /orders", "ok    GET /api/products", "ok    GET /report", "[3 > 0]",
				"3 requests failed, over the budget of 0", "worst: 000000000000a003", "(the newest failure: status 200, a span with an error)",
				"worst: 000000000000d001", "(the newest failure: status 500)", "FAIL: 2 budgets exceeded on 2 of 4 routes."}, nil, 0},
		{"the strictest of overlapping budgets", []budget{{Route: "*", MaxQueries: new(20)}, {Route: "GET /orders", MaxQueries: new(10)}}, 0, false, false, checkBreach,
			[]string{"FAIL  GET /orders", "[12 > 10]", "FAIL: 1 budget exceeded on 1 of 4 routes."}, nil, 0},
		{"the limits of several budgets add up", []budget{{Route: "GET /orders", NoNPlusOne: true}, {Route: "*", MaxQueries: new(20)}}, 0, false, false, checkBreach,
			[]string{"FAIL  GET /orders", "[3 of 3 at main.go:212 +1]", "ok    GET /boom"}, nil, 3},
		{"a wildcard pattern", []budget{{Route: "GET /api/*", MaxQueries: new(0)}}, 0, false, false, checkBreach,
			[]string{"FAIL  GET /api/products", "[1 > 0]"}, []string{"GET /orders"}, 0},
		{"a pattern for every method", []budget{{Route: "/boom", MaxErrors: new(1)}}, 0, false, false, checkOK, []string{"ok: 1 route"}, nil, 0},
		{"since leaves out older requests", []budget{{Route: "GET /report", MaxP95: new(500 * time.Millisecond)}}, time.Hour, false, false, checkCannot,
			[]string{"6 finished requests that started in the last 1h0m0s", "MISSING  GET /report", "GET /report: no request matched; did the tests run"}, nil, 0},
		{"without since, older requests count", []budget{{Route: "GET /report", MaxP95: new(500 * time.Millisecond)}}, 0, false, false, checkBreach,
			[]string{"[900.0 ms > 500.0 ms]"}, nil, 0},
		{"a route without traffic fails", []budget{{Route: "GET /nothing", MaxQueries: new(1)}}, 0, false, false, checkCannot,
			[]string{"MISSING  GET /nothing  0", "FAIL: no traffic for GET /nothing."}, nil, 0},
		{"a route without traffic, allowed", []budget{{Route: "GET /nothing", MaxQueries: new(1)}}, 0, true, false, checkOK,
			[]string{"ok: 0 routes within budget; no traffic for GET /nothing (allowed)."}, nil, 0},
		{"a breach and a route without traffic: the breach's status", []budget{{Route: "GET /orders", NoNPlusOne: true}, {Route: "GET /nothing", MaxQueries: new(1)}}, 0, false, false, checkBreach,
			[]string{"FAIL     GET /orders", "MISSING  GET /nothing"}, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := shopAPI()
			api := f.start(t)
			var out strings.Builder
			code, err := runCheck(context.Background(), checkConfig{API: api, Budgets: tt.budgets, Since: tt.since, AllowMissing: tt.allowMissing, Verbose: tt.verbose}, &out)
			report := out.String()
			if code != tt.wantCode || (err != nil) != (code != checkOK) {
				t.Fatalf("exit %d (%v), want %d; report:\n%s", code, err, tt.wantCode, report)
			}
			for _, want := range tt.want {
				if want = strings.ReplaceAll(want, "{api}", api); !strings.Contains(report, want) {
					t.Errorf("report lacks %q:\n%s", want, report)
				}
			}
			for _, not := range tt.wantNot {
				if strings.Contains(report, not) {
					t.Errorf("report has %q:\n%s", not, report)
				}
			}
			if got := f.alertReads.Load(); got != tt.wantReads {
				t.Errorf("%d alert lists read, want %d", got, tt.wantReads)
			}
		})
	}
}

// TestCheckReportText: the whole report of a failed check, as a CI log
// shows it.
func TestCheckReportText(t *testing.T) {
	api := shopAPI().start(t)
	var out strings.Builder
	code, err := runCheck(context.Background(), checkConfig{API: api, Budgets: []budget{
		{Route: "GET /orders", NoNPlusOne: true, MaxQueries: new(10), MaxP95: new(100 * time.Millisecond), MaxErrors: new(0)},
		{Route: "GET /api/*", NoNPlusOne: true, MaxQueries: new(5)},
		{Route: "POST /checkout", MaxErrors: new(0)},
	}}, &out)
	if code != checkBreach || err == nil || err.Error() != "4 budgets exceeded" {
		t.Fatalf("exit %d, %v; want 1, 4 budgets exceeded", code, err)
	}
	want := `Tracebar budgets at {api}: 7 finished requests (1 in flight, not counted)
p95: nearest rank of the proxy's durations; [figure > budget]: over budget.

         ROUTE              REQUESTS  P95                    MAX QUERIES  N+1                         ERRORS
ok       GET /api/products  2         6.0 ms                 1            0                           0
FAIL     GET /orders        3         [120.0 ms > 100.0 ms]  [12 > 10]    [3 of 3 at main.go:212 +1]  [3 > 0]
MISSING  POST /checkout     0         -                      -            -                           -

GET /orders
  p95 120.0 ms over the 100.0 ms budget
    worst: 000000000000a003 {api}/requests/000000000000a003 (the slowest, 120.0 ms)
  12 queries in one request, over the budget of 10
    worst: 000000000000a003 {api}/requests/000000000000a003 (12 queries)
  N+1 queries in 3 of 3 requests, none allowed, issued at /src/shop/main.go:212, /src/shop/main.go:230
    worst: 000000000000a002 {api}/requests/000000000000a002 (N+1: the same query ran 4 times under one span (2.0 ms in all): SELECT name FROM products WHERE id = ? (line 212))
  3 requests failed, over the budget of 0
    worst: 000000000000a003 {api}/requests/000000000000a003 (the newest failure: status 200, a span with an error)

POST /checkout: no request matched; did the tests run through this Caddy? (--allow-missing lets a budget go without traffic)

FAIL: 4 budgets exceeded on 1 of 2 routes.
`
	if want = strings.ReplaceAll(want, "{api}", api); out.String() != want {
		t.Fatalf("report:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestCheckAPIErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens
		want    string
	}{
		{"nothing listens", nil, "cannot reach the Tracebar API at " + closed.URL + "/__tracebar"},
		{"not the prefix", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			"404 Not Found: 404 page not found (is --api the site's URL and the tracebar prefix"},
		{"the upstream answered: a client outside allow", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><p>shop")
		}, `answered "text/html; charset=utf-8", not Tracebar's JSON`},
		{"not JSON after all", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{")
		}, "unexpected end of JSON input"},
		{"the alerts fail", func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/alerts") {
				http.Error(w, "boom", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `[{"id":"00000000000000a1","method":"GET","route":"GET /orders","done":true,"status":200}]`)
		}, "500 Internal Server Error: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := closed.URL + "/__tracebar"
			if tt.handler != nil {
				srv := httptest.NewServer(tt.handler)
				t.Cleanup(srv.Close)
				api = srv.URL + "/__tracebar"
			}
			var out strings.Builder
			code, err := runCheck(context.Background(), checkConfig{API: api, Budgets: []budget{{Route: "*", NoNPlusOne: true}}}, &out)
			if code != checkCannot || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("exit %d, %v; want 2 and an error with %q", code, err, tt.want)
			}
			if out.Len() != 0 {
				t.Fatalf("a report without data:\n%s", out.String())
			}
		})
	}
}

// TestCheckEvictedRecord: a record gone between the list and its alerts
// is left out, not an error.
func TestCheckEvictedRecord(t *testing.T) {
	f := shopAPI()
	delete(f.alerts, "000000000000a003")
	var out strings.Builder
	code, err := runCheck(context.Background(), checkConfig{API: f.start(t), Budgets: []budget{{Route: "GET /orders", NoNPlusOne: true}}}, &out)
	if code != checkBreach || !strings.Contains(out.String(), "N+1 queries in 2 of 3 requests") {
		t.Fatalf("exit %d (%v), want 1 with N+1 in 2 of 3:\n%s", code, err, out.String())
	}
}

// TestCheckLeavesOutSessionsAndBackgroundJobs: WebSocket and event-stream
// records last as long as their session, and background jobs are no
// route: the check neither counts them nor lets them breach a budget, and
// its header says how many it left out.
func TestCheckLeavesOutSessionsAndBackgroundJobs(t *testing.T) {
	now := time.Now()
	rec := func(id, route, kind string, ms float64, done bool) checkRecord {
		method, path, _ := strings.Cut(route, " ")
		return checkRecord{ID: id, Method: method, URL: path, Route: route, Status: 200, Done: done,
			StartTime: now.Add(-time.Minute), DurationMs: ms, Queries: 40, Error: true, Kind: kind}
	}
	f := &fakeAPI{
		records: []checkRecord{
			rec("00000000000000e1", "GET /", "", 12, true),
			rec("00000000000000e2", "GET /", toolbar.RecordWebSocket, 60_000, true),
			rec("00000000000000e3", "GET /", toolbar.RecordWebSocket, 0, false), // still open: not in flight either
			rec("00000000000000e4", "GET /events", toolbar.RecordSSE, 30_000, true),
			rec("00000000000000e5", "GET /sync-prices", toolbar.RecordBackground, 9_000, true),
			rec("00000000000000e6", "GET /", "", 0, false),
			rec("00000000000000e7", "GET /", "a-future-kind", 5_000, true),
		},
		alerts: map[string][]toolbar.Alert{"00000000000000e1": {}},
	}
	var out strings.Builder
	code, err := runCheck(context.Background(), checkConfig{API: f.start(t), Verbose: true,
		Budgets: []budget{{Route: "*", MaxP95: new(100 * time.Millisecond), MaxQueries: new(50), MaxErrors: new(1), NoNPlusOne: true}}}, &out)
	report := out.String()
	if code != checkOK || err != nil {
		t.Fatalf("exit %d (%v), want 0: only GET / at 12 ms counts:\n%s", code, err, report)
	}
	header := "1 finished requests (1 in flight, 1 a-future-kind record, 1 background job, 1 event stream, 2 WebSocket sessions, not counted)\n"
	for _, want := range []string{header, "ok  GET /  1         12.0 ms", "ok: 1 route within budget."} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	for _, not := range []string{"/events", "/sync-prices"} {
		if strings.Contains(report, not) {
			t.Errorf("report names %s, not a request:\n%s", not, report)
		}
	}
	if got := f.alertReads.Load(); got != 1 {
		t.Errorf("%d alert lists read, want the one request's", got)
	}
}

func TestCheckReadEventsCountsEventsNotComments(t *testing.T) {
	stream := "event: request\ndata: {\"id\":\"a\"}\n\n: keep-alive\n\ndata: event: not a field\n\nevent: request\ndata: {}\n\nevent:request\n"
	n := 0
	readEvents(strings.NewReader(stream), func() { n++ })
	if n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
}

// fakeClock gives settle timers that fire when the test says.
type fakeClock struct {
	timers chan *fakeTimer // each timer made, in order: the limit, then the lull
}

func (c *fakeClock) newTimer(d time.Duration) checkTimer {
	ft := &fakeTimer{d: d, c: make(chan time.Time, 1), resets: make(chan time.Duration, 64)}
	c.timers <- ft
	return ft
}

// next is the next timer settle made.
func (c *fakeClock) next(t *testing.T, want time.Duration) *fakeTimer {
	t.Helper()
	ft := <-c.timers
	if ft.d != want {
		t.Fatalf("a timer of %v, want %v", ft.d, want)
	}
	return ft
}

type fakeTimer struct {
	d      time.Duration
	c      chan time.Time
	resets chan time.Duration
}

func (f *fakeTimer) Chan() <-chan time.Time { return f.c }

// Reset drops a fire not yet received, as a *time.Timer's does.
func (f *fakeTimer) Reset(d time.Duration) bool {
	select {
	case <-f.c:
	default:
	}
	f.resets <- d
	return true
}

func (f *fakeTimer) Stop() bool { return true }
func (f *fakeTimer) fire()      { f.c <- time.Time{} }

// TestCheckSettle drives the history stream and settle's timers by hand:
// an event restarts the lull; the lull's end is quiet; the limit's is not,
// and not an error; the stream's end and its absence are errors.
func TestCheckSettle(t *testing.T) {
	const quiet, limit = 2 * time.Second, time.Minute
	event := "event: request\ndata: {}\n\n"
	tests := []struct {
		name      string
		status    int // of the stream; 0: 200
		drive     func(t *testing.T, send func(string), clock *fakeClock, stop context.CancelFunc)
		wantQuiet bool
		wantErr   error  // errors.Is
		wantText  string // in the error
	}{
		{"quiet once the events stop", 0, func(t *testing.T, send func(string), clock *fakeClock, stop context.CancelFunc) {
			clock.next(t, limit)
			lull := clock.next(t, quiet)
			for range 3 {
				send(event)
				if d := <-lull.resets; d != quiet {
					t.Errorf("the lull restarted for %v, want %v", d, quiet)
				}
			}
			lull.fire()
		}, true, nil, ""},
		{"never quiet: gives up at the limit", 0, func(t *testing.T, send func(string), clock *fakeClock, stop context.CancelFunc) {
			giveUp := clock.next(t, limit)
			lull := clock.next(t, quiet)
			send(event)
			<-lull.resets
			giveUp.fire()
		}, false, nil, ""},
		{"the limit passes before the stream answers", http.StatusProcessing, func(t *testing.T, send func(string), clock *fakeClock, stop context.CancelFunc) {
			clock.next(t, limit).fire()
		}, false, nil, ""},
		{"the caller stops", 0, func(t *testing.T, send func(string), clock *fakeClock, stop context.CancelFunc) {
			clock.next(t, limit)
			clock.next(t, quiet)
			stop()
		}, false, context.Canceled, ""},
		{"the stream ends", 0, func(t *testing.T, send func(string), clock *fakeClock, stop context.CancelFunc) {
			clock.next(t, limit)
			lull := clock.next(t, quiet)
			send(event)
			<-lull.resets
			send("") // the handler returns
		}, false, nil, "the stream ended"},
		{"no stream", http.StatusNotFound, func(t *testing.T, send func(string), clock *fakeClock, stop context.CancelFunc) {
			clock.next(t, limit)
		}, false, nil, "404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := make(chan string)
			mux := http.NewServeMux()
			mux.HandleFunc("GET /__tracebar/api/requests/stream", func(w http.ResponseWriter, r *http.Request) {
				switch tt.status {
				case http.StatusNotFound:
					http.NotFound(w, r)
					return
				case http.StatusProcessing: // no answer until the client goes
					<-r.Context().Done()
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				for {
					select {
					case <-r.Context().Done():
						return
					case line := <-lines:
						if line == "" {
							return
						}
						fmt.Fprint(w, line)
						w.(http.Flusher).Flush()
					}
				}
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			clock := &fakeClock{timers: make(chan *fakeTimer, 2)}
			c := newCheckClient(srv.URL + "/__tracebar")
			c.newTimer = clock.newTimer
			type result struct {
				quiet bool
				err   error
			}
			done := make(chan result, 1)
			go func() {
				quiet, err := c.settle(ctx, quiet, limit)
				done <- result{quiet, err}
			}()
			send := func(line string) {
				select {
				case lines <- line:
				case r := <-done:
					t.Fatalf("settle returned (%v, %v) before the stream sent %q", r.quiet, r.err, line)
				}
			}
			tt.drive(t, send, clock, stop)
			got := <-done
			switch {
			case tt.wantText != "":
				if got.err == nil || !strings.Contains(got.err.Error(), tt.wantText) {
					t.Fatalf("error %v, want one with %q", got.err, tt.wantText)
				}
			case tt.wantErr != nil:
				if !errors.Is(got.err, tt.wantErr) || got.quiet {
					t.Fatalf("quiet %v, %v; want false, %v", got.quiet, got.err, tt.wantErr)
				}
			case got.err != nil || got.quiet != tt.wantQuiet:
				t.Fatalf("quiet %v, %v; want %v", got.quiet, got.err, tt.wantQuiet)
			}
		})
	}
}

// TestCheckSecret: with TRACEBAR_SECRET, the check first takes the cookie
// that <prefix>/enable hands out for the secret.
func TestCheckSecret(t *testing.T) {
	const secret = "a-secret-of-16-chars"
	f := shopAPI()
	inner := f.start(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /__tracebar/enable", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("secret") != secret {
			http.Error(w, "tracebar: wrong secret", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "tracebar", Value: "ok", Path: "/", HttpOnly: true})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("tracebar"); err != nil || c.Value != "ok" { // the upstream answers
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<p>shop")
			return
		}
		resp, err := http.Get(strings.TrimSuffix(inner, "/__tracebar") + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tests := []struct {
		name     string
		secret   string
		wantCode int
		wantErr  string
	}{
		{"the right secret", secret, checkOK, ""},
		{"a wrong secret", "not-the-secret-at-all", checkCannot, "TRACEBAR_SECRET is not the tracebar directive's secret"},
		{"no secret", "", checkCannot, "not Tracebar's JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			cfg := checkConfig{API: srv.URL + "/__tracebar", Budgets: []budget{{Route: "GET /api/products", NoNPlusOne: true}}, Secret: tt.secret}
			code, err := runCheck(context.Background(), cfg, &out)
			if code != tt.wantCode || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("exit %d, %v; want %d and %q:\n%s", code, err, tt.wantCode, tt.wantErr, out.String())
			}
		})
	}
}
