package tests

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

const page = "<!doctype html><html><head><title>t</title></head><body><script>var s = '</body>';</script><p>hi</p></body></html>\n"

// TestResponsesThroughTheProxy serves tricky upstream responses through
// Caddy and checks what the client gets.
func TestResponsesThroughTheProxy(t *testing.T) {
	release := make(chan struct{})
	gzPage := func() []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(page))
		w.Close()
		return b.Bytes()
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("ETag", `"strong"`)
		io.WriteString(w, page)
	})
	mux.HandleFunc("/gzip-always", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzPage)
	})
	mux.HandleFunc("/gzip-if-asked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzPage)
			return
		}
		io.WriteString(w, page)
	})
	for _, enc := range []string{"br", "zstd"} {
		encoded := encodeBody(t, enc, []byte(page))
		mux.HandleFunc("/"+enc, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", enc)
			w.Write(encoded)
		})
		corrupt := append([]byte(nil), encoded...)
		corrupt[len(corrupt)-3] ^= 0xff
		mux.HandleFunc("/corrupt-"+enc, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", enc)
			w.Write(corrupt)
		})
	}
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		io.WriteString(w, page)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><head><title>streamed</title></head><body><p>early</p>\n")
		http.NewResponseController(w).Flush()
		<-release // the rest only after the client saw the head
		io.WriteString(w, "<p>late</p></body></html>")
	})
	up := httptest.NewServer(mux)
	defer up.Close()

	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))

	tests := []struct {
		name, path, method string
		header             []string
		want               func(t *testing.T, resp *http.Response, body []byte)
	}{
		{"html gets the tag, strong etag dropped", "/page", "GET", []string{"Accept", "text/html"}, func(t *testing.T, resp *http.Response, body []byte) {
			if !bytes.Equal(tagRE.ReplaceAll(body, nil), []byte(page)) || len(toolbarTagRE.FindAll(body, -1)) != 1 {
				t.Fatalf("body %s", body)
			}
			if !bytes.Contains(body, []byte("<p>hi</p><script src=")) {
				t.Fatalf("tag not before the real </body>: %s", body)
			}
			if resp.Header.Get("Etag") != "" {
				t.Fatal("strong ETag kept on a rewritten body")
			}
		}},
		{"head has no body and no tag", "/page", "HEAD", []string{"Accept", "text/html"}, func(t *testing.T, resp *http.Response, body []byte) {
			if len(body) != 0 || resp.Header.Get("Traceresponse") == "" {
				t.Fatalf("HEAD: body %q", body)
			}
		}},
		{"404 page gets the tag", "/missing", "GET", []string{"Accept", "text/html"}, func(t *testing.T, resp *http.Response, body []byte) {
			if resp.StatusCode != 404 || !bytes.Equal(tagRE.ReplaceAll(body, nil), []byte(page)) || len(toolbarTagRE.FindAll(body, -1)) != 1 {
				t.Fatalf("status %d body %s", resp.StatusCode, body)
			}
		}},
		{"gzip the upstream sends anyway is decoded by the transport and injected", "/gzip-always", "GET", []string{"Accept", "text/html", "Accept-Encoding", "gzip"}, func(t *testing.T, resp *http.Response, body []byte) {
			if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(tagRE.ReplaceAll(body, nil), []byte(page)) || !tagRE.Match(body) {
				t.Fatalf("encoding %q body %q", resp.Header.Get("Content-Encoding"), body)
			}
		}},
		{"gzip only if asked: asked for identity upstream, injected", "/gzip-if-asked", "GET", []string{"Accept", "text/html", "Accept-Encoding", "gzip"}, func(t *testing.T, resp *http.Response, body []byte) {
			if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(tagRE.ReplaceAll(body, nil), []byte(page)) || !tagRE.Match(body) {
				t.Fatalf("encoding %q body %q", resp.Header.Get("Content-Encoding"), body)
			}
		}},
		{"br the upstream sends anyway is decoded and injected", "/br", "GET", []string{"Accept", "text/html"}, func(t *testing.T, resp *http.Response, body []byte) {
			if resp.Header.Get("Content-Encoding") != "" || string(tagRE.ReplaceAll(body, nil)) != page || !tagRE.Match(body) {
				t.Fatalf("encoding %q body %q", resp.Header.Get("Content-Encoding"), body)
			}
		}},
		{"zstd likewise", "/zstd", "GET", []string{"Accept", "text/html"}, func(t *testing.T, resp *http.Response, body []byte) {
			if resp.Header.Get("Content-Encoding") != "" || string(tagRE.ReplaceAll(body, nil)) != page || !tagRE.Match(body) {
				t.Fatalf("encoding %q body %q", resp.Header.Get("Content-Encoding"), body)
			}
		}},
		{"corrupt zstd passes untouched", "/corrupt-zstd", "GET", []string{"Accept", "text/html"}, func(t *testing.T, resp *http.Response, body []byte) {
			want := encodeBody(t, "zstd", []byte(page))
			want[len(want)-3] ^= 0xff
			if resp.Header.Get("Content-Encoding") != "zstd" || !bytes.Equal(body, want) {
				t.Fatalf("corrupt body changed: %q", resp.Header.Get("Content-Encoding"))
			}
		}},
		{"a fetch keeps its accept-encoding and its body", "/gzip-if-asked", "GET", []string{"Accept", "*/*", "Sec-Fetch-Dest", "empty", "Accept-Encoding", "gzip"}, func(t *testing.T, resp *http.Response, body []byte) {
			if !bytes.Equal(body, gzPage) {
				t.Fatalf("body changed")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.base+tt.path, nil)
			for i := 0; i < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			// A transport that leaves encodings alone, like a browser's raw view.
			resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			tt.want(t, resp, body)
		})
	}

	t.Run("streamed head reaches the client before the upstream finishes", func(t *testing.T) {
		conn, err := net.Dial("tcp", e.site)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET /stream HTTP/1.1\r\nHost: "+e.site+"\r\nAccept: text/html\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 4096)
		for !bytes.Contains(buf, []byte("<p>early</p>")) {
			n, err := resp.Body.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil {
				t.Fatalf("head not streamed before the upstream finished: got %q, %v", buf, err)
			}
		}
		close(release)
		rest, _ := io.ReadAll(resp.Body)
		full := append(buf, rest...)
		if !bytes.HasSuffix(full, []byte("<p>late</p>"+string(toolbarTagRE.Find(full))+"</body></html>")) {
			t.Fatalf("streamed page %q", full)
		}
	})
}

// TestUpstreamDownIs502: an unreachable upstream gets Caddy's own 502, and
// the failed exchange is recorded.
func TestUpstreamDownIs502(t *testing.T) {
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	resp, body := get(t, e.base+"/", "Accept", "text/html")
	if resp.StatusCode != 502 || tagRE.Match(body) {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	_, list := get(t, e.base+"/__tracebar/api/requests")
	if !bytes.Contains(list, []byte(`"status":502`)) {
		t.Fatalf("502 not recorded: %s", list)
	}
}

func encodeBody(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// TestUpstreamResetMidBody: a body that breaks off reaches the client
// truncated, as without Tracebar, and the exchange is still recorded as
// finished, with the error.
func TestUpstreamResetMidBody(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", "100000")
		io.WriteString(w, "<html><body><p>partial")
		http.NewResponseController(w).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))

	req, _ := http.NewRequest("GET", e.base+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	// (The fetch hook, inserted where the head is implied, may stay.)
	if err == nil || toolbarTagRE.Match(body) || len(body) == 0 || !bytes.HasPrefix([]byte("<html><body><p>partial"), hookTagRE.ReplaceAll(body, nil)) {
		t.Fatalf("client got %q, %v: want a truncated body without the toolbar", body, err)
	}
	_, spanID := traceOf(t, resp)
	_, full := get(t, e.base+"/__tracebar/api/requests/"+spanID)
	if !bytes.Contains(full, []byte(`"done":true`)) || !bytes.Contains(full, []byte(`"error":"response aborted`)) {
		t.Fatalf("aborted exchange not recorded as finished: %s", full)
	}
}
