package tests

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// harNameValue is a HAR header, cookie or query parameter.
type harNameValue struct {
	Name  *string `json:"name"`
	Value *string `json:"value"`
}

// harFile is the part of HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/)
// the test checks, pointers where the spec requires the field.
type harFile struct {
	Log *struct {
		Version *string `json:"version"`
		Creator *struct {
			Name    *string `json:"name"`
			Version *string `json:"version"`
		} `json:"creator"`
		Entries []harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	StartedDateTime *string  `json:"startedDateTime"`
	Time            *float64 `json:"time"`
	Request         *struct {
		Method      *string        `json:"method"`
		URL         *string        `json:"url"`
		HTTPVersion *string        `json:"httpVersion"`
		Cookies     []harNameValue `json:"cookies"`
		Headers     []harNameValue `json:"headers"`
		QueryString []harNameValue `json:"queryString"`
		HeadersSize *int64         `json:"headersSize"`
		BodySize    *int64         `json:"bodySize"`
	} `json:"request"`
	Response *struct {
		Status      *int           `json:"status"`
		StatusText  *string        `json:"statusText"`
		HTTPVersion *string        `json:"httpVersion"`
		Cookies     []harNameValue `json:"cookies"`
		Headers     []harNameValue `json:"headers"`
		Content     *struct {
			Size     *int64  `json:"size"`
			MimeType *string `json:"mimeType"`
		} `json:"content"`
		RedirectURL *string `json:"redirectURL"`
		HeadersSize *int64  `json:"headersSize"`
		BodySize    *int64  `json:"bodySize"`
	} `json:"response"`
	Cache   *struct{}          `json:"cache"`
	Timings map[string]float64 `json:"timings"`
	TraceID string             `json:"_traceId"`
	SpanID  string             `json:"_spanId"`
	Spans   json.RawMessage    `json:"_spans"`
}

// header returns the entry's value of header name in a HAR header list.
func harHeader(list []harNameValue, name string) string {
	for _, h := range list {
		if h.Name != nil && h.Value != nil && strings.EqualFold(*h.Name, name) {
			return *h.Value
		}
	}
	return ""
}

// checkHAR fails unless entry has every field HAR 1.2 requires, with
// sane values, and timings that add up to its time.
func checkHAR(t testing.TB, i int, en harEntry) {
	t.Helper()
	fail := func(what string) { t.Helper(); t.Fatalf("entry %d: %s", i, what) }
	if en.StartedDateTime == nil || en.Time == nil || en.Request == nil || en.Response == nil || en.Cache == nil || en.Timings == nil {
		fail("lacks startedDateTime, time, request, response, cache or timings")
	}
	if _, err := time.Parse(time.RFC3339Nano, *en.StartedDateTime); err != nil {
		fail("startedDateTime: " + err.Error())
	}
	rq, rs := en.Request, en.Response
	if rq.Method == nil || rq.URL == nil || rq.HTTPVersion == nil || rq.Cookies == nil || rq.Headers == nil || rq.QueryString == nil || rq.HeadersSize == nil || rq.BodySize == nil {
		fail("request lacks a required field")
	}
	if rs.Status == nil || rs.StatusText == nil || rs.HTTPVersion == nil || rs.Cookies == nil || rs.Headers == nil || rs.Content == nil ||
		rs.Content.Size == nil || rs.Content.MimeType == nil || rs.RedirectURL == nil || rs.HeadersSize == nil || rs.BodySize == nil {
		fail("response lacks a required field")
	}
	for _, list := range [][]harNameValue{rq.Cookies, rq.Headers, rq.QueryString, rs.Cookies, rs.Headers} {
		for _, nv := range list {
			if nv.Name == nil || nv.Value == nil {
				fail("a name/value pair without name or value")
			}
		}
	}
	sum := 0.0
	for _, phase := range []string{"send", "wait", "receive"} {
		v, ok := en.Timings[phase]
		if !ok || v < 0 {
			fail("timings." + phase + " missing or negative")
		}
	}
	for phase, v := range en.Timings {
		if v < 0 && v != -1 {
			fail("timings." + phase + " is negative and not -1")
		}
		if v > 0 && !strings.HasPrefix(phase, "_") && phase != "comment" {
			sum += v
		}
	}
	if math.Abs(sum-*en.Time) > 1 {
		t.Fatalf("entry %d: time %.3f is not the sum of its timings %v (%.3f)", i, *en.Time, en.Timings, sum)
	}
}

// TestHARIsValidAndImports: the HAR of a page session (the demo's page
// and the fetch its script makes, in the page's trace as the toolbar's
// hook sends it) is HAR 1.2 with the trace's spans, holds no secret, and
// a second Caddy imports it into the same records and spans.
func TestHARIsValidAndImports(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)
	withStock := func(spans []span) bool { _, ok := find(spans, "inventory", "compute stock"); return ok }

	page := loadThroughProxy(t, e, "shop-web", "/?lang=en", "", withStock, "Accept", "text/html", "Cookie", "session=s3cret-cookie", "Authorization", "Bearer s3cret-token")
	// hook.js's traceparent for a fetch: the page's trace, the browser span of the call.
	call := make([]byte, 8)
	rand.Read(call)
	fetch := loadThroughProxy(t, e, "shop-web", "/api/products", "", withStock, "Accept", "*/*", "Traceparent", "00-"+page.traceID+"-"+hex.EncodeToString(call)+"-01")
	if fetch.traceID != page.traceID {
		t.Fatalf("the fetch is in trace %s, not the page's %s", fetch.traceID, page.traceID)
	}
	other := loadThroughProxy(t, e, "shop-web", "/api/products", "", nil) // another trace: not in the session

	resp, body := get(t, e.base+"/__tracebar/api/requests/"+page.id+"/har")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("HAR: %d %q %q: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), body)
	}
	if strings.Contains(string(body), "s3cret") {
		t.Fatal("a secret reached the HAR")
	}
	var har harFile
	if err := json.Unmarshal(body, &har); err != nil || har.Log == nil {
		t.Fatalf("HAR: %v: %.300s", err, body)
	}
	if har.Log.Version == nil || *har.Log.Version != "1.2" || har.Log.Creator == nil || har.Log.Creator.Name == nil || *har.Log.Creator.Name == "" || har.Log.Creator.Version == nil {
		t.Fatalf("log: version and creator required: %.300s", body)
	}
	if len(har.Log.Entries) != 2 {
		t.Fatalf("%d entries, want the page and its fetch", len(har.Log.Entries))
	}
	for i, en := range har.Log.Entries {
		checkHAR(t, i, en)
	}
	chromeReadsHAR(t, body, e.base+"/?lang=en", e.base+"/api/products")
	doc, api := har.Log.Entries[0], har.Log.Entries[1]
	tests := []struct {
		name   string
		entry  harEntry
		load   proxied
		url    string
		accept string
		spans  []string // app spans the entry's _spans hold
	}{
		{"the page", doc, page, e.base + "/?lang=en", "text/html", []string{"GET /", "SELECT products", "render index.html"}},
		{"its fetch", api, fetch, e.base + "/api/products", "*/*", []string{"GET /api/products", "SELECT products"}},
	}
	for _, tt := range tests {
		en := tt.entry
		if en.TraceID != page.traceID || en.SpanID != tt.load.id || *en.Request.URL != tt.url || *en.Request.Method != "GET" || *en.Response.Status != 200 {
			t.Fatalf("%s: entry %s %s -> %d (trace %s, span %s), want GET %s -> 200 of %s/%s", tt.name,
				*en.Request.Method, *en.Request.URL, *en.Response.Status, en.TraceID, en.SpanID, tt.url, page.traceID, tt.load.id)
		}
		if harHeader(en.Request.Headers, "Accept") != tt.accept || harHeader(en.Response.Headers, "Traceresponse") == "" || harHeader(en.Response.Headers, "Content-Type") != *en.Response.Content.MimeType {
			t.Fatalf("%s: headers %+v / %+v lack the exchange's", tt.name, en.Request.Headers, en.Response.Headers)
		}
		spans := parseOTLP(t, en.Spans)
		ids := spanIDs(spans)
		if _, ok := ids[tt.load.id]; !ok {
			t.Fatalf("%s: _spans lack the proxy's span %s:%s", tt.name, tt.load.id, describe(spans))
		}
		for _, name := range tt.spans {
			if _, ok := find(spans, "shop-web", name); !ok {
				t.Fatalf("%s: _spans lack the app's %q:%s", tt.name, name, describe(spans))
			}
		}
		if _, ok := find(spans, "inventory", "compute stock"); !ok {
			t.Fatalf("%s: _spans lack the inventory's span:%s", tt.name, describe(spans))
		}
	}
	if _, ok := spanIDs(parseOTLP(t, doc.Spans))[fetch.id]; ok {
		t.Fatal("the page's _spans hold the fetch's spans")
	}
	if q := doc.Request.QueryString; len(q) != 1 || *q[0].Name != "lang" || *q[0].Value != "en" {
		t.Fatalf("page's queryString %+v", q)
	}
	if harHeader(doc.Request.Headers, "Authorization") == "" || harHeader(doc.Request.Headers, "Cookie") == "" {
		t.Fatalf("the page's Authorization and Cookie headers are not listed (redacted): %+v", doc.Request.Headers)
	}
	if strings.Contains(string(body), other.id) {
		t.Fatal("a request of another trace is in the session's HAR")
	}

	// A colleague's Caddy imports it: the same records, the same spans.
	second := newEnv(t)
	second.startCaddy(t, basicCaddyfile, app)
	imported := importInto(t, second, body, 200)
	if !slices.Equal(imported.TraceIDs, []string{page.traceID}) || !slices.Equal(sorted(imported.Requests), sorted([]string{page.id, fetch.id})) {
		t.Fatalf("import answered %+v, want trace %s, requests %s %s", imported, page.traceID, page.id, fetch.id)
	}
	for _, tt := range tests {
		var rec, orig struct {
			Method, URL string
			Status      int
			Done        bool
			TraceID     string `json:"traceId"`
		}
		var marks struct{ Imported bool }
		readAPI(t, second, "/requests/"+tt.load.id, 200, &rec)
		readAPI(t, second, "/requests/"+tt.load.id, 200, &marks)
		readAPI(t, e, "/requests/"+tt.load.id, 200, &orig)
		if rec != orig || !rec.Done || !marks.Imported {
			t.Fatalf("%s imported as %+v (imported %v), was %+v", tt.name, rec, marks.Imported, orig)
		}
	}
	var list []struct {
		ID       string
		Imported bool
	}
	readAPI(t, second, "/requests", 200, &list)
	if len(list) != 2 || !list[0].Imported || !list[1].Imported {
		t.Fatalf("the second Caddy lists %+v, want the two imported records, marked imported", list)
	}
	var own []struct{ Imported *bool }
	readAPI(t, e, "/requests", 200, &own)
	for _, sum := range own {
		if sum.Imported != nil {
			t.Fatalf("the first Caddy's own records say imported: %+v", own)
		}
	}
	// Only the toolbar's own origin may import (a browser says where a
	// request comes from).
	for _, tt := range []struct {
		name, header, value string
		want                int
	}{
		{"its own origin", "Origin", second.base, 200},
		{"another origin", "Origin", "http://evil.test", 403},
		{"another port", "Origin", e.base, 403},
		{"a page of the same site", "Sec-Fetch-Site", "same-site", 403},
	} {
		req, err := http.NewRequest(http.MethodPost, second.base+"/__tracebar/api/import", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(tt.header, tt.value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Fatalf("an import from %s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
	want := spanIDs(append(parseOTLP(t, doc.Spans), parseOTLP(t, api.Spans)...))
	_, trace := get(t, second.base+"/__tracebar/api/traces/"+page.traceID)
	got := spanIDs(parseOTLP(t, trace))
	for id, s := range want {
		if g, ok := got[id]; !ok || g.Name != s.Name || g.Service != s.Service || g.ParentSpanID != s.ParentSpanID {
			t.Fatalf("imported trace lacks %s %q of %s:%s", id, s.Name, s.Service, describe(parseOTLP(t, trace)))
		}
	}
	if !strings.Contains(string(trace), `"tracebar.source"`) || !strings.Contains(string(trace), `"import"`) {
		t.Fatalf("imported spans are not marked tracebar.source=import: %.300s", trace)
	}

	// An OTLP/JSON trace imports too; anything else is a 400.
	_, otlp := get(t, e.base+"/__tracebar/api/traces/"+other.traceID)
	if got := importInto(t, second, otlp, 200); !slices.Equal(got.TraceIDs, []string{other.traceID}) {
		t.Fatalf("OTLP import answered %+v", got)
	}
	if _, ok := find(waitSpans(t, second.base, other.traceID, has("shop-web", "GET /api/products")), "shop-web", "SELECT products"); !ok {
		t.Fatal("the OTLP import lacks the app's query")
	}
	for _, bad := range []string{"not json", `{}`, `{"log":{"entries":"x"}}`, `{"resourceSpans":"x"}`, `[1,2]`} {
		importInto(t, second, []byte(bad), 400)
	}
}

// importResult is POST <prefix>/api/import's answer.
type importResult struct {
	TraceIDs []string `json:"traceIds"`
	Requests []string `json:"requests"`
}

func importInto(t testing.TB, e *env, body []byte, want int) importResult {
	t.Helper()
	resp, err := http.Post(e.base+"/__tracebar/api/import", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("import of %.80q: status %d, want %d: %s", body, resp.StatusCode, want, answer)
	}
	var out importResult
	if want == 200 {
		if err := json.Unmarshal(answer, &out); err != nil {
			t.Fatalf("import answer %s: %v", answer, err)
		}
	} else if len(strings.TrimSpace(string(answer))) == 0 {
		t.Fatalf("import of %.80q: a %d without a message", body, want)
	}
	return out
}

func sorted(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return out
}

// chromeReadsHAR reads a HAR with Chrome DevTools' own HAR reader
// (tests/har: what "Import HAR file" runs) and checks it saw the entries
// of urls, in order, each with a status, a MIME type and timings.
func chromeReadsHAR(t *testing.T, har []byte, urls ...string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "session.har")
	if err := os.WriteFile(file, har, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("node", "har/check.mjs", file).CombinedOutput()
	if err != nil {
		t.Fatalf("Chrome DevTools cannot read the HAR: %v\n%s", err, out)
	}
	var read struct {
		Version string
		Entries []struct {
			URL      string
			Status   int
			MimeType string
			Time     float64
			Wait     float64
		}
	}
	if err := json.Unmarshal(out, &read); err != nil {
		t.Fatalf("check.mjs: %v: %s", err, out)
	}
	if read.Version != "1.2" || len(read.Entries) != len(urls) {
		t.Fatalf("DevTools read %s", out)
	}
	for i, en := range read.Entries {
		if en.URL != urls[i] || en.Status == 0 || en.MimeType == "" || en.Time <= 0 || en.Wait < 0 {
			t.Errorf("DevTools read entry %d as %+v, want %s with a status, a MIME type and timings", i, en, urls[i])
		}
	}
}
