package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// editorCaddyfile is demoCaddyfile with source links to VS Code.
var editorCaddyfile = strings.Replace(demoCaddyfile, "\t\tzipkin {zipkin}\n", "\t\tzipkin {zipkin}\n\t\teditor vscode\n", 1)

// vscodeLink is the link VS Code takes for an absolute path at a line:
// vscode://file/ then the path without its leading slash.
func vscodeLink(file string, line int) string {
	return "vscode://file/" + strings.TrimPrefix(file, "/") + ":" + strconv.Itoa(line)
}

// apiRecord is the part of a request record the request view's tests read.
type apiRecord struct {
	ID       string `json:"id"`
	TraceID  string `json:"traceId"`
	URL      string `json:"url"`
	ReplayOf string `json:"replayOf"`
}

// apiAlert is an alert of GET /api/requests/{id}/alerts.
type apiAlert struct {
	Kind   string `json:"kind"`
	SpanID string `json:"spanId"`
	Code   *struct {
		File string `json:"file"`
		Line int    `json:"line"`
	} `json:"code"`
}

// replaysOf lists the stored records that replayed record id.
func replaysOf(t *testing.T, base, id string) []string {
	t.Helper()
	var out []string
	for _, s := range historyOf(t, base) {
		var rec apiRecord
		getAPI(t, base, "requests/"+s.ID, &rec)
		if rec.ReplayOf == id {
			out = append(out, rec.ID)
		}
	}
	return out
}

func getAPI(t *testing.T, base, path string, v any) {
	t.Helper()
	resp, body := get(t, base+"/__tracebar/api/"+path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %.300s", path, err, body)
	}
}

// TestBrowserRequestView walks what the toolbar says about a request
// beyond its own data, on the Go demo app: the comparison with the last
// load of its route (the cart runs one more query each load), a replay
// that opens compared with the original, the alerts (the N+1 of /orders
// and its span, the redirect chain that led there and its header), and
// source links into VS Code from alerts, SQL groups and slow queries, span
// details and exception stack frames.
func TestBrowserRequestView(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, editorCaddyfile, app)
	b := browserTab{t, newBrowser(t)}
	mainGo, err := filepath.Abs("demoapp/main.go")
	if err != nil {
		t.Fatal(err)
	}

	load := func(path string) string {
		b.t.Helper()
		b.navigate(e.base + path)
		b.wait(path+" loaded", `host.dataset.state === 'ready' && host.dataset.request && Number(host.dataset.spanCount) >= 4`)
		return b.str(`host.dataset.request`)
	}
	openTab := func(name string) {
		b.t.Helper()
		b.do(`root.querySelector('.tb-panel').hidden && root.querySelector('.tb-badge').click()`)
		b.tab(name)
	}
	first := load("/cart")
	second := load("/cart")
	if first == second {
		t.Fatalf("both loads are record %s", first)
	}

	t.Run("compare", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		openTab("compare")
		b.wait("the baseline and one more query", `root.querySelector('.tb-cmp-base[data-baseline="`+first+`"]') && root.querySelector('[data-query-delta="1"]')`)
		if got := b.str(`root.querySelector('.tb-cmp-base').textContent`); !strings.Contains(got, "last load of GET /cart") {
			b.fail("baseline note %q", got)
		}
		recounted := `root.querySelector('[data-cmp=recounted]')`
		b.wait("the product query that ran once more", recounted+` && `+recounted+`.textContent.includes('SELECT name, price_cents FROM products WHERE id = ?') && `+recounted+`.textContent.includes('1 \u2192 2')`)
		// The picker lists the route's other load.
		b.wait("the other load in the picker", `[...root.querySelectorAll('select[data-f="cmp:with"] option')].some(o => o.value === '`+first+`')`)
		screenshot(t, b.ctx, "compare.png")
	})

	var replayed apiRecord
	t.Run("replay", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		// A double click sends it once.
		b.do(`(button => { button.click(); button.click(); })(root.querySelector('[data-act=replay]'))`)
		b.wait("the replay compared with the original", `host.dataset.request !== '`+second+`' && host.dataset.request !== '' && root.querySelector('.tb-tab[data-tab=compare]').getAttribute('aria-selected') === 'true' && root.querySelector('.tb-cmp-base[data-baseline="`+second+`"]')`)
		id := b.str(`host.dataset.request`)
		getAPI(t, e.base, "requests/"+id, &replayed)
		var original apiRecord
		getAPI(t, e.base, "requests/"+second, &original)
		if replayed.ReplayOf != second || replayed.URL != "/cart" || replayed.TraceID == original.TraceID {
			t.Fatalf("replay record %+v of %+v: want replayOf %s, the same URL, a fresh trace", replayed, original, second)
		}
		// The third load ran a third product query: an N+1 now.
		b.wait("the N+1 that came", `root.querySelector('[data-query-delta="1"]') && root.querySelector('[data-cmp=came]') && root.querySelector('[data-cmp=came]').textContent.includes('SELECT name, price_cents FROM products WHERE id = ?')`)
		if got := replaysOf(t, e.base, second); len(got) != 1 || got[0] != id {
			t.Fatalf("replays of %s: %v, want %s alone", second, got, id)
		}
	})

	t.Run("replay a redacted URL", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		// The token is stored redacted: a replay can send only the placeholder, and says so first.
		resp, _ := get(t, e.base+"/api/products?token=s3cret")
		_, original := traceOf(t, resp)
		var stored apiRecord
		getAPI(t, e.base, "requests/"+original, &stored)
		if stored.URL != "/api/products?token=%5Bredacted%5D" {
			t.Fatalf("stored URL %q", stored.URL)
		}
		b.navigate(e.base + "/__tracebar/requests/" + original)
		b.wait("the request's page", `host.dataset.state === 'ready' && root.querySelector('[data-act=replay]')`)
		b.do(`(window.confirm = message => { window.asked = message; return false; }, root.querySelector('[data-act=replay]').click())`)
		b.wait("the confirmation naming the placeholder", `String(window.asked).startsWith('Send GET /api/products?token=%5Bredacted%5D again?') && String(window.asked).includes('placeholder [redacted]')`)
		if got := b.str(`fetch('/__tracebar/api/requests?limit=20').then(r => r.json()).then(l => l.find(r => r.kind !== 'background').id)`); got != original {
			t.Fatalf("a request was sent (%s) though the replay was declined", got)
		}
		b.do(`(window.confirm = () => true, root.querySelector('[data-act=replay]').click())`)
		b.wait("the replay compared with the original", `host.dataset.request !== '`+original+`' && location.pathname.endsWith('/requests/' + host.dataset.request) && root.querySelector('.tb-cmp-base[data-baseline="`+original+`"]')`)
		if got := replaysOf(t, e.base, original); len(got) != 1 {
			t.Fatalf("replays of %s: %v, want one", original, got)
		}
	})

	t.Run("replay a POST", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		post := func(contentType, body string) string {
			t.Helper()
			resp, err := http.Post(e.base+"/graphql", contentType, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			_, id := traceOf(t, resp)
			return id
		}
		// A JSON body is captured: the replay asks first, then sends it.
		captured := post("application/json", `{"query":"query Products { products }","operationName":"Products"}`)
		b.navigate(e.base + "/__tracebar/requests/" + captured)
		b.wait("the POST's page", `host.dataset.state === 'ready' && root.querySelector('[data-act=replay]')`)
		b.do(`(window.confirm = message => { window.asked = message; return true; }, root.querySelector('[data-act=replay]').click())`)
		b.wait("the replayed POST compared with the original", `location.pathname.endsWith('/requests/' + host.dataset.request) && host.dataset.request !== '`+captured+`' && root.querySelector('.tb-cmp-base[data-baseline="`+captured+`"]')`)
		var again apiRecord
		getAPI(t, e.base, "requests/"+b.str(`host.dataset.request`), &again)
		if again.ReplayOf != captured || again.URL != "/graphql" {
			t.Fatalf("replayed POST %+v, want replayOf %s", again, captured)
		}
		// The confirmation was asked on the page before, which the
		// navigation replaced: ask again here, declined, to read it.
		b.do(`(window.confirm = message => { window.asked = message; return false; }, root.querySelector('[data-act=replay]').click())`)
		b.wait("the confirmation naming the method and URL", `String(window.asked).startsWith('Send POST /graphql again, with its captured body?')`)
		// A body of another type is not captured: the replay explains and sends nothing.
		skipped := post("text/plain", "query { products }")
		b.navigate(e.base + "/__tracebar/requests/" + skipped)
		b.wait("the text POST's page", `host.dataset.state === 'ready' && root.querySelector('[data-act=replay]')`)
		b.do(`(window.alert = message => { window.told = message; }, window.confirm = () => { window.asked = 'asked'; return true; }, root.querySelector('[data-act=replay]').click())`)
		b.wait("the explanation", `String(window.told).includes('POST /graphql') && String(window.told).includes('body was not captured') && window.asked === undefined`)
		if got := b.str(`fetch('/__tracebar/api/requests?limit=20').then(r => r.json()).then(l => l.find(r => r.kind !== 'background').id)`); got != skipped {
			t.Fatalf("a request was sent (%s) for a POST whose body was not captured", got)
		}
	})

	t.Run("compare link", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		b.navigate(e.base + "/__tracebar/requests/" + second + "#compare=" + first)
		b.wait("the standalone page compared with the record named", `root.querySelector('.tb-tab[data-tab=compare]').getAttribute('aria-selected') === 'true' && root.querySelector('.tb-cmp-base[data-baseline="`+first+`"]')`)
		if got := b.str(`root.querySelector('.tb-cmp-base').textContent`); !strings.Contains(got, "request picked") {
			b.fail("baseline note %q", got)
		}
	})

	// /orders, two redirects away: a redirect chain, an N+1, an exception.
	orders := load("/very-old-orders")
	if got := b.str(`location.pathname`); got != "/orders" {
		t.Fatalf("the redirects led to %q", got)
	}
	var alerts []apiAlert
	var nPlusOne *apiAlert
	issuedAt := ""

	t.Run("alerts", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		openTab("alerts")
		row := `root.querySelector('.tb-al[data-kind=n_plus_one]')`
		b.wait("the N+1 alert", row+` && `+row+`.textContent.includes('SELECT name, price_cents FROM products WHERE id = ?')`)
		getAPI(t, e.base, "requests/"+orders+"/alerts", &alerts)
		for i := range alerts {
			if alerts[i].Kind == "n_plus_one" {
				nPlusOne = &alerts[i]
			}
		}
		if nPlusOne == nil || nPlusOne.SpanID == "" || nPlusOne.Code == nil || nPlusOne.Code.File != mainGo {
			t.Fatalf("alerts of /orders: %+v, want an n_plus_one with its span and a line of %s", alerts, mainGo)
		}
		issuedAt = vscodeLink(mainGo, nPlusOne.Code.Line)
		n, badge := strconv.Itoa(len(alerts)), fmt.Sprintf("%d alerts", len(alerts))
		if len(alerts) == 1 {
			badge = "1 alert"
		}
		b.wait("the API's count of alerts on the tab and the badge", `root.querySelector('.tb-tab[data-tab=alerts] .tb-n').textContent === '`+n+`' && root.querySelector('.tb-badge .tb-aln').textContent === '`+badge+`'`)
		if got := b.str(row + `.querySelector('a.tb-src').getAttribute('href')`); got != issuedAt {
			b.fail("the alert's source link is %q, want %q", got, issuedAt)
		}
		// A header's alert opens the Headers tab.
		chain := `root.querySelector('.tb-al[data-kind=redirect_chain]')`
		b.wait("the redirect chain's alert", chain+` && `+chain+`.querySelector('.tb-lk').textContent === 'header Location'`)
		b.do(chain + `.querySelector('.tb-lk').click()`)
		b.wait("the Headers tab", `root.querySelector('.tb-tab[data-tab=headers]').getAttribute('aria-selected') === 'true'`)
		b.tab("alerts")
		b.do(row + `.querySelector('.tb-go').click()`)
		b.wait("the alert's span selected in the waterfall", `root.querySelector('.tb-tab[data-tab=trace]').getAttribute('aria-selected') === 'true' && root.querySelector('.tb-span.tb-sel[data-span-id="`+nPlusOne.SpanID+`"]') && root.querySelector('.tb-detail')`)
	})
	if nPlusOne == nil {
		t.FailNow()
	}

	t.Run("editor links", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		// The selected span's own code.*: the detail's Source row.
		source := b.str(`(() => { const a = root.querySelector('.tb-detail a.tb-src'); return a ? a.getAttribute('href') : ''; })()`)
		if !regexp.MustCompile(`^vscode://file/` + regexp.QuoteMeta(strings.TrimPrefix(filepath.Dir(mainGo), "/")) + `/\w+\.go:\d+$`).MatchString(source) {
			b.fail("the span's source link %q is not a line of the demo app", source)
		}
		// The N+1 group links to the line that issued its queries.
		b.tab("sql")
		group := `root.querySelector('.tb-qg[data-sql="N+1"]')`
		b.wait("the N+1 group", group)
		if got := b.str(group + `.querySelector('.tb-note a.tb-src').getAttribute('href')`); got != issuedAt {
			b.fail("the N+1 group's link is %q, want %q", got, issuedAt)
		}
		// The exception's frame in the app: the line under
		// main.(*shop).orders in the stack trace the SDK recorded.
		stack := b.str(`[...window.__tracebar.spans.values()].flatMap(s => s.events).find(e => e.name === 'exception').attributes.find(a => a.key === 'exception.stacktrace').value.stringValue`)
		m := regexp.MustCompile(`(?m)^main\.\(\*shop\)\.orders\(.*\)\n\t(\S+):(\d+)`).FindStringSubmatch(stack)
		if m == nil {
			t.Fatalf("no main.(*shop).orders frame in the recorded stack:\n%s", stack)
		}
		line, _ := strconv.Atoi(m[2])
		b.tab("logs")
		exc := `[...root.querySelectorAll('.tb-log-error')].find(l => l.textContent.includes('coupon "SPRING" expired'))`
		b.wait("the exception", exc)
		if got, want := b.str(exc+`.querySelector('.tb-at a.tb-src').getAttribute('href')`), vscodeLink(m[1], line); got != want {
			b.fail("the exception's app frame links to %q, want %q", got, want)
		}
		frame := fmt.Sprintf(`[...%s.querySelectorAll('pre a.tb-src')].map(a => a.getAttribute('href'))`, exc)
		if got := b.str(frame + `.join(' ')`); !strings.Contains(got, vscodeLink(m[1], line)) {
			b.fail("the stack trace's frame links %q lack %s", got, vscodeLink(m[1], line))
		}
		screenshot(t, b.ctx, "logs-links.png")
	})

	t.Run("slow query", func(t *testing.T) {
		b := browserTab{t, b.ctx}
		resp, _ := get(t, e.base+"/report")
		_, id := traceOf(t, resp)
		b.navigate(e.base + "/__tracebar/requests/" + id)
		b.tab("sql")
		slow := `root.querySelector('.tb-qg tr[data-slow] a.tb-src')`
		b.wait("the slow query marked, with its line", slow)
		var slowAlerts []apiAlert
		getAPI(t, e.base, "requests/"+id+"/alerts", &slowAlerts)
		var want string
		for _, a := range slowAlerts {
			if a.Kind == "slow_query" && a.Code != nil {
				want = vscodeLink(a.Code.File, a.Code.Line)
			}
		}
		if got := b.str(slow + `.getAttribute('href')`); want == "" || got != want {
			b.fail("the slow query links to %q; the slow_query alert (%+v) to %q", got, slowAlerts, want)
		}
		b.do(`root.querySelector('[data-sort=slowest]').click()`)
		b.wait("every query, slowest first", `root.querySelector('.tb-qs tr[data-slow]') && root.querySelector('[data-sort=slowest]').getAttribute('aria-pressed') === 'true'`)
	})
}
