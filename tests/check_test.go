package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkSummary is one entry of GET <prefix>/api/requests.
type checkSummary struct {
	ID         string  `json:"id"`
	Route      string  `json:"route"`
	Done       bool    `json:"done"`
	DurationMs float64 `json:"durationMs"`
	Queries    int     `json:"queries"`
}

// loadRoute GETs path through the proxy as a browser would and waits until
// the app's SERVER span, which the SDK exports after its queries' spans,
// is in the store: the alerts and query counts need them. It returns the
// record's id.
func loadRoute(t *testing.T, e *env, path string) string {
	t.Helper()
	resp, _ := get(t, e.base+path, "Accept", "text/html")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	traceID, id := traceOf(t, resp)
	waitSpans(t, e.base, traceID, func(spans []span) bool {
		proxy, app := false, false
		for _, s := range spans {
			proxy = proxy || s.SpanID == id
			app = app || s.Service == "shop-web" && s.Kind == 2 && s.attr("http.route") != ""
		}
		return proxy && app
	})
	return id
}

// runCheckCommand runs caddy tracebar check with args and returns its exit
// status and output.
func runCheckCommand(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, append([]string{"tracebar", "check"}, args...)...)
	dir := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir, "TRACEBAR_SECRET=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("caddy tracebar check: %v", err)
	}
	return code, out.String(), errOut.String()
}

// TestCheckCommand: caddy tracebar check, after the demo's pages went
// through a real Caddy, fails on the N+1 of /orders and names its line,
// passes on /api/products, and says why it cannot check.
func TestCheckCommand(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)
	api := e.base + "/__tracebar"
	source, err := os.ReadFile("demoapp/main.go")
	if err != nil {
		t.Fatal(err)
	}
	nPlusOneAt := fmt.Sprintf("/tests/demoapp/main.go:%d", lineOf(t, source, `s.query(ctx, fmt.Sprintf("SELECT name, price_cents FROM products WHERE id = %d"`))

	ids := map[string][]string{} // record ids by route
	for _, path := range []string{"/orders", "/api/products", "/orders", "/api/products"} {
		ids["GET "+path] = append(ids["GET "+path], loadRoute(t, e, path))
	}
	var summaries []checkSummary
	readAPI(t, e, "/requests", 200, &summaries)
	var products []float64
	for _, s := range summaries {
		if !slices.Contains(ids[s.Route], s.ID) || !s.Done {
			t.Fatalf("summary %+v: want a finished request of the loads %v", s, ids)
		}
		if s.Route == "GET /api/products" {
			products = append(products, s.DurationMs)
		}
	}
	if len(summaries) != 4 {
		t.Fatalf("%d requests in the store, want the 4 loads", len(summaries))
	}
	// Nearest rank over two requests: the slower one.
	productsP95 := fmt.Sprintf("%.1f ms", slices.Max(products))

	budgets := filepath.Join(t.TempDir(), "budgets.json")
	if err := os.WriteFile(budgets, []byte(`[
		{"route": "GET /orders", "noNPlusOne": true},
		{"route": "GET /api/*", "maxQueries": 5, "noNPlusOne": true, "maxP95": "30s"}
	]`), 0o644); err != nil {
		t.Fatal(err)
	}
	unreachable := fmt.Sprintf("http://127.0.0.1:%d/__tracebar", freePort(t))

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string
		wantNotOut []string
		wantErr    string // in the error Caddy logs
	}{
		{"the N+1 of /orders fails and names its line",
			[]string{"--api", api, "--route", "GET /orders", "--no-n-plus-one"}, 1,
			[]string{"FAIL  GET /orders  2", "N+1 queries in 2 of 2 requests, none allowed, issued at ", nPlusOneAt,
				"worst: ", "N+1: the same query ran", "FAIL: 1 budget exceeded on 1 of 1 route."},
			[]string{"GET /api/products"}, "1 budget exceeded"},
		{"/api/products keeps its budget",
			[]string{"--api", api, "--route", "GET /api/products", "--no-n-plus-one", "--max-queries", "5", "--verbose"}, 0,
			[]string{"ok  GET /api/products  2  " /* tabwriter pads the rest */, productsP95, "ok: 1 route within budget."},
			[]string{"FAIL", "worst:"}, ""},
		{"a budgets file, after the stream settled",
			[]string{"--api", api, "--budgets", budgets, "--settle", "200ms"}, 1,
			[]string{"FAIL  GET /orders", "ok    GET /api/products", nPlusOneAt, "FAIL: 1 budget exceeded on 1 of 2 routes."}, nil, "1 budget exceeded"},
		{"a route without traffic cannot be checked",
			[]string{"--api", api, "--route", "GET /cart", "--max-queries", "5"}, 2,
			[]string{"MISSING  GET /cart", "FAIL: no traffic for GET /cart."}, nil, "no request matched GET /cart"},
		{"a route without traffic, allowed",
			[]string{"--api", api, "--route", "GET /cart", "--max-queries", "5", "--allow-missing"}, 0,
			[]string{"ok: 0 routes within budget; no traffic for GET /cart (allowed)."}, nil, ""},
		{"since leaves out the earlier loads",
			[]string{"--api", api, "--route", "GET /orders", "--no-n-plus-one", "--since", "1ms"}, 2,
			[]string{"0 finished requests that started in the last 1ms"}, nil, "no request matched GET /orders"},
		{"an API that cannot be reached",
			[]string{"--api", unreachable, "--no-n-plus-one"}, 2, nil, nil, "cannot reach the Tracebar API at " + unreachable},
		{"the site without the prefix",
			[]string{"--api", e.base, "--no-n-plus-one"}, 2, nil, nil, "is --api the site's URL and the tracebar prefix"},
		{"a bad flag",
			[]string{"--api", api, "--max-p95", "soon"}, 2, nil, nil, `invalid argument \"soon\" for \"--max-p95\"`},
		{"no budget", []string{"--api", api}, 2, nil, nil, "no budget"},
	}
	worst := regexp.MustCompile(`worst: ([0-9a-f]{16}) (\S+)`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCheckCommand(t, tt.args...)
			t.Logf("caddy tracebar check %s: exit %d\n%s", strings.Join(tt.args, " "), code, stdout)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(stdout, want) {
					t.Errorf("report lacks %q:\n%s", want, stdout)
				}
			}
			for _, not := range tt.wantNotOut {
				if strings.Contains(stdout, not) {
					t.Errorf("report has %q:\n%s", not, stdout)
				}
			}
			if !strings.Contains(stderr, tt.wantErr) || (tt.wantErr == "") != (stderr == "") {
				t.Errorf("stderr %q, want the error %q", stderr, tt.wantErr)
			}
			// Each breach names a request of the route that breached, and
			// its toolbar page opens.
			for _, m := range worst.FindAllStringSubmatch(stdout, -1) {
				if !slices.Contains(ids["GET /orders"], m[1]) || m[2] != api+"/requests/"+m[1] {
					t.Errorf("worst request %s at %s: want one of /orders's %v at %s/requests/<id>", m[1], m[2], ids["GET /orders"], api)
				}
				if resp, _ := get(t, m[2], "Accept", "text/html"); resp.StatusCode != 200 {
					t.Errorf("GET %s: %s", m[2], resp.Status)
				}
			}
		})
	}
}

// TestCheckCommandLeavesOutSessions: a WebSocket's record lasts the whole
// session, so the check does not count it: a p95 budget on its route
// finds no request, and the report says what it left out.
func TestCheckCommandLeavesOutSessions(t *testing.T) {
	e := newEnv(t)
	up := startEchoWebSocket(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, up.hostport)
	res := chat(t, e.base, up, nil)
	traceID, id := traceOf(t, res.resp)
	if rec := doneRecord[sessionRecord](t, e, traceID, id); rec.Kind != "websocket" || rec.Session.DurationMs <= 0 {
		t.Fatalf("record %+v: want a websocket session that lasted", rec)
	}
	code, stdout, stderr := runCheckCommand(t, "--api", e.base+"/__tracebar", "--route", "/chat", "--max-p95", "1ns")
	if code != 2 || !strings.Contains(stdout, ": 0 finished requests (1 WebSocket session, not counted)\n") ||
		!strings.Contains(stdout, "MISSING  /chat") || !strings.Contains(stderr, "no request matched /chat") {
		t.Fatalf("exit %d, want 2 with the session left out\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
