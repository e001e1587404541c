package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// apiMetrics is GET /api/metrics's answer, the parts the tests read.
type apiMetrics struct {
	Enabled  bool     `json:"enabled"`
	Services []string `json:"services"`
	Series   []struct {
		Service     string `json:"service"`
		Name        string `json:"name"`
		Kind        string `json:"kind"`
		Unit        string `json:"unit"`
		Temporality string `json:"temporality"`
		Monotonic   bool   `json:"monotonic"`
		Points      []struct {
			Time      float64   `json:"time"`
			Value     *float64  `json:"value"`
			Count     uint64    `json:"count"`
			Bounds    []float64 `json:"bounds"`
			Counts    []uint64  `json:"counts"`
			Exemplars []struct {
				TraceID string  `json:"traceId"`
				SpanID  string  `json:"spanId"`
				Request string  `json:"request"`
				Value   float64 `json:"value"`
			} `json:"exemplars"`
		} `json:"points"`
	} `json:"series"`
}

// metricsAround reads the metrics of service in the window the Metrics
// panel asks for: the record's start − 30 s to its end + 30 s.
func metricsAround(t *testing.T, base, recordID, service string) apiMetrics {
	t.Helper()
	var rec struct {
		StartTime  time.Time `json:"startTime"`
		DurationMs float64   `json:"durationMs"`
	}
	getAPI(t, base, "requests/"+recordID, &rec)
	from := rec.StartTime.Add(-30 * time.Second)
	to := rec.StartTime.Add(time.Duration(rec.DurationMs*float64(time.Millisecond)) + 30*time.Second)
	var m apiMetrics
	getAPI(t, base, fmt.Sprintf("metrics?service=%s&from=%d&to=%s", service, from.UnixMilli(), to.Format(time.RFC3339Nano)), &m)
	return m
}

// flushMetrics has the demo app export its metrics now (the SDK's
// ForceFlush): its answer comes when the sink has them.
func flushMetrics(t *testing.T, app string) {
	t.Helper()
	resp, err := http.Post("http://"+app+"/debug/flush-metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("flushing the demo app's metrics: %s", resp.Status)
	}
}

// TestMetricsOfARequestWithExemplars: the Go demo app's metrics (OTel Go
// SDK, otlpmetrichttp) reach the sink; the page's window shows its HTTP
// server duration histogram, measured in the request, with an exemplar
// that names the request's trace, the app's SERVER span and the record;
// its DB pool gauge and its own counter too. A window an hour earlier
// shows nothing.
func TestMetricsOfARequestWithExemplars(t *testing.T) {
	e := newEnv(t)
	app := startDemoApp(t, e.otlpHTTP)
	e.startCaddy(t, basicCaddyfile, app)

	resp, _ := get(t, e.base+"/")
	traceID, recordID := traceOf(t, resp)
	// otelhttp records the duration before it ends the SERVER span: once
	// the span is here, the measurement is made.
	spans := waitSpans(t, e.base, traceID, has("shop-web", "GET /"))
	server, _ := find(spans, "shop-web", "GET /")
	flushMetrics(t, app)

	m := metricsAround(t, e.base, recordID, "shop-web")
	if !m.Enabled || !strings.Contains(strings.Join(m.Services, ","), "inventory") {
		t.Fatalf("metrics %+v: want them kept, for shop-web and inventory", m)
	}
	found := map[string]bool{}
	for _, s := range m.Series {
		if s.Service != "shop-web" {
			t.Errorf("series %s of %s in an answer for shop-web", s.Name, s.Service)
		}
		found[s.Name] = true
		switch s.Name {
		case "http.server.request.duration":
			if s.Kind != "histogram" || s.Unit != "s" || s.Temporality != "cumulative" || len(s.Points) == 0 {
				t.Fatalf("duration series %+v", s)
			}
			last := s.Points[len(s.Points)-1]
			if last.Count == 0 || len(last.Counts) != len(last.Bounds)+1 {
				t.Errorf("duration point %+v: want buckets with the request counted", last)
			}
			named := false
			for _, p := range s.Points {
				for _, x := range p.Exemplars {
					named = named || x.TraceID == traceID && x.SpanID == server.SpanID && x.Request == recordID && x.Value > 0
				}
			}
			if !named {
				t.Errorf("no exemplar names trace %s, span %s and request %s: %+v", traceID, server.SpanID, recordID, s.Points)
			}
		case "db.client.connection.count":
			if s.Kind != "gauge" || s.Points[0].Value == nil {
				t.Errorf("pool gauge %+v", s)
			}
		case "shop.products.loaded":
			if p := s.Points[len(s.Points)-1]; s.Kind != "sum" || !s.Monotonic || p.Value == nil || *p.Value < 4 || len(p.Exemplars) == 0 || p.Exemplars[0].TraceID != traceID {
				t.Errorf("products counter %+v: want 4 products counted in the request's trace", s)
			}
		}
	}
	for _, name := range []string{"http.server.request.duration", "db.client.connection.count", "shop.products.loaded", "go.memory.used"} {
		if !found[name] {
			t.Errorf("no %s in the request's window; series: %v", name, found)
		}
	}

	var before apiMetrics
	hourAgo := time.Now().Add(-time.Hour)
	getAPI(t, e.base, fmt.Sprintf("metrics?from=%d&to=%d", hourAgo.Add(-time.Minute).UnixMilli(), hourAgo.UnixMilli()), &before)
	if len(before.Series) != 0 {
		t.Errorf("an hour before the app started: %d series", len(before.Series))
	}
}

// TestMetricsOfTheNodeApp: the Node.js app's metrics (@opentelemetry/sdk-node,
// its OTLP metric exporter over each protocol) reach the sink, and the
// page's window shows the HTTP instrumentation's server duration
// histogram. The app has no flush endpoint: it exports every 200 ms here,
// and the API is read until its point is there.
func TestMetricsOfTheNodeApp(t *testing.T) {
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "200")
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(strings.ReplaceAll(protocol, "/", "-"), func(t *testing.T) {
			e := newEnv(t)
			sink := e.otlpHTTP
			if protocol == "grpc" {
				sink = e.otlpGRPC
			}
			app := startNodeApp(t, sink, protocol)
			e.startCaddy(t, basicCaddyfile, app)
			resp, _ := get(t, e.base+"/", "Accept", "text/html")
			_, recordID := traceOf(t, resp)
			// The Node app has no flush endpoint (the Go demo's
			// /debug/flush-metrics): its SDK exports on a timer, every
			// 200 ms here, and nothing tells when an export reached the
			// sink. So, here only, the API is read again after each tick,
			// up to a deadline.
			deadline := time.Now().Add(20 * time.Second)
			for {
				m := metricsAround(t, e.base, recordID, "node-app")
				for _, s := range m.Series {
					if s.Name == "http.server.request.duration" && s.Kind == "histogram" && s.Unit == "s" && len(s.Points) > 0 && s.Points[len(s.Points)-1].Count > 0 {
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no server duration histogram of node-app after 20 s: %+v", m)
				}
				time.Sleep(200 * time.Millisecond) // one export interval
			}
		})
	}
}
