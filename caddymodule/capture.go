package caddymodule

import (
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/tracebar/tracebar/toolbar"
)

// capturable tells whether a request's body is one a replay may resend:
// a form or JSON (toolbar.BodyKindOf) of a method that has a body. It
// allocates nothing, so every other request costs a header lookup.
func capturable(r *http.Request) (contentType string, ok bool) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return "", false
	}
	contentType = r.Header.Get("Content-Type")
	return contentType, toolbar.BodyKindOf(contentType) != toolbar.OtherBody
}

// watchBody counts the request body as the handler chain reads it and,
// when it is a form or JSON, captures it for replay (see captureBody).
// Called for allowed clients only.
func (x *exchange) watchBody(r *http.Request) {
	hasBody := r.Body != nil && r.Body != http.NoBody
	contentType, capture := capturable(r)
	switch {
	case capture:
		// Without a body there is nothing to wait for: it is empty.
		x.body = &captureBody{contentType: contentType, eof: !hasBody}
		if hasBody {
			x.body.countingBody = countingBody{ReadCloser: r.Body, n: &x.reqBytes}
			if n := r.ContentLength; n >= 0 && n <= toolbar.MaxCapturedBody {
				x.body.buf = make([]byte, 0, n+1) // +1: room for EOF's read
			}
			r.Body = x.body
		}
	case hasBody:
		r.Body = &countingBody{ReadCloser: r.Body, n: &x.reqBytes}
	}
}

// captureBody counts the request body as the handler chain reads it and
// keeps a copy of the bytes read, up to one past toolbar.MaxCapturedBody.
// It never reads on its own: the upstream gets the body exactly as it
// would without Tracebar, and a body it does not read to the end is not
// captured.
type captureBody struct {
	countingBody
	contentType string

	mu   sync.Mutex // the transport may read the body in its own goroutine
	buf  []byte
	eof  bool // read to the end
	done bool // the exchange ended: later reads are not the record's
}

func (b *captureBody) Read(p []byte) (int, error) {
	n, err := b.countingBody.Read(p)
	b.mu.Lock()
	if !b.done {
		if room := toolbar.MaxCapturedBody + 1 - len(b.buf); room > 0 {
			b.buf = append(b.buf, p[:min(n, room)]...)
		}
		b.eof = b.eof || err == io.EOF
	}
	b.mu.Unlock()
	return n, err
}

// finish ends the capture and returns the body for the record, with its
// secret fields redacted (toolbar.Redactor.Body): nil unless it was read
// to the end, fits MaxCapturedBody and is well-formed UTF-8 text of its
// kind.
func (b *captureBody) finish(r *toolbar.Redactor) *toolbar.Body {
	b.mu.Lock()
	buf, complete := b.buf, b.eof && len(b.buf) <= toolbar.MaxCapturedBody
	b.buf, b.done = nil, true
	b.mu.Unlock()
	if !complete {
		return nil
	}
	text, redacted, ok := r.Body(b.contentType, string(buf))
	if !ok {
		return nil
	}
	return &toolbar.Body{ContentType: b.contentType, Text: text, Redacted: redacted}
}

// replayID returns the record id a ReplayHeader value names, or "" when it
// is not one (16 hex digits).
func replayID(v string) string {
	if len(v) != 16 {
		return ""
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return ""
		}
	}
	return strings.ToLower(v)
}
