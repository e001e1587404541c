package caddymodule

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// cookieName is the cookie that turns the toolbar on in secret mode.
const cookieName = "tracebar"

// active reports whether Tracebar works for this request: the client is
// in Allow, the Host is one of Hosts (unless a secret guards access), and,
// with a Secret, the browser holds the cookie from <prefix>/enable.
// Everyone else is proxied as if Tracebar were not there.
func (h *Handler) active(r *http.Request) bool {
	if !h.allowed(r) {
		return false
	}
	if h.Secret != "" {
		c, err := r.Cookie(cookieName)
		return err == nil && h.validCookie(c.Value, time.Now())
	}
	return h.hostAllowed(r.Host)
}

// allowed reports whether the request's client (as Caddy determined it,
// honouring trusted_proxies) is in Allow.
func (h *Handler) allowed(r *http.Request) bool {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if ip == "" {
		ip, _, _ = net.SplitHostPort(r.RemoteAddr)
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range h.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hostAllowed guards against DNS rebinding: a page of another site whose
// name an attacker points at 127.0.0.1 reaches the proxy from the
// developer's own browser, with its own name in Host. Only IP literals,
// localhost and *.localhost, and the names in Hosts get the toolbar.
func (h *Handler) hostAllowed(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return true
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, p := range h.Hosts {
		if p == "*" || host == p || (strings.HasPrefix(p, "*.") && strings.HasSuffix(host, p[1:])) {
			return true
		}
	}
	if h.warnedHosts.Add(1) <= 10 {
		h.logger.Warn("toolbar off for a Host not in hosts (DNS rebinding guard); add it to the tracebar hosts option if it is yours",
			zap.String("host", host))
	}
	return false
}

// enable serves <prefix>/enable. The right secret, posted from the form
// served there (so it stays out of URLs and access logs) or given as
// ?secret= (for scripts), sets the cookie that turns the toolbar on for
// this browser, then redirects home.
// Wrong guesses are rate-limited (a page reaching the proxy through DNS
// rebinding could otherwise guess at will), and compared through their
// HMAC so the secret's length does not show in the timing.
func (h *Handler) enable(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	var secret string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !r.URL.Query().Has("secret") {
			hdr.Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, enableForm)
			return
		}
		secret = r.URL.Query().Get("secret")
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := r.ParseForm(); err != nil || !r.PostForm.Has("secret") {
			http.Error(w, "tracebar: post the form's secret field", http.StatusBadRequest) // not a guess
			return
		}
		secret = r.PostForm.Get("secret")
	default:
		hdr.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "tracebar: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !h.guesses.allow(time.Now()) {
		hdr.Set("Retry-After", "60")
		http.Error(w, "tracebar: too many wrong secrets, wait a minute", http.StatusTooManyRequests)
		return
	}
	if !hmac.Equal(mac(secret, "enable"), mac(h.Secret, "enable")) {
		h.guesses.fail()
		http.Error(w, "tracebar: wrong secret", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: h.newCookie(time.Now()), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(cookieLife / time.Second)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// enableForm asks for the secret and posts it back to <prefix>/enable.
const enableForm = `<!doctype html>
<meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Turn Tracebar on</title>
<style>body{font:16px system-ui,sans-serif;margin:4em auto;max-width:26em;padding:0 1em}input,button{font:inherit}</style>
<h1>Tracebar</h1>
<form method="post">
<p><label>Secret <input type="password" name="secret" autocomplete="current-password" required autofocus></label>
<p><button>Turn the toolbar on in this browser</button>
</form>
`

// guessLimit allows maxGuesses wrong secrets per minute, over all clients.
type guessLimit struct {
	mu     sync.Mutex
	window time.Time
	wrong  int
}

const maxGuesses = 10

func (g *guessLimit) allow(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.window) > time.Minute {
		g.window, g.wrong = now, 0
	}
	return g.wrong < maxGuesses
}

func (g *guessLimit) fail() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.wrong++
}

// cookieLife is how long an enabled browser keeps the toolbar.
const cookieLife = 30 * 24 * time.Hour

// newCookie is the cookie value for a browser enabled at now: the time and
// an HMAC of it keyed by the secret. The secret itself is never in the
// browser, the server checks the age, and changing the secret ends every
// cookie issued with the old one.
func (h *Handler) newCookie(now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return ts + "." + hex.EncodeToString(mac(h.Secret, ts))
}

// validCookie reports whether v is a cookie from newCookie that has not
// expired.
func (h *Handler) validCookie(v string, now time.Time) bool {
	ts, sum, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sum)
	if err != nil || !hmac.Equal(got, mac(h.Secret, ts)) {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	return err == nil && now.Sub(time.Unix(sec, 0)) < cookieLife
}

// mac is HMAC-SHA256 of msg keyed by secret.
func mac(secret, msg string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tracebar " + msg))
	return m.Sum(nil)
}

// dropCookie removes Tracebar's cookie from the request, so the upstream
// sees the Cookie header the app set, and the cookie is never recorded.
func dropCookie(r *http.Request) {
	cs := r.Header.Values("Cookie")
	if len(cs) == 0 {
		return
	}
	var kept []string
	for _, line := range cs {
		var parts []string
		for _, p := range strings.Split(line, ";") {
			if name, _, _ := strings.Cut(strings.TrimSpace(p), "="); strings.TrimSpace(name) != cookieName {
				parts = append(parts, strings.TrimSpace(p))
			}
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	r.Header.Del("Cookie")
	for _, c := range kept {
		r.Header.Add("Cookie", c)
	}
}

// minSecret is the shortest secret accepted.
const minSecret = 16
