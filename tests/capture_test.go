package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// echoed is what the echo upstream saw of one request.
type echoed struct {
	header http.Header
	body   string
}

// startEchoUpstream runs an upstream that answers every request with its
// body, and reports what it saw on the returned channel before answering.
func startEchoUpstream(t *testing.T) (hostport string, seen <-chan echoed) {
	t.Helper()
	ch := make(chan echoed, 16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ch <- echoed{r.Header.Clone(), string(body)}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
	t.Cleanup(up.Close)
	return strings.TrimPrefix(up.URL, "http://"), ch
}

// captureCaddyfile serves the site to loopback clients, and an "outside"
// site whose allow leaves them out, both in front of one upstream.
const captureCaddyfile = `{
	admin {admin}
	tracebar {
		otlp_http {otlp_http}
		otlp_grpc {otlp_grpc}
		zipkin {zipkin}
		editor vscode
		editor_paths /app=/home/me/shop
		slow_query 250ms
	}
}
http://{site} {
	tracebar
	reverse_proxy {upstream}
}
http://%s {
	tracebar {
		allow 10.0.0.0/8
	}
	reverse_proxy {upstream}
}
`

// startCaptureEnv runs Caddy with captureCaddyfile; it returns the base URL
// of the outside site.
func startCaptureEnv(t *testing.T) (e *env, outside string, seen <-chan echoed) {
	t.Helper()
	upstream, seen := startEchoUpstream(t)
	e = newEnv(t)
	outsideAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.startCaddy(t, fmt.Sprintf(captureCaddyfile, outsideAddr), upstream)
	waitListening(t, outsideAddr, nil)
	return e, "http://" + outsideAddr, seen
}

// capturedRecord is the part of a record these tests read.
type capturedRecord struct {
	Done        bool `json:"done"`
	RequestBody *struct {
		ContentType string `json:"contentType"`
		Text        string `json:"text"`
		Redacted    bool   `json:"redacted"`
	} `json:"requestBody"`
	ReplayOf        string              `json:"replayOf"`
	RequestBytes    int64               `json:"requestBytes"`
	ClientRequest   map[string][]string `json:"clientRequestHeaders"`
	UpstreamRequest map[string][]string `json:"upstreamRequestHeaders"`
}

// recordOf reads the record of the exchange resp answered.
func recordOf(t *testing.T, base string, resp *http.Response) (id string, rec capturedRecord) {
	t.Helper()
	_, id = traceOf(t, resp)
	r, body := get(t, base+"/__tracebar/api/requests/"+id)
	if r.StatusCode != 200 {
		t.Fatalf("record %s: status %d", id, r.StatusCode)
	}
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatalf("record %s: %v", body, err)
	}
	if !rec.Done {
		t.Fatalf("record not done: %s", body)
	}
	return id, rec
}

// TestCaptureRequestBodies: through a real Caddy, the upstream gets each
// body byte for byte while the record keeps form and JSON bodies with
// their secret fields redacted; a body over 64 KB, and any body of a
// client outside allow, is not captured.
func TestCaptureRequestBodies(t *testing.T) {
	e, outside, seen := startCaptureEnv(t)
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, path, contentType, body string
		want                                  string // the captured text; "" for none
		redacted                              bool
	}{
		{"login form", "POST", "/login", form, "user=ann&password=hunter2&csrfmiddlewaretoken=Zx9&next=%2Fcart",
			"user=ann&password=%5Bredacted%5D&csrfmiddlewaretoken=%5Bredacted%5D&next=%2Fcart", true},
		{"nested JSON", "PUT", "/api/cart", "application/json; charset=utf-8", `{"items":[{"id":1,"qty":2}], "auth": {"token":"t0k"}, "note":"ünïcode"}`,
			`{"items":[{"id":1,"qty":2}], "auth": "[redacted]", "note":"ünïcode"}`, true},
		{"GraphQL without secrets", "POST", "/graphql", "application/json", `{"operationName":"GetCart","query":"query GetCart { cart { id } }"}`,
			`{"operationName":"GetCart","query":"query GetCart { cart { id } }"}`, false},
		{"over 64 KB", "POST", "/upload", "application/json", `"` + strings.Repeat("x", 64<<10) + `"`, "", false},
		{"multipart", "POST", "/upload", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nx\r\n--b--\r\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, answer := send(t, tt.method, e.base+tt.path, tt.contentType, tt.body)
			if up := <-seen; up.body != tt.body || string(answer) != tt.body {
				t.Fatalf("upstream got %q and answered %q, want the body as sent", up.body, answer)
			}
			_, rec := recordOf(t, e.base, resp)
			if rec.RequestBytes != int64(len(tt.body)) {
				t.Errorf("requestBytes %d, want %d", rec.RequestBytes, len(tt.body))
			}
			switch b := rec.RequestBody; {
			case tt.want == "" && b != nil:
				t.Fatalf("captured %+v, want nothing", b)
			case tt.want != "" && (b == nil || b.Text != tt.want || b.ContentType != tt.contentType || b.Redacted != tt.redacted):
				t.Fatalf("captured %+v, want %q (redacted %v)", b, tt.want, tt.redacted)
			}
		})
	}

	t.Run("client outside allow", func(t *testing.T) {
		const body = "user=ann&password=hunter2"
		resp, answer := send(t, "POST", outside+"/outside-login", form, body)
		if up := <-seen; up.body != body || string(answer) != body {
			t.Fatalf("upstream got %q and answered %q, want the body as sent", up.body, answer)
		}
		if resp.Header.Get("Traceresponse") != "" {
			t.Fatal("a client outside allow was traced")
		}
		_, list := get(t, e.base+"/__tracebar/api/requests")
		var recs []struct{ URL string }
		if err := json.Unmarshal(list, &recs); err != nil || len(recs) == 0 {
			t.Fatalf("requests %s: %v", list, err)
		}
		for _, r := range recs {
			if r.URL == "/outside-login" {
				t.Fatal("a client outside allow has a record")
			}
		}
	})
}

// TestReplayHeaderMarksTheRecord: a request carrying X-Tracebar-Replay
// with a record id is recorded as that record's replay; the header never
// reaches the upstream, nor the record's upstream headers, whatever its value.
func TestReplayHeaderMarksTheRecord(t *testing.T) {
	e, _, seen := startCaptureEnv(t)
	const form = "application/x-www-form-urlencoded"
	resp, _ := send(t, "POST", e.base+"/login", form, "user=ann&password=hunter2")
	<-seen
	original, _ := recordOf(t, e.base, resp)

	for _, tt := range []struct{ name, value, want string }{
		{"a record id", original, original},
		{"not an id", "../../admin", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := send(t, "POST", e.base+"/login", form, "user=ann&password=%5Bredacted%5D", "X-Tracebar-Replay", tt.value)
			if up := <-seen; up.header.Get("X-Tracebar-Replay") != "" || up.body != "user=ann&password=%5Bredacted%5D" {
				t.Fatalf("upstream saw replay header %q, body %q", up.header.Get("X-Tracebar-Replay"), up.body)
			}
			id, rec := recordOf(t, e.base, resp)
			if rec.ReplayOf != tt.want || id == original {
				t.Fatalf("record %s replayOf %q, want %q", id, rec.ReplayOf, tt.want)
			}
			if _, ok := rec.UpstreamRequest["X-Tracebar-Replay"]; ok || len(rec.UpstreamRequest) == 0 {
				t.Fatalf("upstream request headers %v: want them, without the replay header", rec.UpstreamRequest)
			}
			if got := rec.ClientRequest["X-Tracebar-Replay"]; len(got) != 1 || got[0] != tt.value {
				t.Fatalf("client request replay header %v, want %q as sent", got, tt.value)
			}
		})
	}
}

// TestCaptureEnvEditorOptions: the editor, editor_paths and slow_query
// global options reach the toolbar's /api/config, the preset as its URL
// template.
func TestCaptureEnvEditorOptions(t *testing.T) {
	e, _, _ := startCaptureEnv(t)
	resp, body := get(t, e.base+"/__tracebar/api/config")
	var cfg struct {
		Editor      string `json:"editor"`
		EditorPaths []struct {
			From string `json:"from"`
			To   string `json:"to"`
		} `json:"editorPaths"`
		SlowQueryMs float64 `json:"slowQueryMs"`
	}
	if err := json.Unmarshal(body, &cfg); err != nil || resp.StatusCode != 200 {
		t.Fatalf("config %d %s: %v", resp.StatusCode, body, err)
	}
	if cfg.Editor != "vscode://file/{file}:{line}" || len(cfg.EditorPaths) != 1 || cfg.EditorPaths[0].From != "/app" ||
		cfg.EditorPaths[0].To != "/home/me/shop" || cfg.SlowQueryMs != 250 {
		t.Fatalf("config %s", body)
	}
}
