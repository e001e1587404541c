package otelbridge

// The sink's OTLP/HTTP transport: POST /v1/traces, /v1/logs and
// /v1/metrics, protobuf or JSON, gzip, CORS for browser exporters.

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	collectorlogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	grpccodes "google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP/gRPC exporters may compress
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// ServeHTTP implements OTLP/HTTP's POST /v1/traces, protobuf or JSON,
// optionally gzip-compressed. Errors follow the OTLP specification: 400 for
// a bad payload, 413 over the size limit, 415 for an unknown content type,
// 429 with Retry-After when too many exports are being decoded at once,
// 503 when the storage file did not take the spans or logs (both
// retryable: the exporter sends the export again after its backoff).
// POST /v1/logs keeps the records that name a trace; /v1/metrics keeps
// the points in SinkConfig.Metrics. With a forwarder, all three go on.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req proto.Message
	switch r.URL.Path {
	case "/v1/traces":
		req = &collectortrace.ExportTraceServiceRequest{}
	case "/v1/logs":
		req = &collectorlogs.ExportLogsServiceRequest{}
	case "/v1/metrics":
		req = &collectormetrics.ExportMetricsServiceRequest{}
	default:
		fail(w, "", http.StatusNotFound, "not found (this sink takes POST /v1/traces)")
		return
	}
	if s.cors(w, r) {
		return // a preflight, answered
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, "", http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-protobuf" && ct != "application/json" {
		fail(w, "", http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported content type %q (want application/x-protobuf or application/json)", ct))
		return
	}
	// Not every ResponseWriter supports deadlines; the sink's and Caddy's do.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.readTimeout))
	if !s.acquire() {
		w.Header().Set("Retry-After", "1")
		fail(w, ct, http.StatusTooManyRequests, errBusy.Error())
		return
	}
	defer s.release()
	body, status, err := s.readBody(r)
	if err != nil {
		fail(w, ct, status, err.Error())
		return
	}
	if ct == "application/json" {
		err = unmarshalJSON(body, req)
	} else {
		err = proto.Unmarshal(body, req)
	}
	if err != nil {
		fail(w, ct, http.StatusBadRequest, "bad payload: "+err.Error())
		return
	}
	var resp proto.Message
	switch req := req.(type) {
	case *collectortrace.ExportTraceServiceRequest:
		resp, err = s.ingestSpans(req)
	case *collectorlogs.ExportLogsServiceRequest:
		resp, err = s.ingestLogs(req)
	case *collectormetrics.ExportMetricsServiceRequest:
		resp = s.exportMetrics(req)
	}
	if err != nil { // the storage file did not take it: retryable
		fail(w, ct, http.StatusServiceUnavailable, err.Error())
		return
	}
	var out []byte
	if ct == "application/json" {
		out, err = protojson.Marshal(resp)
	} else {
		out, err = proto.Marshal(resp)
	}
	if err != nil {
		fail(w, ct, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Write(out)
}

// fail answers with an OTLP error body: a google.rpc.Status in the
// request's encoding (protobuf when it is unknown), as the OTLP/HTTP
// specification requires, its message prefixed for people reading logs.
func fail(w http.ResponseWriter, ct string, httpStatus int, msg string) {
	code := grpccodes.InvalidArgument
	switch httpStatus {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		code = grpccodes.Unimplemented
	case http.StatusRequestEntityTooLarge:
		code = grpccodes.ResourceExhausted
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		code = grpccodes.Unavailable
	case http.StatusInternalServerError:
		code = grpccodes.Internal
	}
	st := status.New(code, "otlp sink: "+msg).Proto()
	var b []byte
	if ct == "application/json" {
		b, _ = protojson.Marshal(st)
	} else {
		ct = "application/x-protobuf"
		b, _ = proto.Marshal(st)
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	w.Write(b)
}

// cors lets browser OTLP exporters on pages served from loopback origins
// (or CORSOrigins) post here, and answers their preflights. It reports
// whether the request was a preflight.
func (s *Sink) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !s.allowOrigin(origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Authorization, traceparent, tracestate")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (s *Sink) allowOrigin(origin string) bool {
	if list := s.config().CORSOrigins; list != nil {
		for _, o := range list {
			if o == "*" || strings.EqualFold(o, origin) {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	host := u.Hostname()
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host).IsLoopback()
}

var errTooLarge = errors.New("body too large")

// readBody reads the (decompressed) body within the size limit.
func (s *Sink) readBody(r *http.Request) ([]byte, int, error) {
	limit := s.config().maxBody()
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("%w: %d bytes announced, limit %d", errTooLarge, r.ContentLength, limit)
	}
	var src io.Reader = r.Body
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("bad gzip body: %w", err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported content encoding %q (want gzip or none)", enc)
	}
	body, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("%w: limit %d bytes", errTooLarge, limit)
	}
	return body, 0, nil
}
