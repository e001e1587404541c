package tests

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// alert is one of GET <prefix>/api/requests/{id}/alerts.
type alert struct {
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	SpanID   string `json:"spanId"`
	Header   string `json:"header"`
	Code     *struct {
		File string `json:"file"`
		Line int    `json:"line"`
	} `json:"code"`
}

func alertsOf(t testing.TB, e *env, id string) []alert {
	t.Helper()
	var list []alert
	readAPI(t, e, "/requests/"+id+"/alerts", 200, &list)
	if list == nil {
		t.Fatalf("alerts of %s: null, want an array", id)
	}
	for _, a := range list {
		if a.Message == "" || !slices.Contains([]string{"error", "warning", "info"}, a.Severity) {
			t.Fatalf("alert %+v: want a message and a severity of error, warning or info", a)
		}
	}
	return list
}

func kinds(list []alert) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.Kind)
	}
	return out
}

func alertOf(list []alert, kind string) (alert, bool) {
	for _, a := range list {
		if a.Kind == kind {
			return a, true
		}
	}
	return alert{}, false
}

// spanIDs is the set of the spans' ids.
func spanIDs(spans []span) map[string]span {
	out := map[string]span{}
	for _, s := range spans {
		out[s.SpanID] = s
	}
	return out
}

// TestAlertsOnTheDemoApp: each page of the demo app that does something a
// developer would want to hear about gets that alert, pointing at the
// span, header or line of code; a clean page gets none.
func TestAlertsOnTheDemoApp(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	const slowQuery = 150 * time.Millisecond
	e.startCaddy(t, strings.Replace(basicCaddyfile, "\t\tzipkin {zipkin}\n", fmt.Sprintf("\t\tzipkin {zipkin}\n\t\tslow_query %s\n", slowQuery), 1), app)
	source, err := os.ReadFile("demoapp/main.go")
	if err != nil {
		t.Fatal(err)
	}
	alertsSource, err := os.ReadFile("demoapp/alerts.go")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("n_plus_one names the line that issued the queries", func(t *testing.T) {
		orders := loadThroughProxy(t, e, "shop-web", "/orders", "", nil, "Accept", "text/html")
		list := alertsOf(t, e, orders.id)
		a, ok := alertOf(list, "n_plus_one")
		if !ok {
			t.Fatalf("no n_plus_one among %v", kinds(list))
		}
		var issued []span
		for _, s := range orders.spans {
			if s.Service == "shop-web" && strings.HasPrefix(s.attr("db.query.text"), "SELECT name, price_cents FROM products WHERE id = ") {
				issued = append(issued, s)
			}
		}
		if len(issued) < 3 {
			t.Fatalf("%d per-order queries, want an N+1:%s", len(issued), describe(orders.spans))
		}
		wantLine := lineOf(t, source, `s.query(ctx, fmt.Sprintf("SELECT name, price_cents FROM products WHERE id = %d"`)
		if issued[0].attr("code.line.number") != fmt.Sprint(wantLine) || !strings.HasSuffix(issued[0].attr("code.file.path"), "/tests/demoapp/main.go") {
			t.Fatalf("the app's per-order queries say code.* %s:%s, want main.go:%d", issued[0].attr("code.file.path"), issued[0].attr("code.line.number"), wantLine)
		}
		if a.Code == nil || a.Code.File != issued[0].attr("code.file.path") || a.Code.Line != wantLine {
			t.Fatalf("n_plus_one's code %+v, want %s:%d", a.Code, issued[0].attr("code.file.path"), wantLine)
		}
		if _, known := spanIDs(orders.spans)[a.SpanID]; a.SpanID != "" && !known {
			t.Fatalf("n_plus_one names span %s, not one of the trace's", a.SpanID)
		}
		// The coupon that failed is on a span with an exception event.
		coupon, _ := find(orders.spans, "shop-web", "apply coupon")
		if !slices.ContainsFunc(list, func(a alert) bool { return a.Kind == "error_span" && a.SpanID == coupon.SpanID }) {
			t.Fatalf("no error_span for the coupon's span %s: %+v", coupon.SpanID, list)
		}
	})

	t.Run("error_span for the failed checkout", func(t *testing.T) {
		boom := loadThroughProxy(t, e, "shop-web", "/boom", "", nil)
		server, _ := appServerOf(boom.spans, "shop-web", boom.id)
		list := alertsOf(t, e, boom.id)
		a, ok := alertOf(list, "error_span")
		for _, x := range list {
			if x.Kind == "error_span" && x.SpanID == server.SpanID {
				a, ok = x, true
			}
		}
		if !ok || a.SpanID != server.SpanID || a.Severity != "error" || !strings.Contains(a.Message, "card declined") {
			t.Fatalf("alerts %+v: want an error_span on the app's span %s that says why", list, server.SpanID)
		}
		// The stack trace the Go SDK recorded names the handler's file.
		for _, ev := range spanEvents(t, e, boom.traceID)[server.SpanID] {
			if ev.Name == "exception" && !strings.Contains(ev.attr("exception.stacktrace"), "main.(*shop).boom(") {
				t.Fatalf("exception stack trace lacks the handler: %q", ev.attr("exception.stacktrace"))
			}
		}
	})

	t.Run("slow_query over the configured threshold", func(t *testing.T) {
		report := loadThroughProxy(t, e, "shop-web", "/report", "", nil)
		var query span
		for _, s := range report.spans {
			if s.Service == "shop-web" && strings.HasPrefix(s.attr("db.query.text"), "WITH RECURSIVE sale") {
				query = s
			}
		}
		if d := spanDuration(t, e, report.traceID, query.SpanID); d < slowQuery {
			t.Fatalf("the report's query took %v, under the %v threshold: not slow enough here", d, slowQuery)
		}
		list := alertsOf(t, e, report.id)
		a, ok := alertOf(list, "slow_query")
		wantLine := lineOf(t, alertsSource, `s.queryTable(r.Context(), "sales"`)
		if !ok || a.SpanID != query.SpanID || a.Code == nil || a.Code.Line != wantLine || !strings.HasSuffix(a.Code.File, "/tests/demoapp/alerts.go") {
			t.Fatalf("alerts %+v: want slow_query on span %s at alerts.go:%d", list, query.SpanID, wantLine)
		}
	})

	t.Run("sequential_calls to the inventory", func(t *testing.T) {
		avail := loadThroughProxy(t, e, "shop-web", "/availability", "", nil)
		calls := map[string]bool{}
		for _, s := range avail.spans {
			if s.Service == "shop-web" && s.Kind == 3 && s.attr("db.query.text") == "" {
				calls[s.SpanID] = true
			}
		}
		server, _ := appServerOf(avail.spans, "shop-web", avail.id)
		list := alertsOf(t, e, avail.id)
		a, ok := alertOf(list, "sequential_calls")
		if len(calls) != 3 || !ok || (a.SpanID != server.SpanID && !calls[a.SpanID]) {
			t.Fatalf("%d calls; alerts %+v: want sequential_calls on the calls or their parent %s", len(calls), list, server.SpanID)
		}
	})

	t.Run("cookie_flags on a cookie without HttpOnly", func(t *testing.T) {
		cart := loadThroughProxy(t, e, "shop-web", "/cart", "", nil, "Accept", "text/html")
		list := alertsOf(t, e, cart.id)
		a, ok := alertOf(list, "cookie_flags")
		if !ok || !strings.EqualFold(a.Header, "Set-Cookie") || !strings.Contains(a.Message, "HttpOnly") {
			t.Fatalf("alerts %+v: want cookie_flags on Set-Cookie about HttpOnly", list)
		}
	})

	t.Run("redirect_chain of two hops, not of one", func(t *testing.T) {
		// The client follows each redirect: /old-orders -> /orders, then
		// /very-old-orders -> /old-orders -> /orders.
		for _, tt := range []struct {
			path  string
			chain bool
		}{{"/old-orders", false}, {"/very-old-orders", true}} {
			orders := loadThroughProxy(t, e, "shop-web", tt.path, "", nil, "Accept", "text/html")
			var rec struct{ URL string }
			readAPI(t, e, "/requests/"+orders.id, 200, &rec)
			if rec.URL != "/orders" {
				t.Fatalf("%s: the followed redirects ended at %q", tt.path, rec.URL)
			}
			if list := alertsOf(t, e, orders.id); slices.Contains(kinds(list), "redirect_chain") != tt.chain {
				t.Fatalf("from %s: alerts %+v, want redirect_chain %v", tt.path, list, tt.chain)
			}
		}
	})

	t.Run("a clean request has none", func(t *testing.T) {
		products := loadThroughProxy(t, e, "shop-web", "/api/products", "", func(spans []span) bool { _, ok := find(spans, "inventory", "compute stock"); return ok })
		if list := alertsOf(t, e, products.id); len(list) != 0 {
			t.Fatalf("alerts on /api/products: %+v", list)
		}
	})

	readAPI(t, e, "/requests/00000000000000ff/alerts", 404, nil)
}

// TestAlertsUncompressed: a text response over 1 KB that reaches a client
// accepting gzip without Content-Encoding is an uncompressed alert when
// the client's Accept-Encoding reached the app (JSON), and not when
// Tracebar dropped it (a page that may get the toolbar: the app never saw
// the offer) nor when encode in front of Tracebar compressed it.
func TestAlertsUncompressed(t *testing.T) {
	// The app compresses what it may, as compression middleware does, but
	// for its JSON API, which it never compresses.
	page := "<!doctype html><html><head><title>Orders</title></head><body>" + strings.Repeat("<p>order</p>", 400) + "</body></html>"
	data := `{"items":[` + strings.Repeat(`{"sku":"A-1","qty":1},`, 200) + `{}]}`
	seen := make(chan string, 16) // the Accept-Encoding of each request the app got
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Accept-Encoding")
		if r.URL.Path == "/data.json" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, data)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			io.WriteString(w, page)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, page)
		zw.Close()
	}))
	defer app.Close()

	tests := []struct {
		name, encode, path, accept string
		dropped                    bool // Tracebar dropped the client's Accept-Encoding
		gzipped, want              bool
	}{
		{"JSON the app sent as is", "", "/data.json", "application/json", false, false, true},
		{"a page whose Accept-Encoding Tracebar dropped", "", "/orders", "text/html", true, false, false},
		{"JSON that encode compressed", "gzip", "/data.json", "application/json", false, true, false},
		{"a page that encode compressed", "gzip", "/orders", "text/html", true, true, false},
	}
	envs := map[string]*env{} // by encode
	for _, encode := range []string{"", "gzip"} {
		e := newEnv(t)
		handler := "\ttracebar\n"
		if encode != "" {
			handler = "\tencode " + encode + "\n" + handler
		}
		e.startCaddy(t, strings.Replace(basicCaddyfile, "\ttracebar\n", handler, 1), strings.TrimPrefix(app.URL, "http://"))
		envs[encode] = e
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := envs[tt.encode]
			resp, body := get(t, e.base+tt.path, "Accept", tt.accept, "Accept-Encoding", "gzip, br")
			if got := resp.Header.Get("Content-Encoding"); (got == "gzip") != tt.gzipped || len(body) == 0 {
				t.Fatalf("Content-Encoding %q, %d bytes", got, len(body))
			}
			// The app got the client's offer, or Go's transport's own,
			// which it decodes before Tracebar sees the body.
			if got, want := <-seen, map[bool]string{false: "gzip, br", true: "gzip"}[tt.dropped]; got != want {
				t.Fatalf("the app got Accept-Encoding %q, want %q", got, want)
			}
			traceID, id := traceOf(t, resp)
			rec := doneRecord[sentRecord](t, e, traceID, id)
			if rec.ClientBytes <= 1024 || rec.AcceptEncodingDropped != tt.dropped {
				t.Fatalf("record: %d bytes to the client, Accept-Encoding dropped %v; want over 1 KB, %v", rec.ClientBytes, rec.AcceptEncodingDropped, tt.dropped)
			}
			list := alertsOf(t, e, id)
			a, ok := alertOf(list, "uncompressed")
			if ok != tt.want || (ok && (a.Header != "Content-Encoding" || !strings.Contains(a.Message, "gzip, br"))) {
				t.Fatalf("alerts %+v: want uncompressed %v, on Content-Encoding, naming what the client accepts", list, tt.want)
			}
		})
	}
}

// sentRecord is what the alerts tests read of a record.
type sentRecord struct {
	ID                    string `json:"id"`
	Done                  bool   `json:"done"`
	ClientBytes           int64  `json:"clientBytes"`
	AcceptEncodingDropped bool   `json:"acceptEncodingDropped"`
}

// spanDuration returns how long the trace's span id lasted.
func spanDuration(t testing.TB, e *env, traceID, id string) time.Duration {
	t.Helper()
	for _, s := range traceSpans(t, e, traceID) {
		if s.SpanID == id {
			var start, end int64
			fmt.Sscan(s.Start, &start)
			fmt.Sscan(s.End, &end)
			return time.Duration(end - start)
		}
	}
	t.Fatalf("no span %s in trace %s", id, traceID)
	return 0
}
