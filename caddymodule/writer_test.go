package caddymodule

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// writeLog records the length of every write and where flushes fell, as
// Caddy's encode would see them.
type writeLog struct {
	*httptest.ResponseRecorder
	writes []int
}

func (l *writeLog) Write(p []byte) (int, error) {
	l.writes = append(l.writes, len(p))
	return l.ResponseRecorder.Write(p)
}

func (l *writeLog) Flush() { l.writes = append(l.writes, -1) }

// TestFirstWriteIsAsLongAsTheUpstreams: encode, outside Tracebar, decides
// on its first write when there is no Content-Length; the injected body's
// first write is as long as the upstream's Content-Length or first write
// (at most maxFirst), flushes before that included when the length is
// known, and the whole body comes through.
func TestFirstWriteIsAsLongAsTheUpstreams(t *testing.T) {
	page := "<!DOCTYPE html><html><head><title>t</title></head><body>" + strings.Repeat("<p class=\"row\">text</p>\n", 1000) + "</body></html>\n"
	tests := []struct {
		name      string
		length    bool  // the upstream sends a Content-Length
		writes    []int // the upstream's writes, each followed by a flush
		wantFirst int
	}{
		{"length, head flushed early", true, []int{300, len(page) - 300}, maxFirst},
		{"length, in one write", true, []int{len(page)}, maxFirst},
		{"streamed, first chunk", false, []int{1500, len(page) - 1500}, 1500},
		{"streamed, tiny first chunk", false, []int{40, len(page) - 40}, 40},
		{"streamed, large first chunk", false, []int{20000, len(page) - 20000}, maxFirst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := caddyHandler(func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if tt.length {
					w.Header().Set("Content-Length", strconv.Itoa(len(page)))
				}
				w.WriteHeader(http.StatusOK)
				rest := page
				for _, n := range tt.writes {
					if _, err := w.Write([]byte(rest[:n])); err != nil {
						return err
					}
					rest = rest[n:]
					http.NewResponseController(w).Flush()
				}
				return nil
			})
			h := benchHandler(t)
			r := httptest.NewRequestWithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()), "GET", "http://127.0.0.1/", nil)
			r.RemoteAddr = "127.0.0.1:1"
			r.Header.Set("Accept", "text/html")
			log := &writeLog{ResponseRecorder: httptest.NewRecorder()}
			if err := h.ServeHTTP(log, r, next); err != nil {
				t.Fatal(err)
			}
			if len(log.writes) == 0 || log.writes[0] != tt.wantFirst {
				t.Fatalf("writes and flushes (-1) %v: want a first write of %d", log.writes, tt.wantFirst)
			}
			body := log.Body.String()
			if !strings.Contains(body, "<head><script src=") || !strings.HasSuffix(body, "</script></body></html>\n") ||
				len(body) <= len(page) || log.Header().Get("Content-Length") != "" {
				t.Fatalf("body of %d bytes is not the page with both tags, or a Content-Length %q stayed", len(body), log.Header().Get("Content-Length"))
			}
		})
	}
}

// TestLargePageKeepsItsContentLength: an injected page from keepLengthFrom
// on keeps a Content-Length, exactly its body's, with or without a <meta>
// policy's nonce on the toolbar's tag, and its HEAD announces the same; a
// smaller page is streamed without one.
func TestLargePageKeepsItsContentLength(t *testing.T) {
	rows := strings.Repeat(`<p class="row">text</p>`+"\n", keepLengthFrom/24+1)
	meta := `<meta http-equiv="Content-Security-Policy" content="script-src 'nonce-` + strings.Repeat("n", 40) + `'">`
	tests := []struct {
		name, page string
		keep       bool
		nonce      string // on the toolbar's tag
	}{
		{"large", "<!DOCTYPE html><html><head><title>t</title></head><body>" + rows + "</body></html>\n", true, ""},
		{"large with a meta nonce", "<!DOCTYPE html><html><head>" + meta + "</head><body>" + rows + "</body></html>\n", true, strings.Repeat("n", 40)},
		{"no </body>", "<!DOCTYPE html><p>" + rows, true, ""},
		{"small", "<!DOCTYPE html><html><head></head><body>" + rows[:30<<10] + "</body></html>\n", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := caddyHandler(func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("Content-Length", strconv.Itoa(len(tt.page)))
				w.WriteHeader(http.StatusOK)
				if r.Method == http.MethodHead {
					return nil
				}
				for rest := tt.page; len(rest) > 0; {
					n := min(len(rest), 32<<10)
					if _, err := io.WriteString(w, rest[:n]); err != nil {
						return err
					}
					rest = rest[n:]
				}
				return nil
			})
			h := benchHandler(t)
			serve := func(method string) *httptest.ResponseRecorder {
				r := httptest.NewRequestWithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()), method, "http://127.0.0.1/", nil)
				r.RemoteAddr = "127.0.0.1:1"
				r.Header.Set("Accept", "text/html")
				w := httptest.NewRecorder()
				if err := h.ServeHTTP(w, r, next); err != nil {
					t.Fatal(err)
				}
				return w
			}
			get, head := serve("GET"), serve("HEAD")
			body := get.Body.String()
			if strings.Count(body, "<script src=") != 2 || len(body) <= len(tt.page) {
				t.Fatalf("body of %d bytes is not the page with both tags", len(body))
			}
			if got := strings.Contains(body, `nonce="`+tt.nonce+`"`); tt.nonce != "" && !got {
				t.Fatalf("the toolbar's tag has no nonce %q", tt.nonce)
			}
			want := ""
			if tt.keep {
				want = strconv.Itoa(len(body))
			}
			if got := get.Result().Header.Get("Content-Length"); got != want {
				t.Fatalf("GET Content-Length %q for a body of %d bytes, want %q", got, len(body), want)
			}
			if got := head.Result().Header.Get("Content-Length"); got != strconv.Itoa(len(body)) {
				t.Fatalf("HEAD Content-Length %q, the GET's body has %d bytes", got, len(body))
			}
		})
	}
}
