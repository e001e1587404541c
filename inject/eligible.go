// Package inject inserts a snippet into HTML response bodies as they stream,
// before the last real </body> end tag.
package inject

import (
	"mime"
	"net/http"
	"strings"
)

// WantsDocument reports whether a request may be for a top-level page:
// not a fetch, an iframe or an htmx fragment (Sec-Fetch-Dest, HX-Request).
// Clients that send no Sec-Fetch-Dest count as pages. Here and in
// Encoding and Eligible, header keys are canonical, as net/http gives them.
func WantsDocument(req http.Header) bool {
	if headerValue(req, "Hx-Request") != "" {
		return false
	}
	d := headerValue(req, "Sec-Fetch-Dest")
	return d == "" || d == "document"
}

// headerValue is h.Get(key) for a key in canonical form. Header's methods
// canonicalize the key on each call, which for the dozens of fixed keys a
// proxied request is judged and recorded by was a tenth of Tracebar's
// cost (BenchmarkHandlerJSON); net/http reads its own keys so.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Encoding returns the body's one content encoding ("" for none or
// identity); ok is false when encodings are layered.
func Encoding(resp http.Header) (enc string, ok bool) {
	ces := resp["Content-Encoding"]
	if len(ces) > 1 || (len(ces) == 1 && strings.Contains(ces[0], ",")) {
		return "", false
	}
	if len(ces) == 1 && !strings.EqualFold(strings.TrimSpace(ces[0]), "identity") {
		enc = strings.TrimSpace(ces[0])
	}
	return enc, true
}

// Eligible reports whether a response with this request method, status and
// header may have the snippet inserted. It is decided from the response head
// alone, before the body is seen. For HEAD it reports whether the GET's
// body would be rewritten, so that both carry the same header (RFC 9110,
// 9.3.2); a HEAD response itself has no body to rewrite.
//
// Any final status with a document body is eligible: error pages are the
// ones a developer most wants to debug. Not 1xx; not 204, 304 and 205,
// which have no body; not 206, a part of a representation; not a redirect
// that carries a Location, whose body the browser never shows.
func Eligible(method string, status int, req, resp http.Header) bool {
	switch {
	case method == http.MethodConnect, status < 200, status > 599,
		status == http.StatusNoContent, status == http.StatusResetContent,
		status == http.StatusPartialContent, status == http.StatusNotModified,
		status >= 300 && status < 400 && headerValue(resp, "Location") != "":
		return false
	}
	if headerValue(req, "Upgrade") != "" || headerValue(resp, "Upgrade") != "" || !WantsDocument(req) {
		return false
	}
	if enc, ok := Encoding(resp); !ok || (enc != "" && !Decodable(enc)) {
		return false // layered or unknown encodings pass untouched
	}
	if d := headerValue(resp, "Content-Disposition"); d != "" {
		if t, _, err := mime.ParseMediaType(d); err == nil && t == "attachment" {
			return false
		}
	}
	for _, v := range resp["Cache-Control"] {
		if strings.Contains(strings.ToLower(v), "no-transform") {
			return false
		}
	}
	ct := headerValue(resp, "Content-Type")
	if ct == "" {
		return false // never sniff: a body of unknown type is left alone
	}
	// Most responses are not pages: tell them without parsing (and its
	// allocations). ParseMediaType lowercases the type as ToLower does;
	// no non-ASCII letter lowers to one of these names' letters.
	base, _, _ := strings.Cut(ct, ";")
	if base = strings.TrimSpace(base); !strings.EqualFold(base, "text/html") && !strings.EqualFold(base, "application/xhtml+xml") {
		return false
	}
	t, params, err := mime.ParseMediaType(ct)
	if err != nil || (t != "text/html" && t != "application/xhtml+xml") {
		return false
	}
	// Bytes are never re-encoded: only charsets where "<" is one ASCII byte.
	if cs := strings.ToLower(params["charset"]); strings.HasPrefix(cs, "utf-16") || strings.HasPrefix(cs, "utf-32") {
		return false
	}
	return true
}
