package otelbridge

import (
	"errors"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tracebar/tracebar/toolbar"
	collectorlogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP/gRPC exporters may compress
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
	Metrics  *toolbar.MetricStore // keeps the points of metrics exports (sink_metrics.go); nil: only forwarded
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

// ingest stores an export's spans and forwards it, with one config read:
// a reload in between must not redact with one and forward with another.
func (s *Sink) ingest(req *collectortrace.ExportTraceServiceRequest) *collectortrace.ExportTraceServiceResponse {
	cfg := s.config()
	redactSpans(req.GetResourceSpans(), cfg.Redactor)
	spans, rejected := fromProto(req.GetResourceSpans())
	// Only news goes on: a batch that came back whole (a loop through the
	// backend, a retried export) stops here; a full toolbar store does not
	// stop forwarding.
	if _, dups := s.store.AddSpans(spans); dups < len(spans) {
		// A trace no proxied request started (a worker's job, a cron
		// job) gets a record of its root span, of kind background.
		s.store.PutBackground(spans)
		if f := cfg.Forwarder; f != nil {
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

// dropInvalid removes spans the store rejected, so a backend that would
// refuse the whole request gets the valid ones.
func dropInvalid(rss []*tracepb.ResourceSpans) {
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			ss.Spans = slices.DeleteFunc(ss.Spans, badSpanIDs)
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
