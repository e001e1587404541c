package inject

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// realPage is a document as sites serve them: most bytes inside tags
// (class lists, SVG paths, unquoted spec-style attributes, <meta> tags).
type realPage struct {
	name string
	body []byte
}

// realPages reads the real documents the tests and benchmarks use: the
// Go specification from GOROOT, Sphinx pages of Debian's python3-doc
// (tests/run.sh installs it), and a marketing-style page (testdata).
func realPages(t testing.TB) []realPage {
	t.Helper()
	files := []struct{ name, path string }{
		{"go_spec", filepath.Join(runtime.GOROOT(), "doc", "go_spec.html")},
		{"marketing", filepath.Join("testdata", "pages", "marketing.html")},
	}
	const sphinx = "/usr/share/doc/python3-doc/html"
	if _, err := os.Stat(sphinx); err != nil {
		t.Fatal("python3-doc is not installed: tests/run.sh installs it (apt-get install python3-doc)")
	}
	for _, p := range []string{"library/stdtypes.html", "reference/datamodel.html", "library/os.path.html"} {
		files = append(files, struct{ name, path string }{"sphinx_" + filepath.Base(p), filepath.Join(sphinx, p)})
	}
	var pages []realPage
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, realPage{f.name, b})
	}
	return pages
}

// TestWriterRealPages checks every real page, whole and in the chunks
// reverse_proxy writes, against the tokenizer's insertion points.
func TestWriterRealPages(t *testing.T) {
	for _, p := range realPages(t) {
		t.Run(p.name, func(t *testing.T) {
			for _, chunk := range []int{1 << 30, 32 << 10, 4093} {
				checkInvariant(t, p.name, p.body, run(t, p.body, repeat(chunk, len(p.body))))
			}
			checkInvariantMode(t, p.name, p.body, runMode(t, p.body, repeat(32<<10, len(p.body)), true), true)
			pad := len(headTag) + len(tag) + 128
			checkPadded(t, p.name, p.body, runPadded(t, p.body, repeat(32<<10, len(p.body)), false, pad), false, pad)
		})
	}
}

// BenchmarkRealPages runs the injector over each real page in 32 KB
// writes, as reverse_proxy writes, and reports its speed against a bare
// bytes.IndexByte('<') walk over the same bytes (x-walk: 1 is as fast as
// the walk, the limit of a scan that visits every '<').
func BenchmarkRealPages(b *testing.B) {
	for _, p := range realPages(b) {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(p.body)))
			b.ReportAllocs()
			for b.Loop() {
				w := NewWriter(io.Discard, fixed(tag), []byte(headTag))
				for rest := p.body; len(rest) > 0; {
					n := min(len(rest), 32<<10)
					w.Write(rest[:n])
					rest = rest[n:]
				}
				w.Close()
			}
			inject := float64(b.Elapsed()) / float64(b.N)
			start, n := time.Now(), 0
			for range b.N {
				n += walk(p.body)
			}
			if n < 0 {
				b.Fatal(n)
			}
			b.ReportMetric(float64(time.Since(start))/float64(b.N)/inject, "x-walk")
		})
	}
}

// walk visits every '<' of p, the least any tag scanner does.
func walk(p []byte) int {
	n := 0
	for i := 0; ; n++ {
		j := bytes.IndexByte(p[i:], '<')
		if j < 0 {
			return n
		}
		i += j + 1
	}
}
