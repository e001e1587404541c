package inject

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// MaxDecoded bounds a decoded body, so a compression bomb costs at most this.
const MaxDecoded = 64 << 20

// Decodable reports whether a Content-Encoding is one Decode handles.
func Decodable(encoding string) bool {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip", "x-gzip", "br", "zstd":
		return true
	}
	return false
}

// Decode decodes a whole encoded body. Any corruption, truncation or a
// result over MaxDecoded is an error: the caller then passes the body on
// untouched rather than half-rewritten.
func Decode(encoding string, body []byte) ([]byte, error) {
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(true)
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxDecoded))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("unsupported content encoding %q", encoding)
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxDecoded+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", encoding, err)
	}
	if len(out) > MaxDecoded {
		return nil, errors.New("decoded body too large")
	}
	return out, nil
}
