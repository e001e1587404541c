package toolbar

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Redacted replaces secret values before they are stored.
const Redacted = "[redacted]"

// secretWords mark a header or query parameter name as secret when it
// contains one of them (case-insensitively).
var secretWords = []string{"auth", "cookie", "token", "secret", "password", "passwd", "api-key", "apikey", "api_key", "session", "signature", "csrf", "xsrf", "credential", "private"}

// IsSecret reports whether a header or parameter named name holds a secret.
// Answers are cached: the same few header names come with every request.
func IsSecret(name string) bool {
	secretCache.RLock()
	v, ok := secretCache.m[name]
	secretCache.RUnlock()
	if ok {
		return v
	}
	v = isSecret(name)
	// Names are client-chosen: cache short ones only, and copy them so the
	// cache holds no request's memory.
	if len(name) <= 64 {
		secretCache.Lock()
		if len(secretCache.m) < 4096 {
			secretCache.m[strings.Clone(name)] = v
		}
		secretCache.Unlock()
	}
	return v
}

var secretCache = struct {
	sync.RWMutex
	m map[string]bool
}{m: map[string]bool{}}

func isSecret(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return n == "code" || n == "key" // OAuth codes, bare keys
}

// RedactHeader returns a copy of h with secret values replaced.
func RedactHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		c := append([]string(nil), v...)
		if IsSecret(k) {
			for i := range c {
				c[i] = Redacted
			}
		}
		out[k] = c
	}
	return out
}

// RedactQuery replaces the values of secret parameters in a raw query,
// keeping everything else byte for byte.
func RedactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && IsSecret(name) {
			parts[i] = k + "=" + url.QueryEscape(Redacted)
		}
	}
	return strings.Join(parts, "&")
}

// RedactURL redacts the query of a request URI (path?query).
func RedactURL(uri string) string {
	path, q, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	return path + "?" + RedactQuery(q)
}
