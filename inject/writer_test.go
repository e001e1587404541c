package inject

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

const (
	tag     = "<script src=\"/__tracebar/t.js\"></script>"
	headTag = "<script src=\"/__tracebar/h.js\"></script>"
)

func fixed(s string) func(string) []byte { return func(string) []byte { return []byte(s) } }

func run(t testing.TB, in []byte, chunks []int) []byte {
	t.Helper()
	return runMode(t, in, chunks, false)
}

func runMode(t testing.TB, in []byte, chunks []int, headTagOnly bool) []byte {
	t.Helper()
	return runPadded(t, in, chunks, headTagOnly, -1)
}

// runPadded runs the Writer with Pad(pad), or without when pad < 0.
func runPadded(t testing.TB, in []byte, chunks []int, headTagOnly bool, pad int) []byte {
	t.Helper()
	var out bytes.Buffer
	orig := bytes.Clone(in)
	w := NewWriter(&out, fixed(tag), []byte(headTag))
	if headTagOnly {
		w.XML()
	}
	if pad >= 0 {
		w.Pad(pad)
	}
	rest := in
	for _, n := range chunks {
		if n > len(rest) {
			n = len(rest)
		}
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if len(rest) > 0 {
		if _, err := w.Write(rest); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, orig) {
		t.Fatal("Writer modified the caller's bytes")
	}
	return out.Bytes()
}

func TestWriterInsertsBeforeLastRealBodyEndTag(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "<html><body><p>hi</p></body></html>", "<html>" + headTag + "<body><p>hi</p>" + tag + "</body></html>"},
		{"uppercase", "<HTML><BODY>x</BODY></HTML>", "<HTML>" + headTag + "<BODY>x" + tag + "</BODY></HTML>"},
		{"last of two", "<body>a</body>b</body>c", headTag + "<body>a</body>b" + tag + "</body>c"},
		{"in comment", "<body>a<!-- </body> --></body>", headTag + "<body>a<!-- </body> -->" + tag + "</body>"},
		{"in script", "<body><script>s='</body>'</script></body>", headTag + "<body><script>s='</body>'</script>" + tag + "</body>"},
		{"only in script", "<body><script>s='</body>'</script>", headTag + "<body><script>s='</body>'</script>" + tag},
		{"in textarea", "<body><textarea></body></textarea>x", headTag + "<body><textarea></body></textarea>x" + tag},
		{"in title", "<title></body></title>x</html>", headTag + "<title></body></title>x" + tag + "</html>"},
		{"html fallback", "<p>x</p></html>\n", headTag + "<p>x</p>" + tag + "</html>\n"},
		{"end fallback", "<p>x", headTag + "<p>x" + tag},
		{"empty", "", tag},
		{"attributes on end tag", "<body>x</body id=1>", headTag + "<body>x" + tag + "</body id=1>"},
		{"body after html", "<html>a</html><body>b</body>", "<html>" + headTag + "a</html><body>b" + tag + "</body>"},
		{"unterminated tag at end", "<body>x</body><div", headTag + "<body>x" + tag + "</body><div"},
		{"plaintext swallows rest", "<plaintext></body>", headTag + "<plaintext></body>" + tag},
		{"head snippet after head", "<html><head><title>t</title></head><body>x</body>", "<html><head>" + headTag + "<title>t</title></head><body>x" + tag + "</body>"},
		{"head with attributes", "<HEAD profile='a>b'>x", "<HEAD profile='a>b'>" + headTag + "x" + tag},
		{"only the first head", "<head><head>x", "<head>" + headTag + "<head>x" + tag},
		{"head in comment", "<!-- <head> --><body>x</body>", "<!-- <head> -->" + headTag + "<body>x" + tag + "</body>"},
		{"head in title", "<title><head></title>x", headTag + "<title><head></title>x" + tag},
		{"header is not head", "<header>x</header>", headTag + "<header>x</header>" + tag},
		// <head> is optional: the hook goes where the parser implies it.
		{"no head tag", "<!doctype html><meta charset=utf-8><p>x", "<!doctype html>" + headTag + "<meta charset=utf-8><p>x" + tag},
		{"head after body", "<body>x</body><head>", headTag + "<body>x" + tag + "</body><head>"},
		{"head after title", "<!DOCTYPE html>\n<title>t</title><head>", "<!DOCTYPE html>\n" + headTag + "<title>t</title><head>" + tag},
		{"implied before script", "<html>\n <script>page()</script>", "<html>\n " + headTag + "<script>page()</script>" + tag},
		{"comments and whitespace first", "<!--a-->\n<?xml x?> <!DOCTYPE html><html lang=en>\n<body>", "<!--a-->\n<?xml x?> <!DOCTYPE html><html lang=en>\n" + headTag + "<body>" + tag},
		{"text first", "  hello <b>x</b>", "  " + headTag + "hello <b>x</b>" + tag},
		{"lone less-than first", " <3 x", " " + headTag + "<3 x" + tag},
		{"end tag first", "\n</p><p>x", "\n" + headTag + "</p><p>x" + tag},
		{"empty end tag is a comment", "</><p>x", "</>" + headTag + "<p>x" + tag},
		{"byte order mark", "\xef\xbb\xbf<!doctype html><p>x", "\xef\xbb\xbf<!doctype html>" + headTag + "<p>x" + tag},
		{"byte order mark then text", "\xef\xbb\xbfx", "\xef\xbb\xbf" + headTag + "x" + tag},
		{"only a doctype", "<!doctype html>\n", "<!doctype html>\n" + tag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 2, 3, 7, 1 << 20} {
				got := run(t, []byte(tt.in), repeat(chunk, len(tt.in)))
				if string(got) != tt.want {
					t.Fatalf("chunk %d:\n got %q\nwant %q", chunk, got, tt.want)
				}
			}
		})
	}
}

// TestWriterXMLHeadOnlyAfterHeadTag: in XHTML nothing may precede the
// root element, so the head snippet goes only after a literal <head>.
func TestWriterXMLHeadOnlyAfterHeadTag(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"head", `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head><body>x</body></html>`,
			`<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head>` + headTag + `<title>t</title></head><body>x` + tag + `</body></html>`},
		{"no head", `<html><body>x</body></html>`, `<html><body>x` + tag + `</body></html>`},
		{"self-closing script", `<html xmlns="http://www.w3.org/1999/xhtml"><head><script src="a.js"/><title/></head><body>x</body></html>`,
			`<html xmlns="http://www.w3.org/1999/xhtml"><head>` + headTag + `<script src="a.js"/><title/></head><body>x` + tag + `</body></html>`},
		{"no end tags", `<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>`, `<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 5, 1 << 20} {
				if got := runMode(t, []byte(tt.in), repeat(chunk, len(tt.in)), true); string(got) != tt.want {
					t.Fatalf("chunk %d:\n got %q\nwant %q", chunk, got, tt.want)
				}
			}
		})
	}
}

// TestWriterInsertedSaysWhetherTheSnippetWentIn: Inserted is true after
// Close put the snippet in, false after Abort or for XML without a root end.
func TestWriterInsertedSaysWhetherTheSnippetWentIn(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		xml   bool
		abort bool
		want  bool
	}{
		{"html", "<p>x", false, false, true},
		{"aborted", "<body>x</body>", false, true, false},
		{"xml with a root end", "<html><body>x</body></html>", true, false, true},
		{"xml without one", "<svg><g/></svg>", true, false, false},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		w := NewWriter(&out, fixed(tag), nil)
		if tt.xml {
			w.XML()
		}
		io.WriteString(w, tt.in)
		if tt.abort {
			w.Abort()
		} else {
			w.Close()
		}
		if w.Inserted() != tt.want {
			t.Errorf("%s: Inserted() = %v, want %v", tt.name, w.Inserted(), tt.want)
		}
	}
}

func repeat(n, total int) []int {
	var c []int
	for i := 0; i < total; i += n {
		c = append(c, n)
	}
	return c
}

// flushRecorder records what was written before each Flush.
type flushRecorder struct{ bytes.Buffer }

func TestWriterFlushReleasesEverythingBeforeAPossibleTag(t *testing.T) {
	var out flushRecorder
	w := NewWriter(&out, fixed(tag), nil)
	head := "<!doctype html><html><head><title>t</title></head><body><p>first</p>\n"
	w.Write([]byte(head))
	w.Flush()
	if out.String() != head {
		t.Fatalf("after flush got %q, want the whole head %q", out.String(), head)
	}
	w.Write([]byte("<p>second</p></bo"))
	if got := out.String(); got != head+"<p>second</p>" {
		t.Fatalf("a partial end tag must be held: got %q", got)
	}
	w.Write([]byte("dy>\n</html>"))
	w.Close()
	if want := head + "<p>second</p>" + tag + "</body>\n</html>"; out.String() != want {
		t.Fatalf("got %q want %q", out.String(), want)
	}
}

func TestWriterBoundsMemoryAfterEarlyBodyEndTag(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, fixed(tag), nil)
	w.Write([]byte("<body>x</body>"))
	filler := bytes.Repeat([]byte("<p>filler</p>"), 1024)
	for i := 0; i < 64; i++ { // 832 KB after the candidate
		w.Write(filler)
	}
	if len(w.buf) > maxHold+len(filler) {
		t.Fatalf("held %d bytes, bound is %d", len(w.buf), maxHold)
	}
	w.Close()
	want := "<body>x" + tag + "</body>" + strings.Repeat(string(filler), 64)
	if out.String() != want {
		t.Fatal("output is not input plus one tag at the early candidate")
	}
}

func TestWriterLongConstructs(t *testing.T) {
	long := strings.Repeat("x", 3*maxToken)
	tests := []struct{ name, in, want string }{
		// Comments, scripts and raw text are scanned in stride, however long.
		{"long comment", "<body><!--" + long + "--></body>", headTag + "<body><!--" + long + "-->" + tag + "</body>"},
		{"long script", "<body><script>" + long + "</script></body>", headTag + "<body><script>" + long + "</script>" + tag + "</body>"},
		{"long text", "<body>" + long + "</body>", headTag + "<body>" + long + tag + "</body>"},
		// One tag longer than maxToken ends scanning: the tag goes at the end.
		{"tag too long", "<body><div title=\"" + long + "\"></body>", headTag + "<body><div title=\"" + long + "\"></body>" + tag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t, []byte(tt.in), repeat(4096, len(tt.in))); string(got) != tt.want {
				t.Fatalf("got %d bytes, want %d", len(got), len(tt.want))
			}
		})
	}
}

type errWriter struct{ n int }

func (e *errWriter) Write(p []byte) (int, error) {
	if e.n -= len(p); e.n < 0 {
		return 0, io.ErrClosedPipe
	}
	return len(p), nil
}

func TestWriterReportsDownstreamErrors(t *testing.T) {
	w := NewWriter(&errWriter{n: 5}, fixed(tag), nil)
	w.Write([]byte("<html><body>hello world"))
	w.Write([]byte("<p>more"))
	if err := w.Close(); err != io.ErrClosedPipe {
		t.Fatalf("Close = %v, want the downstream error", err)
	}
}

// html5libCorpus reads the shared corpus of hostile documents
// (../shared/testdata/html5lib, one JSON object a line).
func html5libCorpus(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "shared", "testdata", "html5lib", "tree-construction-inputs.jsonl"))
	if err != nil {
		t.Fatalf("html5lib corpus (../shared beside the checkout): %v", err)
	}
	defer f.Close()
	var docs [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var doc struct{ HTML string }
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, []byte(doc.HTML))
	}
	if err := sc.Err(); err != nil || len(docs) < 1700 {
		t.Fatalf("corpus: %d documents, %v", len(docs), err)
	}
	return docs
}

// TestWriterHTML5LibCorpus checks every hostile document of the shared
// corpus, whole and in several chunkings.
func TestWriterHTML5LibCorpus(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i, in := range html5libCorpus(t) {
		for _, chunks := range [][]int{nil, repeat(1, len(in)), randomChunks(rng, len(in))} {
			checkInvariant(t, fmt.Sprintf("document %d", i), in, run(t, in, chunks))
		}
		checkInvariantMode(t, fmt.Sprintf("document %d as XML", i), in, runMode(t, in, randomChunks(rng, len(in)), true), true)
		pad := len(headTag) + len(tag) + i%40
		for _, xml := range []bool{false, true} {
			checkPadded(t, fmt.Sprintf("document %d padded, XML %v", i, xml), in, runPadded(t, in, randomChunks(rng, len(in)), xml, pad), xml, pad)
		}
	}
}

// referenceOffsets are where the snippets belong, by the x/net/html
// tokenizer over the whole input at once: the last </body> end tag, else the
// last </html>, else the end; the head snippet where the head starts (after
// a <head> start tag that is the first token other than a doctype, comment,
// whitespace or <html>, else before that token; for headTagOnly, after the
// first <head> start tag) if that is not past the other point, else -1.
func referenceOffsets(in []byte, headTagOnly bool) (at, head int) {
	z := html.NewTokenizer(bytes.NewReader(in))
	off, body, htmlEnd := 0, -1, -1
	head = -1
	prologue := true
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		start := off
		raw := z.Raw()
		off += len(raw)
		name, _ := z.TagName()
		startTag := tt == html.StartTagToken || tt == html.SelfClosingTagToken
		switch {
		case tt == html.EndTagToken && string(name) == "body":
			body = start
		case tt == html.EndTagToken && string(name) == "html":
			htmlEnd = start
		}
		if headTagOnly {
			if startTag && string(name) == "head" && head < 0 {
				head = off
			}
			if tt == html.SelfClosingTagToken { // empty in XML, never raw text
				z.NextIsNotRawText()
			}
			continue
		}
		if !prologue {
			continue
		}
		switch {
		case tt == html.DoctypeToken || tt == html.CommentToken || startTag && string(name) == "html":
		case tt == html.TextToken:
			text := raw
			if start == 0 {
				text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
			}
			if k := bytes.IndexFunc(text, func(r rune) bool { return !strings.ContainsRune(" \t\n\f\r", r) }); k >= 0 {
				head, prologue = start+len(raw)-len(text)+k, false
			}
		case startTag && string(name) == "head":
			head, prologue = off, false
		default:
			head, prologue = start, false
		}
	}
	switch {
	case body >= 0:
		at = body
	case htmlEnd >= 0:
		at = htmlEnd
	case headTagOnly:
		return -1, head // nothing may follow an XML document's root
	default:
		at = len(in)
	}
	if head > at {
		head = -1
	}
	return at, head
}

// checkInvariant: the output is the input with the tags inserted once, at
// the tokenizer's insertion points; removing them gives back the input.
func checkInvariant(t testing.TB, name string, in, out []byte) {
	t.Helper()
	checkInvariantMode(t, name, in, out, false)
}

func checkInvariantMode(t testing.TB, name string, in, out []byte, headTagOnly bool) {
	t.Helper()
	checkPadded(t, name, in, out, headTagOnly, -1)
}

// checkPadded is checkInvariantMode for a Writer padded to pad bytes
// (pad >= 0): the output is exactly pad bytes longer than the input, the
// spaces inside the snippet's start tag, or at the end of an XML document
// that gets no snippet.
func checkPadded(t testing.TB, name string, in, out []byte, headTagOnly bool, pad int) {
	t.Helper()
	at, head := referenceOffsets(in, headTagOnly)
	added := 0
	var want []byte
	if head >= 0 {
		want = append(append(want, in[:head]...), headTag...)
		added = len(headTag)
	}
	rest := in[max(head, 0):]
	if at < 0 { // XML without </body> or </html>: the head snippet only
		want = append(want, rest...)
		if pad >= 0 {
			want = append(want, bytes.Repeat([]byte(" "), pad-added)...)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("%s: an XML document without </body> or </html> got more than the head snippet at %d", name, head)
		}
		return
	}
	snippet := []byte(tag)
	if pad >= 0 {
		snippet = padTag(snippet, pad-added-len(tag))
	}
	want = append(append(append(want, in[max(head, 0):at]...), snippet...), in[at:]...)
	if !bytes.Equal(out, want) {
		t.Fatalf("%s: output is not the input with the tags at the tokenizer's insertion points %d, %d", name, head, at)
	}
	if pad >= 0 && len(out) != len(in)+pad {
		t.Fatalf("%s: output is %d bytes, want the input's %d and %d", name, len(out), len(in), pad)
	}
}

func randomChunks(rng *rand.Rand, total int) []int {
	var c []int
	for total > 0 {
		n := 1 + rng.Intn(64)
		c = append(c, n)
		total -= n
	}
	return c
}

func FuzzWriter(f *testing.F) {
	f.Add([]byte("<html><body>x</body></html>"), uint8(3))
	f.Add([]byte("<script></body></script></body>"), uint8(1))
	f.Add([]byte("<!-- </body> -->"), uint8(5))
	f.Add([]byte("<script><!--<script></script></body>--></script></body>"), uint8(2))
	f.Add([]byte("<div title='</body>' a=b></body x='>'>"), uint8(4))
	for i, doc := range html5libCorpus(f) {
		f.Add(doc, uint8(i))
	}
	// Real pages seed as their first and last 16 KB (a head, the end with
	// </body>): whole ones would make each run too slow to fuzz.
	for i, p := range realPages(f) {
		n := min(len(p.body), 16<<10)
		f.Add(p.body[:n], uint8(i*37))
		f.Add(p.body[len(p.body)-n:], uint8(i*37+1))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		headTagOnly := chunk&0x80 != 0
		chunks := repeat(int(chunk&0x7f)+1, len(in))
		checkInvariantMode(t, "fuzz", in, runMode(t, in, chunks, headTagOnly), headTagOnly)
		pad := len(headTag) + len(tag) + int(chunk%64)
		checkPadded(t, "fuzz padded", in, runPadded(t, in, chunks, headTagOnly, pad), headTagOnly, pad)
	})
}

func TestEligible(t *testing.T) {
	h := func(kv ...string) http.Header {
		x := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			x.Set(kv[i], kv[i+1])
		}
		return x
	}
	tests := []struct {
		name   string
		method string
		status int
		req    http.Header
		resp   http.Header
		want   bool
	}{
		{"html", "GET", 200, h(), h("Content-Type", "text/html; charset=utf-8"), true},
		{"xhtml", "GET", 200, h(), h("Content-Type", "application/xhtml+xml"), true},
		{"json", "GET", 200, h(), h("Content-Type", "application/json"), false},
		{"no type", "GET", 200, h(), h(), false},
		{"head as its get", "HEAD", 200, h(), h("Content-Type", "text/html"), true},
		{"404 page", "GET", 404, h(), h("Content-Type", "text/html"), true},
		{"500 page", "GET", 500, h(), h("Content-Type", "text/html"), true},
		{"403 page", "POST", 403, h(), h("Content-Type", "text/html"), true},
		{"201 page", "POST", 201, h(), h("Content-Type", "text/html"), true},
		{"300 choices without location", "GET", 300, h(), h("Content-Type", "text/html"), true},
		{"302 with location", "GET", 302, h(), h("Content-Type", "text/html", "Location", "/next"), false},
		{"204", "GET", 204, h(), h("Content-Type", "text/html"), false},
		{"205", "GET", 205, h(), h("Content-Type", "text/html"), false},
		{"206", "GET", 206, h(), h("Content-Type", "text/html"), false},
		{"304", "GET", 304, h(), h("Content-Type", "text/html"), false},
		{"103 early hints", "GET", 103, h(), h("Content-Type", "text/html"), false},
		{"attachment", "GET", 200, h(), h("Content-Type", "text/html", "Content-Disposition", "attachment; filename=a.html"), false},
		{"no-transform", "GET", 200, h(), h("Content-Type", "text/html", "Cache-Control", "public, no-transform"), false},
		{"gzip is decodable", "GET", 200, h(), h("Content-Type", "text/html", "Content-Encoding", "gzip"), true},
		{"two encodings", "GET", 200, h(), h("Content-Type", "text/html", "Content-Encoding", "gzip, br"), false},
		{"unknown encoding", "GET", 200, h(), h("Content-Type", "text/html", "Content-Encoding", "compress"), false},
		{"utf-16", "GET", 200, h(), h("Content-Type", "text/html; charset=UTF-16LE"), false},
		{"upgrade", "GET", 200, h("Upgrade", "websocket"), h("Content-Type", "text/html"), false},
		{"sse", "GET", 200, h(), h("Content-Type", "text/event-stream"), false},
		{"a fetch", "GET", 200, h("Sec-Fetch-Dest", "empty"), h("Content-Type", "text/html"), false},
		{"an iframe", "GET", 200, h("Sec-Fetch-Dest", "iframe"), h("Content-Type", "text/html"), false},
		{"a navigation", "GET", 200, h("Sec-Fetch-Dest", "document"), h("Content-Type", "text/html"), true},
		{"an htmx fragment", "GET", 200, h("HX-Request", "true"), h("Content-Type", "text/html"), false},
		{"layered encodings in two fields", "GET", 200, h(), http.Header{"Content-Type": {"text/html"}, "Content-Encoding": {"gzip", "br"}}, false},
		{"no-transform in a second field", "GET", 200, h(), http.Header{"Content-Type": {"text/html"}, "Cache-Control": {"public", "No-Transform"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Eligible(tt.method, tt.status, tt.req, tt.resp); got != tt.want {
				t.Fatalf("Eligible = %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkWriter100KB measures the injector alone on a 100 KB page
// written in 32 KB chunks, as reverse_proxy writes.
func BenchmarkWriter100KB(b *testing.B) {
	var page bytes.Buffer
	page.WriteString("<!doctype html><html><head><title>bench</title><script>var x = '</body>';</script></head><body>\n")
	for page.Len() < 100<<10 {
		page.WriteString(`<div class="row"><a href="/item?id=42">Item &amp; more</a> <span>text text text</span></div>` + "\n")
	}
	page.WriteString("</body></html>\n")
	in := page.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		w := NewWriter(io.Discard, fixed(tag), []byte(headTag))
		for p := in; len(p) > 0; {
			n := min(len(p), 32<<10)
			w.Write(p[:n])
			p = p[n:]
		}
		w.Close()
	}
}

// TestWriterTakesNonceFromMetaCSP: a <meta http-equiv> policy's script
// nonce, seen before the insertion point, reaches the snippet.
func TestWriterTakesNonceFromMetaCSP(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"nonce", `<head><meta http-equiv="Content-Security-Policy" content="script-src 'nonce-abc' 'strict-dynamic'"></head><body></body>`, "abc"},
		{"case and quotes", `<META HTTP-EQUIV=content-security-policy CONTENT="default-src 'self' 'nonce-x1'"><body></body>`, "x1"},
		{"first nonce wins", `<meta http-equiv="Content-Security-Policy" content="img-src 'self'"><meta http-equiv="Content-Security-Policy" content="script-src 'nonce-n2'"></body>`, "n2"},
		{"a character reference in the name", `<meta http-equiv="Content-Security&#45;Policy" content="script-src 'nonce-ref'"></body>`, "ref"},
		{"Unicode folding is no match", "<meta http-equiv=\"Content-\u017fecurity-Policy\" content=\"script-src 'nonce-k'\"></body>", ""},
		{"report-only is not enforced", `<meta http-equiv="Content-Security-Policy-Report-Only" content="script-src 'nonce-r'"></body>`, ""},
		{"in a comment", `<!-- <meta http-equiv="Content-Security-Policy" content="script-src 'nonce-c'"> --></body>`, ""},
		{"after the insertion point", `<body></body><meta http-equiv="Content-Security-Policy" content="script-src 'nonce-late'">`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			var out bytes.Buffer
			w := NewWriter(&out, func(n string) []byte { got = n; return nil }, nil)
			io.WriteString(w, tt.in)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("nonce %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWriterPadKeepsLength: with Pad, a document's output is exactly
// that much longer whatever goes in, and a <meta> nonce that does not fit
// leaves the snippet without it.
func TestWriterPadKeepsLength(t *testing.T) {
	snippet := func(nonce string) []byte {
		if nonce == "" {
			return []byte(`<script src="t.js"></script>`)
		}
		return []byte(`<script src="t.js" nonce="` + nonce + `"></script>`)
	}
	const head = `<script src="h.js"></script>`
	base := len(head) + len(snippet(""))
	meta := `<meta http-equiv="Content-Security-Policy" content="script-src 'nonce-abc'">`
	tests := []struct {
		name, in string
		xml      bool
		pad      int
		want     string
	}{
		{"spaces in the start tag", `<head></head><body></body>`, false, base + 3,
			`<head>` + head + `</head><body><script src="t.js"   ></script></body>`},
		{"exactly the snippets", `<p>x</p>`, false, base,
			head + `<p>x</p><script src="t.js"></script>`},
		{"a nonce that fits", `<head>` + meta + `</head><body></body>`, false, base + 20,
			`<head>` + head + meta + `</head><body><script src="t.js" nonce="abc"` + strings.Repeat(" ", 20-len(` nonce="abc"`)) + `></script></body>`},
		{"a nonce that does not fit", `<head>` + meta + `</head><body></body>`, false, base + 5,
			`<head>` + head + meta + `</head><body><script src="t.js"     ></script></body>`},
		{"XML without </body>: spaces at the end", `<svg xmlns="http://www.w3.org/2000/svg"/>`, true, base,
			`<svg xmlns="http://www.w3.org/2000/svg"/>` + strings.Repeat(" ", base)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 7, 1 << 20} {
				var out bytes.Buffer
				w := NewWriter(&out, snippet, []byte(head))
				if tt.xml {
					w.XML()
				}
				w.Pad(tt.pad)
				rest := tt.in
				for _, n := range repeat(chunk, len(rest)) {
					n = min(n, len(rest))
					if _, err := w.Write([]byte(rest[:n])); err != nil {
						t.Fatal(err)
					}
					rest = rest[n:]
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if out.String() != tt.want {
					t.Fatalf("chunk %d: got\n%s\nwant\n%s", chunk, out.String(), tt.want)
				}
			}
		})
	}
}

func TestContainsFold(t *testing.T) {
	tests := []struct {
		tag, name string
		want      bool
	}{
		{`<meta http-equiv="Content-Security-Policy">`, "http-equiv", true},
		{`<META HTTP-EQUIV=refresh>`, "http-equiv", true},
		{`<meta content="x" Http-Equiv>`, "http-equiv", true},
		{`<meta name="viewport" content="width=device-width">`, "http-equiv", false},
		{`<meta http-equi>`, "http-equiv", false},
		{`<meta http- equiv>`, "http-equiv", false},
		{`-equiv`, "http-equiv", false},
		{`<meta http-equiv="Content-Security-Policy">`, "content-security-policy", true},
		{`<meta http-equiv=CONTENT-SECURITY-POLICY>`, "content-security-policy", true},
		{`<meta http-equiv="X-UA-Compatible" content="IE=edge">`, "content-security-policy", false},
		{`<meta http-equiv="Content-Security">`, "content-security-policy", false},
	}
	for _, tt := range tests {
		if got := containsFold([]byte(tt.tag), tt.name); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", tt.tag, tt.name, got, tt.want)
		}
	}
}
