package inject

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
)

// Sources names what the toolbar loads, as URLs of the page's origin
// (e.g. "http://localhost:8080/__tracebar/static/").
type Sources struct {
	Script string // the script elements' src, or their folder (ends in "/")
	Style  string // the stylesheet it loads
	API    string // prefix of the API it fetches and posts to (ends in "/")
}

// AllowInCSP makes every enforced Content-Security-Policy in h admit the
// toolbar without weakening it for the page's own code, and returns the
// nonce to put on the script element ("" for none):
//   - a policy with a script nonce: the page's nonce is reused;
//   - a policy that admits the script already ('self', *, a matching
//     source): unchanged;
//   - otherwise the exact URLs are added as sources, or, under
//     'strict-dynamic' (which ignores URL sources), a nonce of our own.
//
// The same is done for the stylesheet (style-src) and the API
// (connect-src). Report-only policies are left alone.
func AllowInCSP(h http.Header, src Sources) (nonce string) {
	if src.Script == "" {
		return ""
	}
	var raw []string
	for _, v := range h.Values("Content-Security-Policy") {
		// One field may carry several policies, comma-separated.
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) != "" {
				raw = append(raw, p)
			}
		}
	}
	if len(raw) == 0 {
		return ""
	}
	policies := make([]policy, len(raw))
	for i, r := range raw {
		policies[i] = parsePolicy(r)
	}
	// One policy: its nonce serves. Several: a nonce of our own, added
	// where needed, never weakens any of them.
	page := ""
	if len(policies) == 1 {
		if i := policies[0].scriptDirective(); i >= 0 {
			page = nonceOf(policies[0][i].sources)
		}
	}
	var own string
	for k, p := range policies {
		if i := p.scriptDirective(); i >= 0 {
			switch s := p[i].sources; {
			case page != "":
			case has(s, "'strict-dynamic'") || (nonceOf(s) != "" && !admits(s, src.Script)):
				if own == "" {
					own = newNonce()
				}
				p = p.add(i, "script-src-elem", "'nonce-"+own+"'")
			case !admits(s, src.Script):
				p = p.add(i, "script-src-elem", src.Script)
			}
		}
		for _, r := range []struct {
			url, specific string
			fallbacks     []string
		}{
			{src.Style, "style-src-elem", []string{"style-src-elem", "style-src", "default-src"}},
			{src.API, "connect-src", []string{"connect-src", "default-src"}},
		} {
			if i := p.effective(r.fallbacks...); i >= 0 && !admits(p[i].sources, r.url) {
				p = p.add(i, r.specific, r.url)
			}
		}
		raw[k] = p.String()
	}
	h["Content-Security-Policy"] = raw
	if page != "" {
		return page
	}
	return own
}

// policy is one serialized CSP: directive names and their source lists.
type policy []directive

type directive struct {
	name    string
	sources []string
}

func parsePolicy(s string) policy {
	var p policy
	for _, d := range strings.Split(s, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		p = append(p, directive{name: strings.ToLower(f[0]), sources: f[1:]})
	}
	return p
}

func (p policy) String() string {
	parts := make([]string, len(p))
	for i, d := range p {
		parts[i] = strings.Join(append([]string{d.name}, d.sources...), " ")
	}
	return strings.Join(parts, "; ")
}

// effective returns the index of the directive that governs the first
// name in fallbacks that is present, or -1.
func (p policy) effective(fallbacks ...string) int {
	for _, name := range fallbacks {
		for i, d := range p {
			if d.name == name {
				return i
			}
		}
	}
	return -1
}

// add appends source to the directive at i. When that directive is
// default-src, it is left alone: a directive named specific, copying its
// sources, takes the addition, so other resource types and the page's
// inline styles are governed as before.
func (p policy) add(i int, specific, source string) policy {
	if p[i].name != "default-src" {
		p[i].sources = append(p[i].sources, source)
		return p
	}
	srcs := append(append([]string(nil), p[i].sources...), source)
	if len(srcs) > 1 && srcs[0] == "'none'" {
		srcs = srcs[1:] // 'none' must stand alone
	}
	return append(p, directive{name: specific, sources: srcs})
}

// scriptDirective returns the index of the directive governing script
// elements: script-src-elem, else script-src, else default-src; or -1.
func (p policy) scriptDirective() int {
	return p.effective("script-src-elem", "script-src", "default-src")
}

// admits reports whether a source list allows loading url by URL: 'self'
// (url is always of the page's origin), *, or the URL or its prefix.
// 'strict-dynamic' disables all of these for scripts; callers check it.
func admits(sources []string, url string) bool {
	if has(sources, "'none'") {
		return false
	}
	for _, s := range sources {
		ls := strings.ToLower(s)
		if ls == "'self'" || ls == "*" || s == url || (strings.HasSuffix(s, "/") && strings.HasPrefix(url, s)) {
			return true
		}
		// A bare origin ("http://localhost:8080") admits every path on it.
		if strings.Contains(s, "://") && strings.Count(s, "/") == 2 && strings.HasPrefix(url, s+"/") {
			return true
		}
	}
	return false
}

func nonceOf(sources []string) string {
	for _, s := range sources {
		if strings.HasPrefix(strings.ToLower(s), "'nonce-") && strings.HasSuffix(s, "'") {
			return s[len("'nonce-") : len(s)-1]
		}
	}
	return ""
}

func has(sources []string, want string) bool {
	for _, s := range sources {
		if strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
