package toolbar

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Request bodies that a replay may resend: forms and JSON, captured by the
// proxy or imported from a HAR, stored with their secret fields redacted.

// BodyKind is what a request body is, by its Content-Type.
type BodyKind uint8

// Body kinds.
const (
	OtherBody BodyKind = iota // not captured: multipart, text, binary, ...
	FormBody                  // application/x-www-form-urlencoded
	JSONBody                  // application/json, application/*+json
)

// BodyKindOf tells a body's kind from its Content-Type (any case, with or
// without parameters). It allocates nothing: the proxy asks it of every
// request with a body.
func BodyKindOf(contentType string) BodyKind {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	const app, suffix = "application/", "+json"
	switch {
	case strings.EqualFold(mediaType, "application/x-www-form-urlencoded"):
		return FormBody
	case strings.EqualFold(mediaType, "application/json"),
		len(mediaType) > len(app)+len(suffix) && strings.EqualFold(mediaType[:len(app)], app) &&
			strings.EqualFold(mediaType[len(mediaType)-len(suffix):], suffix):
		return JSONBody
	}
	return OtherBody
}

// Body redacts a request body of contentType: the value of every secret
// field of a form, or of every object member with a secret key, at any
// depth, of a JSON document, becomes Redacted. Every other byte stays as
// written (field and key order, spacing, numbers), so that a replay sends
// what the client sent. Empty values, "" and null stay: they hold no
// secret. changed tells whether a value was replaced; ok is false for a
// body that is neither a form nor one JSON value in well-formed UTF-8,
// which is not to be stored.
func (r *Redactor) Body(contentType, text string) (redacted string, changed, ok bool) {
	if !utf8.ValidString(text) {
		return "", false, false
	}
	switch BodyKindOf(contentType) {
	case FormBody:
		redacted, changed = r.redactForm(text)
		return redacted, changed, true
	case JSONBody:
		return r.redactJSON(text)
	}
	return "", false, false
}

// redactForm redacts a form body (see Body); a field's name is matched
// unescaped and written back as it was.
func (r *Redactor) redactForm(form string) (string, bool) {
	var out strings.Builder
	changed := false
	for rest := form; ; {
		field, next, more := strings.Cut(rest, "&")
		key, value, _ := strings.Cut(field, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if value != "" && r.IsSecret(name) {
			out.WriteString(key + "=" + url.QueryEscape(Redacted))
			changed = true
		} else {
			out.WriteString(field)
		}
		if !more {
			break
		}
		out.WriteByte('&')
		rest = next
	}
	return out.String(), changed
}

// redactedJSON is Redacted as a JSON string.
const redactedJSON = `"` + Redacted + `"`

// redactJSON redacts a JSON body (see Body): the document is walked token by
// token, and the byte ranges of secret members' values are cut out.
func (r *Redactor) redactJSON(text string) (redacted string, changed, ok bool) {
	doc := []byte(text)
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
		return text, false, true
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
