package toolbar

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A record's spans as the proxy and an app export them: the proxy's
// SERVER span #1, its CLIENT span #2 to the app, the app's SERVER span #3,
// and what the app did under it (#10 on).
var alertT0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func alertID(n int) SpanID { return SpanID{byte(n), 0xa1} }

func attr(key string, v any) KeyValue { return KeyValue{key, ValueOf(v)} }

// alertSpan is span #id under #parent, from fromMs to toMs after alertT0.
func alertSpan(id, parent int, name string, kind SpanKind, fromMs, toMs float64, attrs ...KeyValue) Span {
	at := func(ms float64) time.Time { return alertT0.Add(time.Duration(ms * float64(time.Millisecond))) }
	sp := Span{TraceID: TraceID{0xa1}, SpanID: alertID(id), Name: name, Kind: kind, Start: at(fromMs), End: at(toMs), Attributes: attrs}
	if parent > 0 {
		sp.ParentSpanID = alertID(parent)
	}
	return sp
}

// proxied is the three spans every proxied request has; status is the
// response's, scheme the client's.
func proxied(status int64, scheme string) []Span {
	return []Span{
		alertSpan(1, 0, "GET /orders", KindServer, 0, 300, attr("url.scheme", scheme), attr("http.response.status_code", status)),
		alertSpan(2, 1, "GET upstream", KindClient, 1, 299, attr("server.address", "localhost"), attr("server.port", "3000"), attr("http.response.status_code", status)),
		alertSpan(3, 2, "GET /orders", KindServer, 2, 298, attr("http.route", "/orders"), attr("http.response.status_code", status),
			attr("code.file.path", "/app/orders.py"), attr("code.line.number", int64(40))),
	}
}

func query(id, parent int, statement string, fromMs, toMs float64, more ...KeyValue) Span {
	return alertSpan(id, parent, "SELECT", KindClient, fromMs, toMs, append([]KeyValue{attr("db.system.name", "postgresql"), attr("db.query.text", statement)}, more...)...)
}

func call(id, parent int, fromMs, toMs float64, peer ...KeyValue) Span {
	return alertSpan(id, parent, "GET", KindClient, fromMs, toMs, peer...)
}

func failed(sp Span, message string) Span {
	sp.Status = Status{StatusError, message}
	return sp
}

// raised adds the exception event of an error of type typ to sp.
func raised(sp Span, typ string) Span {
	sp.Events = append(sp.Events, Event{Time: sp.End, Name: "exception", Attributes: []KeyValue{attr("exception.type", typ)}})
	return sp
}

func alertRecord(mutate ...func(*Record)) *Record {
	rec := &Record{ID: alertID(1).String(), TraceID: TraceID{0xa1}, Method: "GET", URL: "/orders", Host: "shop.test", Proto: "HTTP/1.1",
		RemoteAddr: "127.0.0.1:50000", Status: 200, Done: true, StartTime: alertT0, DurationMs: 300, ContentType: "text/html; charset=utf-8",
		ClientRequest: Headers{{"Accept-Encoding", "gzip, deflate, br, zstd"}}}
	for _, m := range mutate {
		m(rec)
	}
	return rec
}

// describe is an alert as the cases below spell it: kind, severity, and
// the span (#n), header or source line it points at.
func describe(a Alert) string {
	s := a.Kind + " " + a.Severity
	if a.SpanID != "" {
		id, _ := ParseSpanID(a.SpanID)
		s += fmt.Sprintf(" #%d", id[0])
	}
	if a.Header != "" {
		s += " " + a.Header
	}
	if a.Code != nil {
		s += fmt.Sprintf(" %s:%d", a.Code.File, a.Code.Line)
	}
	return s
}

func TestAlertsFireAndHoldBackOnNearMisses(t *testing.T) {
	under3 := func(spans ...Span) []Span { return append(proxied(200, "http"), spans...) }
	apiPeer := []KeyValue{attr("server.address", "api.test"), attr("server.port", int64(443))}
	setCookie := func(lines ...string) func(*Record) {
		return func(r *Record) {
			for _, l := range lines {
				r.ClientResponse = append(r.ClientResponse, HeaderField{"Set-Cookie", l})
			}
		}
	}
	body := func(contentType string, n int64) func(*Record) {
		return func(r *Record) { r.ContentType, r.ClientBytes, r.ResponseBytes = contentType, n, n }
	}
	tests := []struct {
		name  string
		rec   *Record
		spans []Span
		want  []string
	}{
		{"nothing wrong", alertRecord(), under3(query(10, 3, "SELECT 1", 3, 4)), nil},

		{"N+1: one shape 3 times under one span, the line from the nearest ancestor with code.*",
			alertRecord(), under3(query(10, 3, "SELECT * FROM items WHERE id = 1", 3, 4), query(11, 3, "SELECT * FROM items WHERE id = 2", 4, 5),
				query(12, 3, "SELECT * FROM items WHERE id = 3", 5, 6)),
			[]string{"n_plus_one warning #10 /app/orders.py:40"}},
		{"N+1: the db span's own older code.filepath and code.lineno",
			alertRecord(), under3(query(10, 3, "SELECT * FROM items WHERE id = 1", 3, 4, attr("code.filepath", "/app/items.rb"), attr("code.lineno", int64(7))),
				query(11, 3, "SELECT * FROM items WHERE id = 2", 4, 5), query(12, 3, "SELECT * FROM items WHERE id = 3", 5, 6)),
			[]string{"n_plus_one warning #10 /app/items.rb:7"}},
		{"not N+1: twice is a duplicate", alertRecord(), under3(query(10, 3, "SELECT * FROM items WHERE id = 1", 3, 4),
			query(11, 3, "SELECT * FROM items WHERE id = 2", 4, 5)), nil},
		{"not N+1: three runs under two parents",
			alertRecord(), under3(alertSpan(9, 3, "load", KindInternal, 3, 9), query(10, 3, "SELECT * FROM items WHERE id = 1", 3, 4),
				query(11, 3, "SELECT * FROM items WHERE id = 2", 4, 5), query(12, 9, "SELECT * FROM items WHERE id = 3", 5, 6)), nil},

		{"slow query: 100 ms at a 100 ms threshold", alertRecord(), under3(query(10, 3, "SELECT * FROM orders", 3, 103)),
			[]string{"slow_query warning #10 /app/orders.py:40"}},
		{"not slow: 99 ms", alertRecord(), under3(query(10, 3, "SELECT * FROM orders", 3, 102)), nil},

		{"sequential calls: 3 to one peer, each after the previous ended",
			alertRecord(), under3(call(10, 3, 3, 20, apiPeer...), call(11, 3, 20, 40, apiPeer...), call(12, 3, 41, 60, apiPeer...)),
			[]string{"sequential_calls info #10 /app/orders.py:40"}},
		{"sequential calls: the peer from url.full",
			alertRecord(), under3(call(10, 3, 3, 20, attr("url.full", "https://api.test/a")), call(11, 3, 21, 40, attr("url.full", "https://api.test/b?x=1")),
				call(12, 3, 41, 60, attr("url.full", "https://api.test/c"))),
			[]string{"sequential_calls info #10 /app/orders.py:40"}},
		{"not sequential: the second call overlaps the first",
			alertRecord(), under3(call(10, 3, 3, 20, apiPeer...), call(11, 3, 19, 40, apiPeer...), call(12, 3, 41, 60, apiPeer...)), nil},
		{"not sequential: two calls",
			alertRecord(), under3(call(10, 3, 3, 20, apiPeer...), call(11, 3, 21, 40, apiPeer...)), nil},
		{"not sequential: three peers",
			alertRecord(), under3(call(10, 3, 3, 20, attr("server.address", "a.test")), call(11, 3, 21, 40, attr("server.address", "b.test")),
				call(12, 3, 41, 60, attr("net.peer.name", "c.test"))), nil},

		{"uncompressed: 1025 bytes of HTML to a client that accepts gzip", alertRecord(body("text/html", 1025)), nil,
			[]string{"uncompressed warning Content-Encoding"}},
		{"uncompressed: JSON, one Accept-Encoding field of two offering br", alertRecord(body("application/problem+json", 4096), func(r *Record) {
			r.ClientRequest = Headers{{"Accept-Encoding", "identity"}, {"Accept-Encoding", "br;q=0.5"}}
		}), nil, []string{"uncompressed warning Content-Encoding"}},
		{"not uncompressed: 1 KB", alertRecord(body("text/html", 1024)), nil, nil},
		{"not uncompressed: encode compressed it", alertRecord(body("text/html", 4096), func(r *Record) { r.ClientEncoding = "zstd" }), nil, nil},
		{"not uncompressed: the upstream compressed it", alertRecord(body("text/css", 4096), func(r *Record) {
			r.ClientResponse = Headers{{"Content-Encoding", "gzip"}}
		}), nil, nil},
		{"not uncompressed: the client refused gzip", alertRecord(body("text/html", 4096), func(r *Record) {
			r.ClientRequest = Headers{{"Accept-Encoding", "gzip;q=0, identity"}}
		}), nil, nil},
		{"not uncompressed: an image", alertRecord(body("image/png", 40960)), nil, nil},
		{"not uncompressed: the proxy dropped the Accept-Encoding of a page that may get the toolbar", alertRecord(body("text/html", 4096), func(r *Record) {
			r.AcceptEncodingDropped = true
			r.UpstreamRequest = Headers{{"Accept-Encoding", "gzip"}} // Go's transport's own, decoded before Tracebar
		}), nil, nil},
		{"uncompressed: JSON whose Accept-Encoding reached the upstream", alertRecord(body("application/json", 4096), func(r *Record) {
			r.UpstreamRequest = Headers{{"Accept-Encoding", "gzip"}}
		}), nil, []string{"uncompressed warning Content-Encoding"}},

		{"cookie flags: none set over https", alertRecord(setCookie("sid=[redacted]; Path=/")), proxied(200, "https"),
			[]string{"cookie_flags warning Set-Cookie"}},
		{"cookie flags: Secure missing over https", alertRecord(setCookie("sid=[redacted]; Path=/; HttpOnly; SameSite=Lax")), proxied(200, "https"),
			[]string{"cookie_flags warning Set-Cookie"}},
		{"cookie flags: SameSite=None needs Secure even over http", alertRecord(setCookie("sid=x; HttpOnly; SameSite=None")), proxied(200, "http"),
			[]string{"cookie_flags warning Set-Cookie"}},
		{"cookie flags: only SameSite missing is advice", alertRecord(setCookie("theme=dark; HttpOnly")), proxied(200, "http"),
			[]string{"cookie_flags info Set-Cookie"}},
		{"cookie flags: one alert per cookie", alertRecord(setCookie("a=1", "b=2; HttpOnly; SameSite=Strict", "c=3")), proxied(200, "http"),
			[]string{"cookie_flags warning Set-Cookie", "cookie_flags warning Set-Cookie"}},
		{"not cookie flags: no Secure over http", alertRecord(setCookie("sid=x; HttpOnly; SameSite=Lax")), proxied(200, "http"), nil},
		{"not cookie flags: a deleted cookie", alertRecord(setCookie("sid=; Max-Age=0", "old=; Expires=Thu, 01 Jan 1970 00:00:00 GMT")), proxied(200, "https"), nil},
		{"not cookie flags: a line redacted whole", alertRecord(setCookie(Redacted)), proxied(200, "https"), nil},

		{"error span: only the query that raised, not the callers it failed",
			alertRecord(func(r *Record) { r.Status = 500 }), append(proxied(500, "http")[:2],
				raised(failed(proxied(500, "http")[2], "Internal Server Error"), "DeadlockError"),
				failed(alertSpan(10, 3, "SELECT", KindClient, 3, 9, attr("db.system.name", "postgresql")), "deadlock")),
			[]string{"error_span error #10 /app/orders.py:40"}},
		{"error span: an exception event without error status",
			alertRecord(), under3(Span{TraceID: TraceID{0xa1}, SpanID: alertID(10), ParentSpanID: alertID(3), Name: "render", Start: alertT0, End: alertT0,
				Events: []Event{{Name: "exception", Attributes: []KeyValue{attr("exception.type", "KeyError"), attr("exception.message", "'total'")}}}}),
			[]string{"error_span error #10 /app/orders.py:40"}},
		{"error span: the app's call that got a 403",
			alertRecord(func(r *Record) { r.Status = 403 }), append(proxied(403, "http"),
				failed(call(10, 3, 3, 9, attr("server.address", "pay.test"), attr("http.response.status_code", int64(403))), "Forbidden")),
			[]string{"error_span error #10 /app/orders.py:40"}},
		{"not error span: a 404 the record's status shows",
			alertRecord(func(r *Record) { r.Status = 404 }), append(proxied(404, "http")[:1], failed(proxied(404, "http")[1], "Not Found"), proxied(404, "http")[2]), nil},

		{"large document: HTML over 1 MB", alertRecord(func(r *Record) { r.ContentType, r.ResponseBytes = "text/html", 1<<20+1 }), nil,
			[]string{"large_document warning"}},
		{"not large: HTML of 1 MB", alertRecord(func(r *Record) { r.ContentType, r.ResponseBytes = "text/html", 1<<20 }), nil, nil},
		{"not large: 2 MB of JSON", alertRecord(func(r *Record) { r.ContentType, r.ResponseBytes = "application/json", 2<<20 }), nil, nil},

		{"most severe first, else in the order found",
			alertRecord(body("text/html", 4096), setCookie("theme=dark; HttpOnly")), under3(call(10, 3, 3, 20, apiPeer...), call(11, 3, 20, 40, apiPeer...),
				call(12, 3, 41, 60, apiPeer...), query(13, 3, "SELECT 1", 60, 200), failed(alertSpan(14, 3, "render", KindInternal, 200, 210), "boom")),
			[]string{"error_span error #14 /app/orders.py:40", "slow_query warning #13 /app/orders.py:40",
				"uncompressed warning Content-Encoding", "sequential_calls info #10 /app/orders.py:40", "cookie_flags info Set-Cookie"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts := Alerts(tt.rec, tt.spans, nil, 100*time.Millisecond)
			if alerts == nil {
				t.Fatal("Alerts = nil, want an empty list at least")
			}
			var got []string
			for _, a := range alerts {
				got = append(got, describe(a))
				if a.Message == "" {
					t.Errorf("%s has no message", a.Kind)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("alerts\n%s\nwant\n%s\n(messages: %+v)", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), alerts)
			}
		})
	}
}

func TestAlertMessagesNameWhatToFix(t *testing.T) {
	rec := alertRecord(func(r *Record) {
		r.ClientResponse = Headers{{"Set-Cookie", "sid=[redacted]; Path=/; SameSite=Lax"}}
	})
	spans := append(proxied(200, "https"),
		query(10, 3, "SELECT * FROM items WHERE id = 1", 3, 13), query(11, 3, "SELECT * FROM items WHERE id = 2", 13, 23),
		query(12, 3, "SELECT * FROM items WHERE id = 3", 23, 33),
		failed(alertSpan(13, 3, "charge", KindInternal, 40, 50), ""))
	spans[len(spans)-1].Events = []Event{{Name: "exception", Attributes: []KeyValue{attr("exception.type", "CardDeclined"), attr("exception.message", "insufficient funds")}}}
	want := map[string][]string{
		AlertNPlusOne:    {"3 times", "30.0 ms", "SELECT * FROM items WHERE id = ?"},
		AlertErrorSpan:   {`"charge"`, "CardDeclined: insufficient funds"},
		AlertCookieFlags: {`"sid"`, "HttpOnly, Secure"},
	}
	for _, a := range Alerts(rec, spans, nil, time.Second) {
		words, ok := want[a.Kind]
		if !ok {
			t.Errorf("unexpected %s: %s", a.Kind, a.Message)
			continue
		}
		delete(want, a.Kind)
		for _, w := range words {
			if !strings.Contains(a.Message, w) {
				t.Errorf("%s message %q does not say %q", a.Kind, a.Message, w)
			}
		}
	}
	for kind := range want {
		t.Errorf("no %s alert", kind)
	}
}

func TestRedirectChainAlerts(t *testing.T) {
	hop := func(id, uri string, status int, location string, startMs float64) *Record {
		rec := &Record{ID: id, Method: "GET", URL: uri, Host: "shop.test:8080", RemoteAddr: "10.0.0.7:" + id, Status: status, Done: true,
			StartTime: alertT0.Add(time.Duration(startMs * float64(time.Millisecond))), DurationMs: 5}
		if location != "" {
			rec.ClientResponse = Headers{{"Location", location}}
		}
		return rec
	}
	page := hop("3", "/account?tab=1", 200, "", 40)
	tests := []struct {
		name    string
		related []*Record
		want    int // redirects reported; 0 for no alert
	}{
		{"two relative hops", []*Record{hop("1", "/old", 301, "/login", 0), hop("2", "/login", 302, "account?tab=1", 20)}, 2},
		{"an absolute Location on the same host", []*Record{hop("1", "/old", 301, "http://shop.test:8080/login", 0), hop("2", "/login", 302, "/account?tab=1", 20)}, 2},
		{"three hops, newest records first, unrelated records between",
			[]*Record{hop("0", "/a", 308, "/old", -20), hop("9", "/elsewhere", 302, "/x", 10), hop("1", "/old", 301, "/login", 0), hop("2", "/login", 303, "/account?tab=1", 20)}, 3},
		{"one hop", []*Record{hop("2", "/login", 302, "/account?tab=1", 20)}, 0},
		{"a hop from another client", []*Record{hop("1", "/old", 301, "/login", 0), func() *Record {
			r := hop("2", "/login", 302, "/account?tab=1", 20)
			r.RemoteAddr = "10.0.0.8:1"
			return r
		}()}, 0},
		{"a hop over 10 s before", []*Record{hop("1", "/old", 301, "/login", -11000), hop("2", "/login", 302, "/account?tab=1", -10010)}, 0},
		{"a Location to another page", []*Record{hop("1", "/old", 301, "/login", 0), hop("2", "/login", 302, "/account?tab=2", 20)}, 0},
		{"a Location to another host", []*Record{hop("1", "/old", 301, "/login", 0), hop("2", "/login", 302, "http://other.test:8080/account?tab=1", 20)}, 0},
		{"a 304 is no redirect", []*Record{hop("1", "/old", 301, "/login", 0), hop("2", "/login", 304, "/account?tab=1", 20)}, 0},
		{"a loop ends", []*Record{hop("1", "/account?tab=1", 302, "/login", 0), hop("2", "/login", 302, "/account?tab=1", 20)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			related := append([]*Record{page}, tt.related...)
			var got []Alert
			for _, a := range Alerts(page, nil, related, time.Second) {
				if a.Kind == AlertRedirectChain {
					got = append(got, a)
				}
			}
			switch {
			case tt.want == 0 && len(got) > 0:
				t.Fatalf("alerted %+v, want none", got)
			case tt.want > 0 && (len(got) != 1 || !strings.HasPrefix(got[0].Message, fmt.Sprintf("%d redirects", tt.want))):
				t.Fatalf("alerts %+v, want one for %d redirects", got, tt.want)
			}
		})
	}
}

func TestAlertsAPI(t *testing.T) {
	store := NewStore(Limits{})
	clean := alertRecord()
	slow := alertRecord(func(r *Record) { r.ID, r.TraceID = alertID(50).String(), TraceID{0xb2} })
	spans := proxied(200, "http")
	for i := range spans {
		spans[i].TraceID = slow.TraceID
	}
	spans[0].SpanID = alertID(50)
	spans[1].ParentSpanID = alertID(50)
	spans = append(spans, query(10, 3, "SELECT pg_sleep(0.06)", 3, 63))
	spans[len(spans)-1].TraceID = slow.TraceID
	store.AddSpans(spans)
	store.PutRequest(clean)
	store.PutRequest(slow)
	api := NewAPI(store)
	api.SlowQuery = 50 * time.Millisecond
	get := func(id string) (int, string) {
		rr := httptest.NewRecorder()
		api.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/requests/"+id+"/alerts", nil))
		return rr.Code, rr.Body.String()
	}
	if code, body := get("0123456789abcdef"); code != http.StatusNotFound {
		t.Errorf("unknown id: %d %s, want 404", code, body)
	}
	if code, body := get(clean.ID); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("clean record: %d %s, want 200 []", code, body)
	}
	code, body := get(slow.ID)
	var alerts []Alert
	if err := json.Unmarshal([]byte(body), &alerts); code != http.StatusOK || err != nil || len(alerts) != 1 ||
		alerts[0].Kind != AlertSlowQuery || alerts[0].SpanID != alertID(10).String() || *alerts[0].Code != (CodeRef{"/app/orders.py", 40}) {
		t.Fatalf("slow record: %d %s (%v), want its 60 ms query alerted at the API's 50 ms threshold", code, body, err)
	}
	if !strings.Contains(body, `"spanId":"`) || !strings.Contains(body, `"code":{"file":"/app/orders.py","line":40}`) || strings.Contains(body, `"header"`) {
		t.Errorf("JSON %s: want spanId and code, and no empty header", body)
	}
}
