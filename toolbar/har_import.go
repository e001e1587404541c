package toolbar

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// MaxImportBytes bounds the body of POST /api/import.
const MaxImportBytes = 32 << 20

// ImportSource is the value of the span attribute "tracebar.source" on
// spans that came in through POST /api/import.
const ImportSource = "import"

// importTrace adds a shared trace to the store: OTLP/JSON (spans only),
// or a HAR that Tracebar exported (its entries become records, their
// _spans the spans). Nothing is stored unless the whole body reads.
func (a *API) importTrace(w http.ResponseWriter, r *http.Request) {
	// A form cannot send application/json without a CORS preflight, so a
	// cross-origin page cannot post here (Sec-Fetch-Site aside).
	if t, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); t != "application/json" {
		http.Error(w, "toolbar: import wants Content-Type: application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxImportBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			http.Error(w, fmt.Sprintf("toolbar: import: over %d MB", MaxImportBytes>>20), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "toolbar: import: "+err.Error(), http.StatusBadRequest)
		return
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		http.Error(w, "toolbar: import: not a JSON object: "+err.Error(), http.StatusBadRequest)
		return
	}
	var (
		recs  []*Record
		spans []Span
	)
	switch {
	case top["log"] != nil:
		recs, spans, err = a.readHAR(body)
	case top["resourceSpans"] != nil:
		spans, err = a.decodeSpans(body)
		if err == nil && len(spans) == 0 {
			err = errors.New("the OTLP/JSON holds no spans")
		}
		recs = rootRecords(spans)
	default:
		err = errors.New(`want a HAR that Tracebar exported (an object with "log") or OTLP/JSON traces (an object with "resourceSpans")`)
	}
	if err != nil {
		http.Error(w, "toolbar: import: "+err.Error(), http.StatusBadRequest)
		return
	}

	out := struct {
		TraceIDs []TraceID `json:"traceIds"`
		Requests []string  `json:"requests"`
	}{[]TraceID{}, []string{}}
	seen := map[TraceID]bool{}
	addTrace := func(id TraceID) {
		if !seen[id] {
			seen[id] = true
			out.TraceIDs = append(out.TraceIDs, id)
		}
	}
	for i := range spans {
		sp := &spans[i]
		if _, ok := sp.Attr("tracebar.source"); !ok {
			sp.Attributes = append(sp.Attributes[:len(sp.Attributes):len(sp.Attributes)], KeyValue{"tracebar.source", Value{ImportSource}})
		}
		addTrace(sp.TraceID)
	}
	// Spans first: a record's summary reads its spans when it is published.
	a.Store.AddSpans(spans)
	for _, rec := range recs {
		if a.Store.Request(rec.ID) == nil {
			a.Store.PutRequest(rec)
		}
		addTrace(rec.TraceID)
		out.Requests = append(out.Requests, rec.ID)
	}
	writeJSON(w, out)
}

// rootRecords makes a record of each root span of an OTLP import (a span
// whose parent is not among spans), so that an imported trace opens in the
// same panels as a proxied request: its HTTP attributes, when it has them,
// else its name as the URL.
func rootRecords(spans []Span) []*Record {
	ids := make(map[SpanID]bool, len(spans))
	for i := range spans {
		ids[spans[i].SpanID] = true
	}
	var recs []*Record
	for i := range spans {
		sp := &spans[i]
		if sp.ParentSpanID.IsValid() && ids[sp.ParentSpanID] {
			continue
		}
		url := sp.AttrString("url.full", "http.url")
		if url == "" {
			if url = sp.AttrString("url.path", "http.target"); url != "" {
				if q := sp.AttrString("url.query"); q != "" {
					url += "?" + q
				}
			} else {
				url = sp.Name
			}
		}
		rec := &Record{
			ID: sp.SpanID.String(), TraceID: sp.TraceID, Done: true,
			Method: sp.AttrString("http.request.method", "http.method"), URL: url,
			Host:      sp.AttrString("server.address", "http.host"),
			StartTime: sp.Start, DurationMs: spanMs(sp),
		}
		for _, key := range []string{"http.response.status_code", "http.status_code"} {
			if v, ok := sp.Attr(key); ok {
				if n, ok := attrInt(v); ok {
					rec.Status = n
					break
				}
			}
		}
		if sp.Status.Code == StatusError {
			rec.Error = cmp.Or(sp.Status.Message, "error")
		}
		recs = append(recs, rec)
	}
	return recs
}

// decodeSpans reads OTLP/JSON with the API's decoder.
func (a *API) decodeSpans(otlpJSON []byte) ([]Span, error) {
	if a.DecodeTraces == nil {
		return nil, errors.New("import needs an OTLP decoder, and this server has none")
	}
	return a.DecodeTraces(otlpJSON)
}

// readHAR reads the records and spans of a HAR that Tracebar exported.
func (a *API) readHAR(body []byte) ([]*Record, []Span, error) {
	var f harFile
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, nil, fmt.Errorf("not a HAR: %w", err)
	}
	if len(f.Log.Entries) == 0 {
		return nil, nil, errors.New("the HAR has no entries")
	}
	var (
		recs  []*Record
		spans []Span
	)
	for i := range f.Log.Entries {
		e := &f.Log.Entries[i]
		rec, err := recordOf(e)
		if err != nil {
			return nil, nil, fmt.Errorf("HAR entry %d: %w", i, err)
		}
		recs = append(recs, rec)
		if len(e.Spans) == 0 || string(e.Spans) == "null" {
			continue
		}
		s, err := a.decodeSpans(e.Spans)
		if err != nil {
			return nil, nil, fmt.Errorf("HAR entry %d: _spans: %w", i, err)
		}
		spans = append(spans, s...)
	}
	return recs, spans, nil
}

// recordOf rebuilds the record a HAR entry was made of (harEntryOf),
// redacting its headers and URL by the default rules on the way in: the
// file may not come from a Tracebar.
func recordOf(e *harEntry) (*Record, error) {
	id, err := ParseSpanID(e.SpanID)
	if err != nil {
		return nil, fmt.Errorf("_spanId: %w (only HAR files that Tracebar exported can be imported)", err)
	}
	traceID, err := ParseTraceID(e.TraceID)
	if err != nil {
		return nil, fmt.Errorf("_traceId: %w", err)
	}
	scheme, rest, ok := strings.Cut(e.Request.URL, "://")
	if !ok || scheme == "" || e.Request.Method == "" {
		return nil, fmt.Errorf("want a method and an absolute URL, got %q %q", e.Request.Method, e.Request.URL)
	}
	host, uri := rest, "/"
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host, uri = rest[:i], rest[i:]
	}
	if e.Response.Status < 0 || e.Response.Status > 999 {
		return nil, fmt.Errorf("response status %d", e.Response.Status)
	}
	var redact *Redactor // the default rules
	rec := &Record{
		ID: id.String(), TraceID: traceID, Method: e.Request.Method, URL: redact.URL(uri), Host: host,
		Proto: e.Request.HTTPVersion, Status: e.Response.Status, Done: true, DurationMs: max(e.Time, 0),
		RequestBytes: max(e.Request.BodySize, 0), ResponseBytes: max(e.Response.Content.Size, 0), ClientBytes: max(e.Response.Content.Size, 0),
		ClientRequest: importHeaders(e.Request.Headers), ClientResponse: importHeaders(e.Response.Headers),
		UpstreamRequest: importHeaders(e.UpstreamRequest), UpstreamResponse: importHeaders(e.UpstreamResponse),
	}
	if rec.ClientRequest == nil {
		rec.ClientRequest = Headers{}
	}
	if rec.ClientResponse == nil {
		rec.ClientResponse = Headers{}
	}
	if t := e.Response.Content.MimeType; t != harUnknownType {
		rec.ContentType = t
	}
	if pd := e.Request.PostData; pd != nil {
		rec.RequestBody = &Body{ContentType: pd.MimeType, Text: pd.Text, Redacted: pd.Redacted}
	}
	if x := e.Tracebar; x != nil {
		rec.StartTime, rec.RemoteAddr, rec.Timing, rec.ResponseBytes = x.StartTime, x.RemoteAddr, x.Timing, x.ResponseBytes
		rec.ClientEncoding, rec.Injected, rec.Error, rec.TraceLink, rec.ReplayOf = x.ClientEncoding, x.Injected, x.Error, x.TraceLink, x.ReplayOf
		rec.UpstreamParams = importHeaders(x.UpstreamParams)
	} else if e.Timings.Receive >= 0 {
		rec.Timing.HeadersMs = max(rec.DurationMs-e.Timings.Receive, 0)
	}
	if rec.StartTime.IsZero() {
		if rec.StartTime, err = time.Parse(time.RFC3339, e.StartedDateTime); err != nil {
			return nil, fmt.Errorf("startedDateTime: %w", err)
		}
	}
	return rec, nil
}

// importHeaders is a HAR header list as a redacted header set, names in
// canonical form as Headers.Get expects (HTTP/2's are lower case); nil
// for none.
func importHeaders(pairs []harPair) Headers {
	if len(pairs) == 0 {
		return nil
	}
	h := make(Headers, len(pairs))
	for i, p := range pairs {
		name := p.Name
		if !strings.HasPrefix(name, ":") {
			name = textproto.CanonicalMIMEHeaderKey(name)
		}
		h[i] = HeaderField{name, p.Value}
	}
	return (*Redactor)(nil).Fields(h)
}
