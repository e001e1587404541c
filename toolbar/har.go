package toolbar

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// A HAR 1.2 file (http://www.softwareishard.com/blog/har-12-spec/) of a
// page session: what browsers' devtools import, with the trace riding
// along in custom fields, so that a colleague's Tracebar can import it back
// (POST /api/import) and show it with every panel.
type (
	harFile struct {
		Log harLog `json:"log"`
	}
	harLog struct {
		Version string     `json:"version"`
		Creator harCreator `json:"creator"`
		Pages   []harPage  `json:"pages"` // optional in HAR, but Firefox's importer reads it
		Entries []harEntry `json:"entries"`
	}
	harCreator struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	harPage struct {
		StartedDateTime string `json:"startedDateTime"`
		ID              string `json:"id"`
		Title           string `json:"title"`
		PageTimings     struct {
			OnContentLoad float64 `json:"onContentLoad"`
			OnLoad        float64 `json:"onLoad"`
		} `json:"pageTimings"`
	}
	harEntry struct {
		Pageref         string      `json:"pageref,omitempty"`
		StartedDateTime string      `json:"startedDateTime"`
		Time            float64     `json:"time"`
		Request         harRequest  `json:"request"`
		Response        harResponse `json:"response"`
		Cache           struct{}    `json:"cache"`
		Timings         harTimings  `json:"timings"`
		ServerIPAddress string      `json:"serverIPAddress,omitempty"`
		// The custom fields: the record's trace, its id (its proxy span's),
		// its spans as OTLP/JSON, the headers of the upstream crossing,
		// and the rest of the record that HAR has no field for.
		TraceID          string          `json:"_traceId"`
		SpanID           string          `json:"_spanId"`
		Spans            json.RawMessage `json:"_spans,omitempty"`
		UpstreamRequest  []harPair       `json:"_upstreamRequestHeaders"`
		UpstreamResponse []harPair       `json:"_upstreamResponseHeaders"`
		Tracebar         *harRecord      `json:"_tracebar,omitempty"`
	}
	harRequest struct {
		Method      string       `json:"method"`
		URL         string       `json:"url"`
		HTTPVersion string       `json:"httpVersion"`
		Cookies     []harCookie  `json:"cookies"`
		Headers     []harPair    `json:"headers"`
		QueryString []harPair    `json:"queryString"`
		PostData    *harPostData `json:"postData,omitempty"`
		HeadersSize int64        `json:"headersSize"`
		BodySize    int64        `json:"bodySize"`
	}
	harResponse struct {
		Status      int         `json:"status"`
		StatusText  string      `json:"statusText"`
		HTTPVersion string      `json:"httpVersion"`
		Cookies     []harCookie `json:"cookies"`
		Headers     []harPair   `json:"headers"`
		Content     harContent  `json:"content"`
		RedirectURL string      `json:"redirectURL"`
		HeadersSize int64       `json:"headersSize"`
		BodySize    int64       `json:"bodySize"`
	}
	harPair struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	harCookie struct {
		Name     string `json:"name"`
		Value    string `json:"value"`
		Path     string `json:"path,omitempty"`
		Domain   string `json:"domain,omitempty"`
		Expires  string `json:"expires,omitempty"`
		HTTPOnly bool   `json:"httpOnly"`
		Secure   bool   `json:"secure"`
		SameSite string `json:"sameSite,omitempty"`
	}
	harPostData struct {
		MimeType string    `json:"mimeType"`
		Params   []harPair `json:"params"`
		Text     string    `json:"text"`
		Redacted bool      `json:"_redacted,omitempty"` // Body.Redacted
	}
	harContent struct {
		Size     int64  `json:"size"`
		MimeType string `json:"mimeType"`
	}
	// harTimings are lengths in ms; -1 for a phase that did not happen
	// or was not observed. ssl is part of connect.
	harTimings struct {
		Blocked float64 `json:"blocked"`
		DNS     float64 `json:"dns"`
		Connect float64 `json:"connect"`
		Send    float64 `json:"send"`
		Wait    float64 `json:"wait"`
		Receive float64 `json:"receive"`
		SSL     float64 `json:"ssl"`
	}
	// harRecord is what a Record holds beyond HAR's fields.
	harRecord struct {
		StartTime      time.Time `json:"startTime"` // to the nanosecond; startedDateTime has milliseconds
		RemoteAddr     string    `json:"remoteAddr,omitempty"`
		Timing         Timing    `json:"timing"`
		ResponseBytes  int64     `json:"responseBytes"`
		ClientEncoding string    `json:"clientEncoding,omitempty"`
		Injected       bool      `json:"injected,omitempty"`
		Error          string    `json:"error,omitempty"`
		TraceLink      string    `json:"traceLink,omitempty"`
		ReplayOf       string    `json:"replayOf,omitempty"`
		UpstreamParams []harPair `json:"upstreamParams,omitempty"`
		// AcceptEncodingDropped is Record.AcceptEncodingDropped.
		AcceptEncodingDropped bool `json:"acceptEncodingDropped,omitempty"`
	}
)

// harUnknownType is content.mimeType for a response without Content-Type.
const harUnknownType = "x-unknown"

func (a *API) har(w http.ResponseWriter, r *http.Request) {
	rec := a.Store.Request(r.PathValue("id"))
	if rec == nil {
		http.Error(w, "toolbar: no such request", http.StatusNotFound)
		return
	}
	// The page session: the record, then its trace's later records (the
	// page's fetch and XHR calls carry its trace).
	session := []*Record{rec}
	for _, later := range a.Store.TraceRequests(rec.TraceID) {
		if later.ID != rec.ID && !later.StartTime.Before(rec.StartTime) {
			session = append(session, later)
		}
	}
	slices.SortStableFunc(session[1:], func(x, y *Record) int { return x.StartTime.Compare(y.StartTime) })

	page := harPage{StartedDateTime: harTime(rec.StartTime), ID: "page_" + rec.ID}
	page.PageTimings.OnContentLoad, page.PageTimings.OnLoad = -1, -1
	out := harFile{harLog{Version: "1.2", Creator: harCreator{"Tracebar", moduleVersion()}}}
	for _, sessionRec := range session {
		spans := a.Store.RecordSpans(sessionRec)
		otlp, err := MarshalOTLPJSON(spans)
		if err != nil {
			http.Error(w, "toolbar: "+err.Error(), http.StatusInternalServerError)
			return
		}
		e := harEntryOf(sessionRec, recordScheme(sessionRec, spans))
		e.Pageref, e.Spans = page.ID, otlp
		out.Log.Entries = append(out.Log.Entries, e)
	}
	page.Title = out.Log.Entries[0].Request.URL
	out.Log.Pages = []harPage{page}
	// A file to read and share: indented, and URLs without \u0026.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		http.Error(w, "toolbar: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="tracebar-`+rec.ID+`.har"`)
	w.Write(b.Bytes())
}

// harTime is t as devtools parse it everywhere: ISO 8601 in UTC, to the ms.
func harTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// moduleVersion is Tracebar's version in the running binary.
func moduleVersion() string {
	const path = "github.com/tracebar/tracebar"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == path && bi.Main.Version != "" {
			return bi.Main.Version
		}
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "(devel)"
}

// harEntryOf is rec as a HAR entry (without its spans and page).
func harEntryOf(rec *Record, scheme string) harEntry {
	mimeType := rec.ContentType
	if mimeType == "" {
		mimeType = harUnknownType
	}
	bodySize := rec.ClientBytes // as it left Tracebar: on the wire unless encode compressed it after
	if rec.ClientEncoding != "" || !rec.Done {
		bodySize = -1
	}
	e := harEntry{
		StartedDateTime: harTime(rec.StartTime),
		Time:            roundMs(max(rec.DurationMs, 0)),
		Request: harRequest{
			Method: rec.Method, URL: absoluteURL(scheme, rec.Host, rec.URL), HTTPVersion: rec.Proto,
			Cookies: requestCookies(rec.ClientRequest), Headers: harPairs(rec.ClientRequest), QueryString: queryPairs(rec.URL),
			HeadersSize: -1, BodySize: rec.RequestBytes,
		},
		Response: harResponse{
			Status: rec.Status, StatusText: http.StatusText(rec.Status), HTTPVersion: rec.Proto,
			Cookies: responseCookies(rec.ClientResponse), Headers: harPairs(rec.ClientResponse),
			Content:     harContent{Size: rec.ClientBytes, MimeType: mimeType},
			RedirectURL: rec.ClientResponse.Get("Location"), HeadersSize: -1, BodySize: bodySize,
		},
		Timings:          harTimingsOf(rec),
		TraceID:          rec.TraceID.String(),
		SpanID:           rec.ID,
		UpstreamRequest:  harPairs(rec.UpstreamRequest),
		UpstreamResponse: harPairs(rec.UpstreamResponse),
		Tracebar: &harRecord{
			StartTime: rec.StartTime, RemoteAddr: rec.RemoteAddr, Timing: rec.Timing, ResponseBytes: rec.ResponseBytes,
			ClientEncoding: rec.ClientEncoding, Injected: rec.Injected, Error: rec.Error, TraceLink: rec.TraceLink,
			ReplayOf: rec.ReplayOf, UpstreamParams: harPairs(rec.UpstreamParams), AcceptEncodingDropped: rec.AcceptEncodingDropped,
		},
	}
	if host, _, err := net.SplitHostPort(rec.Host); err == nil && net.ParseIP(host) != nil {
		e.ServerIPAddress = host
	} else if net.ParseIP(rec.Host) != nil {
		e.ServerIPAddress = rec.Host
	}
	if body := rec.RequestBody; body != nil {
		postData := &harPostData{MimeType: body.ContentType, Params: []harPair{}, Text: body.Text, Redacted: body.Redacted}
		if BodyKindOf(body.ContentType) == FormBody {
			postData.Params = queryPairs("?" + body.Text)
		}
		e.Request.PostData = postData
	}
	return e
}

// absoluteURL is the URL the client asked for; uri is a request target.
func absoluteURL(scheme, host, uri string) string {
	switch {
	case strings.HasPrefix(uri, "/"):
		return scheme + "://" + host + uri
	case strings.Contains(uri, "://"): // absolute-form, as sent to a proxy
		return uri
	}
	return scheme + "://" + host + "/" + uri
}

func harPairs(h Headers) []harPair {
	out := make([]harPair, len(h))
	for i, f := range h {
		out[i] = harPair{f.Name, f.Value}
	}
	return out
}

// queryPairs lists the parameters of uri's query in order, decoded.
func queryPairs(uri string) []harPair {
	out := []harPair{}
	_, q, ok := strings.Cut(uri, "?")
	if q, _, _ = strings.Cut(q, "#"); !ok || q == "" {
		return out
	}
	for _, p := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(p, "=")
		out = append(out, harPair{unescape(k), unescape(v)})
	}
	return out
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// requestCookies lists the cookies of the Cookie headers; Tracebar keeps
// their values redacted, so usually none can be read.
func requestCookies(h Headers) []harCookie {
	out := []harCookie{}
	for _, v := range h.Values("Cookie") {
		cookies, err := http.ParseCookie(v)
		if err != nil {
			continue
		}
		for _, c := range cookies {
			out = append(out, harCookie{Name: c.Name, Value: c.Value})
		}
	}
	return out
}

// responseCookies lists the cookies of the Set-Cookie headers.
func responseCookies(h Headers) []harCookie {
	out := []harCookie{}
	for _, v := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(v)
		if err != nil {
			continue
		}
		cookie := harCookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, HTTPOnly: c.HttpOnly, Secure: c.Secure}
		if !c.Expires.IsZero() {
			cookie.Expires = c.Expires.UTC().Format(time.RFC3339)
		}
		cookie.SameSite = map[http.SameSite]string{http.SameSiteLaxMode: "Lax", http.SameSiteStrictMode: "Strict", http.SameSiteNoneMode: "None"}[c.SameSite]
		out = append(out, cookie)
	}
	return out
}

// harTimingsOf cuts the exchange's length into HAR's phases, as the proxy
// saw them: blocked until the upstream round trip began, dns, connect
// (with ssl), send until the request was written upstream, wait until the
// first response byte (or the head, without an upstream), receive until
// the end. Phases not observed are -1; the others add up to the entry's
// time.
func harTimingsOf(rec *Record) harTimings {
	tm, total := rec.Timing, max(rec.DurationMs, 0)
	clamp := func(ms float64) float64 { return min(max(ms, 0), total) }
	t := harTimings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1}
	cut := 0.0 // where the phases so far end
	phase := func(until float64) float64 {
		next := clamp(max(until, cut))
		length := roundMs(next) - roundMs(cut)
		cut = next
		return roundMs(length)
	}
	if tm.UpstreamStartMs > 0 || tm.WroteRequestMs > 0 || tm.FirstByteMs > 0 {
		t.Blocked = phase(tm.UpstreamStartMs)
		if tm.DNSMs > 0 {
			t.DNS = phase(cut + tm.DNSMs)
		}
		if tm.ConnectMs > 0 || tm.TLSMs > 0 {
			t.Connect = phase(cut + tm.ConnectMs + tm.TLSMs)
			if tm.TLSMs > 0 {
				t.SSL = min(roundMs(tm.TLSMs), t.Connect)
			}
		}
	}
	t.Send = phase(tm.WroteRequestMs)
	first := tm.FirstByteMs
	if first == 0 {
		first = tm.HeadersMs
	}
	t.Wait = phase(first)
	t.Receive = phase(total)
	return t
}
