package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// storageCaddyfile is basicCaddyfile with `storage <file>`, or without it
// for "".
func storageCaddyfile(file string) string {
	if file == "" {
		return basicCaddyfile
	}
	return strings.Replace(basicCaddyfile, "\t\tzipkin {zipkin}\n", "\t\tzipkin {zipkin}\n\t\tstorage "+file+"\n", 1)
}

// caddyProc is a Caddy this test starts, kills and starts again.
type caddyProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// runCaddy starts Caddy on the Caddyfile tmpl and waits until its site and
// its OTLP sink listen.
func (e *env) runCaddy(t *testing.T, tmpl, upstream string) *caddyProc {
	t.Helper()
	cf := e.writeCaddyfile(t, tmpl, upstream)
	cmd := exec.Command(caddyBin, "run", "--config", cf)
	cmd.Env = append(os.Environ(), "HOME="+e.dir, "XDG_DATA_HOME="+e.dir, "XDG_CONFIG_HOME="+e.dir)
	out := &logWriter{t: t, prefix: "caddy"}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &caddyProc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(os.Interrupt) })
	waitListening(t, e.site, cmd)
	waitListening(t, e.otlpHTTP, cmd)
	return p
}

// stop sends sig and waits until the process has exited.
func (p *caddyProc) stop(sig os.Signal) {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// traceState is what the toolbar's live stream of one trace showed.
type traceState struct {
	spans    []span
	logs     int
	recsDone map[string]bool
}

// waitTrace follows the trace's live stream until done says its state is
// complete.
func waitTrace(t *testing.T, base, traceID string, done func(traceState) bool) {
	t.Helper()
	st := traceState{recsDone: map[string]bool{}}
	followEvents(t, traceStream(base, traceID), func(event, data string) bool {
		switch event {
		case "spans":
			st.spans = append(st.spans, parseOTLP(t, []byte(data))...)
		case "logs":
			var logs []json.RawMessage
			json.Unmarshal([]byte(data), &logs)
			st.logs += len(logs)
		case "request":
			var rec struct {
				ID   string `json:"id"`
				Done bool   `json:"done"`
			}
			json.Unmarshal([]byte(data), &rec)
			st.recsDone[rec.ID] = rec.Done
		}
		return done(st)
	}, func() string {
		return fmt.Sprintf("%d logs, records %v, spans:%s", st.logs, st.recsDone, describe(st.spans))
	})
}

// snapshot is what the API shows of some traces and their records, in a
// form that does not depend on how spans were grouped by export.
func snapshot(t *testing.T, base string, traceIDs, recordIDs []string) map[string]string {
	t.Helper()
	api := base + "/__tracebar/api/"
	out := map[string]string{}
	fetch := func(path string) []byte {
		resp, body := get(t, api+path)
		out[path+" status"] = resp.Status
		return body
	}
	for _, id := range traceIDs {
		out["traces/"+id] = spansByID(t, fetch("traces/"+id))
		out["traces/"+id+"/logs"] = string(fetch("traces/" + id + "/logs"))
	}
	for _, id := range recordIDs {
		out["requests/"+id] = string(fetch("requests/" + id))
	}
	out["requests"] = string(fetch("requests"))
	return out
}

// spansByID lists the spans of an OTLP/JSON document, each with its
// resource and scope, sorted by span id.
func spansByID(t *testing.T, b []byte) string {
	var doc struct {
		ResourceSpans []struct {
			Resource   json.RawMessage `json:"resource"`
			ScopeSpans []struct {
				Scope json.RawMessage   `json:"scope"`
				Spans []json.RawMessage `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return string(b) // not a trace: compared as it is
	}
	var spans []string
	for _, rs := range doc.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				spans = append(spans, fmt.Sprintf("%s\n  resource %s\n  scope %s", s, rs.Resource, ss.Scope))
			}
		}
	}
	slices.Sort(spans)
	return strings.Join(spans, "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	b[0] |= 1
	return hex.EncodeToString(b)
}

// exportAcknowledged posts an OTLP/JSON export of a span with an attribute
// of every kind and a log record in trace traceID to the sink, and fails
// unless the sink acknowledges both.
func exportAcknowledged(t *testing.T, otlp, traceID string) {
	t.Helper()
	now := time.Now().UnixNano()
	traces := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"worker"}}]},
		"scopeSpans":[{"scope":{"name":"jobs","version":"1.0"},"spans":[{"traceId":%q,"spanId":%q,"name":"process order","kind":5,
		"startTimeUnixNano":"%d","endTimeUnixNano":"%d","status":{"code":2,"message":"out of stock"},
		"events":[{"timeUnixNano":"%d","name":"retry","attributes":[{"key":"attempt","value":{"intValue":"2"}}]}],
		"attributes":[{"key":"s","value":{"stringValue":"text"}},{"key":"b","value":{"boolValue":true}},{"key":"i","value":{"intValue":"-7"}},
			{"key":"d","value":{"doubleValue":2.5}},{"key":"bytes","value":{"bytesValue":"AAEC/w=="}},
			{"key":"a","value":{"arrayValue":{"values":[{"stringValue":"x"},{"intValue":"1"}]}}},
			{"key":"kv","value":{"kvlistValue":{"values":[{"key":"inner","value":{"boolValue":false}}]}}}]}]}]}]}`,
		traceID, randomHex(8), now, now+int64(time.Millisecond), now)
	logs := fmt.Sprintf(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"worker"}}]},
		"scopeLogs":[{"logRecords":[{"timeUnixNano":"%d","severityNumber":17,"severityText":"ERROR","traceId":%q,
		"body":{"kvlistValue":{"values":[{"key":"order","value":{"intValue":"3"}}]}}}]}]}]}`, now, traceID)
	for path, body := range map[string]string{"/v1/traces": traces, "/v1/logs": logs} {
		resp, err := http.Post("http://"+otlp+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sink answered %s to %s", resp.Status, path)
		}
	}
}

// TestStorageKeepsWhatWasAcknowledgedAcrossSIGKILL: with `storage`, a Caddy
// killed with SIGKILL and started again on the same file shows the same
// requests, spans and logs; without it, the new Caddy starts empty.
func TestStorageKeepsWhatWasAcknowledgedAcrossSIGKILL(t *testing.T) {
	for _, withStorage := range []bool{true, false} {
		name := "storage"
		if !withStorage {
			name = "memory"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			app := startDemoApp(t, e.otlpHTTP)
			file := ""
			if withStorage {
				file = filepath.Join(t.TempDir(), "tracebar.db")
			}
			tmpl := storageCaddyfile(file)
			caddy := e.runCaddy(t, tmpl, app)

			var traceIDs, recordIDs []string
			pages := []struct {
				path string
				done func(traceState) bool
			}{
				{"/", func(st traceState) bool {
					return all(has("caddy", "GET /"), has("shop-web", "render index.html"), has("inventory", "compute stock"))(st.spans)
				}},
				{"/orders", func(st traceState) bool {
					return all(has("shop-web", "render orders.html"), has("shop-web", "apply coupon"))(st.spans) && st.logs > 0
				}},
			}
			for _, p := range pages {
				resp, _ := get(t, e.base+p.path, "Accept", "text/html")
				traceID, recordID := traceOf(t, resp)
				waitTrace(t, e.base, traceID, func(st traceState) bool { return st.recsDone[recordID] && p.done(st) })
				traceIDs, recordIDs = append(traceIDs, traceID), append(recordIDs, recordID)
			}
			// A reload keeps the store and its file open.
			cf := e.writeCaddyfile(t, tmpl, app)
			if out, err := exec.Command(caddyBin, "reload", "--config", cf, "--address", e.admin).CombinedOutput(); err != nil {
				t.Fatalf("reload: %v\n%s", err, out)
			}
			// The sink acknowledges this export once it is in the file,
			// and with it all that the store accepted before.
			worker := randomHex(16)
			exportAcknowledged(t, e.otlpHTTP, worker)
			traceIDs = append(traceIDs, worker)
			before := snapshot(t, e.base, traceIDs, recordIDs)
			if got := before["traces/"+worker]; !strings.Contains(got, `"kvlistValue"`) || !strings.Contains(before["traces/"+worker+"/logs"], `"ERROR"`) {
				t.Fatalf("the acknowledged export is not in the store: %s %s", got, before["traces/"+worker+"/logs"])
			}

			caddy.stop(syscall.SIGKILL)
			if ws, ok := caddy.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("Caddy ended with %v, want killed by SIGKILL", caddy.cmd.ProcessState)
			}
			e.runCaddy(t, tmpl, app)
			after := snapshot(t, e.base, traceIDs, recordIDs)

			if !withStorage {
				if after["requests"] != "[]" && after["requests"] != "[]\n" {
					t.Errorf("without storage, a new Caddy lists requests: %s", after["requests"])
				}
				for _, id := range traceIDs {
					if after["traces/"+id+" status"] != "404 Not Found" {
						t.Errorf("without storage, trace %s is %s after the restart", id, after["traces/"+id+" status"])
					}
				}
				return
			}
			for _, k := range slices.Sorted(maps.Keys(before)) {
				if before[k] != after[k] {
					t.Errorf("%s after the restart:\n%s\nwant:\n%s", k, after[k], before[k])
				}
			}
		})
	}
}

// TestStorageFileOfARunningCaddyIsRefused: a second Caddy on the same
// storage file stops with an error that says why, instead of hanging.
func TestStorageFileOfARunningCaddyIsRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tracebar.db")
	first := newEnv(t)
	first.runCaddy(t, storageCaddyfile(file), "127.0.0.1:9")

	second := newEnv(t)
	cf := second.writeCaddyfile(t, storageCaddyfile(file), "127.0.0.1:9")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, "run", "--config", cf)
	cmd.Env = append(os.Environ(), "HOME="+second.dir, "XDG_DATA_HOME="+second.dir, "XDG_CONFIG_HOME="+second.dir)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the second Caddy still runs after 30s:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "another process holds the file") || !strings.Contains(string(out), file) {
		t.Fatalf("second Caddy: %v, want an error naming the file held by another process:\n%s", err, out)
	}
}

// TestStorageValidatesWhileCaddyRuns: `caddy validate` and `caddy adapt
// --validate` of a running Caddy's config succeed: validating provisions
// the store in memory and leaves the storage file to the Caddy that holds
// it, which goes on writing to it.
func TestStorageValidatesWhileCaddyRuns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tracebar.db")
	e := newEnv(t)
	e.runCaddy(t, storageCaddyfile(file), "127.0.0.1:9")
	cf := e.writeCaddyfile(t, storageCaddyfile(file), "127.0.0.1:9")
	for _, args := range [][]string{{"validate", "--config", cf}, {"adapt", "--config", cf, "--validate"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, caddyBin, args...)
		cmd.Env = append(os.Environ(), "HOME="+e.dir, "XDG_DATA_HOME="+e.dir, "XDG_CONFIG_HOME="+e.dir)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("caddy %s of the running Caddy's config: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	exportAcknowledged(t, e.otlpHTTP, randomHex(16))
}
