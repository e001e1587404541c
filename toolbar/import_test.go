package toolbar_test

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tracebar/tracebar/toolbar"
)

// What POST /api/import does to what it is given: a file from elsewhere
// is data to show, never trusted as this proxy's own.

// harWith is the page session's HAR with its first entry changed by edit.
func harWith(t *testing.T, s session, edit func(entry map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(exportHAR(t, newAPI(s.store), s.page.ID), &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc["log"].(map[string]any)["entries"].([]any)[0].(map[string]any))
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// importInto posts body to a fresh store's API and fails unless it is
// taken.
func importInto(t *testing.T, body []byte) (*toolbar.Store, *toolbar.API) {
	t.Helper()
	store := toolbar.NewStore(toolbar.Limits{})
	api := newAPI(store)
	if rr := postImport(api, "application/json", body); rr.Code != http.StatusOK {
		t.Fatalf("import: %d %s", rr.Code, rr.Body)
	}
	return store, api
}

// withSource is spans with each one's tracebar.source set as sources
// says ("" leaves a span without one).
func withSource(spans []toolbar.Span, sources ...string) []toolbar.Span {
	out := make([]toolbar.Span, len(spans))
	for i, sp := range spans {
		sp.Attributes = append([]toolbar.KeyValue(nil), sp.Attributes...)
		if src := sources[i%len(sources)]; src != "" {
			sp.Attributes = append(sp.Attributes, toolbar.KeyValue{Key: "tracebar.source", Value: toolbar.ValueOf(src)})
		}
		out[i] = sp
	}
	return out
}

func TestImportMarksEverySpanAsImported(t *testing.T) {
	s := newSession(t)
	otlp := func(sources ...string) []byte {
		b, err := toolbar.MarshalOTLPJSON(withSource(s.store.RecordSpans(s.page), sources...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		body []byte
	}{
		{"OTLP/JSON without a source", otlp("")},
		{"OTLP/JSON from a toolbar with a backend", otlp(toolbar.BackendSource, "")},
		{"OTLP/JSON claiming any source", otlp("proxy", toolbar.ImportSource)},
		{"a HAR whose spans claim the backend", harWith(t, s, func(entry map[string]any) {
			var spans any
			json.Unmarshal(otlp(toolbar.BackendSource), &spans)
			entry["_spans"] = spans
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := importInto(t, tt.body)
			spans, _ := store.Spans(s.page.TraceID, 0)
			if len(spans) < 7 {
				t.Fatalf("%d spans imported, want the page's 7 at least", len(spans))
			}
			for _, sp := range spans {
				if src, marks := sourceMarks(sp); src != toolbar.ImportSource || marks != 1 {
					t.Errorf("span %s: tracebar.source %q (%d times), want %q once", sp.Name, src, marks, toolbar.ImportSource)
				}
			}
		})
	}
}

func TestImportRedactsHARRequestBodies(t *testing.T) {
	const form, jsonType = "application/x-www-form-urlencoded", "application/json"
	tests := []struct {
		name     string
		postData map[string]any
		want     *toolbar.Body // nil: no body kept
	}{
		{"a form's password", map[string]any{"mimeType": form, "text": "user=ann&password=hunter2"},
			&toolbar.Body{ContentType: form, Text: "user=ann&password=%5Bredacted%5D", Redacted: true}},
		{"a JSON token, at any depth", map[string]any{"mimeType": jsonType + "; charset=utf-8", "text": `{"cart":{"id":7,"token":"t"}}`},
			&toolbar.Body{ContentType: jsonType + "; charset=utf-8", Text: `{"cart":{"id":7,"token":"[redacted]"}}`, Redacted: true}},
		{"redacted already, as Tracebar exports it", map[string]any{"mimeType": form, "text": "csrf=%5Bredacted%5D&sku=1", "_redacted": true},
			&toolbar.Body{ContentType: form, Text: "csrf=%5Bredacted%5D&sku=1", Redacted: true}},
		{"no secret", map[string]any{"mimeType": jsonType, "text": `{"sku":42}`},
			&toolbar.Body{ContentType: jsonType, Text: `{"sku":42}`}},
		{"a body the proxy would not capture: text", map[string]any{"mimeType": "text/plain", "text": "password=hunter2"}, nil},
		{"a body the proxy would not capture: multipart", map[string]any{"mimeType": "multipart/form-data; boundary=x", "text": "--x\r\npassword\r\n--x--"}, nil},
		{"JSON that does not parse", map[string]any{"mimeType": jsonType, "text": `{"password":"hunter2"`}, nil},
		{"over MaxCapturedBody", map[string]any{"mimeType": form, "text": "a=" + strings.Repeat("x", toolbar.MaxCapturedBody)}, nil},
	}
	s := newSession(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := importInto(t, harWith(t, s, func(entry map[string]any) {
				tt.postData["params"] = []any{}
				entry["request"].(map[string]any)["postData"] = tt.postData
			}))
			got := store.Request(s.page.ID).RequestBody
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Fatalf("request body %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestImportedRecordsAreMarked(t *testing.T) {
	s := newSession(t)
	otlp, err := toolbar.MarshalOTLPJSON(s.store.RecordSpans(s.fetch))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body []byte
		ids  []string
	}{
		{"HAR entries", exportHAR(t, newAPI(s.store), s.page.ID), []string{s.page.ID, s.static.ID, s.fetch.ID}},
		{"OTLP root spans", otlp, []string{s.fetch.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, api := importInto(t, tt.body)
			// A request this proxy saw is not imported.
			own := &toolbar.Record{ID: "00000000000000f1", TraceID: toolbar.TraceID{0xf1}, Method: "GET", URL: "/mine", Done: true, StartTime: sessionT0}
			store.PutRequest(own)
			for _, id := range tt.ids {
				if rec := store.Request(id); rec == nil || !rec.Imported {
					t.Errorf("record %s: %+v, want it marked imported", id, rec)
				}
			}
			rr := httptest.NewRecorder()
			api.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/requests", nil))
			var summaries []struct {
				ID       string
				Imported *bool `json:"imported"`
			}
			if err := json.Unmarshal(rr.Body.Bytes(), &summaries); err != nil {
				t.Fatal(err)
			}
			if len(summaries) != len(tt.ids)+1 {
				t.Fatalf("%d summaries, want %d", len(summaries), len(tt.ids)+1)
			}
			for _, sum := range summaries {
				imported := sum.Imported != nil && *sum.Imported
				if imported != (sum.ID != own.ID) || (sum.ID == own.ID && sum.Imported != nil) {
					t.Errorf("summary of %s says imported %v, want %v (and no field for the proxy's own)", sum.ID, sum.Imported, sum.ID != own.ID)
				}
			}
		})
	}
}

func TestImportedRootSpansBecomeRecords(t *testing.T) {
	attr := func(key string, value any) toolbar.KeyValue {
		return toolbar.KeyValue{Key: key, Value: toolbar.ValueOf(value)}
	}
	tests := []struct {
		name        string
		spanName    string
		attrs       []toolbar.KeyValue
		method, url string
		status      int
		route       string
	}{
		{"current HTTP attributes", "GET", []toolbar.KeyValue{attr("http.request.method", "GET"), attr("url.path", "/orders/7"), attr("url.query", "x=1"),
			attr("http.response.status_code", int64(200))}, "GET", "/orders/7?x=1", 200, "GET /orders/{id}"},
		{"older HTTP attributes, a status as a string", "HTTP GET", []toolbar.KeyValue{attr("http.method", "POST"), attr("http.target", "/cart"),
			attr("http.status_code", "201")}, "POST", "/cart", 201, "POST /cart"},
		{"the method and path of the span's name", "GET /orders/42", nil, "GET", "/orders/42", 0, "GET /orders/{id}"},
		{"a name's method where the attributes give the URL", "DELETE /x", []toolbar.KeyValue{attr("url.full", "https://shop.test/cart/9")},
			"DELETE", "https://shop.test/cart/9", 0, "DELETE /cart/{id}"},
		{"a name's path where the attributes give the method", "PUT /items/abc", []toolbar.KeyValue{attr("http.request.method", "PATCH")},
			"PATCH", "/items/abc", 0, "PATCH /items/abc"},
		{"a name without a method: no method, the name as URL", "process order", nil, "", "process order", 0, "process order"},
		{"a lower-case word is no method", "get /orders", nil, "", "get /orders", 0, "get /orders"},
		{"a path-less name", "GET", nil, "", "GET", 0, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := toolbar.Span{TraceID: toolbar.TraceID{0xa1}, SpanID: toolbar.SpanID{0xb1}, Name: tt.spanName, Kind: toolbar.KindServer,
				Start: sessionT0, End: sessionT0.Add(12 * time.Millisecond), Attributes: tt.attrs}
			body, err := toolbar.MarshalOTLPJSON([]toolbar.Span{root})
			if err != nil {
				t.Fatal(err)
			}
			store, api := importInto(t, body)
			rec := store.Request(root.SpanID.String())
			if rec == nil || rec.Method != tt.method || rec.URL != tt.url || rec.Status != tt.status || rec.DurationMs != 12 {
				t.Fatalf("record %+v, want %q %q, status %d, 12 ms", rec, tt.method, tt.url, tt.status)
			}
			sums := getRoutes(t, api)
			if len(sums) != 1 || sums[0] != tt.route || strings.HasPrefix(sums[0], " ") {
				t.Fatalf("summary routes %q, want [%q]", sums, tt.route)
			}
		})
	}
}

// getRoutes reads the routes of GET /api/requests.
func getRoutes(t *testing.T, api http.Handler) []string {
	t.Helper()
	rr := httptest.NewRecorder()
	api.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/requests", nil))
	var summaries []struct{ Route string }
	if err := json.Unmarshal(rr.Body.Bytes(), &summaries); err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, sum := range summaries {
		routes = append(routes, sum.Route)
	}
	return routes
}

// TestImportReadsTracesSavedFromJaegerAndTempo: what Jaeger's API v3 and
// Tempo's APIs answer for a trace imports as the OTLP/JSON inside does.
func TestImportReadsTracesSavedFromJaegerAndTempo(t *testing.T) {
	s := newSession(t)
	otlp, err := toolbar.MarshalOTLPJSON(s.store.RecordSpans(s.fetch))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ ResourceSpans json.RawMessage }
	if err := json.Unmarshal(otlp, &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, body string }{
		{"Jaeger API v3", `{"result":` + string(otlp) + `}`},
		{"Tempo API v1", `{"batches":` + string(doc.ResourceSpans) + `}`},
		{"Tempo API v2", `{"trace":` + string(otlp) + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := importInto(t, []byte(tt.body))
			got, _ := store.Spans(s.fetch.TraceID, 0)
			if want := s.store.RecordSpans(s.fetch); len(got) != len(want) || store.Request(s.fetch.ID) == nil {
				t.Fatalf("%d spans and record %v, want %d spans and the fetch's record", len(got), store.Request(s.fetch.ID), len(want))
			}
		})
	}
}

// TestImportRefusesOtherOrigins: only the toolbar's own pages, and clients
// that are not browsers, may import.
func TestImportRefusesOtherOrigins(t *testing.T) {
	s := newSession(t)
	otlp, err := toolbar.MarshalOTLPJSON(s.store.RecordSpans(s.fetch))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, site, origin string
		https              bool
		want               int
	}{
		{"no browser headers (curl)", "", "", false, http.StatusOK},
		{"same origin", "same-origin", "http://tracebar.test:8080", false, http.StatusOK},
		{"the user's own action", "none", "", false, http.StatusOK},
		{"an origin without Sec-Fetch-Site", "", "http://tracebar.test:8080", false, http.StatusOK},
		{"https on its default port", "same-origin", "https://shop.test", true, http.StatusOK},
		{"same site, another origin", "same-site", "http://admin.tracebar.test:8080", false, http.StatusForbidden},
		{"cross-site", "cross-site", "https://evil.test", false, http.StatusForbidden},
		{"another origin without Sec-Fetch-Site", "", "http://evil.test", false, http.StatusForbidden},
		{"another port", "", "http://tracebar.test:9090", false, http.StatusForbidden},
		{"another scheme", "", "https://tracebar.test:8080", false, http.StatusForbidden},
		{"an opaque origin", "", "null", false, http.StatusForbidden},
		{"a same-origin claim with another Origin", "same-origin", "http://evil.test", false, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := toolbar.NewStore(toolbar.Limits{})
			req := httptest.NewRequest(http.MethodPost, "http://tracebar.test:8080/api/import", strings.NewReader(string(otlp)))
			if tt.https {
				req = httptest.NewRequest(http.MethodPost, "https://shop.test:443/api/import", strings.NewReader(string(otlp)))
				req.TLS = &tls.ConnectionState{}
			}
			req.Header.Set("Content-Type", "application/json")
			if tt.site != "" {
				req.Header.Set("Sec-Fetch-Site", tt.site)
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			rr := httptest.NewRecorder()
			newAPI(store).ServeHTTP(rr, req)
			if rr.Code != tt.want {
				t.Fatalf("%d %s, want %d", rr.Code, rr.Body, tt.want)
			}
			if stored := store.Stats().Spans > 0; stored != (tt.want == http.StatusOK) {
				t.Fatalf("spans stored: %v, want %v", stored, tt.want == http.StatusOK)
			}
		})
	}
}
