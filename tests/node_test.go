package tests

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startNodeApp runs tests/node (the real @opentelemetry/sdk-node) exporting
// to the sink at otlp with the given OTLP protocol.
func startNodeApp(t *testing.T, otlp, protocol string) string {
	t.Helper()
	port := freePort(t)
	runNode(t, "server.js", fmt.Sprintf("PORT=%d", port), "OTEL_SERVICE_NAME=node-app",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+otlp, "OTEL_EXPORTER_OTLP_PROTOCOL="+protocol)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// runNode runs a script of tests/node (with its real OpenTelemetry SDK,
// tracing.js) for the test and waits until it prints "listening".
func runNode(t testing.TB, script string, env ...string) {
	t.Helper()
	if _, err := os.Stat("node/node_modules/@opentelemetry/sdk-node"); err != nil {
		t.Fatal("tests/node has no node_modules: run `npm ci` there (tests/run.sh does)")
	}
	cmd := exec.Command("node", script)
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &logWriter{t: t, prefix: script}
	run(t, cmd)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "listening") {
				ready <- true
			}
			t.Log(script + ": " + sc.Text())
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("%s exited before listening", script)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s not listening after 30s", script)
	}
}

// TestNodeAppSpansNestUnderProxySpan: a Node.js app using the real
// @opentelemetry/sdk-node continues the proxy's traceparent and exports to
// the sink; its spans come back from the API under the proxy's span, over
// each OTLP transport and encoding the Node exporters offer.
func TestNodeAppSpansNestUnderProxySpan(t *testing.T) {
	for _, protocol := range []string{"http/protobuf", "http/json", "grpc"} {
		t.Run(strings.ReplaceAll(protocol, "/", "-"), func(t *testing.T) {
			e := newEnv(t)
			sink := e.otlpHTTP
			if protocol == "grpc" {
				sink = e.otlpGRPC
			}
			app := startNodeApp(t, sink, protocol)
			e.startCaddy(t, basicCaddyfile, app)

			resp, body := get(t, e.base+"/", "Accept", "text/html")
			if resp.StatusCode != 200 || len(toolbarTagRE.FindAll(body, -1)) != 1 {
				t.Fatalf("status %d, page %s", resp.StatusCode, body)
			}
			traceID, spanID := traceOf(t, resp)
			spans := waitSpans(t, e.base, traceID, all(
				has("caddy", "GET upstream"), has("node-app", "render page"), has("node-app", "SELECT users"),
				func(s []span) bool {
					for _, x := range s {
						if x.Service == "node-app" && x.Kind == 2 {
							return true
						}
					}
					return false
				}))
			var server span
			for _, s := range spans {
				if s.Service == "node-app" && s.Kind == 2 {
					server = s
				}
			}
			client, _ := find(spans, "caddy", "GET upstream")
			if client.ParentSpanID != spanID || server.ParentSpanID != client.SpanID {
				t.Fatalf("want proxy %s <- client %s <- node server span:%s", spanID, client.SpanID, describe(spans))
			}
			render, _ := find(spans, "node-app", "render page")
			if render.ParentSpanID != server.SpanID {
				t.Fatalf("render span not under the node server span:%s", describe(spans))
			}
			sql, _ := find(spans, "node-app", "SELECT users")
			if sql.attr("db.query.text") == "" {
				t.Fatalf("SQL span lacks db.query.text")
			}
		})
	}
}
