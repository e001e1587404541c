package otelbridge

// The Zipkin v2 receiver: POST /api/v2/spans, JSON or proto3, gzip, as
// Zipkin's own server takes them. The spans are decoded by zipkin-go
// (model.SpanModel, zipkin_proto3.ParseSpans), turned into an OTLP export
// and go the OTLP sink's way from there: redaction, the store's bounds,
// the live stream and forwarding apply unchanged.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// ZipkinPath is where Zipkin reporters post their spans.
const ZipkinPath = "/api/v2/spans"

// ZipkinHandler returns the Zipkin v2 receiver, for a listener of its
// own (Zipkin's port, 9411). It takes POST /api/v2/spans with a JSON list
// of spans (application/json, also assumed without a Content-Type, as
// Zipkin does) or a proto3 ListOfSpans (application/x-protobuf), either
// optionally gzip-compressed, under the OTLP sink's limits: 202 when every
// span was stored; 400 for a malformed body, or when some spans were
// invalid (bad ids or field types: those are dropped, the others kept,
// and the message counts them); 413 over the size limit (decompressed);
// 415 for another content type; 429 with Retry-After when too many
// exports are being decoded at once.
func (s *Sink) ZipkinHandler() http.Handler { return http.HandlerFunc(s.serveZipkin) }

func (s *Sink) serveZipkin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != ZipkinPath {
		zipkinFail(w, http.StatusNotFound, "not found (this receiver takes POST "+ZipkinPath+")")
		return
	}
	if s.cors(w, r) {
		return // a preflight, answered
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		zipkinFail(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "", "application/json":
		ct = "application/json"
	case "application/x-protobuf":
	default:
		zipkinFail(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported content type %q (want application/json or application/x-protobuf)", ct))
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.readTimeout))
	if !s.acquire() {
		w.Header().Set("Retry-After", "1")
		zipkinFail(w, http.StatusTooManyRequests, errBusy.Error())
		return
	}
	defer s.release()
	body, status, err := s.readBody(r)
	if err != nil {
		zipkinFail(w, status, err.Error())
		return
	}
	var d zipkinDecoded
	if ct == "application/json" {
		err = d.json(body)
	} else {
		err = d.proto(body)
	}
	if err != nil {
		zipkinFail(w, http.StatusBadRequest, "bad payload: "+err.Error())
		return
	}
	total := len(d.spans) + d.rejected
	resp, err := s.ingestSpans(&collectortrace.ExportTraceServiceRequest{ResourceSpans: zipkinToOTLP(d.spans)})
	if err != nil { // the storage file did not take them, as the OTLP sink answers
		zipkinFail(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if n := resp.GetPartialSuccess().GetRejectedSpans(); n > 0 {
		d.reject(int(n), errors.New("a trace or span id of zeros"))
	}
	if d.rejected > 0 {
		// Zipkin has no partial success: a 400 tells the reporter (which
		// does not retry it) and its logs; the valid spans are kept.
		zipkinFail(w, http.StatusBadRequest, fmt.Sprintf("%d of %d spans dropped (first: %v); the others were stored", d.rejected, total, d.firstErr))
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// zipkinFail answers with a plain-text message, as Zipkin's server does.
func zipkinFail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, "zipkin receiver: "+msg+"\n")
}

// zipkinDecoded is a request's spans and how many it had that were not
// valid, with the first reason.
type zipkinDecoded struct {
	spans    []*model.SpanModel
	rejected int
	firstErr error
}

func (d *zipkinDecoded) reject(n int, err error) {
	if d.rejected == 0 {
		d.firstErr = err
	}
	d.rejected += n
}

// json decodes a JSON list of spans element by element: a body that is not
// a JSON list is an error; an element that zipkin-go's model refuses (a
// field of the wrong type, no id), or whose ids are not hex strings, is
// dropped and counted.
func (d *zipkinDecoded) json(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err == io.EOF {
		return errors.New("empty body, want a JSON list of spans")
	} else if err != nil {
		return err
	} else if tok != json.Delim('[') {
		return errors.New("want a JSON list of spans")
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err // a syntax error: the rest cannot be read
		}
		if err := checkZipkinJSONIDs(raw); err != nil {
			d.reject(1, fmt.Errorf("span %d: %w", i, err))
			continue
		}
		sm := new(model.SpanModel)
		if err := sm.UnmarshalJSON(raw); err != nil {
			d.reject(1, fmt.Errorf("span %d: %w", i, err))
			continue
		}
		d.spans = append(d.spans, sm)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the list of spans")
	}
	return nil
}

// checkZipkinJSONIDs checks what zipkin-go's model lets pass: its ids read
// whatever bytes stand between the first and the last (a number 12345 as
// the id 0x234). Zipkin's ids are hex strings of up to 32 (trace) or 16
// digits, not all zeros; a shorter one is zero-padded, as Zipkin does.
func checkZipkinJSONIDs(raw json.RawMessage) error {
	var ids struct {
		TraceID  json.RawMessage `json:"traceId"`
		ID       json.RawMessage `json:"id"`
		ParentID json.RawMessage `json:"parentId"`
	}
	if err := json.Unmarshal(raw, &ids); err != nil {
		return err
	}
	if err := checkHexID("traceId", ids.TraceID, 32, false); err != nil {
		return err
	}
	if err := checkHexID("id", ids.ID, 16, false); err != nil {
		return err
	}
	if len(ids.ParentID) == 0 || string(ids.ParentID) == "null" {
		return nil
	}
	return checkHexID("parentId", ids.ParentID, 16, true)
}

func checkHexID(field string, v json.RawMessage, maxDigits int, zeroOK bool) error {
	if len(v) == 0 || string(v) == "null" {
		return fmt.Errorf("%s missing", field)
	}
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return fmt.Errorf("%s %.40s: want a hex string", field, v)
	}
	digits := v[1 : len(v)-1]
	if len(digits) > maxDigits {
		return fmt.Errorf("%s %.40s: more than %d hex digits", field, v, maxDigits)
	}
	zero := true
	for _, c := range digits {
		switch {
		case c == '0':
		case '1' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
			zero = false
		default:
			return fmt.Errorf("%s %.40s: not hex", field, v)
		}
	}
	if zero && !zeroOK {
		return fmt.Errorf("%s is all zeros", field)
	}
	return nil
}

// proto decodes a proto3 ListOfSpans with zipkin_proto3.ParseSpans. It
// refuses the whole list for one bad span, and a trace id of 8 bytes,
// which Zipkin's proto allows: then the list is decoded again, spans with
// ids of the wrong length are dropped and counted, 8-byte trace ids are
// zero-padded, and the rest goes through ParseSpans again.
func (d *zipkinDecoded) proto(body []byte) error {
	spans, err := zipkin_proto3.ParseSpans(body, false)
	if err == nil {
		d.spans = spans
		return nil
	}
	var list zipkin_proto3.ListOfSpans
	if err := proto.Unmarshal(body, &list); err != nil {
		return err
	}
	kept := list.Spans[:0]
	for i, sp := range list.Spans {
		if len(sp.TraceId) == 8 {
			sp.TraceId = append(make([]byte, 8, 16), sp.TraceId...)
		}
		switch {
		case len(sp.TraceId) != 16:
			d.reject(1, fmt.Errorf("span %d: trace_id of %d bytes, want 8 or 16", i, len(sp.TraceId)))
		case len(sp.Id) != 8:
			d.reject(1, fmt.Errorf("span %d: id of %d bytes, want 8", i, len(sp.Id)))
		case len(sp.ParentId) != 0 && len(sp.ParentId) != 8:
			d.reject(1, fmt.Errorf("span %d: parent_id of %d bytes, want 8 or none", i, len(sp.ParentId)))
		default:
			kept = append(kept, sp)
		}
	}
	list.Spans = kept
	b, err := proto.Marshal(&list)
	if err == nil {
		d.spans, err = zipkin_proto3.ParseSpans(b, false)
	}
	return err
}
