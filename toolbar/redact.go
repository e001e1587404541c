package toolbar

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces secret values before they are stored.
const Redacted = "[redacted]"

// defaultWords mark a header, query parameter or attribute name as secret
// when it contains one of them (case-insensitively).
var defaultWords = []string{"auth", "cookie", "token", "secret", "password", "passwd", "api-key", "apikey", "api_key", "session", "signature", "csrf", "xsrf", "credential", "private"}

// urlHeaders carry URLs whose query may hold secrets; ":path" is the
// request target as an HTTP/2 or HTTP/3 upstream is sent it.
var urlHeaders = []string{"Location", "Content-Location", "Referer", ":path"}

// urlAttributes are span attribute keys whose values are URLs or queries.
var urlAttributes = map[string]bool{"url.full": true, "http.url": true, "url.original": true, "http.target": true, "url.query": false}

// Redactor replaces secret values in headers, URLs and span attributes
// before they are stored or forwarded. A nil *Redactor uses the defaults.
// It is safe for concurrent use.
type Redactor struct {
	words []string

	// cache maps names to answers. It is read on every header without a
	// lock and replaced, copied, when a name is added; names are
	// client-chosen, so it is bounded.
	cache   atomic.Pointer[map[string]bool]
	cacheMu sync.Mutex // serializes replacements
}

// maxCached bounds the cache of IsSecret's answers.
const maxCached = 4096

// NewRedactor returns a Redactor that also treats names containing any of
// extra (case-insensitively) as secret.
func NewRedactor(extra ...string) *Redactor {
	words := append([]string(nil), defaultWords...)
	for _, w := range extra {
		if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
			words = append(words, w)
		}
	}
	return &Redactor{words: words}
}

var defaultRedactor = NewRedactor()

// IsSecret reports whether a header, parameter or attribute named name
// holds a secret. Answers are cached: the same few names come again and again.
func (r *Redactor) IsSecret(name string) bool {
	if r == nil {
		r = defaultRedactor
	}
	m := r.cache.Load()
	if m != nil {
		if v, ok := (*m)[name]; ok {
			return v
		}
	}
	v := r.isSecret(name)
	if len(name) <= 64 && (m == nil || len(*m) < maxCached) {
		r.cacheMu.Lock()
		next := map[string]bool{}
		if m := r.cache.Load(); m != nil {
			next = maps.Clone(*m)
		}
		if len(next) < maxCached {
			next[strings.Clone(name)] = v // holds no request's memory
			r.cache.Store(&next)
		}
		r.cacheMu.Unlock()
	}
	return v
}

func (r *Redactor) isSecret(name string) bool {
	n := strings.ToLower(name)
	for _, w := range r.words {
		if strings.Contains(n, w) {
			return true
		}
	}
	return n == "code" || n == "key" || n == "sig" // OAuth codes, bare keys, Azure SAS signatures
}

// Header returns the fields of h with secret values replaced, and secret
// query parameters redacted in the headers that carry URLs.
func (r *Redactor) Header(h http.Header) Headers {
	out := make(Headers, 0, len(h)+2) // a name rarely has two values
	for k, v := range h {
		for _, s := range v {
			out = append(out, HeaderField{k, s})
		}
	}
	return r.Fields(out)
}

// Fields redacts h in place, as Header does, and returns it.
func (r *Redactor) Fields(h Headers) Headers {
	for i, f := range h {
		switch {
		case f.Name == "Set-Cookie":
			h[i].Value = setCookieRedacted(f.Value)
		case r.IsSecret(f.Name):
			h[i].Value = Redacted
		case slices.Contains(urlHeaders, f.Name):
			h[i].Value = r.URL(f.Value)
		}
	}
	return h
}

// setCookieRedacted redacts a Set-Cookie line's value and keeps its name
// and attributes (Path, Expires, Secure, HttpOnly, SameSite...), which
// hold no secret and say how the cookie is protected (the cookie_flags
// alert, HAR's cookies).
func setCookieRedacted(line string) string {
	pair, attrs, hasAttrs := strings.Cut(line, ";")
	name, _, ok := strings.Cut(pair, "=")
	if !ok {
		return Redacted
	}
	out := strings.TrimSpace(name) + "=" + Redacted
	if hasAttrs {
		out += ";" + attrs
	}
	return out
}

// Query replaces the values of secret parameters in a raw query, keeping
// everything else byte for byte. A query without one is returned as it
// is, without a copy.
func (r *Redactor) Query(q string) string {
	var b strings.Builder
	copied := 0 // q[:copied] is in b
	for start := 0; start <= len(q); {
		end := strings.IndexByte(q[start:], '&')
		if end < 0 {
			end = len(q)
		} else {
			end += start
		}
		k, _, hasValue := strings.Cut(q[start:end], "=")
		if hasValue {
			name, err := url.QueryUnescape(k)
			if err != nil {
				name = k
			}
			if r.IsSecret(name) {
				b.WriteString(q[copied:start])
				b.WriteString(k + "=" + url.QueryEscape(Redacted))
				copied = end
			}
		}
		start = end + 1
	}
	if copied == 0 {
		return q
	}
	b.WriteString(q[copied:])
	return b.String()
}

// URL redacts the secrets a URL or request URI may carry: the password of
// its userinfo, and secret parameters of its query and of a fragment written
// as parameters (OAuth's #access_token=...). A URL without one is returned
// as it is, without a copy.
func (r *Redactor) URL(uri string) string {
	rest, frag, hasFrag := strings.Cut(uri, "#")
	path, q, hasQuery := strings.Cut(rest, "?")
	changed := false
	if i := strings.Index(path, "://"); i >= 0 {
		host := path[i+3:]
		if j := strings.IndexByte(host, '/'); j >= 0 {
			host = host[:j]
		}
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			if c := strings.IndexByte(host[:at], ':'); c >= 0 {
				path, changed = path[:i+3+c+1]+url.QueryEscape(Redacted)+path[i+3+at:], true
			}
		}
	}
	if hasQuery {
		redacted := r.Query(q)
		changed = changed || redacted != q
		q = redacted
	}
	if hasFrag && strings.Contains(frag, "=") {
		redacted := r.Query(frag)
		changed = changed || redacted != frag
		frag = redacted
	}
	if !changed {
		return uri
	}
	out := path
	if hasQuery {
		out += "?" + q
	}
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// Attribute returns the value to keep for a string attribute: redacted
// when the key names a secret, with secret parameters redacted when the
// key names a URL or query. Numbers and booleans are never secrets.
func (r *Redactor) Attribute(key, value string) string {
	if isURL, ok := urlAttributes[key]; ok {
		if isURL {
			return r.URL(value)
		}
		return r.Query(value)
	}
	if r.IsSecret(key) {
		return Redacted
	}
	return value
}

// SpanName redacts a span name that carries a URL ("GET /cb?code=...").
func (r *Redactor) SpanName(name string) string {
	if strings.ContainsAny(name, "?#@") {
		return r.URL(name)
	}
	return name
}
