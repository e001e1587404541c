package inject

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

func encode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch enc {
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case "br":
		w := brotli.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&buf)
		w.Write(b)
		w.Close()
	}
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	page := bytes.Repeat([]byte("<p>hello</p>"), 1000)
	for _, enc := range []string{"gzip", "br", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			body := encode(t, enc, page)
			if got, err := Decode(enc, body); err != nil || !bytes.Equal(got, page) {
				t.Fatalf("round trip: %v", err)
			}
			if _, err := Decode(enc, body[:len(body)/2]); err == nil {
				t.Fatal("truncated body decoded without error")
			}
			bad := append([]byte(nil), body...)
			bad[len(bad)/2] ^= 0xff
			bad[len(bad)-5] ^= 0xff
			// gzip and zstd carry checksums; brotli has none, so a flipped
			// byte may decode to other bytes without an error.
			if _, err := Decode(enc, bad); err == nil && enc != "br" {
				t.Fatal("corrupt body decoded without error")
			}
			bomb := encode(t, enc, make([]byte, MaxDecoded+1))
			if _, err := Decode(enc, bomb); err == nil {
				t.Fatal("a body over MaxDecoded was accepted")
			}
		})
	}
}

func TestEncoding(t *testing.T) {
	tests := []struct {
		values []string
		want   string
		ok     bool
	}{
		{nil, "", true},
		{[]string{"identity"}, "", true},
		{[]string{" gzip "}, "gzip", true},
		{[]string{"gzip, br"}, "", false},
		{[]string{"identity", "gzip"}, "", false},
	}
	for _, tt := range tests {
		h := http.Header{"Content-Encoding": tt.values}
		if got, ok := Encoding(h); got != tt.want || ok != tt.ok {
			t.Errorf("%q: got %q %v, want %q %v", tt.values, got, ok, tt.want, tt.ok)
		}
	}
}
