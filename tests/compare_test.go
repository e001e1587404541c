package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// comparison is GET <prefix>/api/requests/{id}/compare.
type comparison struct {
	Request    string  `json:"request"`
	Baseline   *string `json:"baseline"`
	Route      string  `json:"route"`
	DurationMs struct {
		Request, Baseline float64
	} `json:"durationMs"`
	Spans struct {
		Added, Removed []struct {
			Service, Name, Key string
			Count              int
			TotalMs            float64
		}
		Changed []struct {
			Service, Name, Key string
			Count              struct{ Request, Baseline int }
			TotalMs            struct{ Request, Baseline float64 }
			DeltaMs            float64
		}
	} `json:"spans"`
	Queries []struct {
		Shape, System     string
		Request, Baseline struct {
			Count   int
			TotalMs float64
		}
		NPlusOne struct{ Request, Baseline bool }
	} `json:"queries"`
}

// proxied is one request through the proxy: its record id (the proxy's span)
// and trace, and the trace's spans once the app has answered it.
type proxied struct {
	id, traceID string
	spans       []span
}

// loadThroughProxy sends method path (GET unless body is given: then a POST
// of JSON) through the proxy and waits until the trace holds the proxy's
// span and the SERVER span of service that answered it, and whatever more
// complete asks for (nil: nothing).
func loadThroughProxy(t testing.TB, e *env, service, path, body string, complete func([]span) bool, header ...string) proxied {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.base+path, nil)
	if body != "" {
		req, err = http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	traceID, id := traceOf(t, resp)
	spans := waitSpans(t, e.base, traceID, func(spans []span) bool {
		_, served := appServerOf(spans, service, id)
		return served && (complete == nil || complete(spans))
	})
	return proxied{id: id, traceID: traceID, spans: spans}
}

// appServerOf returns the SERVER span of service that the proxy's
// CLIENT span under the proxy span id called, once the proxy span itself
// is there too.
func appServerOf(spans []span, service, id string) (span, bool) {
	proxyDone := false
	clients := map[string]bool{}
	for _, s := range spans {
		if s.SpanID == id {
			proxyDone = true
		}
		if s.Service == "caddy" && s.Kind == 3 && s.ParentSpanID == id {
			clients[s.SpanID] = true
		}
	}
	for _, s := range spans {
		if proxyDone && s.Service == service && s.Kind == 2 && clients[s.ParentSpanID] {
			return s, true
		}
	}
	return span{}, false
}

// readAPI GETs a Tracebar API path and decodes its JSON into v, failing
// unless the status is want.
func readAPI(t testing.TB, e *env, path string, want int, v any) {
	t.Helper()
	resp, body := get(t, e.base+"/__tracebar/api"+path)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d: %.300s", path, resp.StatusCode, want, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %.300s", path, err, body)
		}
	}
}

func compareOf(t testing.TB, e *env, id, with string) comparison {
	t.Helper()
	path := "/requests/" + id + "/compare"
	if with != "" {
		path += "?with=" + with
	}
	var c comparison
	readAPI(t, e, path, 200, &c)
	return c
}

// countStatement counts the spans of service whose db.query.text is sql.
func countStatement(spans []span, service, sql string) int {
	n := 0
	for _, s := range spans {
		if s.Service == service && s.attr("db.query.text") == sql {
			n++
		}
	}
	return n
}

// shapeCounts checks the comparison's entry for shape: the counts of both
// loads, and the N+1 flag where the rule puts it (3+ under one parent;
// the apps issue these queries from one span).
func shapeCounts(t testing.TB, c comparison, shape string, request, baseline int) {
	t.Helper()
	for _, q := range c.Queries {
		if q.Shape != shape {
			continue
		}
		if q.Request.Count != request || q.Baseline.Count != baseline {
			t.Fatalf("%q: counts %d vs %d, want %d (this load) vs %d (baseline)", shape, q.Request.Count, q.Baseline.Count, request, baseline)
		}
		if q.NPlusOne.Request != (request >= 3) || q.NPlusOne.Baseline != (baseline >= 3) {
			t.Fatalf("%q: N+1 flags %+v for %d vs %d queries under one span", shape, q.NPlusOne, request, baseline)
		}
		if q.System != "sqlite" || q.Request.TotalMs < 0 || q.Baseline.TotalMs < 0 || (baseline == 0 && q.Baseline.TotalMs != 0) {
			t.Fatalf("%q: system %q, total ms %+v / %+v", shape, q.System, q.Request, q.Baseline)
		}
		return
	}
	t.Fatalf("no query %q in the comparison: %+v", shape, c.Queries)
}

func durationOf(t testing.TB, e *env, id string) float64 {
	t.Helper()
	var rec struct {
		DurationMs float64 `json:"durationMs"`
	}
	readAPI(t, e, "/requests/"+id, 200, &rec)
	return rec.DurationMs
}

const cartItemQuery = "SELECT name, price_cents FROM products WHERE id = ?"

// TestCompareSeesTheQueryThatGrew: the demo app's cart page issues one
// more query per load. Each load's comparison picks the previous load of
// the same route as the baseline (never a newer record of another route),
// counts the per-item query in both, says where the N+1 starts, and
// another baseline can be asked for.
func TestCompareSeesTheQueryThatGrew(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)
	withStock := func(spans []span) bool { _, ok := find(spans, "inventory", "compute stock"); return ok }

	index := loadThroughProxy(t, e, "shop-web", "/", "", withStock, "Accept", "text/html")
	var cart []proxied
	var other proxied
	for i := range 3 {
		cart = append(cart, loadThroughProxy(t, e, "shop-web", "/cart", "", nil, "Accept", "text/html"))
		if i == 0 {
			other = loadThroughProxy(t, e, "shop-web", "/api/products", "", withStock) // newer than the first cart load
		}
	}
	var items []int
	for _, l := range cart {
		items = append(items, countStatement(l.spans, "shop-web", cartItemQuery))
	}
	for i := 1; i < len(items); i++ {
		if items[i] != items[i-1]+1 {
			t.Fatalf("the cart's per-item queries per load: %v, want one more each load", items)
		}
	}

	first := compareOf(t, e, cart[0].id, "")
	if first.Request != cart[0].id || first.Baseline != nil || first.Route != "GET /cart" || first.DurationMs.Baseline != 0 {
		t.Fatalf("first cart load: %+v; want no baseline (earlier records are other routes), route GET /cart", first)
	}
	shapeCounts(t, first, cartItemQuery, items[0], 0)

	cameAt := -1
	for i := 1; i < len(cart); i++ {
		c := compareOf(t, e, cart[i].id, "")
		if c.Baseline == nil || *c.Baseline != cart[i-1].id || c.Request != cart[i].id || c.Route != "GET /cart" {
			t.Fatalf("load %d: request %s baseline %v route %q; want baseline %s (the previous cart load, not %s of /api/products)",
				i+1, c.Request, c.Baseline, c.Route, cart[i-1].id, other.id)
		}
		if math.Abs(c.DurationMs.Request-durationOf(t, e, cart[i].id)) > 0.1 || math.Abs(c.DurationMs.Baseline-durationOf(t, e, cart[i-1].id)) > 0.1 {
			t.Fatalf("load %d: durations %+v are not the records'", i+1, c.DurationMs)
		}
		shapeCounts(t, c, cartItemQuery, items[i], items[i-1])
		if items[i] >= 3 && items[i-1] < 3 {
			cameAt = i
		}
		// The per-item query's span key: the same span name and statement shape.
		changed := false
		for _, s := range c.Spans.Changed {
			if s.Service == "shop-web" && s.Name == "SELECT products" && strings.Contains(s.Key, cartItemQuery) {
				changed = s.Count.Request == items[i] && s.Count.Baseline == items[i-1] &&
					math.Abs(s.DeltaMs-(s.TotalMs.Request-s.TotalMs.Baseline)) < 0.05
			}
		}
		if !changed {
			t.Fatalf("load %d: changed spans lack the per-item query at %d vs %d: %+v", i+1, items[i], items[i-1], c.Spans.Changed)
		}
		if !sort.SliceIsSorted(c.Spans.Changed, func(a, b int) bool {
			return math.Abs(c.Spans.Changed[a].DeltaMs) > math.Abs(c.Spans.Changed[b].DeltaMs)
		}) {
			t.Fatalf("load %d: changed spans not sorted by |deltaMs|: %+v", i+1, c.Spans.Changed)
		}
		if len(c.Spans.Added)+len(c.Spans.Removed) != 0 {
			t.Fatalf("load %d: two loads of one page added %+v, removed %+v", i+1, c.Spans.Added, c.Spans.Removed)
		}
	}
	if cameAt < 0 {
		t.Fatalf("no load crossed into an N+1 (per-item queries %v)", items)
	}

	// Another baseline on request: the first load, or another route's record.
	last := cart[len(cart)-1]
	c := compareOf(t, e, last.id, cart[0].id)
	if c.Baseline == nil || *c.Baseline != cart[0].id {
		t.Fatalf("?with=%s: baseline %v", cart[0].id, c.Baseline)
	}
	shapeCounts(t, c, cartItemQuery, items[len(items)-1], items[0])
	c = compareOf(t, e, last.id, other.id)
	if c.Baseline == nil || *c.Baseline != other.id {
		t.Fatalf("?with=%s: baseline %v", other.id, c.Baseline)
	}
	shapeCounts(t, c, cartItemQuery, items[len(items)-1], 0)
	keys := func(list []struct {
		Service, Name, Key string
		Count              int
		TotalMs            float64
	}) string {
		var out []string
		for _, s := range list {
			out = append(out, s.Key)
		}
		return strings.Join(out, " | ")
	}
	if added := keys(c.Spans.Added); !strings.Contains(added, "shop-web SELECT cart_items") || !strings.Contains(added, "shop-web INSERT cart_items") {
		t.Fatalf("the cart's own queries are not among the spans added since /api/products: %s", added)
	}
	if removed := keys(c.Spans.Removed); !strings.Contains(removed, "inventory compute stock") {
		t.Fatalf("the inventory's span is not among the spans /cart does not have: %s", removed)
	}

	// The route is the shop's (the app's first SERVER span), not the
	// inventory service's /stock below it.
	if c := compareOf(t, e, index.id, ""); c.Route != "GET /" || c.Baseline != nil {
		t.Fatalf("the page: route %q baseline %v, want GET / and none", c.Route, c.Baseline)
	}

	for _, path := range []string{"/requests/00000000000000ff/compare", "/requests/" + last.id + "/compare?with=00000000000000ff"} {
		readAPI(t, e, path, 404, nil)
	}
}

// TestCompareMatchesByRoute: the baseline is the last record of the same
// method and route: the app's http.route when it names one, else the path
// with its ids folded.
func TestCompareMatchesByRoute(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)
	tests := []struct {
		name          string
		first, second string
		route         string // "": the second path's own, no baseline
	}{
		{"the app's route template", "/products/grinder", "/products/espresso-cup", "GET /products/{slug}"},
		{"numeric ids fold", "/gone/12/items", "/gone/3456/items", "GET /gone/{id}/items"},
		{"UUIDs fold", "/lost/6f1c2a9e-8d4b-4f3a-9c1e-2b7d5e8a0f13", "/lost/0b9e7c55-1d2f-4e6a-8b3c-9a4d2e1f7c60", "GET /lost/{id}"},
		{"long hex ids fold", "/blob/4e1a9c0b7d2f3e58a6c1", "/blob/0d3b5f7a9c1e2d4f6a8b", "GET /blob/{id}"},
		{"words are not ids", "/help/shipping", "/help/returns", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := loadThroughProxy(t, e, "shop-web", tt.first, "", nil)
			second := loadThroughProxy(t, e, "shop-web", tt.second, "", nil)
			c := compareOf(t, e, second.id, "")
			if tt.route == "" {
				if c.Baseline != nil || c.Route != "GET "+tt.second {
					t.Fatalf("route %q baseline %v, want GET %s and no baseline", c.Route, c.Baseline, tt.second)
				}
				return
			}
			if c.Route != tt.route || c.Baseline == nil || *c.Baseline != first.id {
				t.Fatalf("route %q baseline %v, want %q and %s", c.Route, c.Baseline, tt.route, first.id)
			}
		})
	}
}

// nodeFrame is a frame of a Node.js stack trace: the error's message,
// then "    at <function> (<file>:<line>:<column>)" frames.
var nodeFrame = regexp.MustCompile(`^    at (\S+) \((/\S+):(\d+):(\d+)\)$`)

// TestNodeCompareAndStack: the Node app (the real @opentelemetry/sdk-node)
// behind the proxy: two loads of its cart compare like the Go app's, its
// query spans name the line that issued them, and its failed checkout's
// Error arrives as an exception event with a Node stack trace.
func TestNodeCompareAndStack(t *testing.T) {
	e := newEnv(t)
	app := startNodeApp(t, e.otlpHTTP, "http/json")
	e.startCaddy(t, basicCaddyfile, app)
	const itemQuery = "SELECT name, price FROM products WHERE id = ?"
	source, err := os.ReadFile("node/server.js")
	if err != nil {
		t.Fatal(err)
	}

	a := loadThroughProxy(t, e, "node-app", "/cart", "", nil, "Accept", "text/html")
	b := loadThroughProxy(t, e, "node-app", "/cart", "", nil, "Accept", "text/html")
	var perLoad []int
	for _, l := range []proxied{a, b} {
		n := 0
		for _, s := range l.spans {
			if s.Service == "node-app" && strings.HasPrefix(s.attr("db.query.text"), "SELECT name, price FROM products WHERE id = ") {
				n++
				if want := lineOf(t, source, "SELECT name, price FROM products WHERE id = ${"); s.attr("code.line.number") != fmt.Sprint(want) ||
					!strings.HasSuffix(s.attr("code.file.path"), "/tests/node/server.js") || s.attr("code.function.name") != "loadCart" {
					t.Fatalf("query span's code.*: %s:%s in %s, want server.js:%d in loadCart",
						s.attr("code.file.path"), s.attr("code.line.number"), s.attr("code.function.name"), want)
				}
			}
		}
		perLoad = append(perLoad, n)
	}
	if perLoad[1] != perLoad[0]+1 {
		t.Fatalf("per-item queries per load %v, want one more on the second", perLoad)
	}
	c := compareOf(t, e, b.id, "")
	if c.Baseline == nil || *c.Baseline != a.id || c.Route != "GET /cart" {
		t.Fatalf("baseline %v route %q, want %s and GET /cart", c.Baseline, c.Route, a.id)
	}
	shapeCounts(t, c, itemQuery, perLoad[1], perLoad[0])

	boom := loadThroughProxy(t, e, "node-app", "/boom", "", nil)
	server, _ := appServerOf(boom.spans, "node-app", boom.id)
	events := spanEvents(t, e, boom.traceID)[server.SpanID]
	var stack, message, typ string
	for _, ev := range events {
		if ev.Name == "exception" {
			stack, message, typ = ev.attr("exception.stacktrace"), ev.attr("exception.message"), ev.attr("exception.type")
		}
	}
	if typ != "Error" || !strings.HasPrefix(message, "card declined") || !strings.HasPrefix(stack, "Error: "+message+"\n") {
		t.Fatalf("the server span's exception event: type %q message %q stack %q (events %+v)", typ, message, stack, events)
	}
	frames := strings.Split(stack, "\n")[1:]
	top := nodeFrame.FindStringSubmatch(frames[0])
	if top == nil || top[1] != "chargeCard" || !strings.HasSuffix(top[2], "/tests/node/server.js") || top[3] != fmt.Sprint(lineOf(t, source, "throw new Error(`card declined")) {
		t.Fatalf("top frame %q, want chargeCard at the throw in server.js", frames[0])
	}
	var names []string
	for _, f := range frames {
		if m := nodeFrame.FindStringSubmatch(f); m != nil {
			names = append(names, m[1])
		}
	}
	if got := strings.Join(names, " "); !strings.HasPrefix(got, "chargeCard checkout handleBoom") {
		t.Fatalf("frames %q, want chargeCard checkout handleBoom first", got)
	}
}

// lineOf returns the 1-based line of source holding text, which must
// occur once.
func lineOf(t testing.TB, source []byte, text string) int {
	t.Helper()
	line := 0
	for i, l := range strings.Split(string(source), "\n") {
		if strings.Contains(l, text) {
			if line != 0 {
				t.Fatalf("%q is on lines %d and %d", text, line, i+1)
			}
			line = i + 1
		}
	}
	if line == 0 {
		t.Fatalf("no line holds %q", text)
	}
	return line
}

// event is a span event of the API's OTLP/JSON.
type event struct {
	Name       string `json:"name"`
	Attributes []struct {
		Key   string                     `json:"key"`
		Value map[string]json.RawMessage `json:"value"`
	} `json:"attributes"`
}

func (ev event) attr(key string) string {
	return span{Attributes: ev.Attributes}.attr(key)
}

// spanEvents returns the events of the trace's spans by span id.
func spanEvents(t testing.TB, e *env, traceID string) map[string][]event {
	t.Helper()
	out := map[string][]event{}
	for _, s := range traceSpans(t, e, traceID) {
		out[s.SpanID] = append(out[s.SpanID], s.Events...)
	}
	return out
}

// traceSpans returns the trace's spans as the API has them.
func traceSpans(t testing.TB, e *env, traceID string) []span {
	t.Helper()
	var doc json.RawMessage
	readAPI(t, e, "/traces/"+traceID, 200, &doc)
	return parseOTLP(t, doc)
}

// TestGraphQLOperationNamesTheRequest: a GraphQL POST shows as its
// operation in the request list, from the app's graphql.operation.* spans
// (Go and Node apps), with the route of the endpoint.
func TestGraphQLOperationNamesTheRequest(t *testing.T) {
	for _, app := range []struct {
		service string
		start   func(t *testing.T, e *env) string
	}{
		{"shop-web", func(t *testing.T, e *env) string { return startDemoApp(t, e.otlpHTTP) }},
		{"node-app", func(t *testing.T, e *env) string { return startNodeApp(t, e.otlpHTTP, "http/protobuf") }},
	} {
		t.Run(app.service, func(t *testing.T) {
			e := newEnv(t)
			e.startCaddy(t, basicCaddyfile, app.start(t, e))
			tests := []struct {
				body, operation string
			}{
				{`{"query":"query GetCart { cart { id } }","operationName":"GetCart"}`, "query GetCart"},
				{`{"query":"mutation AddToCart($productId: Int!) { addToCart(productId: $productId) { id } }","variables":{"productId":2}}`, "mutation AddToCart"},
			}
			for _, tt := range tests {
				l := loadThroughProxy(t, e, app.service, "/graphql", tt.body, nil)
				server, _ := appServerOf(l.spans, app.service, l.id)
				if got := server.attr("graphql.operation.type") + " " + server.attr("graphql.operation.name"); got != tt.operation {
					t.Fatalf("the app's span names %q, want %q", got, tt.operation)
				}
				var list []struct {
					ID, Route, Operation string
					Queries              int
					Services             []string
				}
				readAPI(t, e, "/requests", 200, &list)
				found := false
				for _, r := range list {
					if r.ID == l.id {
						found = true
						if r.Operation != tt.operation || r.Route != "POST /graphql" || r.Queries < 1 || !slices.Contains(r.Services, app.service) {
							t.Fatalf("summary %+v, want operation %q, route POST /graphql, the app's queries and service", r, tt.operation)
						}
					}
				}
				if !found {
					t.Fatalf("record %s not listed", l.id)
				}
			}
		})
	}
}
