package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// startPHPFPM runs Debian's php-fpm on a loopback port for the test.
func startPHPFPM(t *testing.T, dir string) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/sbin/php-fpm*")
	if len(bins) == 0 {
		t.Fatal("php-fpm not installed: tests/run.sh installs it (apt-get install php-fpm)")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := filepath.Join(dir, "php-fpm.conf")
	os.WriteFile(conf, []byte("[global]\nerror_log = /dev/stderr\ndaemonize = no\n[www]\nlisten = "+addr+
		"\npm = static\npm.max_children = 2\n"), 0o644)
	cmd := start(t, nil, bins[0], "-F", "-R", "-y", conf, "-p", dir)
	waitListening(t, addr, cmd)
	return addr
}

const responderPage = "<!doctype html><html><head><title>r</title></head><body><p>static</p></body></html>\n"

// TestEveryResponder: the toolbar goes into pages from file_server,
// respond, templates and php_fastcgi, in sites written with handle and
// route and with encode in front; ranges, SSE and WebSocket pass untouched.
func TestEveryResponder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "page.html"), []byte(responderPage), 0o644)
	os.WriteFile(filepath.Join(dir, "tpl.html"), []byte(`<html><body><p>{{.Req.URL.Path}}</p></body></html>`), 0o644)
	os.WriteFile(filepath.Join(dir, "index.php"), []byte(`<html><body><p><?php echo "php " . PHP_MAJOR_VERSION; ?></p></body></html>`), 0o644)
	php := startPHPFPM(t, dir)

	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "data: two</body>\n\n")
	})
	mux.Handle("/ws", websocket.Handler(func(c *websocket.Conn) { io.Copy(c, c) }))
	up := httptest.NewServer(mux)
	defer up.Close()

	e := newEnv(t)
	caddyfile := strings.NewReplacer("{dir}", dir, "{php}", php).Replace(globalOptions + `http://{site} {
	encode gzip zstd
	tracebar
	handle /static/* {
		uri strip_prefix /static
		root * {dir}
		file_server
	}
	handle /respond {
		header Content-Type "text/html; charset=utf-8"
		respond "<html><body><p>responded</p></body></html>"
	}
	handle /tpl.html {
		route {
			root * {dir}
			templates
			file_server
		}
	}
	handle /index.php {
		root * {dir}
		php_fastcgi {php}
	}
	handle {
		reverse_proxy {upstream}
	}
}
`)
	e.startCaddy(t, caddyfile, strings.TrimPrefix(up.URL, "http://"))

	pages := []struct{ path, want string }{
		{"/static/page.html", responderPage},
		{"/respond", "<html><body><p>responded</p></body></html>"},
		{"/tpl.html", "<html><body><p>/tpl.html</p></body></html>"},
		{"/index.php", "<html><body><p>php 8</p></body></html>"},
	}
	for _, p := range pages {
		t.Run(strings.TrimPrefix(p.path, "/"), func(t *testing.T) {
			// Go's client asks for gzip and decodes it: encode compressed
			// what the toolbar wrote.
			resp, body := get(t, e.base+p.path, "Accept", "text/html")
			if resp.StatusCode != 200 || len(toolbarTagRE.FindAll(body, -1)) != 1 || string(tagRE.ReplaceAll(body, nil)) != p.want {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			if !bytes.Contains(body, []byte("</p>"+string(toolbarTagRE.Find(body))+"</body>")) {
				t.Fatalf("tag not before </body>: %q", body)
			}
			if p.path == "/index.php" {
				// FastCGI has no httptrace, yet the CLIENT span whose id
				// went to PHP is stored, so PHP's spans have their parent.
				traceID, spanID := traceOf(t, resp)
				spans := waitSpans(t, e.base, traceID, has("caddy", "GET upstream"))
				if c, _ := find(spans, "caddy", "GET upstream"); c.ParentSpanID != spanID || c.attr("server.port") == "" {
					t.Fatalf("fastcgi CLIENT span %+v", c)
				}
			}
		})
	}

	t.Run("range request untouched", func(t *testing.T) {
		resp, body := get(t, e.base+"/static/page.html", "Accept", "text/html", "Range", "bytes=0-9")
		if resp.StatusCode != 206 || string(body) != responderPage[:10] {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
	})

	t.Run("server-sent events stream through untouched", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.base+"/sse", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		first, err := br.ReadString('\n')
		if err != nil || first != "data: one\n" {
			t.Fatalf("first event %q, %v: not streamed before the upstream finished", first, err)
		}
		close(release)
		rest, _ := io.ReadAll(br)
		if string(rest) != "\ndata: two</body>\n\n" {
			t.Fatalf("rest %q", rest)
		}
	})

	t.Run("websocket echo passes through", func(t *testing.T) {
		ws, err := websocket.Dial("ws://"+e.site+"/ws", "", e.base)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		ws.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := ws.Write([]byte("<html><body>ping</body></html>")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err := ws.Read(buf)
		if err != nil || string(buf[:n]) != "<html><body>ping</body></html>" {
			t.Fatalf("echo %q, %v", buf[:n], err)
		}
	})
}

// TestHTTP2Upstream: an HTML page from an HTTP/2 (h2c) upstream gets the
// toolbar like any other.
func TestHTTP2Upstream(t *testing.T) {
	var protos = make(chan int, 1)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	ln := listenLoopback(t)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case protos <- r.ProtoMajor:
		default:
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, responderPage)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, "h2c://"+ln.Addr().String())
	resp, body := get(t, e.base+"/", "Accept", "text/html")
	if resp.StatusCode != 200 || string(tagRE.ReplaceAll(body, nil)) != responderPage || !tagRE.Match(body) {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if major := <-protos; major != 2 {
		t.Fatalf("upstream spoke HTTP/%d, want 2", major)
	}
}
