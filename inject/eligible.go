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
// Clients that send no Sec-Fetch-Dest count as pages.
func WantsDocument(req http.Header) bool {
	if req.Get("HX-Request") != "" {
		return false
	}
	d := req.Get("Sec-Fetch-Dest")
	return d == "" || d == "document"
}

// Eligible reports whether a response with this request method, status and
// header may have the snippet inserted. It is decided from the response head
// alone, before the body is seen.
func Eligible(method string, status int, req, resp http.Header) bool {
	if method == http.MethodHead || method == http.MethodConnect || status != http.StatusOK {
		return false
	}
	if req.Get("Upgrade") != "" || resp.Get("Upgrade") != "" || !WantsDocument(req) {
		return false
	}
	if ces := resp.Values("Content-Encoding"); len(ces) > 1 {
		return false // layered encodings pass untouched
	} else if len(ces) == 1 && ces[0] != "" && !strings.EqualFold(ces[0], "identity") && !Decodable(ces[0]) {
		return false // an encoding we do not decode passes untouched
	}
	if d := resp.Get("Content-Disposition"); d != "" {
		if t, _, err := mime.ParseMediaType(d); err == nil && t == "attachment" {
			return false
		}
	}
	for _, v := range resp.Values("Cache-Control") {
		if strings.Contains(strings.ToLower(v), "no-transform") {
			return false
		}
	}
	ct := resp.Get("Content-Type")
	if ct == "" {
		return false // never sniff: a body of unknown type is left alone
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
