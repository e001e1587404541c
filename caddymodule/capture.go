package caddymodule

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tracebar/tracebar/toolbar"
)

// bodyKind is what a request body is, for capture.
type bodyKind uint8

const (
	notCaptured bodyKind = iota
	formBody             // application/x-www-form-urlencoded
	jsonBody             // application/json, application/*+json
)

// captureKind tells whether a request's body is one a replay may resend:
// a form or JSON of a method that has a body. It allocates nothing, so
// every other request costs a header lookup.
func captureKind(r *http.Request) (contentType string, kind bodyKind) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return "", notCaptured
	}
	contentType = r.Header.Get("Content-Type")
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	const app, suffix = "application/", "+json"
	switch {
	case strings.EqualFold(mediaType, "application/x-www-form-urlencoded"):
		return contentType, formBody
	case strings.EqualFold(mediaType, "application/json"),
		len(mediaType) > len(app)+len(suffix) && strings.EqualFold(mediaType[:len(app)], app) &&
			strings.EqualFold(mediaType[len(mediaType)-len(suffix):], suffix):
		return contentType, jsonBody
	}
	return "", notCaptured
}

// watchBody counts the request body as the handler chain reads it and,
// when it is a form or JSON, captures it for replay (see captureBody).
// Called for allowed clients only.
func (x *exchange) watchBody(r *http.Request) {
	hasBody := r.Body != nil && r.Body != http.NoBody
	contentType, kind := captureKind(r)
	switch {
	case kind != notCaptured:
		// Without a body there is nothing to wait for: it is empty.
		x.body = &captureBody{contentType: contentType, kind: kind, eof: !hasBody}
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
	kind        bodyKind

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
// secret fields redacted: nil unless it was read to the end, fits
// MaxCapturedBody and is well-formed UTF-8 text of its kind.
func (b *captureBody) finish(r *toolbar.Redactor) *toolbar.Body {
	b.mu.Lock()
	buf, complete := b.buf, b.eof && len(b.buf) <= toolbar.MaxCapturedBody
	b.buf, b.done = nil, true
	b.mu.Unlock()
	if !complete || !utf8.Valid(buf) {
		return nil
	}
	var text string
	var redacted bool
	switch b.kind {
	case formBody:
		text, redacted = redactForm(string(buf), r)
	case jsonBody:
		var ok bool
		if text, redacted, ok = redactJSON(buf, r); !ok {
			return nil
		}
	default:
		return nil
	}
	return &toolbar.Body{ContentType: b.contentType, Text: text, Redacted: redacted}
}

// redactForm replaces the value of every secret field of a form body with
// toolbar.Redacted (escaped), keeping every other byte and the fields'
// order. Empty values stay empty: they hold no secret.
func redactForm(form string, r *toolbar.Redactor) (string, bool) {
	var out strings.Builder
	redacted := false
	for rest := form; ; {
		field, next, more := strings.Cut(rest, "&")
		key, value, _ := strings.Cut(field, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if value != "" && r.IsSecret(name) {
			out.WriteString(key + "=" + url.QueryEscape(toolbar.Redacted))
			redacted = true
		} else {
			out.WriteString(field)
		}
		if !more {
			break
		}
		out.WriteByte('&')
		rest = next
	}
	return out.String(), redacted
}

// redactedJSON is toolbar.Redacted as a JSON string.
const redactedJSON = `"` + toolbar.Redacted + `"`

// redactJSON replaces the value of every object member whose key is
// secret, at any depth, with "[redacted]", keeping every other byte: key
// order, spacing, numbers as written. null and "" stay: they hold no
// secret. ok is false for anything but one valid JSON value.
func redactJSON(doc []byte, r *toolbar.Redactor) (text string, redacted, ok bool) {
	if !json.Valid(doc) {
		return "", false, false
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber() // numbers beyond float64 are valid JSON too
	type frame struct{ object, wantKey bool }
	var stack []frame
	var cuts [][2]int64 // byte ranges of values to redact, in order
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", false, false
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				continue
			}
			if key, _ := tok.(string); !r.IsSecret(key) {
				stack[n-1].wantKey = false
				continue
			}
			// The value as one piece, whatever it is; the next token is
			// a key again.
			var value json.RawMessage
			if err := d.Decode(&value); err != nil {
				return "", false, false
			}
			if v := string(value); v != "null" && v != `""` {
				end := d.InputOffset()
				cuts = append(cuts, [2]int64{end - int64(len(value)), end})
			}
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true // after this value
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
	if len(cuts) == 0 {
		return string(doc), false, true
	}
	var out strings.Builder
	out.Grow(len(doc))
	at := int64(0)
	for _, c := range cuts {
		out.Write(doc[at:c[0]])
		out.WriteString(redactedJSON)
		at = c[1]
	}
	out.Write(doc[at:])
	return out.String(), true, true
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
