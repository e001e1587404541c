package inject

import (
	"html"
	"strings"
)

// ScriptTag is the element Tracebar inserts: an external script at src,
// with the nonce a page's Content-Security-Policy needs (see AllowInCSP;
// "" for none), async or not, and data attributes given as name, value
// pairs. Every value is escaped.
func ScriptTag(src, nonce string, async bool, data ...string) []byte {
	var b strings.Builder
	b.WriteString(`<script src="`)
	b.WriteString(html.EscapeString(src))
	b.WriteByte('"')
	for i := 0; i+1 < len(data); i += 2 {
		b.WriteString(" data-" + data[i] + `="`)
		b.WriteString(html.EscapeString(data[i+1]))
		b.WriteByte('"')
	}
	if async {
		b.WriteString(` async="async"`)
	}
	if nonce != "" {
		b.WriteString(` nonce="`)
		b.WriteString(html.EscapeString(nonce))
		b.WriteByte('"')
	}
	b.WriteString(`></script>`)
	return []byte(b.String())
}

// SourcesAt are the URLs of a toolbar served under prefix on a request's
// origin (its Host, and whether it came over TLS), for AllowInCSP. A Host
// that is not a plain host[:port] yields none: no policy is rewritten with
// a source an attacker chose.
func SourcesAt(host string, tls bool, prefix string) Sources {
	if host == "" || strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != "" {
		return Sources{}
	}
	base := "http://" + host + prefix
	if tls {
		base = "https://" + host + prefix
	}
	return Sources{Script: base + "/static/", Style: base + "/static/toolbar.css", API: base + "/"}
}
