package toolbar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// MaxImportBytes bounds the body of POST /api/import.
const MaxImportBytes = 32 << 20

// ImportSource is the value of the span attribute "tracebar.source" on
// spans that came in through POST /api/import.
const ImportSource = "import"

// importTrace answers POST /api/import: it adds a shared trace to the
// store (see decodeImport for what it reads) and answers with the traces
// and records it added. Nothing is stored unless the whole body reads.
func (a *API) importTrace(w http.ResponseWriter, r *http.Request) {
	if err := sameOrigin(r); err != nil {
		http.Error(w, "toolbar: import: "+err.Error(), http.StatusForbidden)
		return
	}
	// A form cannot send JSON, and a page of another origin cannot post
	// it without a CORS preflight, which the API never answers.
	if BodyKindOf(r.Header.Get("Content-Type")) != JSONBody {
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
	in, err := a.decodeImport(body)
	if err != nil {
		http.Error(w, "toolbar: import: "+err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, a.storeImport(in))
}

// imported is what an import's body holds: spans, and the records of a
// HAR's entries or, for traces, the rule that makes records of their
// roots.
type imported struct {
	recs  []*Record
	spans []Span
	roots RootRule
}

// sameOrigin refuses an import that a page of another origin may have
// sent: the import changes what the toolbar shows, so besides the API's
// refusal of cross-site requests (ServeHTTP) and the JSON content type,
// it wants Sec-Fetch-Site to be same-origin, none (the user's own
// action) or absent (a client that is not a browser), and the Origin
// header, when there is one, to be the request's own scheme://host: the
// scheme is https when this server terminated TLS, so an https page
// behind another TLS-terminating proxy cannot import.
func sameOrigin(r *http.Request) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("a %q request is refused", site)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	own := &url.URL{Scheme: scheme, Host: r.Host}
	got, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(got.Scheme, scheme) || !strings.EqualFold(hostOnDefaultPort(got), hostOnDefaultPort(own)) {
		return fmt.Errorf("a request from origin %q is refused: not %s://%s", origin, scheme, r.Host)
	}
	return nil
}

// decodeImport reads an import's body into the records and spans to
// store: a HAR that Tracebar exported (its entries become records, their
// _spans the spans), or OTLP/JSON traces (each root span becomes a record,
// see ImportedRoots), as a file the toolbar exported or as a trace saved
// from Jaeger's API v3 ({"result": ...}) or Tempo's ({"batches": ...},
// {"trace": ...}), which DecodeTraces reads too.
func (a *API) decodeImport(body []byte) (imported, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return imported{}, fmt.Errorf("not a JSON object: %w", err)
	}
	switch {
	case top["log"] != nil:
		recs, spans, err := a.readHAR(body)
		return imported{recs: recs, spans: spans}, err
	case top["resourceSpans"] != nil, top["result"] != nil, top["batches"] != nil, top["trace"] != nil:
		spans, err := a.decodeSpans(body)
		if err != nil {
			return imported{}, err
		}
		if len(spans) == 0 {
			return imported{}, errors.New("the trace holds no spans")
		}
		return imported{spans: spans, roots: ImportedRoots}, nil
	}
	return imported{}, errors.New(`want a HAR that Tracebar exported (an object with "log"), OTLP/JSON traces (an object with "resourceSpans"), ` +
		`or a trace from Jaeger's API v3 ("result") or Tempo's ("batches", "trace")`)
}

// importResult is the answer to POST /api/import.
type importResult struct {
	TraceIDs []TraceID `json:"traceIds"`
	Requests []string  `json:"requests"`
}

// storeImport adds an import's spans and records to the store, in one
// step (AddSpansWithRoots). Every span is marked tracebar.source =
// ImportSource, whatever source it claims (a HAR from a toolbar with a
// backend says BackendSource; a crafted file may say anything). A record
// the store has already stays as it is.
func (a *API) storeImport(in imported) importResult {
	out := importResult{TraceIDs: []TraceID{}, Requests: []string{}}
	seen := map[TraceID]bool{}
	addTrace := func(id TraceID) {
		if !seen[id] {
			seen[id] = true
			out.TraceIDs = append(out.TraceIDs, id)
		}
	}
	for i := range in.spans {
		markImported(&in.spans[i])
		addTrace(in.spans[i].TraceID)
	}
	for _, rec := range in.recs {
		addTrace(rec.TraceID)
	}
	// The import is in memory, which is what the user asked to see; a
	// storage file that failed to take it retries, and logs (onError).
	added, _ := a.Store.addWithRecords(in.spans, in.roots, in.recs)
	out.Requests = append(out.Requests, added.Records...)
	return out
}

// markImported sets sp's tracebar.source to ImportSource, in a new
// attribute slice: the decoded one may be shared.
func markImported(sp *Span) {
	mark := KeyValue{"tracebar.source", StringValue(ImportSource)}
	attrs := make([]KeyValue, 0, len(sp.Attributes)+1)
	for _, kv := range sp.Attributes {
		if kv.Key != mark.Key {
			attrs = append(attrs, kv)
		}
	}
	sp.Attributes = append(attrs, mark)
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
		ID: id.String(), TraceID: traceID, Imported: true, Method: e.Request.Method, URL: redact.URL(uri), Host: host,
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
	// A body is kept as the proxy would have captured it (a form or JSON
	// up to MaxCapturedBody), redacted as it would have been.
	if postData := e.Request.PostData; postData != nil && len(postData.Text) <= MaxCapturedBody {
		if text, changed, ok := redact.Body(postData.MimeType, postData.Text); ok {
			rec.RequestBody = &Body{ContentType: postData.MimeType, Text: text, Redacted: postData.Redacted || changed}
		}
	}
	if x := e.Tracebar; x != nil {
		rec.StartTime, rec.RemoteAddr, rec.Timing, rec.ResponseBytes = x.StartTime, x.RemoteAddr, x.Timing, x.ResponseBytes
		rec.ClientEncoding, rec.Injected, rec.Error, rec.TraceLink, rec.ReplayOf = x.ClientEncoding, x.Injected, x.Error, x.TraceLink, x.ReplayOf
		rec.UpstreamParams, rec.AcceptEncodingDropped = importHeaders(x.UpstreamParams), x.AcceptEncodingDropped
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
