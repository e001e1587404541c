package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	zipkin "github.com/openzipkin/zipkin-go"
	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
)

// TestZipkinNodeAppJoinsProxyTrace: the Node app exports with the real
// @opentelemetry/exporter-zipkin (Zipkin v2 JSON) to the Zipkin receiver
// of a Caddy built from this tree, its OTLP endpoint pointing nowhere.
// It continues the proxy's traceparent, so its spans nest under the
// proxy's in the toolbar's API, with their kinds, attributes and events.
// A Go service reporting proto3 with zipkin-go joins the same trace; after
// a reload the receiver still listens.
func TestZipkinNodeAppJoinsProxyTrace(t *testing.T) {
	e := newEnv(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	t.Setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "http://"+e.zipkin+"/api/v2/spans")
	nowhere := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	app := startNodeApp(t, nowhere, "http/protobuf")
	e.startCaddy(t, basicCaddyfile, app)
	waitListening(t, e.zipkin, nil)

	resp, body := get(t, e.base+"/", "Accept", "text/html")
	if resp.StatusCode != 200 || len(toolbarTagRE.FindAll(body, -1)) != 1 {
		t.Fatalf("status %d, page %s", resp.StatusCode, body)
	}
	traceID, spanID := traceOf(t, resp)
	nodeServer := func(spans []span) (span, bool) {
		for _, s := range spans {
			if s.Service == "node-app" && s.Kind == 2 {
				return s, true
			}
		}
		return span{}, false
	}
	spans := waitSpans(t, e.base, traceID, all(
		has("caddy", "GET upstream"), has("node-app", "render page"), has("node-app", "SELECT users"),
		func(s []span) bool { _, ok := nodeServer(s); return ok }))
	client, _ := find(spans, "caddy", "GET upstream")
	server, _ := nodeServer(spans)
	render, _ := find(spans, "node-app", "render page")
	sql, _ := find(spans, "node-app", "SELECT users")
	if client.ParentSpanID != spanID || server.ParentSpanID != client.SpanID || render.ParentSpanID != server.SpanID || sql.ParentSpanID != server.SpanID {
		t.Fatalf("want proxy %s <- client %s <- node server span <- render, SQL:%s", spanID, client.SpanID, describe(spans))
	}
	if sql.Kind != 3 || render.Kind != 1 {
		t.Fatalf("kinds: SQL %d (want 3, client), render %d (want 1, internal)", sql.Kind, render.Kind)
	}
	if sql.attr("db.query.text") != "SELECT id, name FROM users WHERE id = ?" {
		t.Fatalf("SQL span's db.query.text %q", sql.attr("db.query.text"))
	}
	if code := server.attr("http.status_code") + server.attr("http.response.status_code"); code != "200" {
		t.Fatalf("node server span's status code tag %q, want the string 200", code)
	}

	// The annotation "rendered" is the render span's event, in the API.
	_, doc := get(t, e.base+"/__tracebar/api/traces/"+traceID)
	var trace struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					Name   string `json:"name"`
					Events []struct {
						Name string `json:"name"`
						Time string `json:"timeUnixNano"`
					} `json:"events"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := json.Unmarshal(doc, &trace); err != nil {
		t.Fatalf("trace API: %v: %.300s", err, doc)
	}
	rendered := false
	for _, rs := range trace.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if s.Name == "render page" {
					rendered = len(s.Events) == 1 && s.Events[0].Name == "rendered" && s.Events[0].Time != ""
				}
			}
		}
	}
	if !rendered {
		t.Fatalf("render span without its \"rendered\" event: %.2000s", doc)
	}

	// A Go service reporting proto3 with zipkin-go, called by the Node
	// app's server span, lands in the same trace under it.
	reportGo := func(name string) {
		t.Helper()
		tid, err := model.TraceIDFromHex(traceID)
		if err != nil {
			t.Fatal(err)
		}
		var parent model.ID
		if err := parent.UnmarshalJSON([]byte(`"` + server.SpanID + `"`)); err != nil {
			t.Fatal(err)
		}
		rep := zipkinhttp.NewReporter("http://"+e.zipkin+"/api/v2/spans", zipkinhttp.Serializer(zipkin_proto3.SpanSerializer{}))
		ep, _ := zipkin.NewEndpoint("go-svc", "127.0.0.1:7000")
		// Not joining the Node server span's id (zipkin-go's default for
		// server spans): a child of it, as an OpenTelemetry server would be.
		tr, err := zipkin.NewTracer(rep, zipkin.WithLocalEndpoint(ep), zipkin.WithSharedSpans(false))
		if err != nil {
			t.Fatal(err)
		}
		sp := tr.StartSpan(name, zipkin.Kind(model.Server), zipkin.Parent(model.SpanContext{TraceID: tid, ID: parent}))
		sp.Finish()
		if err := rep.Close(); err != nil {
			t.Fatal(err)
		}
	}
	reportGo("go work")
	spans = waitSpans(t, e.base, traceID, has("go-svc", "go work"))
	if g, _ := find(spans, "go-svc", "go work"); g.ParentSpanID != server.SpanID {
		t.Fatalf("the Go span is under %s, want the node server span %s", g.ParentSpanID, server.SpanID)
	}

	// A reload keeps the receiver listening (and the store).
	cf := e.writeCaddyfile(t, strings.Replace(basicCaddyfile, "\ttracebar\n", "\ttracebar {\n\t\tservice_name edge\n\t}\n", 1), app)
	if out, err := exec.Command(caddyBin, "reload", "--config", cf, "--address", e.admin).CombinedOutput(); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	reportGo("after reload")
	waitSpans(t, e.base, traceID, has("go-svc", "after reload"))
}

// TestZipkinReceiverAnswersLikeTheSink: through a real Caddy, the receiver
// takes JSON (202), refuses a bad id (400), a foreign content type (415)
// and a body over max_body_bytes (413).
func TestZipkinReceiverAnswersLikeTheSink(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, strings.Replace(basicCaddyfile, "\t\tzipkin {zipkin}\n", "\t\tzipkin {zipkin}\n\t\tmax_body_bytes 4096\n", 1), app)
	waitListening(t, e.zipkin, nil)
	url := "http://" + e.zipkin + "/api/v2/spans"
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	post := func(ctype, body string) int {
		t.Helper()
		r, err := http.Post(url, ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	ok := `[{"traceId":"` + trace + `","id":"00f067aa0ba902b7","name":"posted","timestamp":` + fmt.Sprint(time.Now().UnixMicro()) + `,"duration":1500,"localEndpoint":{"serviceName":"curl"}}]`
	for _, c := range []struct {
		name, ctype, body string
		want              int
	}{
		{"json", "application/json", ok, 202},
		{"bad id", "application/json", `[{"traceId":"` + trace + `","id":"nothex"}]`, 400},
		{"content type", "text/plain", ok, 415},
		{"too large", "application/json", ok + strings.Repeat(" ", 5000), 413},
	} {
		if got := post(c.ctype, c.body); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	waitSpans(t, e.base, trace, has("curl", "posted"))
}

// TestZipkinPortTakenIsLogged: a second Caddy configured with the same
// Zipkin address does not share the port; it says so and keeps proxying,
// and spans keep reaching the first.
func TestZipkinPortTakenIsLogged(t *testing.T) {
	first := newEnv(t)
	app := startDemoApp(t, first.otlpHTTP)
	first.startCaddy(t, basicCaddyfile, app)
	waitListening(t, first.zipkin, nil)

	second := newEnv(t)
	second.zipkin = first.zipkin
	second.startCaddyLogging(t, basicCaddyfile, app, "Zipkin receiver not started", "another process listens on "+first.zipkin)
	if resp, _ := get(t, second.base+"/api/products"); resp.StatusCode != 200 {
		t.Fatalf("the second Caddy does not proxy: status %d", resp.StatusCode)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 10 {
		trace := fmt.Sprintf("%032x", 0x21b000+i)
		body := fmt.Sprintf(`[{"traceId":%q,"id":"00000000000000cc","name":"zipkin %d","timestamp":%d,"localEndpoint":{"serviceName":"app"}}]`, trace, i, time.Now().UnixMicro())
		r, err := client.Post("http://"+first.zipkin+"/api/v2/spans", "application/json", strings.NewReader(body))
		if err != nil || r.StatusCode != http.StatusAccepted {
			t.Fatalf("export %d: %v %v", i, err, r)
		}
		r.Body.Close()
		for _, e := range []*env{first, second} {
			_, got := get(t, e.base+"/__tracebar/api/traces/"+trace)
			if in := bytes.Contains(got, []byte("zipkin ")); in != (e == first) {
				t.Fatalf("export %d: in the first Caddy's store: %v, in the second's: %v", i, e == first && in, e == second && in)
			}
		}
	}
}
