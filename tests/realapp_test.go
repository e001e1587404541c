package tests

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/klauspost/compress/zstd"
)

// adminPage is shaped like a Django admin page: <head> near the start,
// most of its bytes after it; size bytes long, padded with spaces.
func adminPage(size int) string {
	const end = "</body>\n</html>\n"
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en-us\" dir=\"ltr\">\n<head>\n<title>Site administration</title>\n</head>\n<body class=\" dashboard\">\n")
	const row = `<tr class="model-user"><th scope="row"><a href="/admin/auth/user/">Users</a></th><td><a href="/admin/auth/user/add/" class="addlink">Add</a></td></tr>` + "\n"
	for b.Len()+len(row)+len(end) <= size {
		b.WriteString(row)
	}
	b.WriteString(strings.Repeat(" ", max(0, size-b.Len()-len(end))))
	b.WriteString(end)
	return b.String()
}

// pageUpstream serves HTML pages as apps do: with a Content-Length
// (/length/<size>), that and an early flush (/flushed/<size>), or streamed in two flushed writes (/stream/<size>;
// the proxy may read them as one, so both halves are on the same side of
// encode's minimum_length as the whole).
func pageUpstream(t *testing.T) string {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var size int
		var how string
		fmt.Sscanf(strings.ReplaceAll(r.URL.Path, "/", " "), "%s %d", &how, &size)
		page := adminPage(size)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch how {
		case "length":
			w.Header().Set("Content-Length", fmt.Sprint(len(page)))
			io.WriteString(w, page)
			return
		case "flushed": // a Content-Length, and the head flushed early
			w.Header().Set("Content-Length", fmt.Sprint(len(page)))
			io.WriteString(w, page[:300])
			w.(http.Flusher).Flush()
			io.WriteString(w, page[300:])
			return
		}
		half := len(page) / 2
		io.WriteString(w, page[:half])
		w.(http.Flusher).Flush()
		io.WriteString(w, page[half:])
	}))
	t.Cleanup(up.Close)
	return strings.TrimPrefix(up.URL, "http://")
}

// TestEncodeCompressesInjectedPagesAsWithoutTracebar: with encode in front
// (the README's Caddyfile), a page leaves Caddy exactly as encoded as it
// does without Tracebar, at encode's default minimum_length, for pages
// with a Content-Length, flushed early or not, and streamed ones, large
// and small, with reverse_proxy flushing every write; and the
// record's client headers are the ones the client got (after encode).
func TestEncodeCompressesInjectedPagesAsWithoutTracebar(t *testing.T) {
	up := pageUpstream(t)
	for _, enc := range []string{"gzip", "zstd gzip"} {
		e := newEnv(t)
		plain := freePort(t)
		cf := fmt.Sprintf(globalOptions+`http://{site} {
	encode %[1]s
	tracebar
	reverse_proxy {upstream} {
		flush_interval -1
	}
}
http://127.0.0.1:%[2]d {
	encode %[1]s
	reverse_proxy {upstream} {
		flush_interval -1
	}
}
`, enc, plain)
		e.startCaddy(t, cf, up)
		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		fetch := func(url string) (*http.Response, []byte) {
			t.Helper()
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Accept-Encoding", "zstd, gzip")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return resp, decode(t, resp.Header.Get("Content-Encoding"), body)
		}
		for _, path := range []string{"/length/24192", "/length/100000", "/stream/24192", "/flushed/1970", "/flushed/100000", "/length/400", "/stream/400", "/stream/1400", "/length/513", "/length/512"} {
			t.Run(enc+path, func(t *testing.T) {
				want, wantBody := fetch(fmt.Sprintf("http://127.0.0.1:%d%s", plain, path))
				got, gotBody := fetch(e.base + path)
				if ce := got.Header.Get("Content-Encoding"); ce != want.Header.Get("Content-Encoding") || got.Header.Get("Vary") != want.Header.Get("Vary") {
					t.Fatalf("with Tracebar: Content-Encoding %q, Vary %q; without: %q, %q", ce, got.Header.Get("Vary"), want.Header.Get("Content-Encoding"), want.Header.Get("Vary"))
				}
				if !bytes.Equal(tagRE.ReplaceAll(gotBody, nil), wantBody) || len(tagRE.FindAll(gotBody, -1)) != 2 {
					t.Fatalf("the page is not the upstream's plus the two tags")
				}
				// The record's "Proxy → Client" headers are the ones sent.
				var rec struct {
					ClientEncoding string              `json:"clientEncoding"`
					ClientBytes    int                 `json:"clientBytes"`
					Client         map[string][]string `json:"clientResponseHeaders"`
				}
				_, b := get(t, e.base+got.Header.Get("X-Tracebar-Request"))
				if err := json.Unmarshal(b, &rec); err != nil {
					t.Fatal(err)
				}
				// (A Content-Length that net/http computes for a body that
				// ended within its buffer is never in the header map.)
				ce := got.Header.Get("Content-Encoding")
				if strings.Join(rec.Client["Content-Encoding"], ",") != ce || rec.ClientEncoding != ce ||
					strings.Join(rec.Client["Vary"], ",") != got.Header.Get("Vary") || rec.ClientBytes != len(gotBody) {
					t.Fatalf("recorded client headers %v, clientEncoding %q, clientBytes %d; the client got Content-Encoding %q, Vary %q and %d bytes decoded",
						rec.Client, rec.ClientEncoding, rec.ClientBytes, ce, got.Header.Get("Vary"), len(gotBody))
				}
			})
		}
		// The first case is compressed, or the test proves nothing.
		if resp, _ := fetch(e.base + "/length/24192"); resp.Header.Get("Content-Encoding") == "" {
			t.Fatal("a 24 KB page was not compressed")
		}
	}
}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		return b
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("encoding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestErrorPagesGetTheToolbar: HTML documents of any final status with a
// body get the toolbar (a DEBUG 404 or 500 page is the one a developer
// most wants to debug); bodiless statuses, parts and redirects do not.
func TestErrorPagesGetTheToolbar(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var status int
		fmt.Sscanf(r.URL.Path, "/%d", &status)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if status/100 == 3 && status != 304 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
		io.WriteString(w, "<!DOCTYPE html><html><head><title>Page not found</title></head><body><h1>Error</h1></body></html>")
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		status int
		tags   int
	}{{404, 2}, {500, 2}, {403, 2}, {503, 2}, {201, 2}, {302, 0}, {204, 0}, {304, 0}} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/%d", e.base, tt.status), nil)
			req.Header.Set("Accept", "text/html")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if n := len(tagRE.FindAll(body, -1)); n != tt.tags {
				t.Fatalf("%d tags in the %d page, want %d", n, tt.status, tt.tags)
			}
		})
	}
}

// TestHeadCarriesTheHeadersOfItsGet: HEAD on a page that gets the toolbar
// answers with the head its GET has (no stale Content-Length or ETag).
func TestHeadCarriesTheHeadersOfItsGet(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := adminPage(2685)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", fmt.Sprint(len(page)))
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 07 Dec 2026 00:00:00 GMT")
		if r.Method != http.MethodHead {
			io.WriteString(w, page)
		}
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))
	do := func(method string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, e.base+"/admin/login/", nil)
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	getResp, getBody := do("GET")
	headResp, _ := do("HEAD")
	if getResp.ContentLength != -1 || len(tagRE.FindAll(getBody, -1)) != 2 {
		t.Fatalf("the GET has Content-Length %d and %d tags; the test expects a streamed, injected body", getResp.ContentLength, len(tagRE.FindAll(getBody, -1)))
	}
	for _, k := range []string{"Etag", "Last-Modified", "Content-Type", "Content-Encoding", "Accept-Ranges"} {
		if g, h := getResp.Header.Get(k), headResp.Header.Get(k); g != h {
			t.Errorf("%s: GET %q, HEAD %q", k, g, h)
		}
	}
	// The HEAD's length is the GET's body length (the GET streams it).
	if headResp.ContentLength != int64(len(getBody)) {
		t.Errorf("HEAD Content-Length %d, the GET's body has %d bytes", headResp.ContentLength, len(getBody))
	}
}

// TestFastCGIRecordIsWhatPHPGot: behind php_fastcgi (no httptrace), the
// record's "Proxy → Upstream" holds the headers and CGI params PHP really
// got, as PHP reports them, with secrets redacted.
func TestFastCGIRecordIsWhatPHPGot(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.php"), []byte(`<?php header('Content-Type: application/json'); echo json_encode([
		'SCRIPT_FILENAME' => $_SERVER['SCRIPT_FILENAME'], 'REQUEST_URI' => $_SERVER['REQUEST_URI'],
		'QUERY_STRING' => $_SERVER['QUERY_STRING'], 'REMOTE_ADDR' => $_SERVER['REMOTE_ADDR'],
		'REQUEST_METHOD' => $_SERVER['REQUEST_METHOD'], 'traceparent' => $_SERVER['HTTP_TRACEPARENT'] ?? '',
		'x_app' => $_SERVER['HTTP_X_APP'] ?? '']);`), 0o644)
	php := startPHPFPM(t, dir)
	e := newEnv(t)
	e.startCaddy(t, strings.NewReplacer("{dir}", dir, "{php}", php).Replace(globalOptions+`http://{site} {
	tracebar
	root * {dir}
	php_fastcgi {php}
}
`), "")
	resp, body := get(t, e.base+"/some/route?page=2&token=T0P", "X-App", "v1", "Authorization", "Bearer s3cret")
	var saw map[string]string
	if err := json.Unmarshal(body, &saw); err != nil {
		t.Fatalf("PHP answered %d %q: %v", resp.StatusCode, body, err)
	}
	var rec struct {
		Headers map[string][]string `json:"upstreamRequestHeaders"`
		Params  map[string][]string `json:"upstreamParams"`
	}
	_, b := get(t, e.base+resp.Header.Get("X-Tracebar-Request"))
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	param := func(k string) string { return strings.Join(rec.Params[k], ",") }
	for _, k := range []string{"SCRIPT_FILENAME", "REMOTE_ADDR", "REQUEST_METHOD"} {
		if param(k) != saw[k] {
			t.Errorf("%s: recorded %q, PHP got %q", k, param(k), saw[k])
		}
	}
	// The query's secret is redacted; the rest is as PHP got it.
	if saw["REQUEST_URI"] != "/some/route?page=2&token=T0P" || param("REQUEST_URI") != "/some/route?page=2&token=%5Bredacted%5D" ||
		saw["QUERY_STRING"] != "page=2&token=T0P" || param("QUERY_STRING") != "page=2&token=%5Bredacted%5D" {
		t.Errorf("REQUEST_URI %q, QUERY_STRING %q recorded; PHP got %q, %q", param("REQUEST_URI"), param("QUERY_STRING"), saw["REQUEST_URI"], saw["QUERY_STRING"])
	}
	if got := strings.Join(rec.Headers["Traceparent"], ","); got == "" || got != saw["traceparent"] || strings.Join(rec.Headers["X-App"], ",") != saw["x_app"] {
		t.Errorf("recorded Traceparent %q, X-App %q; PHP got %q, %q", got, rec.Headers["X-App"], saw["traceparent"], saw["x_app"])
	}
	if a := strings.Join(rec.Headers["Authorization"], ","); a != "[redacted]" || bytes.Contains(b, []byte("s3cret")) || bytes.Contains(b, []byte("T0P")) {
		t.Errorf("a secret is in the record: Authorization %q", a)
	}
}

// TestHookWithoutHeadTag: a page without the optional <head> tag (as
// Adminer's) still gets the fetch hook where the head is implied, before
// its own scripts, so the fetch its script makes at once is continued from
// the page's trace and listed.
func TestHookWithoutHeadTag(t *testing.T) {
	const page = "<!DOCTYPE html>\n<html lang=\"en\" dir=\"ltr\">\n<meta charset=\"utf-8\">\n<title>Login - Adminer</title>\n" +
		"<script>fetch('/api/ping').then(r => r.text()).then(t => document.title = t)</script>\n<body><form method=post><input name=auth></form>\n"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/ping" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `"pong"`)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`document.title === '"pong"'`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the page's fetch did not complete: %v", err)
	}
	// The fetch completed, so both records are in the store.
	var list []struct {
		URL     string `json:"url"`
		TraceID string `json:"traceId"`
	}
	_, b := get(t, e.base+"/__tracebar/api/requests?limit=50")
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	var pageTrace, pingTrace string
	for _, r := range list {
		switch r.URL {
		case "/":
			pageTrace = r.TraceID
		case "/api/ping":
			pingTrace = r.TraceID
		}
	}
	if pageTrace == "" || pingTrace != pageTrace {
		t.Fatalf("the page's fetch is in trace %q, the page in %q: the hook did not run before the page's script", pingTrace, pageTrace)
	}

	_, body := get(t, e.base+"/", "Accept", "text/html")
	if hook := hookTagRE.Find(body); hook == nil || !bytes.Contains(body, append([]byte("<html lang=\"en\" dir=\"ltr\">\n"), append(hook, "<meta charset"...)...)) {
		t.Fatalf("the hook is not where the head is implied (before <meta>):\n%s", body)
	}
}

// TestChainedCaddysGiveOneToolbar: edge Caddy → internal Caddy → app, both
// with Tracebar: the page gets the edge's toolbar only (the internal one
// records and traces as usual), and straight through the internal Caddy
// the page gets its toolbar.
func TestChainedCaddysGiveOneToolbar(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html><head><title>app</title></head><body><p>app</p></body></html>")
	}))
	defer up.Close()
	internal, edge := newEnv(t), newEnv(t)
	internal.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))
	edge.startCaddy(t, basicCaddyfile, internal.site)

	resp, body := get(t, edge.base+"/", "Accept", "text/html")
	_, edgeID := traceOf(t, resp)
	tags := tagRE.FindAll(body, -1)
	if len(tags) != 2 || len(toolbarTagRE.FindAll(body, -1)) != 1 {
		t.Fatalf("%d tags through the chain, want the edge's two:\n%s", len(tags), body)
	}
	for _, tag := range tags {
		if !bytes.Contains(tag, []byte(`data-tracebar-request="`+edgeID+`"`)) {
			t.Fatalf("tag %s is not the edge's (request %s)", tag, edgeID)
		}
	}
	var list []struct {
		URL      string `json:"url"`
		Injected bool   `json:"injected"`
	}
	_, b := get(t, internal.base+"/__tracebar/api/requests")
	if err := json.Unmarshal(b, &list); err != nil || len(list) != 1 || list[0].Injected {
		t.Fatalf("the internal Caddy's records %s (%v): want one, not injected", b, err)
	}

	_, body = get(t, internal.base+"/", "Accept", "text/html")
	if len(tagRE.FindAll(body, -1)) != 2 {
		t.Fatalf("straight through the internal Caddy the page has no toolbar:\n%s", body)
	}
}
