package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestHTML5LibCorpusThroughProxy serves each of the 1,776 hostile documents
// of ../shared/testdata/html5lib through Caddy: each comes back
// byte-identical but for exactly one toolbar tag.
func TestHTML5LibCorpusThroughProxy(t *testing.T) {
	raw, err := os.ReadFile("../../shared/testdata/html5lib/tree-construction-inputs.jsonl")
	if err != nil {
		t.Fatalf("html5lib corpus (../shared beside the checkout): %v", err)
	}
	var docs []string
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var d struct{ HTML string }
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d.HTML)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/doc/"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, docs[i])
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))

	var wg sync.WaitGroup
	errs := make(chan string, len(docs))
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/doc/%d", e.base, i), nil)
				req.Header.Set("Accept", "text/html")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- fmt.Sprintf("document %d: %v", i, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if n := len(toolbarTagRE.FindAll(body, -1)); n != 1 || string(tagRE.ReplaceAll(body, nil)) != docs[i] {
					errs <- fmt.Sprintf("document %d: %d tags; got %q for %q", i, n, body, docs[i])
				}
			}
		}()
	}
	for i := range docs {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if len(docs) < 1700 {
		t.Fatalf("only %d documents in the corpus", len(docs))
	}
}

// TestRealPagesKeepTheirLength serves real documents (the Go
// specification, Sphinx pages of python3-doc, the marketing page) with a
// Content-Length through Caddy: each comes back with both tags, the rest
// byte-identical, and a Content-Length that is its body's, so the response
// is not chunked.
func TestRealPagesKeepTheirLength(t *testing.T) {
	pages := map[string]string{
		"go_spec":   filepath.Join(runtime.GOROOT(), "doc", "go_spec.html"),
		"marketing": "../inject/testdata/pages/marketing.html",
		"stdtypes":  "/usr/share/doc/python3-doc/html/library/stdtypes.html",
		"datamodel": "/usr/share/doc/python3-doc/html/reference/datamodel.html",
	}
	bodies := map[string][]byte{}
	for name, path := range pages {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (tests/run.sh installs python3-doc)", name, err)
		}
		bodies[name] = b
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := bodies[strings.TrimPrefix(r.URL.Path, "/")]
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	}))
	defer up.Close()
	e := newEnv(t)
	e.startCaddy(t, basicCaddyfile, strings.TrimPrefix(up.URL, "http://"))
	for name, page := range bodies {
		t.Run(name, func(t *testing.T) {
			resp, body := get(t, e.base+"/"+name, "Accept", "text/html")
			if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
				t.Fatalf("Content-Length %d, Transfer-Encoding %v, for a body of %d bytes", resp.ContentLength, resp.TransferEncoding, len(body))
			}
			if n := len(tagRE.FindAll(body, -1)); n != 2 || !bytes.Equal(tagRE.ReplaceAll(body, nil), page) {
				t.Fatalf("%d tags; the body is not the page with the toolbar's tags", n)
			}
		})
	}
}
