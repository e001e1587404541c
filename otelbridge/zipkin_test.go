package otelbridge

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	zipkin "github.com/openzipkin/zipkin-go"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
	"github.com/tracebar/tracebar/toolbar"
	"google.golang.org/protobuf/proto"
)

// zipkinServer serves sink's Zipkin receiver on a real socket and returns
// the URL of its spans endpoint.
func zipkinServer(t testing.TB, sink *Sink) string {
	t.Helper()
	srv := httptest.NewServer(sink.ZipkinHandler())
	t.Cleanup(srv.Close)
	return srv.URL + ZipkinPath
}

// postZipkin posts body and returns the status and the answer's text.
func postZipkin(t testing.TB, url, ctype, encoding string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// zipkinBody encodes spans with zipkin-go's own encoders, as reporters do.
func zipkinBody(t testing.TB, encoding string, spans []*model.SpanModel) (ctype string, body []byte) {
	t.Helper()
	var err error
	switch strings.TrimSuffix(encoding, "+gzip") {
	case "json":
		ctype = "application/json"
		body, err = json.Marshal(spans)
	case "proto3":
		ctype = "application/x-protobuf"
		body, err = zipkin_proto3.SpanSerializer{}.Serialize(spans)
	}
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(encoding, "+gzip") {
		body = gz(body)
	}
	return ctype, body
}

func zid(s string) model.ID {
	var id model.ID
	if err := id.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
		panic(err)
	}
	return id
}

func ztrace(s string) model.TraceID {
	t, err := model.TraceIDFromHex(s)
	if err != nil {
		panic(err)
	}
	return t
}

// storedByName returns the trace's stored spans by name.
func storedByName(t *testing.T, store *toolbar.Store, trace string) map[string]toolbar.Span {
	t.Helper()
	id, err := toolbar.ParseTraceID(trace)
	if err != nil {
		t.Fatal(err)
	}
	spans, _ := store.Spans(id, 0)
	out := map[string]toolbar.Span{}
	for _, s := range spans {
		out[s.Name] = s
	}
	return out
}

func spanAttr(s toolbar.Span, key string) any {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.Any()
		}
	}
	return nil
}

func serviceOf(s toolbar.Span) string {
	for _, a := range s.Resource.Attributes {
		if a.Key == "service.name" {
			return fmt.Sprint(a.Value.Any())
		}
	}
	return ""
}

// TestZipkinRoundTrips: spans written by zipkin-go's JSON and proto3
// encoders, plain and gzip-compressed, come out of the store with their
// ids, parents, kinds, times, service, endpoints, tags, annotations and
// error status.
func TestZipkinRoundTrips(t *testing.T) {
	const trace = "5b8efff798038103d269b633813fc60c"
	start := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	ep := func(service, ip string, port uint16) *model.Endpoint {
		e := &model.Endpoint{ServiceName: service, Port: port}
		if p := net.ParseIP(ip); p.To4() != nil {
			e.IPv4 = p.To4()
		} else {
			e.IPv6 = p
		}
		return e
	}
	span := func(id, parent, name string, kind model.Kind) *model.SpanModel {
		s := &model.SpanModel{SpanContext: model.SpanContext{TraceID: ztrace(trace), ID: zid(id)},
			Name: name, Kind: kind, Timestamp: start, Duration: 1500 * time.Microsecond,
			LocalEndpoint: &model.Endpoint{ServiceName: "shop"}}
		if parent != "" {
			p := zid(parent)
			s.ParentID = &p
		}
		return s
	}
	tests := []struct {
		name  string
		spans func() []*model.SpanModel
		trace string // as stored; default trace
		check func(t *testing.T, got map[string]toolbar.Span)
	}{
		{"parents, kinds and times", func() []*model.SpanModel {
			return []*model.SpanModel{
				span("00000000000000a1", "", "get /", model.Server),
				span("00000000000000a2", "00000000000000a1", "select", model.Client),
				span("00000000000000a3", "00000000000000a1", "publish", model.Producer),
				span("00000000000000a4", "00000000000000a3", "consume", model.Consumer),
				span("00000000000000a5", "00000000000000a1", "render", model.Undetermined),
			}
		}, "", func(t *testing.T, got map[string]toolbar.Span) {
			want := map[string]struct {
				parent string
				kind   toolbar.SpanKind
			}{
				"get /":   {"0000000000000000", toolbar.KindServer},
				"select":  {"00000000000000a1", toolbar.KindClient},
				"publish": {"00000000000000a1", toolbar.KindProducer},
				"consume": {"00000000000000a3", toolbar.KindConsumer},
				"render":  {"00000000000000a1", toolbar.KindInternal},
			}
			for name, w := range want {
				s := got[name]
				if s.ParentSpanID.String() != w.parent || s.Kind != w.kind || serviceOf(s) != "shop" {
					t.Errorf("%s: parent %s kind %d service %q, want %s %d shop", name, s.ParentSpanID, s.Kind, serviceOf(s), w.parent, w.kind)
				}
				if !s.Start.Equal(start) || s.End.Sub(s.Start) != 1500*time.Microsecond {
					t.Errorf("%s: %v + %v, want %v + 1.5ms", name, s.Start, s.End.Sub(s.Start), start)
				}
			}
		}},
		{"64-bit trace id is zero-padded", func() []*model.SpanModel {
			s := span("00000000000000b1", "", "short trace", model.Server)
			s.TraceID = ztrace("d269b633813fc60c")
			return []*model.SpanModel{s}
		}, "0000000000000000d269b633813fc60c", func(t *testing.T, got map[string]toolbar.Span) {
			if _, ok := got["short trace"]; !ok {
				t.Error("not stored under the padded trace id")
			}
		}},
		{"endpoints", func() []*model.SpanModel {
			c := span("00000000000000c1", "", "query", model.Client)
			c.LocalEndpoint = ep("shop", "10.1.2.3", 8080)
			c.RemoteEndpoint = ep("postgres", "2001:db8::5", 5432)
			c.Tags = map[string]string{"server.address": "db.internal"}
			s := span("00000000000000c2", "", "handle", model.Server)
			s.RemoteEndpoint = ep("", "192.0.2.7", 51000)
			i := span("00000000000000c3", "", "nameless", model.Undetermined)
			i.LocalEndpoint = nil
			return []*model.SpanModel{c, s, i}
		}, "", func(t *testing.T, got map[string]toolbar.Span) {
			c := got["query"]
			for k, v := range map[string]any{
				"network.local.address": "10.1.2.3", "network.local.port": int64(8080),
				"network.peer.address": "2001:db8::5", "network.peer.port": int64(5432),
				"server.address": "db.internal", "server.port": int64(5432), // the tag wins
				"peer.service": "postgres",
			} {
				if spanAttr(c, k) != v {
					t.Errorf("client span %s = %#v, want %#v", k, spanAttr(c, k), v)
				}
			}
			s := got["handle"]
			if spanAttr(s, "client.address") != "192.0.2.7" || spanAttr(s, "client.port") != int64(51000) ||
				spanAttr(s, "network.peer.address") != "192.0.2.7" || spanAttr(s, "server.address") != nil {
				t.Errorf("server span's remote endpoint: %+v", s.Attributes)
			}
			if n := got["nameless"]; n.Resource == nil || serviceOf(n) != "" || n.SpanID.String() != "00000000000000c3" {
				t.Errorf("span without a local endpoint: %+v", n)
			}
		}},
		{"tags and annotations", func() []*model.SpanModel {
			s := span("00000000000000d1", "", "tagged", model.Server)
			s.Tags = map[string]string{"http.method": "GET", "http.status_code": "200", "otel.scope.name": "brave", "otel.scope.version": "6.0", "w3c.tracestate": "v=1"}
			s.Annotations = []model.Annotation{{Timestamp: start.Add(time.Millisecond), Value: "wr"}, {Timestamp: start.Add(2 * time.Millisecond), Value: "ws"}}
			return []*model.SpanModel{s}
		}, "", func(t *testing.T, got map[string]toolbar.Span) {
			s := got["tagged"]
			if spanAttr(s, "http.method") != "GET" || spanAttr(s, "http.status_code") != "200" || spanAttr(s, "otel.scope.name") != nil {
				t.Errorf("attributes %+v: want the tags as strings, scope tags taken out", s.Attributes)
			}
			if s.Scope.Name != "brave" || s.Scope.Version != "6.0" || s.TraceState != "v=1" {
				t.Errorf("scope %+v, trace state %q", s.Scope, s.TraceState)
			}
			if len(s.Events) != 2 || s.Events[0].Name != "wr" || !s.Events[0].Time.Equal(start.Add(time.Millisecond)) || s.Events[1].Name != "ws" {
				t.Errorf("events %+v", s.Events)
			}
		}},
		{"error tags", func() []*model.SpanModel {
			msg := span("00000000000000e1", "", "with message", model.Server)
			msg.Tags = map[string]string{"error": "connection refused"}
			flag := span("00000000000000e2", "", "flag only", model.Server)
			flag.Tags = map[string]string{"error": "true"}
			otel := span("00000000000000e3", "", "otel exporter", model.Server)
			otel.Tags = map[string]string{"otel.status_code": "ERROR", "error": "boom"}
			ok := span("00000000000000e4", "", "ok", model.Server)
			ok.Tags = map[string]string{"otel.status_code": "OK"}
			no := span("00000000000000e5", "", "error false", model.Server)
			no.Tags = map[string]string{"error": "false"}
			return []*model.SpanModel{msg, flag, otel, ok, no}
		}, "", func(t *testing.T, got map[string]toolbar.Span) {
			for name, want := range map[string]toolbar.Status{
				"with message":  {Code: toolbar.StatusError, Message: "connection refused"},
				"flag only":     {Code: toolbar.StatusError},
				"otel exporter": {Code: toolbar.StatusError, Message: "boom"},
				"ok":            {Code: toolbar.StatusOK},
				"error false":   {},
			} {
				if s := got[name]; s.Status != want || spanAttr(s, "error") != nil || spanAttr(s, "otel.status_code") != nil {
					t.Errorf("%s: status %+v, attributes %+v; want %+v", name, s.Status, s.Attributes, want)
				}
			}
		}},
		{"shared server span gets its own id under the client", func() []*model.SpanModel {
			client := span("00000000000000f2", "00000000000000f1", "call api", model.Client)
			server := span("00000000000000f2", "00000000000000f1", "serve api", model.Server)
			server.Shared = true
			server.LocalEndpoint = &model.Endpoint{ServiceName: "api"}
			child := span("00000000000000f3", "00000000000000f2", "api query", model.Client)
			child.LocalEndpoint = &model.Endpoint{ServiceName: "api"}
			sibling := span("00000000000000f4", "00000000000000f2", "client retry", model.Undetermined)
			mirror := span("00000000000000f2", "00000000000000f1", "mirror api", model.Server)
			mirror.Shared = true
			mirror.LocalEndpoint = &model.Endpoint{ServiceName: "api-mirror"}
			return []*model.SpanModel{child, server, client, sibling, mirror}
		}, "", func(t *testing.T, got map[string]toolbar.Span) {
			client, server, child, sibling, mirror := got["call api"], got["serve api"], got["api query"], got["client retry"], got["mirror api"]
			if client.SpanID.String() != "00000000000000f2" || client.ParentSpanID.String() != "00000000000000f1" {
				t.Errorf("client span %s <- %s, want its own ids", client.SpanID, client.ParentSpanID)
			}
			if !server.SpanID.IsValid() || server.SpanID == client.SpanID || server.ParentSpanID != client.SpanID || server.Kind != toolbar.KindServer {
				t.Errorf("shared server span %s <- %s, want a new id under the client %s", server.SpanID, server.ParentSpanID, client.SpanID)
			}
			if child.ParentSpanID != server.SpanID {
				t.Errorf("the server's child is under %s, want the server span %s", child.ParentSpanID, server.SpanID)
			}
			if sibling.ParentSpanID != client.SpanID {
				t.Errorf("the client service's child moved to %s", sibling.ParentSpanID)
			}
			if mirror.SpanID == server.SpanID || mirror.SpanID == client.SpanID || mirror.ParentSpanID != client.SpanID {
				t.Errorf("a second service joining the client span: %s <- %s", mirror.SpanID, mirror.ParentSpanID)
			}
		}},
	}
	for _, enc := range []string{"json", "json+gzip", "proto3", "proto3+gzip"} {
		for _, tt := range tests {
			t.Run(enc+"/"+tt.name, func(t *testing.T) {
				store := toolbar.NewStore(toolbar.Limits{})
				url := zipkinServer(t, NewSink(store))
				spans := tt.spans()
				ctype, body := zipkinBody(t, enc, spans)
				encoding := ""
				if strings.HasSuffix(enc, "+gzip") {
					encoding = "gzip"
				}
				if code, msg := postZipkin(t, url, ctype, encoding, bytes.NewReader(body)); code != http.StatusAccepted {
					t.Fatalf("status %d %q, want 202", code, msg)
				}
				tr := tt.trace
				if tr == "" {
					tr = trace
				}
				got := storedByName(t, store, tr)
				if len(got) != len(spans) || store.Stats().Spans != len(spans) {
					t.Fatalf("stored %d spans (%d in the trace), want %d", store.Stats().Spans, len(got), len(spans))
				}
				tt.check(t, got)
				// A retried export adds nothing: the shared span's new id
				// is derived, not random.
				if code, _ := postZipkin(t, url, ctype, encoding, bytes.NewReader(body)); code != http.StatusAccepted || store.Stats().Spans != len(spans) {
					t.Fatalf("retry: status %d, %d spans stored, want %d", code, store.Stats().Spans, len(spans))
				}
			})
		}
	}
}

// TestZipkinGoTracerAndReporter: zipkin-go's own tracer and HTTP reporter,
// JSON and proto3: a front end's server and client spans, and a back end
// that joins the client's span (shared) with a child of its own, land in
// the store as one tree under the 64-bit trace id, padded.
func TestZipkinGoTracerAndReporter(t *testing.T) {
	for _, enc := range []string{"json", "proto3"} {
		t.Run(enc, func(t *testing.T) {
			store := toolbar.NewStore(toolbar.Limits{})
			url := zipkinServer(t, NewSink(store))
			opts := []zipkinhttp.ReporterOption{zipkinhttp.BatchInterval(time.Hour)}
			if enc == "proto3" {
				opts = append(opts, zipkinhttp.Serializer(zipkin_proto3.SpanSerializer{}))
			}
			rep := zipkinhttp.NewReporter(url, opts...)
			tracer := func(service, hostPort string) *zipkin.Tracer {
				ep, err := zipkin.NewEndpoint(service, hostPort)
				if err != nil {
					t.Fatal(err)
				}
				tr, err := zipkin.NewTracer(rep, zipkin.WithLocalEndpoint(ep), zipkin.WithSharedSpans(true))
				if err != nil {
					t.Fatal(err)
				}
				return tr
			}
			front, back := tracer("front", "127.0.0.1:8080"), tracer("back", "127.0.0.1:9000")
			page := front.StartSpan("get /", zipkin.Kind(model.Server))
			call := front.StartSpan("get /api", zipkin.Kind(model.Client), zipkin.Parent(page.Context()))
			remote, _ := zipkin.NewEndpoint("back", "127.0.0.1:9000")
			call.SetRemoteEndpoint(remote)
			joined := back.StartSpan("get /api", zipkin.Kind(model.Server), zipkin.Parent(call.Context()))
			query := back.StartSpan("select", zipkin.Kind(model.Client), zipkin.Parent(joined.Context()))
			query.Tag("error", "deadlock")
			query.Finish()
			joined.Finish()
			call.Finish()
			page.Finish()
			if err := rep.Close(); err != nil {
				t.Fatal(err)
			}
			if page.Context().TraceID.High != 0 || joined.Context().ID != call.Context().ID {
				t.Fatal("want zipkin-go's default: a 64-bit trace id, and a joined span")
			}
			tid := toolbar.TraceID(traceIDBytes(page.Context().TraceID))
			spans, _ := store.Spans(tid, 0)
			by := map[string]toolbar.Span{}
			for _, s := range spans {
				by[serviceOf(s)+" "+s.Name] = s
			}
			pageS, callS, joinedS, queryS := by["front get /"], by["front get /api"], by["back get /api"], by["back select"]
			if len(spans) != 4 || callS.ParentSpanID != pageS.SpanID || joinedS.ParentSpanID != callS.SpanID ||
				queryS.ParentSpanID != joinedS.SpanID || joinedS.SpanID == callS.SpanID {
				t.Fatalf("want front get / <- get /api <- back get /api <- select, got %d spans: %+v", len(spans), by)
			}
			if spanAttr(callS, "peer.service") != "back" || spanAttr(callS, "server.port") != int64(9000) || queryS.Status.Code != toolbar.StatusError {
				t.Fatalf("client span attributes %+v, query status %+v", callS.Attributes, queryS.Status)
			}
		})
	}
}

// TestZipkinGoesTheSinkWay: the receiver's spans are redacted, wake the
// trace's subscribers (the live stream) and are forwarded to the backend,
// as the OTLP sink's are.
func TestZipkinGoesTheSinkWay(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	b := startBackend(t)
	f, err := NewForwarder("http://"+b.httpAddr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	sink.Configure(&SinkConfig{Forwarder: f, Redactor: toolbar.NewRedactor("tenant")})
	url := zipkinServer(t, sink)

	const trace = "0af7651916cd43dd8448eb211c80319c"
	tid, _ := toolbar.ParseTraceID(trace)
	post := func(body string) {
		t.Helper()
		if code, msg := postZipkin(t, url, "application/json", "", strings.NewReader(body)); code != http.StatusAccepted {
			t.Fatalf("status %d %q", code, msg)
		}
	}
	post(`[{"traceId":"` + trace + `","id":"b7ad6b7169203330","name":"page","kind":"SERVER","timestamp":1700000000000000,"duration":9000,"localEndpoint":{"serviceName":"web"}}]`)
	wake, cancel, ok := store.Subscribe(tid)
	if !ok {
		t.Fatal("trace unknown after the first export")
	}
	defer cancel()
	post(`[{"traceId":"` + trace + `","id":"b7ad6b7169203331","parentId":"b7ad6b7169203330","name":"login","kind":"SERVER","timestamp":1700000000000000,"duration":2000,
		"localEndpoint":{"serviceName":"auth"},"tags":{"password":"hunter2","tenant":"acme","http.url":"https://x.test/cb?code=abc&next=/"}}]`)
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("the trace's subscribers were not woken")
	}
	check := func(where string, s toolbar.Span) {
		if spanAttr(s, "password") != toolbar.Redacted || spanAttr(s, "tenant") != toolbar.Redacted || strings.Contains(fmt.Sprint(spanAttr(s, "http.url")), "abc") {
			t.Errorf("%s: secrets kept: %+v", where, s.Attributes)
		}
	}
	got := storedByName(t, store, trace)
	check("store", got["login"])
	deadline := time.After(10 * time.Second)
	for {
		if spans, _ := b.store.Spans(tid, 0); len(spans) == 2 {
			for _, s := range spans {
				if s.Name == "login" {
					check("backend", s)
					if serviceOf(s) != "auth" {
						t.Errorf("forwarded span's service %q", serviceOf(s))
					}
				}
			}
			return
		}
		select {
		case <-b.arrived:
		case <-deadline:
			t.Fatal("nothing forwarded")
		}
	}
}

// TestZipkinStatusCodes: the receiver answers as the OTLP sink does, with
// Zipkin's 202 for success; invalid spans are dropped and counted, the
// rest kept.
func TestZipkinStatusCodes(t *testing.T) {
	const tr = "5b8efff798038103d269b633813fc60c"
	good := func(id string) string {
		return `{"traceId":"` + tr + `","id":"` + id + `","name":"ok","timestamp":1700000000000000,"duration":5}`
	}
	list := func(spans ...string) []byte { return []byte("[" + strings.Join(spans, ",") + "]") }
	protoList := func(spans ...*zipkin_proto3.Span) []byte {
		b, err := proto.Marshal(&zipkin_proto3.ListOfSpans{Spans: spans})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pspan := func(traceID, id []byte) *zipkin_proto3.Span {
		return &zipkin_proto3.Span{TraceId: traceID, Id: id, Name: "p", Timestamp: 1700000000000000}
	}
	tid16, tid8, sid := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{3}, 8), bytes.Repeat([]byte{2}, 8)
	tests := []struct {
		name, method, path, ctype, encoding string
		body                                []byte
		want, stored                        int
	}{
		{"json", "POST", ZipkinPath, "application/json", "", list(good("0000000000000001")), 202, 1},
		{"json with charset, gzip", "POST", ZipkinPath, "application/json; charset=utf-8", "gzip", gz(list(good("0000000000000001"))), 202, 1},
		{"no content type is json, as in Zipkin", "POST", ZipkinPath, "", "", list(good("0000000000000001")), 202, 1},
		{"empty list", "POST", ZipkinPath, "application/json", "", []byte(" [ ] "), 202, 0},
		{"short ids are zero-padded, as in Zipkin", "POST", ZipkinPath, "application/json", "", []byte(`[{"traceId":"abc","id":"1","parentId":"0","name":"short"}]`), 202, 1},
		{"proto3", "POST", ZipkinPath, "application/x-protobuf", "", protoList(pspan(tid16, sid)), 202, 1},
		{"proto3 gzip", "POST", ZipkinPath, "application/x-protobuf", "gzip", gz(protoList(pspan(tid16, sid))), 202, 1},
		{"proto3 8-byte trace id", "POST", ZipkinPath, "application/x-protobuf", "", protoList(pspan(tid8, sid)), 202, 1},
		{"empty proto3 list", "POST", ZipkinPath, "application/x-protobuf", "", nil, 202, 0},

		{"malformed json", "POST", ZipkinPath, "application/json", "", []byte(`[{"traceId":`), 400, 0},
		{"empty json body", "POST", ZipkinPath, "application/json", "", nil, 400, 0},
		{"an object, not a list", "POST", ZipkinPath, "application/json", "", []byte(good("0000000000000001")), 400, 0},
		{"data after the list", "POST", ZipkinPath, "application/json", "", append(list(good("0000000000000001")), " x"...), 400, 0},
		{"timestamp of the wrong type: that span dropped", "POST", ZipkinPath, "application/json", "",
			list(good("0000000000000001"), `{"traceId":"`+tr+`","id":"0000000000000002","timestamp":"soon"}`, good("0000000000000003")), 400, 2},
		{"tag of the wrong type", "POST", ZipkinPath, "application/json", "",
			list(`{"traceId":"`+tr+`","id":"0000000000000002","tags":{"n":1}}`, good("0000000000000003")), 400, 1},
		{"numeric trace id", "POST", ZipkinPath, "application/json", "", list(`{"traceId":12345,"id":"0000000000000002"}`, good("0000000000000003")), 400, 1},
		{"list as a span id", "POST", ZipkinPath, "application/json", "", list(`{"traceId":"`+tr+`","id":[123]}`, good("0000000000000003")), 400, 1},
		{"trace id not hex", "POST", ZipkinPath, "application/json", "", list(`{"traceId":"zz","id":"0000000000000002"}`, good("0000000000000003")), 400, 1},
		{"trace id of 33 digits", "POST", ZipkinPath, "application/json", "", list(`{"traceId":"0` + tr + `","id":"0000000000000002"}`), 400, 0},
		{"trace id of zeros", "POST", ZipkinPath, "application/json", "", list(`{"traceId":"` + strings.Repeat("0", 32) + `","id":"0000000000000002"}`), 400, 0},
		{"span id of zeros", "POST", ZipkinPath, "application/json", "", list(`{"traceId":"` + tr + `","id":"0000000000000000"}`), 400, 0},
		{"no span id", "POST", ZipkinPath, "application/json", "", list(`{"traceId":"` + tr + `"}`), 400, 0},
		{"span id of 17 digits", "POST", ZipkinPath, "application/json", "", list(`{"traceId":"` + tr + `","id":"00000000000000001"}`), 400, 0},
		{"parent id not hex", "POST", ZipkinPath, "application/json", "", list(`{"traceId":"` + tr + `","id":"0000000000000002","parentId":"x1"}`), 400, 0},
		{"null element", "POST", ZipkinPath, "application/json", "", list(`null`, good("0000000000000003")), 400, 1},
		{"truncated proto3", "POST", ZipkinPath, "application/x-protobuf", "", protoList(pspan(tid16, sid))[:10], 400, 0},
		{"proto3 id of 4 bytes: that span dropped", "POST", ZipkinPath, "application/x-protobuf", "", protoList(pspan(tid16, sid[:4]), pspan(tid16, sid)), 400, 1},
		{"proto3 trace id of 3 bytes", "POST", ZipkinPath, "application/x-protobuf", "", protoList(pspan(tid16[:3], sid)), 400, 0},
		{"proto3 trace id of zeros", "POST", ZipkinPath, "application/x-protobuf", "", protoList(pspan(make([]byte, 16), sid), pspan(tid16, sid)), 400, 1},
		{"bad gzip", "POST", ZipkinPath, "application/json", "gzip", []byte("not gzip"), 400, 0},

		{"too large", "POST", ZipkinPath, "application/json", "", list(good("0000000000000001"), strings.Repeat(" ", 2048)), 413, 0},
		{"too large once decompressed", "POST", ZipkinPath, "application/json", "gzip", gz(list(good("0000000000000001"), strings.Repeat(" ", 2048))), 413, 0},
		{"wrong content type", "POST", ZipkinPath, "text/plain", "", list(good("0000000000000001")), 415, 0},
		{"thrift (Zipkin v1)", "POST", ZipkinPath, "application/x-thrift", "", []byte{0x0c}, 415, 0},
		{"unknown encoding", "POST", ZipkinPath, "application/json", "br", []byte("x"), 415, 0},
		{"wrong method", "GET", ZipkinPath, "", "", nil, 405, 0},
		{"v1 path", "POST", "/api/v1/spans", "application/json", "", list(good("0000000000000001")), 404, 0},
		{"OTLP path", "POST", "/v1/traces", "application/json", "", nil, 404, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := toolbar.NewStore(toolbar.Limits{})
			sink := NewSink(store)
			sink.Configure(&SinkConfig{MaxBodyBytes: 1024})
			url := strings.TrimSuffix(zipkinServer(t, sink), ZipkinPath) + tt.path
			req, err := http.NewRequest(tt.method, url, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, bytes.TrimSpace(msg), tt.want)
			}
			if resp.StatusCode >= 400 && !bytes.HasPrefix(msg, []byte("zipkin receiver: ")) {
				t.Fatalf("error without a message: %q", msg)
			}
			if resp.StatusCode == 405 && resp.Header.Get("Allow") != "POST" {
				t.Fatal("405 without Allow: POST")
			}
			if got := store.Stats().Spans; got != tt.stored {
				t.Fatalf("stored %d spans, want %d (%s)", got, tt.stored, bytes.TrimSpace(msg))
			}
		})
	}
}

// TestZipkinSaturatedAsksToRetry: with every decoding slot taken, an
// export is told to retry (429, Retry-After) before its body is read.
func TestZipkinSaturatedAsksToRetry(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	sink.wait = 0
	for i := 0; i < cap(sink.slots); i++ {
		sink.slots <- struct{}{}
	}
	url := zipkinServer(t, sink)
	resp, err := http.Post(url, "application/json", strings.NewReader("not even read"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("status %d, Retry-After %q; want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for i := 0; i < cap(sink.slots); i++ {
		<-sink.slots
	}
	if code, msg := postZipkin(t, url, "application/json", "", strings.NewReader("[]")); code != http.StatusAccepted {
		t.Fatalf("after the slots freed: %d %q", code, msg)
	}
	if len(sink.slots) != 0 {
		t.Fatal("a slot was not given back")
	}
}

// TestZipkinHostileBodies: under the default 16 MB limit, a gzip bomb
// (100 MB of zeros) is refused without being inflated past the limit, and
// a 50 MB body is refused whether its length is announced or not.
func TestZipkinHostileBodies(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	url := zipkinServer(t, NewSink(store))

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zero := make([]byte, 1<<20)
	for range 100 {
		zw.Write(zero)
	}
	zw.Close()
	bomb := buf.Bytes()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	code, msg := postZipkin(t, url, "application/json", "gzip", bytes.NewReader(bomb))
	runtime.ReadMemStats(&after)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("gzip bomb (%d bytes): status %d %q, want 413", len(bomb), code, msg)
	}
	// Reading up to the 16 MB limit takes about twice that (the buffer
	// grows by doubling), more under the race detector; inflating the
	// bomb would take more than its 100 MB.
	t.Logf("gzip bomb: %d bytes compressed, %d MB allocated while refused", len(bomb), (after.TotalAlloc-before.TotalAlloc)>>20)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= 100<<20 {
		t.Fatalf("a 100 MB gzip bomb allocated %d MB", alloc>>20)
	}

	big := bytes.Repeat([]byte(" "), 50<<20)
	if code, _ := postZipkin(t, url, "application/json", "", bytes.NewReader(big)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("50 MB announced: status %d, want 413", code)
	}
	if code, _ := postZipkin(t, url, "application/json", "", io.MultiReader(bytes.NewReader(big))); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("50 MB chunked: status %d, want 413", code)
	}
	if store.Stats().Spans != 0 {
		t.Fatal("spans stored from refused bodies")
	}
}

// TestZipkinCORS: zipkin-js in a page on a loopback origin may post;
// a foreign page gets no CORS headers.
func TestZipkinCORS(t *testing.T) {
	store := toolbar.NewStore(toolbar.Limits{})
	url := zipkinServer(t, NewSink(store))
	for _, tt := range []struct {
		origin string
		want   bool
	}{{"http://localhost:3000", true}, {"http://127.0.0.1:8080", true}, {"https://evil.example", false}} {
		req, _ := http.NewRequest(http.MethodOptions, url, nil)
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		allowed := resp.Header.Get("Access-Control-Allow-Origin") == tt.origin
		if allowed != tt.want || (tt.want && (resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type"))) {
			t.Fatalf("%s preflight: status %d, headers %v; want allowed %v", tt.origin, resp.StatusCode, resp.Header, tt.want)
		}
		req, _ = http.NewRequest(http.MethodPost, url, strings.NewReader("[]"))
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Content-Type", "application/json")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 || (resp.Header.Get("Access-Control-Allow-Origin") == tt.origin) != tt.want {
			t.Fatalf("%s post: status %d, allow-origin %q", tt.origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

func FuzzZipkinJSON(f *testing.F) {
	f.Add([]byte(`[{"traceId":"5b8efff798038103d269b633813fc60c","id":"eee19b7ec3c1b174","parentId":"eee19b7ec3c1b173","name":"get","kind":"CLIENT",
		"timestamp":1544712660000000,"duration":1000,"localEndpoint":{"serviceName":"a","ipv4":"10.0.0.1","port":80},
		"remoteEndpoint":{"serviceName":"b","ipv6":"::1","port":443},"annotations":[{"timestamp":1544712660000500,"value":"ws"}],"tags":{"error":"x","password":"p"}}]`))
	f.Add([]byte(`[{"traceId":"abc","id":"1","shared":true,"kind":"SERVER"},{"traceId":"abc","id":"2","parentId":"1"}]`))
	f.Add([]byte(`[{"traceId":"abc","id":"1","timestamp":18446744073709551615,"duration":18446744073709551615}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzZipkin(t, "application/json", body)
	})
}

func FuzzZipkinProto(f *testing.F) {
	ok, _ := zipkin_proto3.SpanSerializer{}.Serialize([]*model.SpanModel{{
		SpanContext: model.SpanContext{TraceID: model.TraceID{High: 1, Low: 2}, ID: 3}, Name: "p", Kind: model.Server, Shared: true,
		Timestamp: time.Unix(1700000000, 0), Duration: time.Millisecond, LocalEndpoint: &model.Endpoint{ServiceName: "a", IPv4: net.IPv4(10, 0, 0, 1).To4(), Port: 80},
		Tags: map[string]string{"k": "v"}, Annotations: []model.Annotation{{Timestamp: time.Unix(1700000000, 5), Value: "ws"}},
	}})
	f.Add(ok)
	short, _ := proto.Marshal(&zipkin_proto3.ListOfSpans{Spans: []*zipkin_proto3.Span{{TraceId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Id: []byte{0, 0, 0, 0, 0, 0, 0, 9}}, {TraceId: []byte{1}}}})
	f.Add(short)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzZipkin(t, "application/x-protobuf", body)
	})
}

// fuzzZipkin: any body gets 202 or 400, never a panic; every span stored
// has valid ids and is not its own parent, and the store serves them as
// valid OTLP/JSON.
func fuzzZipkin(t *testing.T, ctype string, body []byte) {
	store := toolbar.NewStore(toolbar.Limits{})
	sink := NewSink(store)
	req := httptest.NewRequest("POST", ZipkinPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	rec := httptest.NewRecorder()
	sink.ZipkinHandler().ServeHTTP(rec, req)
	if rec.Code != 202 && rec.Code != 400 {
		t.Fatalf("status %d", rec.Code)
	}
	// Find the stored spans through the traces the decoder saw.
	var d zipkinDecoded
	if ctype == "application/json" {
		d.json(body)
	} else {
		d.proto(body)
	}
	seen := map[toolbar.TraceID]bool{}
	total := 0
	for _, rs := range zipkinToOTLP(d.spans) {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				tid := toolbar.TraceID(padTo16(sp.GetTraceId()))
				if seen[tid] {
					continue
				}
				seen[tid] = true
				spans, _ := store.Spans(tid, 0)
				for _, s := range spans {
					if !s.TraceID.IsValid() || !s.SpanID.IsValid() || s.ParentSpanID == s.SpanID {
						t.Fatalf("stored span with bad ids: %s %s <- %s", s.TraceID, s.SpanID, s.ParentSpanID)
					}
				}
				total += len(spans)
				out, err := toolbar.MarshalOTLPJSON(spans)
				if err != nil || !json.Valid(out) {
					t.Fatalf("stored spans do not serve as JSON: %v", err)
				}
			}
		}
	}
	if total != store.Stats().Spans {
		t.Fatalf("%d spans stored, %d found under the decoded traces", store.Stats().Spans, total)
	}
	if rec.Code == 202 && total == 0 && len(d.spans) > 0 {
		t.Fatal("202 but nothing stored")
	}
}

func padTo16(b []byte) []byte {
	out := make([]byte, 16)
	copy(out[max(0, 16-len(b)):], b)
	return out
}
