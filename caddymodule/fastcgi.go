package caddymodule

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tracebar/tracebar/toolbar"
)

// hopHeaders are the hop-by-hop headers reverse_proxy drops before any
// transport (RFC 9110, 7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// fastCGIRequest is what a FastCGI upstream (php_fastcgi) was sent, for a
// transport that reports no headers through httptrace: the request headers
// as Tracebar passed them into the route, without the hop-by-hop ones, and
// the CGI parameters an app most often needs explained, as Caddy's
// fastcgi transport sets them (modules/caddyhttp/reverseproxy/fastcgi,
// buildEnv). Both are redacted like headers. Called after the route ran,
// so r.URL is as the route's rewrite left it (rewrite changes it in place).
func (x *exchange) fastCGIRequest(r *http.Request, repl *caddy.Replacer) (headers, params toolbar.Headers) {
	h := r.Header.Clone()
	for _, k := range hopHeaders {
		delete(h, k)
	}
	headers = x.h.redact.Header(h)

	ip := r.RemoteAddr
	if i := strings.LastIndex(ip, ":"); i >= 0 {
		ip = ip[:i]
	}
	ip = strings.Trim(ip, "[]")
	requestURI := r.RequestURI
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		requestURI = orig.URL.RequestURI()
	}
	p := make(toolbar.Headers, 0, 7)
	// php_fastcgi's file matcher found the script the transport runs.
	if script, ok := repl.GetString("http.matchers.file.absolute"); ok && script != "" {
		p = append(p, toolbar.HeaderField{Name: "SCRIPT_FILENAME", Value: script})
	}
	p = append(p,
		toolbar.HeaderField{Name: "REQUEST_METHOD", Value: r.Method},
		toolbar.HeaderField{Name: "REQUEST_URI", Value: x.h.redact.URL(requestURI)},
		toolbar.HeaderField{Name: "QUERY_STRING", Value: x.h.redact.Query(r.URL.RawQuery)},
		toolbar.HeaderField{Name: "REMOTE_ADDR", Value: ip},
	)
	if r.TLS != nil {
		p = append(p, toolbar.HeaderField{Name: "HTTPS", Value: "on"})
	}
	return headers, p
}
