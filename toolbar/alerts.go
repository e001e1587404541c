package toolbar

import (
	"cmp"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Alert is something in a record or its spans that a developer likely
// wants to fix: a query repeated per row, a slow query, calls that could
// overlap, a response the client could have had smaller or safer, a
// failure. Each names the span, header or source line to look at.
type Alert struct {
	Kind     string   `json:"kind"`     // one of the Alert* kinds
	Severity string   `json:"severity"` // SeverityError, SeverityWarning or SeverityInfo
	Message  string   `json:"message"`
	SpanID   string   `json:"spanId,omitempty"` // hex: the span to show
	Header   string   `json:"header,omitempty"` // the response header to show
	Code     *CodeRef `json:"code,omitempty"`   // the source line that issued the span
}

// CodeRef is a source location a span names with code.file.path and
// code.line.number (or the older code.filepath and code.lineno).
type CodeRef struct {
	File string `json:"file"`
	Line int    `json:"line"` // 0 when the span names only the file
}

// Alert kinds.
const (
	AlertNPlusOne        = "n_plus_one"       // one statement shape 3+ times under one parent span
	AlertSlowQuery       = "slow_query"       // a database span at least as long as the slow query threshold
	AlertSequentialCalls = "sequential_calls" // 3+ sibling CLIENT spans to one peer, each after the previous ended
	AlertUncompressed    = "uncompressed"     // a text body over 1 KB sent as is to a client that accepted compression
	AlertCookieFlags     = "cookie_flags"     // a Set-Cookie without HttpOnly or SameSite, or Secure over https
	AlertRedirectChain   = "redirect_chain"   // two or more redirects led to the record
	AlertErrorSpan       = "error_span"       // a span with error status or an exception event
	AlertLargeDocument   = "large_document"   // an HTML document over 1 MB
)

// Severities, most severe first.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
	SeverityInfo    = "info"
)

// Thresholds of the alerts.
const (
	sequentialRun    = 3       // two calls in a row are common and cheap
	uncompressedOver = 1 << 10 // bytes: below this, compression saves less than its headers cost
	largeDocOver     = 1 << 20 // bytes of HTML
	redirectWithin   = 10 * time.Second
	maxRedirectHops  = 20 // browsers give up after 20 (Chrome) or fewer
)

// Alerts returns what looks wrong in rec: spans are its own spans
// (Store.RecordSpans), related are records that may have redirected to it
// (Store.Requests), slowQuery the length from which a database span is
// slow. Alerts come most severe first, else in the order found; never nil.
func Alerts(rec *Record, spans []Span, related []*Record, slowQuery time.Duration) []Alert {
	t := newSpanTree(spans)
	out := []Alert{}
	out = append(out, t.errorSpans(rec)...)
	out = append(out, t.nPlusOne()...)
	out = append(out, t.slowQueries(slowQuery)...)
	out = append(out, t.sequentialCalls()...)
	out = append(out, redirectChain(rec, related)...)
	out = append(out, uncompressed(rec)...)
	out = append(out, largeDocument(rec)...)
	out = append(out, cookieFlags(rec, recordScheme(rec, spans) == "https")...)
	rank := map[string]int{SeverityError: 0, SeverityWarning: 1, SeverityInfo: 2}
	slices.SortStableFunc(out, func(a, b Alert) int { return rank[a.Severity] - rank[b.Severity] })
	return out
}

func (a *API) alerts(w http.ResponseWriter, r *http.Request) {
	rec := a.Store.Request(r.PathValue("id"))
	if rec == nil {
		http.Error(w, "toolbar: no such request", http.StatusNotFound)
		return
	}
	writeJSON(w, Alerts(rec, a.Store.RecordSpans(rec), a.Store.Requests(0), a.slowQuery()))
}

// recordScheme returns the scheme rec came in with, "https" or "http":
// an absolute request URL's, else the proxy span's url.scheme, else
// "https" for HTTP/3 (always over TLS).
func recordScheme(rec *Record, spans []Span) string {
	if u, err := url.Parse(rec.URL); err == nil && u.IsAbs() {
		return strings.ToLower(u.Scheme)
	}
	for i := range spans {
		if spans[i].SpanID.String() == rec.ID {
			if s := spans[i].AttrString("url.scheme"); s != "" {
				return strings.ToLower(s)
			}
		}
	}
	if rec.Proto == "HTTP/3.0" {
		return "https"
	}
	return "http"
}

// formatMs and formatBytes write lengths and sizes for messages.
func formatMs(ms float64) string {
	if ms >= 1000 {
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + " s"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// clipText shortens a statement or URL for a message.
func clipText(s string) string {
	const most = 160
	if len(s) <= most {
		return s
	}
	return strings.ToValidUTF8(s[:most], "") + "…"
}

// responseMediaType is rec's response media type, lower case, without
// parameters.
func responseMediaType(rec *Record) string {
	ct := rec.ContentType
	if ct == "" {
		ct = rec.ClientResponse.Get("Content-Type")
	}
	t, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return t
}

// acceptedCodings lists the compressions an Accept-Encoding offers that
// browsers and Caddy's encode speak, those with q=0 left out.
func acceptedCodings(h Headers) []string {
	var out []string
	for _, v := range h.Values("Accept-Encoding") {
		for _, item := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			switch coding {
			case "gzip", "br", "zstd", "deflate":
				if !slices.Contains(out, coding) {
					out = append(out, coding)
				}
			}
		}
	}
	return out
}

// textLike reports whether a media type is text that compresses well.
func textLike(t string) bool {
	if strings.HasPrefix(t, "text/") {
		return true
	}
	for _, s := range []string{"json", "javascript", "ecmascript", "xml", "svg"} {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// uncompressed: a text body over uncompressedOver bytes that reached the
// client without a Content-Encoding, though its Accept-Encoding offered one.
//
// Not when the proxy dropped that Accept-Encoding (a page that may get the
// toolbar: rec.AcceptEncodingDropped): the app never saw the offer, so the
// body came uncompressed because of Tracebar, and whether the app
// compresses without it is unknown. Nor does rec.UpstreamRequest tell:
// Go's transport sends its own Accept-Encoding: gzip then, and decodes the
// answer before Tracebar sees it. Such a page is compressed for the client
// by Caddy's encode in front of Tracebar, which ClientEncoding shows.
func uncompressed(rec *Record) []Alert {
	if !rec.Done || rec.AcceptEncodingDropped || rec.ClientBytes <= uncompressedOver || !textLike(responseMediaType(rec)) ||
		rec.ClientEncoding != "" || !strings.EqualFold(cmp.Or(rec.ClientResponse.Get("Content-Encoding"), "identity"), "identity") {
		return nil
	}
	codings := acceptedCodings(rec.ClientRequest)
	if len(codings) == 0 {
		return nil
	}
	return []Alert{{
		Kind: AlertUncompressed, Severity: SeverityWarning, Header: "Content-Encoding",
		Message: fmt.Sprintf("%s of %s sent uncompressed, though the client accepts %s: compress it (Caddy: encode)",
			formatBytes(rec.ClientBytes), responseMediaType(rec), strings.Join(codings, ", ")),
	}}
}

// largeDocument: an HTML document over largeDocOver bytes.
func largeDocument(rec *Record) []Alert {
	if t := responseMediaType(rec); (t != "text/html" && t != "application/xhtml+xml") || rec.ResponseBytes <= largeDocOver {
		return nil
	}
	return []Alert{{
		Kind: AlertLargeDocument, Severity: SeverityWarning,
		Message: fmt.Sprintf("The HTML document is %s: over %s, parsing it delays the first paint", formatBytes(rec.ResponseBytes), formatBytes(largeDocOver)),
	}}
}

// cookieFlags checks each cookie rec's response sets: HttpOnly and
// SameSite, and Secure when the page came over https (or the cookie says
// SameSite=None, which browsers refuse without Secure). Cookies being
// deleted (Max-Age ≤ 0, Expires past) are not checked, nor cookies whose
// whole line was redacted.
func cookieFlags(rec *Record, https bool) []Alert {
	var out []Alert
	for _, line := range rec.ClientResponse.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil || c.MaxAge < 0 || (!c.Expires.IsZero() && !c.Expires.After(rec.StartTime)) {
			continue
		}
		var missing []string
		if !c.HttpOnly {
			missing = append(missing, "HttpOnly")
		}
		if !c.Secure && (https || c.SameSite == http.SameSiteNoneMode) {
			missing = append(missing, "Secure")
		}
		severity := SeverityWarning
		if c.SameSite == 0 {
			missing = append(missing, "SameSite")
			if len(missing) == 1 {
				severity = SeverityInfo // browsers default to Lax
			}
		}
		if len(missing) == 0 {
			continue
		}
		out = append(out, Alert{
			Kind: AlertCookieFlags, Severity: severity, Header: "Set-Cookie",
			Message: fmt.Sprintf("Cookie %q is set without %s", c.Name, strings.Join(missing, ", ")),
		})
	}
	return out
}

// redirectChain: two or more redirects led to rec. A hop is an earlier
// record of the same client IP, answered with a redirect within
// redirectWithin before rec started, whose Location resolves (against its
// own URL) to the next record's URL.
func redirectChain(rec *Record, related []*Record) []Alert {
	chain := []*Record{rec}
	for cur := rec; len(chain) <= maxRedirectHops; {
		var prev *Record
		for _, earlier := range related {
			if earlier.StartTime.Before(cur.StartTime) && (prev == nil || earlier.StartTime.After(prev.StartTime)) &&
				!slices.Contains(chain, earlier) && redirects(earlier, cur) {
				prev = earlier
			}
		}
		if prev == nil {
			break
		}
		chain, cur = append(chain, prev), prev
	}
	if len(chain) < 3 {
		return nil
	}
	urls := make([]string, len(chain))
	for i, hop := range chain {
		urls[len(chain)-1-i] = clipText(hop.URL)
	}
	return []Alert{{
		Kind: AlertRedirectChain, Severity: SeverityWarning, Header: "Location",
		Message: fmt.Sprintf("%d redirects before this response, a round trip each: %s", len(chain)-1, strings.Join(urls, " → ")),
	}}
}

// redirects reports whether from redirected the client to to.
func redirects(from, to *Record) bool {
	switch from.Status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return false
	}
	end := from.StartTime.Add(time.Duration(from.DurationMs * float64(time.Millisecond)))
	if to.StartTime.Sub(end) > redirectWithin || remoteIP(from.RemoteAddr) != remoteIP(to.RemoteAddr) {
		return false
	}
	loc := from.ClientResponse.Get("Location")
	base, err1 := url.Parse("//" + from.Host + from.URL)
	next, err2 := url.Parse(loc)
	want, err3 := url.Parse("//" + to.Host + to.URL)
	if loc == "" || err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	got := base.ResolveReference(next)
	return strings.EqualFold(hostOnDefaultPort(got), hostOnDefaultPort(want)) && got.RequestURI() == want.RequestURI()
}

// hostOnDefaultPort is u's host without the port its scheme implies.
func hostOnDefaultPort(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" || (port == "80" && u.Scheme != "https") || (port == "443" && u.Scheme != "http") {
		return host
	}
	return net.JoinHostPort(host, port)
}

func remoteIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}
