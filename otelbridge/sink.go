package otelbridge

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tracebar/tracebar/toolbar"
	collectorlogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP/gRPC exporters may compress
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// DefaultMaxBodyBytes bounds one OTLP request (decoded) unless configured.
const DefaultMaxBodyBytes = 16 << 20

// Sink receives OTLP trace exports over HTTP (ServeHTTP, for /v1/traces)
// and gRPC (Export) and puts the spans into the store.
type Sink struct {
	store *toolbar.Store
	cfg   atomic.Pointer[SinkConfig]
	// slots bounds the exports decoded at once: each may hold MaxBodyBytes
	// and its decoded form, so a burst cannot take unbounded memory. An
	// OTLP/HTTP export that finds no slot within wait is told to retry
	// (429); an OTLP/gRPC one at once (UNAVAILABLE, see tapGRPC).
	slots chan struct{}
	wait  time.Duration
	// readTimeout bounds reading one export, so slow uploads cannot keep
	// the slots from everyone else.
	readTimeout time.Duration

	collectortrace.UnimplementedTraceServiceServer
}

// SinkConfig is what one Caddy config sets on the sink, which outlives
// configs. The zero value means the defaults.
type SinkConfig struct {
	// MaxBodyBytes bounds a request body after decompression (OTLP/HTTP;
	// gRPC servers take the bound when they are made).
	MaxBodyBytes int64
	// Forwarder, if set, gets every batch that added spans.
	Forwarder *Forwarder
	// CORSOrigins are the page origins allowed to post ("*": any); nil
	// means loopback origins.
	CORSOrigins []string
	// Redactor redacts secret attributes before spans and logs are stored
	// or forwarded; nil uses the default names.
	Redactor *toolbar.Redactor
}

// NewSink returns a Sink writing to store.
func NewSink(store *toolbar.Store) *Sink {
	return &Sink{store: store, slots: make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0))), wait: time.Second, readTimeout: 30 * time.Second}
}

// errBusy is the answer to an export that found the sink saturated.
var errBusy = errors.New("sink saturated: too many exports at once, retry later")

// acquire takes a decoding slot, waiting up to s.wait; release returns it.
func (s *Sink) acquire() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

func (s *Sink) release() { <-s.slots }

// tapGRPC is the gRPC side of the slots. It runs before gRPC reads the
// message, so a saturated sink decodes nothing: it answers UNAVAILABLE with
// RetryInfo, which OTLP exporters retry after the delay. It must not block
// (it runs on the connection's reader), so it does not wait for a slot.
// The slot is given back when the stream's context ends, on every path.
func (s *Sink) tapGRPC(ctx context.Context, _ *tap.Info) (context.Context, error) {
	select {
	case s.slots <- struct{}{}:
		context.AfterFunc(ctx, s.release)
		return ctx, nil
	default:
	}
	st, err := status.New(grpccodes.Unavailable, "otlp sink: "+errBusy.Error()).
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
	if err != nil {
		return nil, status.Error(grpccodes.Unavailable, "otlp sink: "+errBusy.Error())
	}
	return nil, st.Err()
}

// Configure puts c in force and returns the configuration it replaced,
// for Restore.
func (s *Sink) Configure(c *SinkConfig) (prev *SinkConfig) { return s.cfg.Swap(c) }

// Restore puts prev back if c is still in force: a config that is stopped
// (after a failed reload, too) hands the sink back to the one before it.
func (s *Sink) Restore(c, prev *SinkConfig) { s.cfg.CompareAndSwap(c, prev) }

func (s *Sink) config() *SinkConfig {
	if c := s.cfg.Load(); c != nil {
		return c
	}
	return &SinkConfig{}
}

func (c *SinkConfig) maxBody() int64 {
	if c.MaxBodyBytes > 0 {
		return c.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

var _ collectortrace.TraceServiceServer = (*Sink)(nil)

// Export implements OTLP/gRPC's TraceService.
func (s *Sink) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	return s.ingest(req), nil
}

// NewGRPCServer returns a gRPC server with the TraceService, LogsService
// and MetricsService registered. Metrics are only forwarded (or dropped
// without a forwarder), so SDKs that export them by default do not log errors.
func (s *Sink) NewGRPCServer() *grpc.Server {
	g := grpc.NewServer(grpc.MaxRecvMsgSize(int(s.config().maxBody())), grpc.InTapHandle(s.tapGRPC))
	collectortrace.RegisterTraceServiceServer(g, s)
	collectorlogs.RegisterLogsServiceServer(g, logsService{s: s})
	collectormetrics.RegisterMetricsServiceServer(g, metricsService{s: s})
	return g
}

// logsService is the Sink's OTLP/gRPC LogsService.
type logsService struct {
	s *Sink
	collectorlogs.UnimplementedLogsServiceServer
}

func (l logsService) Export(_ context.Context, req *collectorlogs.ExportLogsServiceRequest) (*collectorlogs.ExportLogsServiceResponse, error) {
	return l.s.ingestLogs(req), nil
}

// ingestLogs stores the log records that name a trace, for the toolbar's
// Logs panel; the sink is not a log store. The whole export, redacted,
// goes to the backend when forwarding is on.
func (s *Sink) ingestLogs(req *collectorlogs.ExportLogsServiceRequest) *collectorlogs.ExportLogsServiceResponse {
	cfg := s.config()
	redactLogs(req.GetResourceLogs(), cfg.Redactor)
	logs, rejected := logsFromProto(req.GetResourceLogs())
	s.store.AddLogs(logs)
	if cfg.Forwarder != nil {
		if rejected > 0 {
			dropInvalidLogs(req.GetResourceLogs())
		}
		cfg.Forwarder.ForwardLogs(req)
	}
	resp := &collectorlogs.ExportLogsServiceResponse{}
	if rejected > 0 {
		resp.PartialSuccess = &collectorlogs.ExportLogsPartialSuccess{
			RejectedLogRecords: int64(rejected),
			ErrorMessage:       "log records with invalid trace or span ids were dropped",
		}
	}
	return resp
}

// metricsService is the Sink's OTLP/gRPC MetricsService.
type metricsService struct {
	s *Sink
	collectormetrics.UnimplementedMetricsServiceServer
}

func (m metricsService) Export(_ context.Context, req *collectormetrics.ExportMetricsServiceRequest) (*collectormetrics.ExportMetricsServiceResponse, error) {
	return m.s.ingestMetrics(req), nil
}

// ingestMetrics forwards a metrics export, redacted, when forwarding is
// on, and drops it otherwise: the toolbar shows no metrics.
func (s *Sink) ingestMetrics(req *collectormetrics.ExportMetricsServiceRequest) *collectormetrics.ExportMetricsServiceResponse {
	if cfg := s.config(); cfg.Forwarder != nil {
		redactMetrics(req.GetResourceMetrics(), cfg.Redactor)
		cfg.Forwarder.ForwardMetrics(req)
	}
	return &collectormetrics.ExportMetricsServiceResponse{}
}

func (s *Sink) ingest(req *collectortrace.ExportTraceServiceRequest) *collectortrace.ExportTraceServiceResponse {
	redactSpans(req.GetResourceSpans(), s.config().Redactor)
	spans, rejected := fromProto(req.GetResourceSpans())
	// Only news goes on: a batch that came back whole (a loop through the
	// backend, a retried export) stops here; a full toolbar store does not
	// stop forwarding.
	if _, dups := s.store.AddSpans(spans); dups < len(spans) {
		if f := s.config().Forwarder; f != nil {
			if rejected > 0 {
				dropInvalid(req.GetResourceSpans())
			}
			f.Forward(req.GetResourceSpans())
		}
	}
	resp := &collectortrace.ExportTraceServiceResponse{}
	if rejected > 0 {
		resp.PartialSuccess = &collectortrace.ExportTracePartialSuccess{
			RejectedSpans: int64(rejected),
			ErrorMessage:  "spans with invalid trace or span ids were dropped",
		}
	}
	return resp
}

// ServeHTTP implements OTLP/HTTP's POST /v1/traces, protobuf or JSON,
// optionally gzip-compressed. Errors follow the OTLP specification: 400 for
// a bad payload, 413 over the size limit, 415 for an unknown content type,
// 429 with Retry-After when too many exports are being decoded at once.
// POST /v1/logs keeps the records that name a trace; /v1/metrics is
// validated and only forwarded. With a forwarder, all three go on.
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
		resp = s.ingest(req)
	case *collectorlogs.ExportLogsServiceRequest:
		resp = s.ingestLogs(req)
	case *collectormetrics.ExportMetricsServiceRequest:
		resp = s.ingestMetrics(req)
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
	case http.StatusTooManyRequests:
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

// dropInvalid removes spans the store rejected, so a backend that would
// refuse the whole request gets the valid ones.
func dropInvalid(rss []*tracepb.ResourceSpans) {
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			kept := ss.Spans[:0]
			for _, sp := range ss.Spans {
				if _, ok := spanFromProto(sp); ok {
					kept = append(kept, sp)
				}
			}
			ss.Spans = kept
		}
	}
}

// dropInvalidLogs removes the log records rejected for their ids, as
// dropInvalid does spans, so the backend does not refuse the export.
func dropInvalidLogs(rls []*logspb.ResourceLogs) {
	for _, rl := range rls {
		for _, sl := range rl.GetScopeLogs() {
			sl.LogRecords = slices.DeleteFunc(sl.LogRecords, badLogIDs)
		}
	}
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

// unmarshalJSON decodes OTLP/JSON. protojson reads bytes fields as base64,
// but OTLP/JSON spells trace and span ids in hex: rewrite them first.
func unmarshalJSON(body []byte, req proto.Message) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	if err := hexIDsToBase64(doc, 0); err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, req)
}

func hexIDsToBase64(v any, depth int) error {
	if depth > 64 {
		return errors.New("JSON nested too deeply")
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "traceId", "spanId", "parentSpanId":
				if s, ok := e.(string); ok {
					b, err := hex.DecodeString(s)
					if err != nil {
						// One byte: a length no id has, so the span is
						// rejected alone (partial success), as in protobuf.
						b = []byte{0}
					}
					x[k] = base64.StdEncoding.EncodeToString(b)
					continue
				}
			}
			if err := hexIDsToBase64(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := hexIDsToBase64(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
