package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// historySummary is an entry of <prefix>/api/requests as the dashboard reads it.
type historySummary struct {
	ID         string  `json:"id"`
	TraceID    string  `json:"traceId"`
	Method     string  `json:"method"`
	URL        string  `json:"url"`
	Status     int     `json:"status"`
	Done       bool    `json:"done"`
	DurationMs float64 `json:"durationMs"`
	Route      string  `json:"route"`
	Operation  string  `json:"operation"`
	Error      bool    `json:"error"`
}

// routeStats is a route group's figures: as the page shows them (text),
// or as the API's summaries give them.
type routeStats struct {
	Route     string `json:"route"`
	Operation string `json:"operation"`
	Count     string `json:"count"`
	P50       string `json:"p50"`
	P95       string `json:"p95"`
	Errors    string `json:"errors"`
}

func historyOf(t *testing.T, base string) []historySummary {
	t.Helper()
	_, body := get(t, base+"/__tracebar/api/requests")
	var list []historySummary
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("history: %v: %.300s", err, body)
	}
	return list
}

// percentileOf interpolates between the nearest ranks, as NumPy's
// default does; the dashboard must agree.
func percentileOf(values []float64, p float64) float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	rank := p / 100 * float64(len(sorted)-1)
	low := int(rank)
	if low+1 >= len(sorted) {
		return sorted[low]
	}
	return sorted[low] + (sorted[low+1]-sorted[low])*(rank-float64(low))
}

var msTextRE = regexp.MustCompile(`^([\d.]+) (µs|ms|s)$`)

// parseMs reads a duration as the toolbar writes it ("850 µs", "12.3 ms", "1.25 s").
func parseMs(text string) (float64, bool) {
	m := msTextRE.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return v * map[string]float64{"µs": 0.001, "ms": 1, "s": 1000}[m[2]], true
}

// expectedRoutes groups the API's summaries as the dashboard must: by
// route and operation, each with its durations.
func expectedRoutes(list []historySummary) map[string][]float64 {
	out := map[string][]float64{} // route|operation -> durations
	for _, s := range list {
		key := s.Route + "|" + s.Operation
		out[key] = append(out[key], s.DurationMs)
	}
	return out
}

// errorsOf counts the failed requests of a group: a 5xx, or a record the API marks.
func errorsOf(list []historySummary, key string) int {
	n := 0
	for _, s := range list {
		if s.Route+"|"+s.Operation == key && (s.Status >= 500 || s.Error) {
			n++
		}
	}
	return n
}

// sameStats says how the page's route groups differ from the API's; "" when they agree
// (durations to the precision the page writes them).
func sameStats(page []routeStats, list []historySummary) string {
	want := expectedRoutes(list)
	if len(page) != len(want) {
		return fmt.Sprintf("%d groups on the page, %d routes in the API", len(page), len(want))
	}
	near := func(text string, v float64) bool {
		got, ok := parseMs(text)
		return ok && math.Abs(got-v) <= 0.006*v+0.001
	}
	for _, g := range page {
		key := g.Route + "|" + g.Operation
		durations, ok := want[key]
		switch {
		case !ok:
			return "no route " + key + " in the API"
		case g.Count != strconv.Itoa(len(durations)):
			return fmt.Sprintf("%s: count %s, the API has %d", key, g.Count, len(durations))
		case !near(g.P50, percentileOf(durations, 50)) || !near(g.P95, percentileOf(durations, 95)):
			return fmt.Sprintf("%s: p50 %s p95 %s, the API's durations give %.3f and %.3f", key, g.P50, g.P95, percentileOf(durations, 50), percentileOf(durations, 95))
		}
		if errs := errorsOf(list, key); (errs == 0 && g.Errors != "—") || (errs > 0 && g.Errors != strconv.Itoa(errs)) {
			return fmt.Sprintf("%s: errors %q, the API has %d", key, g.Errors, errs)
		}
	}
	return ""
}

// pageRoutes reads the route groups the dashboard shows.
const pageRoutes = `JSON.stringify([...root.querySelectorAll('.tb-rg')].map(g => {
	const stat = name => g.querySelector('[data-stat=' + name + ']').textContent;
	return { route: g.dataset.route, operation: g.dataset.operation, count: stat('count'), p50: stat('p50'), p95: stat('p95'), errors: stat('errors') };
}))`

// postGraphQL posts body to the demo app's /graphql and returns the id of
// its record (the proxy's span id in Traceresponse).
func postGraphQL(t *testing.T, base, body string) string {
	t.Helper()
	resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /graphql %s: %s", body, resp.Status)
	}
	_, id := traceOf(t, resp)
	return id
}

// TestBrowserDashboard loads routes of the Go demo app through Caddy and
// opens the history page: route groups with their counts, p50 and p95 as
// the API's records give them, GraphQL operations by name, errors marked,
// search and filters narrowing the rows, compare and replay on a row; then
// fills the store (1,000 requests) and times the page; and imports a HAR
// the API produced into a second Caddy, through the page's file input,
// where the request opens with its spans.
func TestBrowserDashboard(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, demoCaddyfile, app)

	sent := 0 // the requests made, each a record
	for i := range 4 {
		get(t, fmt.Sprintf("%s/api/products?page=%d", e.base, i))
		sent++
	}
	for range 2 {
		get(t, e.base+"/")
		get(t, e.base+"/orders")
		postGraphQL(t, e.base, `{"query":"query GetProducts { products { id name } }","operationName":"GetProducts"}`)
		sent += 3
	}
	postGraphQL(t, e.base, `{"query":"mutation AddItem($id: Int!) { addToCart(productId: $id) }","variables":{"id":2}}`)
	if resp, _ := get(t, e.base+"/boom"); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("/boom answered %s", resp.Status)
	}
	sent += 2

	b := browserTab{t, newBrowser(t)}
	b.navigate(e.base + "/__tracebar/")
	group := func(route, operation string) string {
		return `root.querySelector('.tb-rg[data-route="` + route + `"][data-operation="` + operation + `"]')`
	}
	products := group("GET /api/products", "")
	b.wait("the route groups", products+` && `+group("POST /graphql", "query GetProducts")+` && `+group("POST /graphql", "mutation AddItem")+
		` && `+group("GET /boom", "")+` && `+products+`.querySelector('[data-stat=count]').textContent === '4'`)

	t.Run("figures", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		// The page has every request, each done (a group's sparkline draws
		// its finished requests only): those sent above and the browser's
		// own GET /favicon.ico (page.html names no icon); and the orders
		// page's exceptions, which come with the app's spans, the last news
		// of a record. The page shows what the API sent it: the API has it
		// all too.
		b.wait("every request done, the exceptions counted", `(() => {
			const groups = [...root.querySelectorAll('.tb-rg')], count = g => g.querySelector('[data-stat=count]').textContent;
			return groups.reduce((n, g) => n + Number(count(g)), 0) === `+strconv.Itoa(sent+1)+` && `+group("GET /favicon.ico", "")+` &&
				groups.every(g => g.querySelector('.tb-spark').getAttribute('aria-label').startsWith(count(g) + ' recent duration')) &&
				`+group("GET /orders", "")+`.querySelector('[data-stat=errors]').textContent === '2';
		})()`)
		var page []routeStats
		if err := json.Unmarshal([]byte(b.str(pageRoutes)), &page); err != nil {
			t.Fatal(err)
		}
		if diff := sameStats(page, historyOf(t, e.base)); diff != "" {
			b.fail("the dashboard's route figures: %s", diff)
		}
		if b.str(`!!root.querySelector('link[href*="/static/dashboard.css"]')`) != "true" {
			b.fail("the history page has no dashboard.css")
		}
		// Errors: the 500 and the orders page's exception, marked on the group and the row.
		b.wait("the error marks", group("GET /boom", "")+`.classList.contains('tb-rg-err') && `+group("GET /boom", "")+`.querySelector('.tb-hrow.tb-herr .tb-chip.tb-bad')`+
			` && `+group("GET /orders", "")+`.querySelector('[data-stat=errors]').textContent === '2' && !`+products+`.querySelector('.tb-herr')`)
		// The operation names the GraphQL rows, not a wall of POST /graphql.
		if got := b.str(group("POST /graphql", "mutation AddItem") + `.querySelector('.tb-hrow .tb-op').textContent`); got != "mutation AddItem" {
			b.fail("the GraphQL row's operation %q", got)
		}
		if n := b.str(products + `.querySelectorAll('.tb-spark polyline').length`); n != "1" {
			b.fail("sparklines in the products group: %s", n)
		}
		screenshot(t, b.ctx, "dashboard.png")
	})

	t.Run("filters", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		routes := `[...root.querySelectorAll('.tb-rg')].map(g => g.dataset.route + ' ' + g.dataset.operation).sort().join(',')`
		search := func(text string) {
			b.do(`(q => { q.value = ` + strconv.Quote(text) + `; q.dispatchEvent(new Event('input')); })(root.querySelector('.tb-dash .tb-q'))`)
		}
		choose := func(filter, value string) {
			b.do(`(s => { s.value = '` + value + `'; s.dispatchEvent(new Event('change')); })(root.querySelector('select[data-filter=` + filter + `]'))`)
		}
		search("products")
		b.wait("the search by URL and operation", routes+` === 'GET /api/products ,POST /graphql query GetProducts'`)
		search("getproducts")
		b.wait("the search by operation", routes+` === 'POST /graphql query GetProducts'`)
		search("")
		choose("method", "POST")
		b.wait("the method filter", routes+` === 'POST /graphql mutation AddItem,POST /graphql query GetProducts'`)
		choose("method", "")
		choose("status", "5xx")
		b.wait("the status filter", routes+` === 'GET /boom ' && root.querySelectorAll('.tb-hrow').length === 1`)
		choose("status", "")
		choose("service", "inventory")
		b.wait("the service filter", `root.querySelectorAll('.tb-rg').length > 0 && !`+group("POST /graphql", "mutation AddItem")+` && `+products)
		choose("service", "")

		// The flat list: every request, newest first, as many rows as requests.
		b.do(`root.querySelector('[data-view=list]').click()`)
		b.wait("the flat list", `!root.querySelector('.tb-rg') && root.querySelectorAll('.tb-hrow').length === parseInt(root.querySelector('.tb-dsum').textContent)`)
		search("boom")
		b.wait("the flat list filtered", `root.querySelectorAll('.tb-hrow').length === 1 && root.querySelector('.tb-hrow').dataset.error === 'true'`)
		search("")
		b.do(`root.querySelector('[data-view=groups]').click()`)
		b.wait("the groups again", products)
	})

	t.Run("compare and replay", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		row := products + `.querySelector('.tb-hrow')`
		id := b.str(row + `.dataset.id`)
		if href := b.str(row + `.querySelector('a.tb-act').getAttribute('href')`); href != "/__tracebar/requests/"+id+"#compare" {
			b.fail("compare link %q for %s", href, id)
		}
		if href := b.str(row + `.querySelector('a.tb-req').getAttribute('href')`); href != "/__tracebar/requests/"+id {
			b.fail("request link %q for %s", href, id)
		}
		// A double click sends it once.
		b.do(`(button => { button.click(); button.click(); })(` + row + `.querySelector('[data-replay]'))`)
		b.wait("the replay's comparison", `location.pathname.startsWith('/__tracebar/requests/') && location.pathname !== '/__tracebar/requests/`+id+`' && location.hash === '#compare=`+id+`' && host.dataset.state === 'ready'`)
		newID := b.str(`location.pathname.split('/').pop()`)
		var replayed struct {
			URL      string `json:"url"`
			ReplayOf string `json:"replayOf"`
		}
		_, body := get(t, e.base+"/__tracebar/api/requests/"+newID)
		if err := json.Unmarshal(body, &replayed); err != nil || replayed.ReplayOf != id || !strings.HasPrefix(replayed.URL, "/api/products") {
			b.fail("the replayed record %s: %s (%v)", newID, body, err)
		}
		if got := replaysOf(t, e.base, id); !slices.Equal(got, []string{newID}) {
			b.fail("a double click replayed %s as %v, want %s alone", id, got, newID)
		}
		// A request's own page has the toolbar's stylesheet, not the dashboard's.
		if got := b.str(`[...root.querySelectorAll('link[rel=stylesheet]')].map(l => new URL(l.href).pathname).join(' ')`); got != "/__tracebar/static/toolbar.css" {
			b.fail("the request page's stylesheets: %q", got)
		}
	})

	t.Run("store full", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		// Fill the store (1,000 records by default) over the demo's routes.
		paths := []string{"/api/products?n=%d", "/?n=%d", "/orders?n=%d", "/boom?n=%d", "/api/products/%d"}
		var wg sync.WaitGroup
		next := make(chan int)
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					resp, err := http.Get(e.base + fmt.Sprintf(paths[i%len(paths)], i))
					if err != nil {
						t.Error(err)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		for i := range 1000 {
			next <- i
		}
		close(next)
		wg.Wait()
		if n := len(historyOf(t, e.base)); n != 1000 {
			t.Fatalf("the store holds %d requests", n)
		}
		b.navigate(e.base + "/__tracebar/")
		b.wait("the store full on the page", `parseInt(root.querySelector('.tb-dsum').textContent) === 1000 && root.querySelector('.tb-rg[data-route="GET /api/products/{id}"]')`)
		loaded := b.str(`Math.round(performance.now())`)
		// A request now: the stream's update, with 1,000 on the page.
		get(t, e.base+"/api/products?live=1")
		b.wait("the live request", `[...root.querySelectorAll('a.tb-req')].some(r => r.textContent.includes('/api/products?live=1'))`)
		timings := b.str(`(() => {
			const q = root.querySelector('.tb-dash .tb-q'), body = root.querySelector('.tb-body'), perf = window.__tracebar.perf;
			const live = { render: perf.render, update: perf.dashboard };
			const time = f => { const t = performance.now(); f(); body.offsetHeight; return Math.round((performance.now() - t) * 10) / 10; };
			const search = text => { q.value = text; q.dispatchEvent(new Event('input')); };
			const out = { liveRender: Math.round(live.render * 10) / 10, liveUpdate: Math.round(live.update * 10) / 10 };
			out.search = time(() => search('orders'));
			out.clear = time(() => search(''));
			out.list = time(() => root.querySelector('[data-view=list]').click());
			out.listRows = root.querySelectorAll('.tb-hrow').length;
			out.groups = time(() => root.querySelector('[data-view=groups]').click());
			out.showAll = time(() => root.querySelector('.tb-rg [data-more]').click());
			return JSON.stringify(out);
		})()`)
		t.Logf("1,000 requests: shown %s ms after navigation; times in ms: %s", loaded, timings)
		var times map[string]float64
		if err := json.Unmarshal([]byte(timings), &times); err != nil {
			t.Fatal(err)
		}
		if times["listRows"] != 200 {
			b.fail("the flat list shows %v rows of 1,000, want its first page of 200", times["listRows"])
		}
		for _, name := range []string{"liveRender", "search", "clear", "list", "groups", "showAll"} {
			if times[name] > 1000 { // an O(n²) or a rebuild of every row would take seconds here
				b.fail("%s took %v ms with 1,000 requests", name, times[name])
			}
		}
	})

	t.Run("import", func(t *testing.T) {
		var orders, boom, boomTrace string
		for _, s := range historyOf(t, e.base) {
			switch s.URL {
			case "/orders?n=997":
				orders = s.ID
			case "/boom?n=998":
				boom, boomTrace = s.ID, s.TraceID
			}
		}
		resp, har := get(t, e.base+"/__tracebar/api/requests/"+orders+"/har")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HAR of %s: %s %s", orders, resp.Status, har)
		}
		var doc struct {
			Log struct {
				Entries []struct {
					Spans struct {
						ResourceSpans []struct {
							ScopeSpans []struct {
								Spans []json.RawMessage `json:"spans"`
							} `json:"scopeSpans"`
						} `json:"resourceSpans"`
					} `json:"_spans"`
				} `json:"entries"`
			} `json:"log"`
		}
		if err := json.Unmarshal(har, &doc); err != nil || len(doc.Log.Entries) == 0 {
			t.Fatalf("HAR: %v: %.300s", err, har)
		}
		spans := 0
		for _, rs := range doc.Log.Entries[0].Spans.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans += len(ss.Spans)
			}
		}
		if spans < 7 {
			t.Fatalf("the HAR's first entry has %d spans", spans)
		}
		file := filepath.Join(t.TempDir(), "orders.har")
		if err := os.WriteFile(file, har, 0o644); err != nil {
			t.Fatal(err)
		}

		// A second Caddy, its store empty, and a browser of its own (closed
		// first: its open streams would hold the Caddy's shutdown).
		e2 := newEnv(t)
		e2.startCaddy(t, basicCaddyfile, app)
		b := browserTab{t, newBrowser(t)}
		b.navigate(e2.base + "/__tracebar/")
		b.wait("the dashboard", `root.querySelector('.tb-dash input[type=file]')`)

		// A dropped file that is not a trace: the server's message shows.
		bogus := `{"hello": "not a trace"}`
		refused, err := http.Post(e2.base+"/__tracebar/api/import", "application/json", strings.NewReader(bogus))
		if err != nil {
			t.Fatal(err)
		}
		message, _ := io.ReadAll(refused.Body)
		refused.Body.Close()
		if refused.StatusCode != http.StatusBadRequest || len(strings.TrimSpace(string(message))) == 0 {
			t.Fatalf("importing %s: %s %q", bogus, refused.Status, message)
		}
		dropFile := func(name, content string) {
			b.do(`(() => {
				const data = new DataTransfer();
				data.items.add(new File([` + strconv.Quote(content) + `], '` + name + `', { type: 'application/json' }));
				document.body.dispatchEvent(new DragEvent('dragenter', { bubbles: true, cancelable: true, dataTransfer: data }));
				window.__overlay = !root.querySelector('.tb-drop').hidden;
				document.body.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: data }));
			})()`)
			if b.str(`window.__overlay`) != "true" {
				b.fail("no drop overlay while %s was dragged over the page", name)
			}
		}
		dropFile("notes.json", bogus)
		b.wait("the server's message", `root.querySelector('.tb-dstat.tb-bad') && root.querySelector('.tb-dstat').textContent.includes(`+strconv.Quote(strings.TrimSpace(string(message)))+`) && root.querySelector('.tb-drop').hidden`)

		// The HAR through the file input: its request opens with its spans.
		input := chromedp.JSPath(`document.getElementById('tracebar-root').shadowRoot.querySelector('input[type=file]')`)
		if err := chromedp.Do(b.ctx, chromedp.SetUploadFiles(input, []string{file})); err != nil {
			b.fail("setting the file: %v", err)
		}
		b.wait("the imported request", `location.pathname.startsWith('/__tracebar/requests/') && host.dataset.state === 'ready' && root.querySelector('.tb-sum').textContent.includes('/orders?n=997') && Number(host.dataset.spanCount) >= `+strconv.Itoa(spans))
		// An imported request was never sent here: no replay of it.
		if b.str(`!!root.querySelector('[data-act=replay]')`) != "false" {
			b.fail("the imported request offers a replay")
		}
		b.tab("sql")
		b.wait("its N+1", `root.querySelector('.tb-qg[data-sql="N+1"]') && root.querySelector('.tb-qg[data-sql="N+1"]').textContent.includes('SELECT name, price_cents FROM products WHERE id = ?')`)

		// A bare OTLP trace: its root span (the proxy's) becomes the request
		// that opens.
		_, otlp := get(t, e.base+"/__tracebar/api/traces/"+boomTrace)
		b.navigate(e2.base + "/__tracebar/")
		imported := `[...root.querySelectorAll('.tb-hrow')].find(r => r.textContent.includes('/orders?n=997'))`
		b.wait("the imported request on the dashboard, without replay", imported+` && `+imported+`.querySelector('.tb-act') && !`+imported+`.querySelector('[data-replay]')`)
		dropFile("boom.json", string(otlp))
		b.wait("the imported trace's request", `location.pathname === '/__tracebar/requests/`+boom+`' && host.dataset.state === 'ready' && Number(host.dataset.spanCount) > 1`)
	})

	// A GraphQL request's own page names its operation beside POST /graphql.
	t.Run("operation_in_head", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		// Sent again, named in the body (the store-full step evicted the
		// first one; the app's spans, which name it too, come seconds later).
		mutation := postGraphQL(t, e.base, `{"query":"mutation AddItem($id: Int!) { addToCart(productId: $id) }","operationName":"AddItem","variables":{"id":3}}`)
		b.navigate(e.base + "/__tracebar/requests/" + mutation)
		b.wait("the operation in the head", `host.dataset.state === 'ready' && root.querySelector('.tb-sum .tb-op') && root.querySelector('.tb-sum .tb-op').textContent === 'mutation AddItem'`)
	})
}
