package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// startJobApps runs Caddy (e) in front of the Node app (service
// node-app), which sends jobs to the Node worker (tests/node/worker.js,
// service node-worker, its periodic job every periodic; 0: none), both
// exporting to e's sink. Caddy starts first, so it stops last: the apps
// flush their spans to it as they stop. It returns the worker's queue
// address.
func startJobApps(t testing.TB, e *env, periodic time.Duration) (queue string) {
	t.Helper()
	app := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.startCaddy(t, basicCaddyfile, app)
	queue = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	export := "OTEL_EXPORTER_OTLP_ENDPOINT=http://" + e.otlpHTTP
	runNode(t, "worker.js", "JOBS_PORT="+strings.TrimPrefix(queue, "127.0.0.1:"), fmt.Sprintf("PERIODIC_MS=%d", periodic.Milliseconds()),
		"OTEL_SERVICE_NAME=node-worker", export)
	runNode(t, "server.js", "PORT="+strings.TrimPrefix(app, "127.0.0.1:"), "JOBS_ADDR="+queue, "OTEL_SERVICE_NAME=node-app", export)
	return queue
}

// related is the API's answer for GET /api/traces/{id}/related.
type related struct {
	TraceID  string        `json:"traceId"`
	Outgoing []relatedLink `json:"outgoing"`
	Incoming []relatedLink `json:"incoming"`
	Traces   []string      `json:"traces"`
}

type relatedLink struct {
	SpanID       string `json:"spanId"`
	TraceID      string `json:"traceId"`
	LinkedSpanID string `json:"linkedSpanId"`
}

// TestBackgroundJobRelatedBothWays: a page of the Node app sends a job
// to the worker, another process, whose CONSUMER span starts a trace of
// its own with a span link to the page's PRODUCER span. The page's trace
// lists the job's trace as linked to it (incoming, at the PRODUCER), the
// job's trace lists the page's (outgoing, from the CONSUMER), with the
// span ids at both ends; the page's own trace stream sends the link and
// the job's spans as they come; and the job, started by no proxied request, is in the
// history as background work, as is the worker's periodic job.
func TestBackgroundJobRelatedBothWays(t *testing.T) {
	e := newEnv(t)
	startJobApps(t, e, 200*time.Millisecond)
	api := e.base + "/__tracebar/api"

	resp, body := get(t, e.base+"/enqueue", "Accept", "text/html")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /enqueue: %d %s", resp.StatusCode, body)
	}
	pageTrace, _ := traceOf(t, resp)
	spans := waitSpans(t, e.base, pageTrace, has("node-app", "send jobs"))
	producer, _ := find(spans, "node-app", "send jobs")
	if producer.Kind != 4 || producer.attr("messaging.destination.name") != "jobs" || producer.attr("messaging.operation.type") != "send" {
		t.Fatalf("PRODUCER span %+v lacks the messaging conventions", producer)
	}

	// The page's trace stream: the job's trace, then its spans.
	var link relatedLink
	var jobSpans []span
	followEvents(t, api+"/traces/"+pageTrace+"/stream", func(event, data string) bool {
		switch event {
		case "related":
			var rel related
			if err := json.Unmarshal([]byte(data), &rel); err != nil {
				t.Fatalf("related event %s: %v", data, err)
			}
			if len(rel.Outgoing) != 0 || len(rel.Incoming) > 1 {
				t.Fatalf("the page's links %+v: want at most the job's, incoming", rel)
			}
			if len(rel.Incoming) == 1 {
				link = rel.Incoming[0]
			}
		case "linked":
			var doc struct {
				TraceID string          `json:"traceId"`
				Trace   json.RawMessage `json:"trace"`
			}
			if err := json.Unmarshal([]byte(data), &doc); err != nil || doc.TraceID != link.TraceID {
				t.Fatalf("linked event of trace %q (%v), want the job's %q", doc.TraceID, err, link.TraceID)
			}
			jobSpans = append(jobSpans, parseOTLP(t, doc.Trace)...)
		}
		return all(has("node-worker", "process jobs"), has("node-worker", "UPDATE orders"))(jobSpans)
	}, nil)
	consumer, _ := find(jobSpans, "node-worker", "process jobs")
	if want := (relatedLink{SpanID: producer.SpanID, TraceID: consumer.TraceID, LinkedSpanID: consumer.SpanID}); link != want {
		t.Fatalf("the page's incoming link %+v, want %+v", link, want)
	}
	if consumer.Kind != 5 || consumer.ParentSpanID != "" || consumer.TraceID == pageTrace || consumer.attr("messaging.operation.type") != "process" {
		t.Fatalf("CONSUMER span %+v: want a root of a trace of its own, with the messaging conventions", consumer)
	}

	// The job's trace, read once: the link the other way.
	var rel related
	readJSON(t, api+"/traces/"+consumer.TraceID+"/related", &rel)
	want := related{TraceID: consumer.TraceID, Outgoing: []relatedLink{{SpanID: consumer.SpanID, TraceID: pageTrace, LinkedSpanID: producer.SpanID}},
		Incoming: []relatedLink{}, Traces: []string{pageTrace}}
	if fmt.Sprint(rel) != fmt.Sprint(want) {
		t.Fatalf("the job's related\n got  %+v\n want %+v", rel, want)
	}

	// The history: the job and the periodic job as background work.
	type summary struct {
		ID       string   `json:"id"`
		TraceID  string   `json:"traceId"`
		URL      string   `json:"url"`
		Kind     string   `json:"kind"`
		Done     bool     `json:"done"`
		Services []string `json:"services"`
		Queries  int      `json:"queries"`
	}
	seen := map[string]summary{}
	followEvents(t, api+"/requests/stream", func(event, data string) bool {
		var s summary
		if err := json.Unmarshal([]byte(data), &s); event != "request" || err != nil {
			t.Fatalf("history event %s %s (%v)", event, data, err)
		}
		seen[s.URL] = s
		cleanup := seen["cleanup sessions"]
		return seen["process jobs"].Queries == 2 && cleanup.Queries == 1 && slices.Equal(cleanup.Services, []string{"node-worker"})
	}, nil)
	if job := seen["process jobs"]; job.Kind != "background" || job.ID != consumer.SpanID || job.TraceID != consumer.TraceID || !job.Done ||
		!slices.Equal(job.Services, []string{"node-worker"}) {
		t.Fatalf("the job's record %+v: want background, its CONSUMER span's", job)
	}
	if cleanup := seen["cleanup sessions"]; cleanup.Kind != "background" || cleanup.TraceID == consumer.TraceID {
		t.Fatalf("the periodic job's record %+v: want background, a trace of its own", cleanup)
	}
	if page := seen["/enqueue"]; page.Kind != "" {
		t.Fatalf("the proxied page's record %+v: want no kind", page)
	}
}

// readJSON GETs url and decodes its JSON into v, failing unless it is a 200.
func readJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, body := get(t, url)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

// releaseJobs tells the worker at queue to run the jobs it holds.
func releaseJobs(t testing.TB, queue string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", queue, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(`{"release":true}` + "\n")); err != nil {
		t.Fatal(err)
	}
}
