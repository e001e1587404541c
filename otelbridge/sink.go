package otelbridge

import (
	"errors"
	"fmt"
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

// errNotStored wraps the store's error when its storage file did not take
// an export: a transient failure, which OTLP/HTTP answers with 503 and
// OTLP/gRPC with UNAVAILABLE, both of which exporters retry. The items
// are in memory; sent again, they are written (toolbar.Store.AddSpans).
var errNotStored = errors.New("not written to the storage file, retry later")

// ingestLogs stores the log records that name a trace, for the toolbar's
// Logs panel; the sink is not a log store. The whole export, redacted,
// goes to the backend when forwarding is on. The error (errNotStored)
// says the storage file did not take the records.
func (s *Sink) ingestLogs(req *collectorlogs.ExportLogsServiceRequest) (*collectorlogs.ExportLogsServiceResponse, error) {
	cfg := s.config()
	redactLogs(req.GetResourceLogs(), cfg.Redactor)
	logs, rejected := logsFromProto(req.GetResourceLogs())
	_, err := s.store.AddLogs(logs)
	// Forwarded whatever the file did: the backend must not lose them
	// to the toolbar's disk. Sent again, they go on again (log records
	// have no id to find a repeat by).
	if cfg.Forwarder != nil {
		if rejected > 0 {
			dropInvalidLogs(req.GetResourceLogs())
		}
		cfg.Forwarder.ForwardLogs(req)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotStored, err)
	}
	resp := &collectorlogs.ExportLogsServiceResponse{}
	if rejected > 0 {
		resp.PartialSuccess = &collectorlogs.ExportLogsPartialSuccess{
			RejectedLogRecords: int64(rejected),
			ErrorMessage:       "log records with invalid trace or span ids were dropped",
		}
	}
	return resp, nil
}

// ingestSpans stores an export's spans and forwards it, with one config
// read: a reload in between must not redact with one and forward with
// another. The error (errNotStored) says the storage file did not take
// the spans.
func (s *Sink) ingestSpans(req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	cfg := s.config()
	redactSpans(req.GetResourceSpans(), cfg.Redactor)
	spans, rejected := fromProto(req.GetResourceSpans())
	// A trace no proxied request started (a worker's job, a cron job)
	// gets a record of its root span, of kind background, with its spans.
	added, err := s.store.AddSpansWithRoots(spans, toolbar.BackgroundRoots)
	// Only news goes on: a batch that came back whole (a loop through the
	// backend, a retried export) stops here; a full toolbar store or a
	// failing storage file does not stop forwarding.
	if f := cfg.Forwarder; f != nil && added.Duplicates < len(spans) {
		if rejected > 0 {
			dropInvalid(req.GetResourceSpans())
		}
		f.Forward(req.GetResourceSpans())
	}
	resp := &collectortrace.ExportTraceServiceResponse{}
	if rejected > 0 {
		resp.PartialSuccess = &collectortrace.ExportTracePartialSuccess{
			RejectedSpans: int64(rejected),
			ErrorMessage:  "spans with invalid trace or span ids were dropped",
		}
	}
	if err != nil {
		return resp, fmt.Errorf("%w: %w", errNotStored, err)
	}
	return resp, nil
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
