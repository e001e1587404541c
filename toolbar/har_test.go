package toolbar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tracebar/tracebar/otelbridge"
	"github.com/tracebar/tracebar/toolbar"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// session is what the proxy stores for a page load: the document, the
// fetch it made and a static file, in one trace (the page's), with an
// earlier record of that trace and a record of another trace that the
// page's HAR leaves out. The spans come from OpenTelemetry Go's SDK
// through the proxy's own span processor.
type session struct {
	store                               *toolbar.Store
	page, fetch, static, earlier, other *toolbar.Record
}

var sessionT0 = time.Date(2025, 3, 4, 10, 0, 0, 123456789, time.UTC)

func newSession(t *testing.T) session {
	t.Helper()
	store := toolbar.NewStore(toolbar.Limits{})
	provider := func(service string) trace.Tracer {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(
			otelbridge.NewStoreProcessor(store, resource.NewSchemaless(attribute.String("service.name", service)))))
		return tp.Tracer(service)
	}
	proxy, app := provider("caddy"), provider("shop-web")
	at := func(ms float64) time.Time { return sessionT0.Add(time.Duration(ms * float64(time.Millisecond))) }
	// The browser's document span, which the proxy does not store.
	browser := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0x5b, 1}, SpanID: trace.SpanID{0xb0}, TraceFlags: trace.FlagsSampled, Remote: true})
	inPage := trace.ContextWithRemoteSpanContext(context.Background(), browser)

	// exchange records the proxy's SERVER and CLIENT spans of a request
	// from fromMs to toMs, calling handle with the app's context between.
	exchange := func(ctx context.Context, name, scheme string, fromMs, toMs float64, handle func(context.Context)) trace.SpanContext {
		ctx, server := proxy.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(fromMs)),
			trace.WithAttributes(attribute.String("url.scheme", scheme), attribute.Int("http.response.status_code", 200)))
		if handle != nil {
			cctx, client := proxy.Start(ctx, "GET upstream", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(fromMs+0.1)),
				trace.WithAttributes(attribute.String("server.address", "localhost"), attribute.String("server.port", "3000")))
			handle(cctx)
			client.End(trace.WithTimestamp(at(toMs - 0.1)))
		}
		server.End(trace.WithTimestamp(at(toMs)))
		return server.SpanContext()
	}
	pageSC := exchange(inPage, "GET /orders", "https", 0, 40, func(ctx context.Context) {
		ctx, handler := app.Start(ctx, "GET /orders", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(7)),
			trace.WithAttributes(attribute.String("http.route", "/orders"), attribute.String("code.file.path", "/app/orders.go"), attribute.Int("code.line.number", 31)))
		for i := range 3 {
			_, q := app.Start(ctx, "SELECT items", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(8+float64(i))),
				trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", "SELECT * FROM items WHERE order_id = $1")))
			q.End(trace.WithTimestamp(at(8.5 + float64(i))))
		}
		_, render := app.Start(ctx, "render", trace.WithTimestamp(at(12)))
		render.RecordError(errTemplate{}, trace.WithTimestamp(at(13)))
		render.SetStatus(codes.Error, "template: missing key")
		render.End(trace.WithTimestamp(at(14)))
		handler.End(trace.WithTimestamp(at(19)))
	})
	fetchSC := exchange(inPage, "POST /api/cart", "https", 100, 110, func(ctx context.Context) {
		_, h := app.Start(ctx, "POST /api/cart", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(101)))
		h.End(trace.WithTimestamp(at(105)))
	})
	staticSC := exchange(inPage, "GET /app.css", "https", 60, 61, nil)
	earlierSC := exchange(inPage, "GET /", "https", -500, -490, nil)
	otherSC := exchange(context.Background(), "GET /other", "http", 0, 5, nil)

	rec := func(sc trace.SpanContext, method, uri string, fromMs, durationMs float64) *toolbar.Record {
		return &toolbar.Record{ID: sc.SpanID().String(), TraceID: toolbar.TraceID(sc.TraceID()), Method: method, URL: uri,
			Host: "127.0.0.1:8443", Proto: "HTTP/2.0", RemoteAddr: "127.0.0.1:51234", Status: 200, Done: true,
			StartTime: at(fromMs), DurationMs: durationMs, ClientRequest: toolbar.Headers{{Name: "Accept", Value: "*/*"}}}
	}
	s := session{store: store}
	s.page = rec(pageSC, "GET", "/orders?id=7&token=%5Bredacted%5D", 0, 40)
	s.page.ContentType, s.page.Injected, s.page.TraceLink = "text/html; charset=utf-8", true, "http://jaeger:16686/trace/"+pageSC.TraceID().String()
	s.page.ResponseBytes, s.page.ClientBytes, s.page.ClientEncoding = 5000, 5120, "gzip"
	s.page.Timing = toolbar.Timing{UpstreamStartMs: 0.2, DNSMs: 1, ConnectMs: 2, TLSMs: 3, WroteRequestMs: 6.5, FirstByteMs: 20, HeadersMs: 21, UpstreamLatency: 19.5, UpstreamTotal: 39}
	s.page.ClientRequest = toolbar.Headers{{Name: "Accept", Value: "text/html"}, {Name: "Accept-Encoding", Value: "gzip, br"}, {Name: "Cookie", Value: toolbar.Redacted}}
	s.page.UpstreamRequest = toolbar.Headers{{Name: ":path", Value: "/orders?id=7&token=%5Bredacted%5D"}, {Name: "Traceparent", Value: "00-" + pageSC.TraceID().String() + "-0102030405060708-01"}}
	s.page.UpstreamResponse = toolbar.Headers{{Name: "Content-Type", Value: "text/html; charset=utf-8"}, {Name: "Set-Cookie", Value: "sid=[redacted]; Path=/; HttpOnly; Secure; SameSite=Lax"}}
	s.page.ClientResponse = append(toolbar.Headers{{Name: "Content-Encoding", Value: "gzip"}}, s.page.UpstreamResponse...)

	s.fetch = rec(fetchSC, "POST", "/api/cart", 100, 10)
	s.fetch.Status, s.fetch.ContentType, s.fetch.RequestBytes, s.fetch.ResponseBytes, s.fetch.ClientBytes = 201, "application/json", 34, 15, 15
	s.fetch.RequestBody = &toolbar.Body{ContentType: "application/x-www-form-urlencoded", Text: "sku=42&qty=2&csrf=%5Bredacted%5D", Redacted: true}
	s.fetch.Timing = toolbar.Timing{UpstreamStartMs: 0.1, ConnReused: true, WroteRequestMs: 0.4, FirstByteMs: 3, HeadersMs: 3.2}
	s.fetch.UpstreamRequest = toolbar.Headers{{Name: "Content-Type", Value: "application/x-www-form-urlencoded"}}
	s.fetch.ClientResponse = toolbar.Headers{{Name: "Content-Type", Value: "application/json"}}
	s.fetch.UpstreamResponse = s.fetch.ClientResponse

	s.static = rec(staticSC, "GET", "/app.css", 60, 1)
	s.static.Timing = toolbar.Timing{HeadersMs: 0.5} // file_server: no upstream
	s.static.ContentType, s.static.ResponseBytes, s.static.ClientBytes = "text/css", 812, 812
	s.static.ClientResponse = toolbar.Headers{{Name: "Content-Type", Value: "text/css"}, {Name: "Etag", Value: `"abc"`}}
	s.static.UpstreamResponse = s.static.ClientResponse
	s.earlier = rec(earlierSC, "GET", "/", -500, 10)
	s.other = rec(otherSC, "GET", "/other", 0, 5)
	for _, r := range []*toolbar.Record{s.earlier, s.page, s.other, s.static, s.fetch} {
		// As the proxy stores them: redacted.
		for _, h := range []*toolbar.Headers{&r.ClientRequest, &r.UpstreamRequest, &r.UpstreamResponse, &r.ClientResponse} {
			*h = (*toolbar.Redactor)(nil).Fields(append(toolbar.Headers(nil), *h...))
		}
		store.PutRequest(r)
	}
	return s
}

type errTemplate struct{}

func (errTemplate) Error() string { return "template: missing key" }

func newAPI(store *toolbar.Store) *toolbar.API {
	api := toolbar.NewAPI(store)
	api.DecodeTraces = func(b []byte) ([]toolbar.Span, error) { return otelbridge.DecodeTraces(b, nil) }
	return api
}

func exportHAR(t *testing.T, api *toolbar.API, id string) []byte {
	t.Helper()
	rr := httptest.NewRecorder()
	api.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/requests/"+id+"/har", nil))
	if rr.Code != http.StatusOK {
		t.Fatalf("GET har: %d %s", rr.Code, rr.Body)
	}
	if ct, cd := rr.Header().Get("Content-Type"), rr.Header().Get("Content-Disposition"); ct != "application/json" || cd != `attachment; filename="tracebar-`+id+`.har"` {
		t.Fatalf("Content-Type %q, Content-Disposition %q", ct, cd)
	}
	return rr.Body.Bytes()
}

// harSpec names the fields HAR 1.2 requires of each object, with their
// JSON types, and the objects and lists of objects inside.
var harSpec = map[string]map[string]string{
	"log":         {"version": "string", "creator": "object:creator", "pages": "array:page", "entries": "array:entry"},
	"creator":     {"name": "string", "version": "string"},
	"page":        {"startedDateTime": "string", "id": "string", "title": "string", "pageTimings": "object:pageTimings"},
	"pageTimings": {"onContentLoad": "number", "onLoad": "number"},
	"entry": {"startedDateTime": "string", "time": "number", "request": "object:request", "response": "object:response",
		"cache": "object:cache", "timings": "object:timings"},
	"request": {"method": "string", "url": "string", "httpVersion": "string", "cookies": "array:cookie", "headers": "array:pair",
		"queryString": "array:pair", "headersSize": "number", "bodySize": "number"},
	"response": {"status": "number", "statusText": "string", "httpVersion": "string", "cookies": "array:cookie", "headers": "array:pair",
		"content": "object:content", "redirectURL": "string", "headersSize": "number", "bodySize": "number"},
	"cookie":   {"name": "string", "value": "string"},
	"pair":     {"name": "string", "value": "string"},
	"postData": {"mimeType": "string", "params": "array:pair", "text": "string"},
	"content":  {"size": "number", "mimeType": "string"},
	"cache":    {},
	"timings":  {"blocked": "number", "dns": "number", "connect": "number", "send": "number", "wait": "number", "receive": "number", "ssl": "number"},
}

// checkHAR reports each field of v, a kind of harSpec, that is missing or
// of the wrong JSON type.
func checkHAR(t *testing.T, where, kind string, v any) {
	t.Helper()
	obj, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s: %T, want an object", where, v)
		return
	}
	if pd, ok := obj["postData"]; ok && kind == "request" {
		checkHAR(t, where+".postData", "postData", pd)
	}
	for name, typ := range harSpec[kind] {
		typ, inner, _ := strings.Cut(typ, ":")
		got, ok := obj[name]
		var is bool
		switch typ {
		case "string":
			_, is = got.(string)
		case "number":
			_, is = got.(float64)
		case "object":
			_, is = got.(map[string]any)
		case "array":
			_, is = got.([]any)
		}
		if !ok || !is {
			t.Errorf("%s.%s = %#v, want a %s", where, name, got, typ)
			continue
		}
		switch {
		case typ == "object":
			checkHAR(t, where+"."+name, inner, got)
		case typ == "array":
			for i, e := range got.([]any) {
				checkHAR(t, where+"."+name+"["+string(rune('0'+i))+"]", inner, e)
			}
		}
	}
}

func TestHARExportIsHAR12ThatDevtoolsImport(t *testing.T) {
	s := newSession(t)
	body := exportHAR(t, newAPI(s.store), s.page.ID)
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	checkHAR(t, "log", "log", doc["log"])

	var f struct {
		Log struct {
			Version string
			Creator struct{ Name string }
			Pages   []struct{ ID, Title string }
			Entries []struct {
				Pageref, StartedDateTime, ServerIPAddress, TraceID_, SpanID_ string
				Time                                                         float64
				Timings                                                      map[string]float64
				Request                                                      struct {
					URL, HTTPVersion string
					QueryString      []struct{ Name, Value string }
					PostData         *struct {
						Params []struct{ Name, Value string }
					}
				}
				Response struct {
					BodySize int64
					Content  struct{ MimeType string }
				}
				Upstream []struct{ Name, Value string } `json:"_upstreamRequestHeaders"`
				Spans    struct {
					ResourceSpans []struct {
						ScopeSpans []struct{ Spans []struct{ SpanID string } }
					}
				} `json:"_spans"`
				SpanID  string `json:"_spanId"`
				TraceID string `json:"_traceId"`
			}
		}
	}
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatal(err)
	}
	l := f.Log
	if l.Version != "1.2" || l.Creator.Name != "Tracebar" || len(l.Pages) != 1 || l.Pages[0].Title != "https://127.0.0.1:8443/orders?id=7&token=%5Bredacted%5D" {
		t.Fatalf("log %+v", l)
	}
	wantIDs := []string{s.page.ID, s.static.ID, s.fetch.ID} // in time order; not the earlier record nor another trace's
	wantSpans := []int{7, 1, 3}                             // proxy server + client, app server, 3 queries, render; the static file's server; the fetch's three
	iso := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	if len(l.Entries) != len(wantIDs) {
		t.Fatalf("%d entries, want %d", len(l.Entries), len(wantIDs))
	}
	for i, e := range l.Entries {
		if e.SpanID != wantIDs[i] || e.TraceID != s.page.TraceID.String() || e.Pageref != l.Pages[0].ID {
			t.Errorf("entry %d: _spanId %s _traceId %s pageref %s, want %s %s %s", i, e.SpanID, e.TraceID, e.Pageref, wantIDs[i], s.page.TraceID, l.Pages[0].ID)
		}
		if !iso.MatchString(e.StartedDateTime) || e.Request.HTTPVersion != "HTTP/2.0" || e.Response.Content.MimeType == "" {
			t.Errorf("entry %d: startedDateTime %q, httpVersion %q, mimeType %q", i, e.StartedDateTime, e.Request.HTTPVersion, e.Response.Content.MimeType)
		}
		n := 0
		for _, rs := range e.Spans.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				n += len(ss.Spans)
			}
		}
		if n != wantSpans[i] {
			t.Errorf("entry %d: %d spans in _spans, want %d", i, n, wantSpans[i])
		}
		sum := 0.0
		for _, phase := range []string{"blocked", "dns", "connect", "send", "wait", "receive"} {
			if v := e.Timings[phase]; v >= 0 {
				sum += v
			} else if v != -1 || phase == "send" || phase == "wait" || phase == "receive" {
				t.Errorf("entry %d: timings.%s = %v", i, phase, v)
			}
		}
		if math.Abs(sum-e.Time) > 0.002 || e.Timings["ssl"] > e.Timings["connect"] {
			t.Errorf("entry %d: timings %v add up to %v, want time %v (ssl within connect)", i, e.Timings, sum, e.Time)
		}
	}
	page, fetch := l.Entries[0], l.Entries[2]
	if page.ServerIPAddress != "127.0.0.1" || len(page.Upstream) != 2 || page.Response.BodySize != -1 {
		t.Errorf("page: serverIPAddress %q, upstream headers %v, bodySize %d (encode compressed it: unknown)", page.ServerIPAddress, page.Upstream, page.Response.BodySize)
	}
	if q := page.Request.QueryString; len(q) != 2 || q[1].Name != "token" || q[1].Value != toolbar.Redacted {
		t.Errorf("queryString %+v", q)
	}
	if pd := fetch.Request.PostData; pd == nil || len(pd.Params) != 3 || pd.Params[2].Name != "csrf" || pd.Params[2].Value != toolbar.Redacted {
		t.Errorf("fetch postData %+v", pd)
	}
}

func TestHARCookies(t *testing.T) {
	type cookie struct {
		Name, Value, Path, Domain, Expires, SameSite string
		HTTPOnly, Secure                             bool
	}
	tests := []struct {
		name              string
		header            toolbar.HeaderField
		request, response []cookie
	}{
		{"a Set-Cookie whose attributes were kept", toolbar.HeaderField{Name: "Set-Cookie", Value: "sid=[redacted]; Path=/; Domain=shop.test; Expires=Wed, 09 Jun 2027 10:18:14 GMT; HttpOnly; Secure; SameSite=Lax"},
			[]cookie{}, []cookie{{Name: "sid", Value: "[redacted]", Path: "/", Domain: "shop.test", Expires: "2027-06-09T10:18:14Z", SameSite: "Lax", HTTPOnly: true, Secure: true}}},
		{"a Set-Cookie redacted whole", toolbar.HeaderField{Name: "Set-Cookie", Value: toolbar.Redacted}, []cookie{}, []cookie{}},
		{"a Cookie header", toolbar.HeaderField{Name: "Cookie", Value: "theme=dark; lang=en"}, []cookie{{Name: "theme", Value: "dark"}, {Name: "lang", Value: "en"}}, []cookie{}},
		{"a Cookie header redacted whole", toolbar.HeaderField{Name: "Cookie", Value: toolbar.Redacted}, []cookie{}, []cookie{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := toolbar.NewStore(toolbar.Limits{})
			rec := &toolbar.Record{ID: "00000000000000a1", TraceID: toolbar.TraceID{1}, Method: "GET", URL: "/", Host: "localhost", Done: true, Status: 200, StartTime: sessionT0}
			if tt.header.Name == "Cookie" {
				rec.ClientRequest = toolbar.Headers{tt.header}
			} else {
				rec.ClientResponse = toolbar.Headers{tt.header}
			}
			store.PutRequest(rec)
			var f struct {
				Log struct {
					Entries []struct {
						Request, Response struct{ Cookies []cookie }
					}
				}
			}
			if err := json.Unmarshal(exportHAR(t, newAPI(store), rec.ID), &f); err != nil {
				t.Fatal(err)
			}
			e := f.Log.Entries[0]
			if !reflect.DeepEqual(e.Request.Cookies, tt.request) || !reflect.DeepEqual(e.Response.Cookies, tt.response) {
				t.Fatalf("cookies %+v and %+v, want %+v and %+v", e.Request.Cookies, e.Response.Cookies, tt.request, tt.response)
			}
		})
	}
}

func TestHARTimingsFollowTheProxysPhases(t *testing.T) {
	tests := []struct {
		name     string
		duration float64
		timing   toolbar.Timing
		want     map[string]float64
	}{
		{"a new TLS connection", 40, toolbar.Timing{UpstreamStartMs: 0.2, DNSMs: 1, ConnectMs: 2, TLSMs: 3, WroteRequestMs: 6.5, FirstByteMs: 20, HeadersMs: 21},
			map[string]float64{"blocked": 0.2, "dns": 1, "connect": 5, "ssl": 3, "send": 0.3, "wait": 13.5, "receive": 20}},
		{"a pooled connection", 10, toolbar.Timing{UpstreamStartMs: 0.1, ConnReused: true, WroteRequestMs: 0.4, FirstByteMs: 3, HeadersMs: 3.2},
			map[string]float64{"blocked": 0.1, "dns": -1, "connect": -1, "ssl": -1, "send": 0.3, "wait": 2.6, "receive": 7}},
		{"no upstream (file_server)", 1, toolbar.Timing{HeadersMs: 0.5},
			map[string]float64{"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": 0.5, "receive": 0.5}},
		{"php_fastcgi: no first byte observed", 8, toolbar.Timing{UpstreamStartMs: 1, WroteRequestMs: 2, HeadersMs: 6},
			map[string]float64{"blocked": 1, "dns": -1, "connect": -1, "ssl": -1, "send": 1, "wait": 4, "receive": 2}},
		{"phases past the end are cut at it", 5, toolbar.Timing{UpstreamStartMs: 1, WroteRequestMs: 2, FirstByteMs: 9, HeadersMs: 9},
			map[string]float64{"blocked": 1, "dns": -1, "connect": -1, "ssl": -1, "send": 1, "wait": 3, "receive": 0}},
		{"in flight", 0, toolbar.Timing{UpstreamStartMs: 0.3},
			map[string]float64{"blocked": 0, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": 0, "receive": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := toolbar.NewStore(toolbar.Limits{})
			rec := &toolbar.Record{ID: "00000000000000a1", TraceID: toolbar.TraceID{1}, Method: "GET", URL: "/", Host: "localhost", Proto: "HTTP/1.1",
				Done: tt.duration > 0, Status: 200, StartTime: sessionT0, DurationMs: tt.duration, Timing: tt.timing}
			store.PutRequest(rec)
			var f struct {
				Log struct {
					Entries []struct{ Timings map[string]float64 }
				}
			}
			if err := json.Unmarshal(exportHAR(t, newAPI(store), rec.ID), &f); err != nil {
				t.Fatal(err)
			}
			if got := f.Log.Entries[0].Timings; !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("timings %v, want %v", got, tt.want)
			}
		})
	}
}

func postImport(api *toolbar.API, contentType string, body []byte) *httptest.ResponseRecorder {
	rr := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/import", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	api.ServeHTTP(rr, req)
	return rr
}

// wallClock makes spans comparable after a trip through JSON: times
// without their monotonic reading, the import's mark dropped.
func wallClock(spans []toolbar.Span) []toolbar.Span {
	out := make([]toolbar.Span, len(spans))
	for i, sp := range spans {
		sp.Start, sp.End = time.Unix(0, sp.Start.UnixNano()), time.Unix(0, sp.End.UnixNano())
		sp.Events = append([]toolbar.Event(nil), sp.Events...)
		for j := range sp.Events {
			sp.Events[j].Time = time.Unix(0, sp.Events[j].Time.UnixNano())
		}
		var attrs []toolbar.KeyValue
		for _, kv := range sp.Attributes {
			if kv != (toolbar.KeyValue{Key: "tracebar.source", Value: toolbar.ValueOf(toolbar.ImportSource)}) {
				attrs = append(attrs, kv)
			}
		}
		sp.Attributes = attrs
		out[i] = sp
	}
	return out
}

func TestHARRoundTripsThroughImport(t *testing.T) {
	s := newSession(t)
	har := exportHAR(t, newAPI(s.store), s.page.ID)

	fresh := toolbar.NewStore(toolbar.Limits{})
	api := newAPI(fresh)
	rr := postImport(api, "application/json; charset=utf-8", har)
	var got struct {
		TraceIDs []string `json:"traceIds"`
		Requests []string `json:"requests"`
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &got); rr.Code != http.StatusOK || err != nil {
		t.Fatalf("import: %d %s", rr.Code, rr.Body)
	}
	if want := []string{s.page.ID, s.static.ID, s.fetch.ID}; !reflect.DeepEqual(got.Requests, want) || !reflect.DeepEqual(got.TraceIDs, []string{s.page.TraceID.String()}) {
		t.Fatalf("imported %+v, want requests %v of trace %s", got, want, s.page.TraceID)
	}
	for _, orig := range []*toolbar.Record{s.page, s.static, s.fetch} {
		imported := fresh.Request(orig.ID)
		if imported == nil {
			t.Fatalf("record %s not imported", orig.ID)
		}
		if !imported.StartTime.Equal(orig.StartTime) {
			t.Errorf("%s: start %v, want %v", orig.URL, imported.StartTime, orig.StartTime)
		}
		a, b := *imported, *orig
		a.StartTime, b.StartTime = orig.StartTime, orig.StartTime
		b.Imported = true // and nothing else differs
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s imported as\n%+v\nwant\n%+v", orig.URL, a, b)
		}
		spans := fresh.RecordSpans(imported)
		for _, sp := range spans {
			if sp.AttrString("tracebar.source") != toolbar.ImportSource {
				t.Errorf("span %s not marked as imported", sp.Name)
			}
		}
		if got, want := wallClock(spans), wallClock(s.store.RecordSpans(orig)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: spans\n%+v\nwant\n%+v", orig.URL, got, want)
		}
	}
	if fresh.Request(s.earlier.ID) != nil || fresh.Request(s.other.ID) != nil {
		t.Error("records outside the page session were imported")
	}

	// Importing again changes nothing: the records and spans are there.
	before, page := fresh.Stats(), fresh.Request(s.page.ID)
	if rr := postImport(api, "application/json", har); rr.Code != http.StatusOK {
		t.Fatalf("second import: %d %s", rr.Code, rr.Body)
	}
	if after := fresh.Stats(); after.Spans != before.Spans || after.Records != before.Records || fresh.Request(s.page.ID) != page {
		t.Errorf("second import: %+v, then %+v; want no change", before, after)
	}
	// And the imported session exports as it was, but for the spans' mark.
	again := exportHAR(t, api, s.page.ID)
	if a, b := withoutSpans(t, again), withoutSpans(t, har); a != b {
		t.Errorf("re-exported HAR differs:\n%s\nwant\n%s", a, b)
	}
}

// withoutSpans is a HAR without its entries' _spans and its creator.
func withoutSpans(t *testing.T, har []byte) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(har, &doc); err != nil {
		t.Fatal(err)
	}
	log := doc["log"].(map[string]any)
	delete(log, "creator")
	for _, e := range log["entries"].([]any) {
		delete(e.(map[string]any), "_spans")
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

func TestImportOTLPAddsMarkedSpans(t *testing.T) {
	s := newSession(t)
	spans := s.store.RecordSpans(s.fetch)
	body, err := toolbar.MarshalOTLPJSON(spans)
	if err != nil {
		t.Fatal(err)
	}
	fresh := toolbar.NewStore(toolbar.Limits{})
	rr := postImport(newAPI(fresh), "application/json", body)
	// The root span (the fetch's proxy span) becomes a record, so the
	// trace opens in the toolbar's panels.
	if want := `{"traceIds":["` + s.fetch.TraceID.String() + `"],"requests":["` + s.fetch.ID + `"]}`; rr.Code != http.StatusOK || rr.Body.String() != want {
		t.Fatalf("import: %d %s, want 200 %s", rr.Code, rr.Body, want)
	}
	// The proxy's span has no HTTP attributes here: its name,
	// "POST /api/cart", gives the method and URL.
	if rec := fresh.Request(s.fetch.ID); rec == nil || !rec.Done || !rec.Imported || rec.Status != 200 || rec.TraceID != s.fetch.TraceID ||
		rec.Method != "POST" || rec.URL != "/api/cart" || rec.DurationMs != s.fetch.DurationMs {
		t.Errorf("the root span's record is %+v, want an imported, done record of status 200, POST /api/cart, %v ms", rec, s.fetch.DurationMs)
	}
	got, _ := fresh.Spans(s.fetch.TraceID, 0)
	if len(got) != len(spans) {
		t.Fatalf("%d spans stored, want %d", len(got), len(spans))
	}
	for _, sp := range got {
		if src, marks := sourceMarks(sp); src != toolbar.ImportSource || marks != 1 {
			t.Errorf("span %s: tracebar.source %q (%d times), want %q once", sp.Name, src, marks, toolbar.ImportSource)
		}
	}
}

// sourceMarks returns sp's tracebar.source and how many times it has one.
func sourceMarks(sp toolbar.Span) (source string, marks int) {
	for _, kv := range sp.Attributes {
		if kv.Key == "tracebar.source" {
			marks++
		}
	}
	return sp.AttrString("tracebar.source"), marks
}

// A HAR from elsewhere may hold secrets: they are redacted on the way in,
// and header names take the canonical form (HTTP/2's are lower case).
func TestImportRedactsHAREntries(t *testing.T) {
	s := newSession(t)
	var doc map[string]any
	if err := json.Unmarshal(exportHAR(t, newAPI(s.store), s.page.ID), &doc); err != nil {
		t.Fatal(err)
	}
	entry := doc["log"].(map[string]any)["entries"].([]any)[0].(map[string]any)
	req := entry["request"].(map[string]any)
	req["url"] = "https://shop.test/cb?code=SECRET&state=s"
	req["headers"] = append(req["headers"].([]any), map[string]any{"name": "authorization", "value": "Bearer SECRET"}, map[string]any{"name": "x-request-id", "value": "r1"})
	body, _ := json.Marshal(doc)
	fresh := toolbar.NewStore(toolbar.Limits{})
	if rr := postImport(newAPI(fresh), "application/json", body); rr.Code != http.StatusOK {
		t.Fatalf("import: %d %s", rr.Code, rr.Body)
	}
	rec := fresh.Request(s.page.ID)
	if rec.URL != "/cb?code=%5Bredacted%5D&state=s" || rec.Host != "shop.test" {
		t.Errorf("URL %q on %q, want the code redacted", rec.URL, rec.Host)
	}
	if got := rec.ClientRequest.Get("Authorization"); got != toolbar.Redacted || rec.ClientRequest.Get("X-Request-Id") != "r1" {
		t.Errorf("headers %v: want Authorization redacted and X-Request-Id kept", rec.ClientRequest)
	}
}

func TestImportRefusesWhatItCannotRead(t *testing.T) {
	s := newSession(t)
	har := string(exportHAR(t, newAPI(s.store), s.page.ID))
	otlp, _ := toolbar.MarshalOTLPJSON(s.store.RecordSpans(s.page))
	tests := []struct {
		name, contentType, body string
		noDecoder               bool
		code                    int
		says                    string
	}{
		{"a form post", "application/x-www-form-urlencoded", "log=1", false, http.StatusUnsupportedMediaType, "application/json"},
		{"no content type", "", har, false, http.StatusUnsupportedMediaType, "application/json"},
		{"over 32 MB", "application/json", `{"log":"` + strings.Repeat("x", 32<<20) + `"}`, false, http.StatusRequestEntityTooLarge, "32 MB"},
		{"not JSON", "application/json", "<html>", false, http.StatusBadRequest, "not a JSON object"},
		{"a JSON list", "application/json", "[]", false, http.StatusBadRequest, "not a JSON object"},
		{"neither shape", "application/json", `{"spans":[]}`, false, http.StatusBadRequest, `"log"`},
		{"a log that is not a HAR's", "application/json", `{"log":"hello"}`, false, http.StatusBadRequest, "not a HAR"},
		{"a HAR without entries", "application/json", `{"log":{"version":"1.2","entries":[]}}`, false, http.StatusBadRequest, "no entries"},
		{"a browser's HAR, without Tracebar's ids", "application/json", strings.ReplaceAll(har, `"_spanId"`, `"_x"`), false, http.StatusBadRequest, "_spanId"},
		{"a bad trace id", "application/json", strings.ReplaceAll(har, s.page.TraceID.String(), "zz"), false, http.StatusBadRequest, "_traceId"},
		{"bad span ids in _spans", "application/json", strings.ReplaceAll(har, `"spanId": "`+s.page.ID, `"spanId": "00`+s.page.ID[2:10]), false, http.StatusBadRequest, "_spans"},
		{"a HAR without a decoder", "application/json", har, true, http.StatusBadRequest, "OTLP decoder"},
		{"OTLP/JSON without a decoder", "application/json", string(otlp), true, http.StatusBadRequest, "OTLP decoder"},
		{"OTLP/JSON without spans", "application/json", `{"resourceSpans":[]}`, false, http.StatusBadRequest, "no spans"},
		{"OTLP/JSON with a bad id", "application/json", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02","name":"x"}]}]}]}`,
			false, http.StatusBadRequest, "invalid trace or span id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fresh := toolbar.NewStore(toolbar.Limits{})
			api := newAPI(fresh)
			if tt.noDecoder {
				api.DecodeTraces = nil
			}
			rr := postImport(api, tt.contentType, []byte(tt.body))
			if rr.Code != tt.code || !strings.Contains(rr.Body.String(), tt.says) {
				t.Fatalf("%d %s, want %d saying %q", rr.Code, rr.Body, tt.code, tt.says)
			}
			if st := fresh.Stats(); st.Spans != 0 || st.Records != 0 {
				t.Fatalf("a refused import stored %+v", st)
			}
		})
	}
	rr := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/import", strings.NewReader(har))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if newAPI(toolbar.NewStore(toolbar.Limits{})).ServeHTTP(rr, req); rr.Code != http.StatusForbidden {
		t.Fatalf("a cross-site import: %d, want 403", rr.Code)
	}
}

func TestHARUnknownRequest(t *testing.T) {
	rr := httptest.NewRecorder()
	newAPI(toolbar.NewStore(toolbar.Limits{})).ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/requests/0123456789abcdef/har", nil))
	if rr.Code != http.StatusNotFound {
		t.Fatalf("%d, want 404", rr.Code)
	}
}
